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
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

/** The repository root, resolved from this module's URL (`lib/data/` → `../../`). */
export const REPO_ROOT: string = resolve(fileURLToPath(new URL("../../", import.meta.url)));

/**
 * Resolves a data-set root: the explicit argument, else environment variable `envVar`, else
 * `defaultPath` (relative to the repository root). Checks that the folder exists.
 * @throws DatasetError naming the path and where it came from when it does not exist.
 */
export async function resolveRoot(
  root: string | null | undefined,
  envVar: string,
  defaultPath?: string,
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
    } else {
      path = defaultPath ? resolve(REPO_ROOT, defaultPath) : undefined;
      source = "default";
    }
  }
  if (!path) {
    throw new DatasetError(`no data-set path given: pass a root or set ${envVar}`);
  }
  path = resolve(path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new DatasetError(
      `data-set path ${path} (from ${source}) does not exist; pass a root or set ${envVar}`,
    );
  }
  if (!info.isDirectory) throw new DatasetError(`data-set path ${path} is not a directory`);
  return path;
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
 * {@linkcode assignSplits} with a loader's {@linkcode SplitOptions} and their documented defaults
 * (valid 0.1, test 0.2, seed 0): the split step of the loaders without their own splits.
 */
export function assignSplitsFromOptions(
  samples: DatasetSample[],
  opts: SplitOptions,
  unit: SplitUnit = "group",
): void {
  assignSplits(
    samples,
    { valid: opts.validFraction ?? 0.1, test: opts.testFraction ?? 0.2 },
    opts.splitSeed ?? 0,
    unit,
  );
}

/** Builds a {@linkcode LoadedDataset} whose samples are files read by {@linkcode readImage}. */
export function fileDataset(
  name: string,
  classNames: string[],
  samples: DatasetSample[],
  skipped: SkippedItem[],
): LoadedDataset {
  return {
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
}

/** Keeps only samples of the requested splits (all when `splits` is undefined). */
export function filterSplits(samples: DatasetSample[], splits?: readonly string[]) {
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
