/**
 * Registry of the data-set loaders: `loadDataset(kind, root, opts)`.
 *
 * Every loader returns a {@linkcode LoadedDataset} with the set's own class order and, where the
 * set has them, groups (subject, character or video). `validFromTrain` moves a seeded fraction of
 * the train split (whole groups where there are groups) to a `valid` split, for sets that ship
 * without one (RAF-DB, AffectNet, Aff-Wild2).
 * @module
 */
import { resolve } from "node:path";
import {
  assignSplits,
  DATA_DIR,
  DatasetError,
  dropDuplicateIds,
  filterSplits,
  holdsData,
  REPO_ROOT,
  resolveRoot,
} from "./common.ts";
import { loadAffectNet } from "./affectnet.ts";
import { loadAffWild2 } from "./affwild2.ts";
import { loadFer2013 } from "./fer2013.ts";
import { FERPLUS_DEFAULT, FERPLUS_ENV, type FerPlusLabelMode, loadFerPlus } from "./ferplus.ts";
import { loadFerg } from "./ferg.ts";
import { loadFolder } from "./folder.ts";
import { loadJaffe } from "./jaffe.ts";
import { loadRafDb } from "./rafdb.ts";
import { loadSynthetic, type SyntheticOptions } from "./synthetic.ts";
import type { LoadedDataset } from "./types.ts";

/** Data-set kinds known to {@linkcode loadDataset}. */
export const DATASET_KINDS = [
  "synthetic",
  "ferplus",
  "fer2013",
  "rafdb",
  "affectnet",
  "jaffe",
  "ferg",
  "affwild2",
  "folder",
] as const;

/** A data-set kind. */
export type DatasetKind = typeof DATASET_KINDS[number];

/** Options of {@linkcode loadDataset} (each loader uses the ones that apply to it). */
export interface LoadDatasetOptions {
  /** Splits to keep (default all the set has). */
  splits?: readonly string[];
  /** FER+ / FER2013-with-FER+ label rule (default `"majority"`). */
  labelMode?: FerPlusLabelMode;
  /** Sets without splits (JAFFE, FERG-DB, folders): fraction to valid (default 0.1). */
  validFraction?: number;
  /** Sets without splits: fraction to test (default 0.2). */
  testFraction?: number;
  /** Seed of split assignment (default 0). */
  splitSeed?: number;
  /** Generic folders: class names in label order (default sorted folder names). */
  classNames?: readonly string[];
  /** Generic folders: group = the folder this many levels below the class folder. */
  groupLevel?: number | null;
  /** Generic folders: group = this regular expression's first capture group on the file path. */
  groupPattern?: string | null;
  /** Move this fraction of train (by group where present) to `valid` (default 0: off). */
  validFromTrain?: number;
  /** Synthetic set: generator options. */
  synthetic?: SyntheticOptions;
}

/**
 * Loads a data set of `kind` from `root` (null: the kind's environment variable or default).
 * @throws DatasetError for an unknown kind, or whatever the loader throws.
 */
export async function loadDataset(
  kind: string,
  root: string | null = null,
  opts: LoadDatasetOptions = {},
): Promise<LoadedDataset> {
  const moveValid = (opts.validFromTrain ?? 0) > 0;
  const splits = moveValid ? undefined : opts.splits;
  const o = { ...opts, splits };
  let ds: LoadedDataset;
  switch (kind as DatasetKind) {
    case "synthetic":
      ds = loadSynthetic({ ...opts.synthetic, splits });
      break;
    case "ferplus":
      ds = await loadFerPlus(root, o);
      break;
    case "fer2013":
      ds = await loadFer2013(root, o);
      break;
    case "rafdb":
      ds = await loadRafDb(root, o);
      break;
    case "affectnet":
      ds = await loadAffectNet(root, o);
      break;
    case "jaffe":
      ds = await loadJaffe(root, o);
      break;
    case "ferg":
      ds = await loadFerg(root, o);
      break;
    case "affwild2":
      ds = await loadAffWild2(root, o);
      break;
    case "folder":
      ds = await loadFolder(root, o);
      break;
    default:
      throw new DatasetError(
        `unknown data-set kind "${kind}" (known: ${DATASET_KINDS.join(", ")})`,
      );
  }
  // A label file that lists an image twice: listed, never both used (lib/data/common.ts).
  dropDuplicateIds(ds);
  if (moveValid) {
    const train = ds.samples.filter((s) => s.split === "train");
    assignSplits(train, { valid: opts.validFromTrain!, test: 0 }, opts.splitSeed ?? 0);
    ds.samples = filterSplits(ds.samples, opts.splits);
  }
  return ds;
}

/** Where each file-based kind's root comes from when `data.root` is null (see `resolveRoot`). */
export const DATA_ROOT_SOURCES: Readonly<
  Record<Exclude<DatasetKind, "synthetic">, { env: string; fallback?: string }>
> = {
  ferplus: { env: FERPLUS_ENV, fallback: FERPLUS_DEFAULT },
  fer2013: { env: "GREFEL_FER2013" },
  rafdb: { env: "GREFEL_RAFDB" },
  affectnet: { env: "GREFEL_AFFECTNET" },
  jaffe: { env: "GREFEL_JAFFE" },
  ferg: { env: "GREFEL_FERG" },
  affwild2: { env: "GREFEL_AFFWILD2" },
  folder: { env: "GREFEL_FOLDER" },
};

async function realOrResolved(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The data root a `data` section reads, as an absolute path with links resolved: `root`, else the
 * kind's environment variable, else `data/<kind>/`, else the kind's fallback (the loaders' order).
 * `null` for the synthetic set (no files).
 * @throws DatasetError when no root is given and the kind has none (as the loader would).
 */
export async function resolveDataRoot(
  kind: string,
  root: string | null,
): Promise<string | null> {
  if (kind === "synthetic") return null;
  const src = DATA_ROOT_SOURCES[kind as Exclude<DatasetKind, "synthetic">];
  if (!src) {
    throw new DatasetError(`unknown data-set kind "${kind}" (known: ${DATASET_KINDS.join(", ")})`);
  }
  if (root && kind === "fer2013" && root.toLowerCase().endsWith(".csv")) {
    return await realOrResolved(root);
  }
  return await realOrResolved(await resolveRoot(root, src.env, src.fallback, kind));
}

/**
 * The kind's default root, the one that needs no configuration: `data/<kind>/` when it holds
 * data, else the kind's fallback (FER+: `../shared/data/ferplus`); absolute, links resolved.
 * `null` when the kind has none (or for the synthetic set).
 */
export async function defaultDataRoot(kind: string): Promise<string | null> {
  if (kind === "synthetic") return null;
  const src = DATA_ROOT_SOURCES[kind as Exclude<DatasetKind, "synthetic">];
  if (!src) return null;
  if (holdsData(resolve(DATA_DIR, kind))) return await realOrResolved(resolve(DATA_DIR, kind));
  return src.fallback ? await realOrResolved(resolve(REPO_ROOT, src.fallback)) : null;
}
