/**
 * Helpers shared by the data-set loaders: path resolution, clear errors for missing or malformed
 * files, seeded hashing, and split assignment for data sets that ship without splits.
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fnv1a } from "../random.ts";
import { cropImage, readImage } from "./image.ts";
import type { DatasetSample, LoadedDataset, RawImage, SkippedItem } from "./types.ts";

/** A data set that cannot be loaded (missing path or label file, malformed file, unknown class). */
export class DatasetError extends Error {
  /** An error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

/** The repository root, resolved from this module's URL (`lib/data/` → `../../`). */
export const REPO_ROOT: string = resolve(fileURLToPath(new URL("../../", import.meta.url)));

/** The repository's folder for users' data sets: `data/<kind>/` (contents ignored by git). */
export const DATA_DIR: string = resolve(REPO_ROOT, "data");

/** Whether `dir` holds anything besides a README (the `data/<kind>/` folders ship one). */
export function holdsData(dir: string): boolean {
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (!/^(README(\.md)?|\.gitkeep)$/i.test(e.name)) return true;
    }
  } catch { /* missing or unreadable */ }
  return false;
}

/**
 * Resolves a data-set root: the explicit argument, else environment variable `envVar`, else
 * `data/<kind>/` in the repository when it holds data (`kind` given), else `defaultPath`
 * (relative to the repository root). Checks that the folder exists.
 * @throws DatasetError naming the path and where it came from when it does not exist.
 */
export async function resolveRoot(
  root: string | null | undefined,
  envVar: string,
  defaultPath?: string,
  kind?: string,
): Promise<string> {
  let path: string | undefined;
  let source: string;
  if (root) {
    path = root;
    source = "argument";
  } else {
    let env: string | undefined;
    try {
      env = Deno.env.get(envVar);
    } catch { /* no --allow-env: treat as unset */ }
    if (env) {
      path = env;
      source = `environment variable ${envVar}`;
    } else if (kind && holdsData(join(DATA_DIR, kind))) {
      path = join(DATA_DIR, kind);
      source = "default data folder";
    } else {
      path = defaultPath ? resolve(REPO_ROOT, defaultPath) : undefined;
      source = "default";
    }
  }
  const where = kind ? `, put it in ${join(DATA_DIR, kind)} (see its README.md)` : "";
  if (!path) {
    throw new DatasetError(`no data-set path given: pass a root or set ${envVar}${where}`);
  }
  path = resolve(path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new DatasetError(
      `data-set path ${path} (from ${source}) does not exist; pass a root or set ${envVar}${where}`,
    );
  }
  if (!info.isDirectory) throw new DatasetError(`data-set path ${path} is not a directory`);
  return path;
}

/**
 * A numeric field of a label file: `Number(field)`, except that an empty or blank field (which
 * `Number` reads as 0) and a missing one are NaN, so that callers reject them.
 */
export function numberField(field: string | undefined): number {
  return field === undefined || field.trim() === "" ? NaN : Number(field);
}

/**
 * Removes the samples whose id a label file lists more than once, and lists them in `skipped`:
 * repeated with the same split and label, the first is kept ("duplicate entry"); repeated with
 * different ones, none is kept ("conflicting duplicate entries"), since either could be wrong.
 */
export function dropDuplicateIds(ds: LoadedDataset): void {
  const byId = new Map<string, DatasetSample[]>();
  for (const s of ds.samples) {
    const l = byId.get(s.id);
    if (l) l.push(s);
    else byId.set(s.id, [s]);
  }
  if (byId.size === ds.samples.length) return;
  const keep: DatasetSample[] = [];
  for (const s of ds.samples) {
    const all = byId.get(s.id)!;
    if (all.length === 1) {
      keep.push(s);
      continue;
    }
    const first = all[0] === s;
    const labels = [...new Set(all.map((x) => `${x.split} ${ds.classNames[x.label] ?? x.label}`))];
    if (labels.length > 1) {
      if (first) {
        ds.skipped.push({
          item: s.id,
          reason: `conflicting duplicate entries (listed ${all.length} times: ${
            labels.join("; ")
          }): none is used`,
        });
      }
      continue;
    }
    if (first) keep.push(s);
    else {
      ds.skipped.push({
        item: s.id,
        reason: `duplicate entry (listed ${all.length} times, same label): the first is used`,
      });
    }
  }
  ds.samples = keep;
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a label/annotation text file. @throws DatasetError naming the file when it is missing. */
export async function readLabelFile(path: string, what = "label file"): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatasetError(`${what} ${path} not found`);
    throw new DatasetError(`cannot read ${what} ${path}: ${e}`);
  }
}

/** Names of the entries of a directory (files and folders), sorted; `[]` when it is missing. */
export async function listDir(
  path: string,
  kind: "file" | "dir" | "any" = "any",
): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(path)) {
      if (kind === "any" || (kind === "file" ? e.isFile : e.isDirectory)) out.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort();
}

/** File extensions treated as images by folder-scanning loaders. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".png",
  ".jpg",
  ".jpeg",
  ".jpe",
  ".tif",
  ".tiff",
  ".webp",
  ".bmp",
  ".dib",
  ".gif",
  ".pgm",
  ".ppm",
  ".pbm",
  ".pnm",
];

/** Whether the name ends in a known image extension (case-insensitive). */
export function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/** 32-bit FNV-1a hash of a string (stable across runs and platforms); see {@linkcode fnv1a}. */
export function hashString(s: string, seed = 0): number {
  return fnv1a(s, seed);
}

/** Options of the loaders without their own splits (JAFFE, FERG-DB, generic folders). */
export interface SplitOptions {
  /** Splits to keep (default all). */
  splits?: readonly string[];
  /** Fraction of units assigned to valid (default 0.1). */
  validFraction?: number;
  /** Fraction of units assigned to test (default 0.2). */
  testFraction?: number;
  /** Seed of the split assignment (default 0). */
  splitSeed?: number;
}

/** How {@linkcode assignSplits} assigns: whole groups (subject-independent) or single samples. */
export type SplitUnit = "group" | "sample";

/**
 * Assigns `train`/`valid`/`test` to samples of a data set that ships without splits (JAFFE,
 * FERG-DB, generic folders), deterministically from `seed`. Units (groups when `unit` is
 * `"group"` and samples have groups, else sample ids) are ordered by a seeded hash; the first
 * `round(n·test)` go to test, the next `round(n·valid)` to valid, the rest to train. A non-zero
 * fraction gets at least one unit when there are at least three units.
 */
export function assignSplits(
  samples: DatasetSample[],
  fractions: { valid: number; test: number },
  seed = 0,
  unit: SplitUnit = "group",
): void {
  const keyOf = (s: DatasetSample) => (unit === "group" && s.group !== undefined ? s.group : s.id);
  const units = [...new Set(samples.map(keyOf))];
  units.sort((a, b) => hashString(a, seed) - hashString(b, seed) || (a < b ? -1 : 1));
  const n = units.length;
  const count = (
    f: number,
  ) => (f > 0 && n >= 3 ? Math.max(1, Math.round(n * f)) : Math.round(n * f));
  const nTest = count(fractions.test);
  const nValid = Math.min(count(fractions.valid), Math.max(0, n - nTest - 1));
  const splitOf = new Map<string, string>();
  units.forEach((u, i) =>
    splitOf.set(u, i < nTest ? "test" : i < nTest + nValid ? "valid" : "train")
  );
  for (const s of samples) s.split = splitOf.get(keyOf(s))!;
}

/**
 * Seeded, class-stratified split assignment for data sets without their own splits.
 *
 * - Without groups (`grouped` false, or no sample has a group): each class separately, its
 *   samples ordered by a seeded hash of their ids; the first `round(n_c·test)` go to test, the
 *   next `round(n_c·valid)` to valid, the rest to train. A non-zero fraction gets at least one
 *   sample of every class with at least three samples, and train keeps at least one.
 * - With groups (subjects): whole groups go to one split (subject-independent). Groups, in seeded
 *   order, are assigned greedily to the split whose per-class counts are furthest below their
 *   targets (fraction × class total), measured as the drop in squared relative deviation, so every
 *   split's class mix follows the whole set's as closely as whole groups allow. With at least three
 *   groups every split with a non-zero fraction gets one. Samples without a group are their own
 *   group.
 */
export function assignStratifiedSplits(
  samples: DatasetSample[],
  fractions: { valid: number; test: number },
  seed = 0,
  grouped = true,
): void {
  const useGroups = grouped && samples.some((s) => s.group !== undefined);
  const count = (n: number, f: number) =>
    f > 0 && n >= 3 ? Math.max(1, Math.round(n * f)) : Math.round(n * f);
  if (!useGroups) {
    const byClass = new Map<number, DatasetSample[]>();
    for (const s of samples) {
      const l = byClass.get(s.label) ?? [];
      l.push(s);
      byClass.set(s.label, l);
    }
    for (const list of byClass.values()) {
      list.sort((a, b) =>
        hashString(a.id, seed) - hashString(b.id, seed) || (a.id < b.id ? -1 : 1)
      );
      const n = list.length;
      const nTest = Math.min(count(n, fractions.test), Math.max(0, n - 1));
      const nValid = Math.min(count(n, fractions.valid), Math.max(0, n - nTest - 1));
      list.forEach((s, i) => s.split = i < nTest ? "test" : i < nTest + nValid ? "valid" : "train");
    }
    return;
  }
  const keyOf = (s: DatasetSample) => s.group ?? `sample:${s.id}`;
  const classes = [...new Set(samples.map((s) => s.label))].sort((a, b) => a - b);
  const ci = new Map(classes.map((c, i) => [c, i]));
  const groups = new Map<string, number[]>();
  const totals = new Array(classes.length).fill(0);
  for (const s of samples) {
    const k = keyOf(s);
    const v = groups.get(k) ?? new Array(classes.length).fill(0);
    v[ci.get(s.label)!]++;
    groups.set(k, v);
    totals[ci.get(s.label)!]++;
  }
  const splits = ["train", "valid", "test"];
  const frac = [1 - fractions.valid - fractions.test, fractions.valid, fractions.test];
  const target = frac.map((f) => totals.map((t) => f * t));
  const cur = frac.map(() => new Array(classes.length).fill(0));
  const order = [...groups.keys()].sort((a, b) =>
    hashString(a, seed) - hashString(b, seed) || (a < b ? -1 : 1)
  );
  const splitOf = new Map<string, number>();
  const dev = (s: number, c: number, x: number) =>
    ((x - target[s][c]) / Math.max(1, totals[c])) ** 2;
  for (const g of order) {
    const v = groups.get(g)!;
    let best = 0, bestGain = -Infinity;
    for (let s = 0; s < 3; s++) {
      if (frac[s] <= 0) continue;
      let gain = 0;
      for (let c = 0; c < v.length; c++) {
        if (v[c]) gain += dev(s, c, cur[s][c]) - dev(s, c, cur[s][c] + v[c]);
      }
      if (gain > bestGain + 1e-12) [best, bestGain] = [s, gain];
    }
    splitOf.set(g, best);
    v.forEach((x, c) => cur[best][c] += x);
  }
  // Every split with a non-zero fraction gets a group when there are at least three.
  if (order.length >= 3) {
    for (const s of [2, 1]) {
      if (frac[s] <= 0 || [...splitOf.values()].includes(s)) continue;
      const size = (g: string) => groups.get(g)!.reduce((a, b) => a + b, 0);
      const donors = order.filter((g) => splitOf.get(g) === 0);
      if (donors.length < 2) continue;
      donors.sort((a, b) => size(a) - size(b));
      splitOf.set(donors[0], s);
    }
  }
  for (const s of samples) s.split = splits[splitOf.get(keyOf(s))!];
}

/**
 * {@linkcode assignStratifiedSplits} with a loader's {@linkcode SplitOptions} and their documented
 * defaults (valid 0.1, test 0.2, seed 0): the split step of the loaders without their own splits.
 * `unit` `"sample"` ignores groups.
 */
export function assignSplitsFromOptions(
  samples: DatasetSample[],
  opts: SplitOptions,
  unit: SplitUnit = "group",
): void {
  const valid = opts.validFraction ?? 0.1, test = opts.testFraction ?? 0.2;
  if (!(valid >= 0 && test >= 0 && valid + test < 1)) {
    throw new DatasetError(
      `split fractions must be ≥ 0 with valid + test < 1, got valid ${valid}, test ${test}`,
    );
  }
  assignStratifiedSplits(samples, { valid, test }, opts.splitSeed ?? 0, unit === "group");
}

/**
 * Builds a {@linkcode LoadedDataset} whose samples are files read by {@linkcode readImage}; a
 * sample id listed more than once is dropped and listed ({@linkcode dropDuplicateIds}).
 */
export function fileDataset(
  name: string,
  classNames: string[],
  samples: DatasetSample[],
  skipped: SkippedItem[],
): LoadedDataset {
  const ds: LoadedDataset = {
    name,
    classNames,
    samples,
    skipped,
    async loadImage(sample: DatasetSample): Promise<RawImage> {
      if (!sample.path) throw new DatasetError(`sample ${sample.id} has no file path`);
      const img = await readImage(sample.path);
      if (!sample.box) return img;
      try {
        return cropImage(img, sample.box);
      } catch (e) {
        throw new DatasetError(`${sample.path}: ${(e as Error).message}`);
      }
    },
  };
  dropDuplicateIds(ds);
  return ds;
}

/** Keeps only samples of the requested splits (all when `splits` is undefined). */
export function filterSplits(
  samples: DatasetSample[],
  splits?: readonly string[],
): DatasetSample[] {
  return splits ? samples.filter((s) => splits.includes(s.split)) : samples;
}

/** Joins path segments (re-exported so loaders need one import). */
export { join };

/** Per-split, per-class counts of a data set: `{ train: [n_0, ..., n_C-1], ... }`. */
export function classCounts(ds: LoadedDataset): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of ds.samples) {
    out[s.split] ??= new Array(ds.classNames.length).fill(0);
    out[s.split][s.label]++;
  }
  return out;
}
