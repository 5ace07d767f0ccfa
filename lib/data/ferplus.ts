/**
 * FER+ loader: the FER2013 images with the FER+ crowd labels (Barsoum et al. 2016), in the layout
 * the FER+ authors' `generate_training_data.py` produces:
 *
 *     <root>/FER2013Train/  *.png + label.csv
 *     <root>/FER2013Valid/  *.png + label.csv
 *     <root>/FER2013Test/   *.png + label.csv
 *
 * `label.csv` rows (no header): `file name, "(x, y, w, h)" face box, neutral, happiness, surprise,
 * sadness, anger, disgust, fear, contempt, unknown, NF` (ten votes; NF = not a face).
 *
 * Labels follow the FER+ authors' "majority" mode (`FERPlusReader._process_data` in
 * microsoft/FERPlus `src/ferplus.py`):
 * 1. votes of 1 are outliers and set to 0 (`emotion_raw[i] < 1 + eps`);
 * 2. the label is the class holding strictly more than half of the remaining votes (unknown and NF
 *    included in the total); with no such class (ties included: two classes can never both hold
 *    more than half) the image is "unknown" and dropped;
 * 3. images whose majority is unknown or NF are dropped.
 * Dropped rows are counted and listed in `skipped` with the reason. `labelMode: "plurality"` is
 * the simpler rule some papers use (first arg-max of the raw votes, FER+ order; dropped only when
 * that is unknown/NF); it keeps more images (e.g. test: 1,258 neutral, 20 disgust).
 *
 * `soft` is the raw vote distribution over the 8 emotions (unknown/NF excluded, before outlier
 * removal), normalised to sum 1.
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import {
  DatasetError,
  exists,
  fileDataset,
  join,
  listDir,
  numberField,
  readLabelFile,
  resolveRoot,
} from "./common.ts";
import type { DatasetSample, LoadedDataset, SkippedItem } from "./types.ts";

/** FER+ class names in the order of the label.csv vote columns. */
export const FERPLUS_CLASSES: readonly string[] = [
  "neutral",
  "happiness",
  "surprise",
  "sadness",
  "anger",
  "disgust",
  "fear",
  "contempt",
];

/** Split name → FER+ folder. */
export const FERPLUS_SPLIT_FOLDERS: Readonly<Record<string, string>> = {
  train: "FER2013Train",
  valid: "FER2013Valid",
  test: "FER2013Test",
};

/** Environment variable naming the FER+ root. */
export const FERPLUS_ENV = "GREFEL_FERPLUS";

/** Default FER+ root relative to the repository root. */
export const FERPLUS_DEFAULT = "../shared/data/ferplus";

/** How a row's ten votes become a hard label. */
export type FerPlusLabelMode = "majority" | "plurality";

/** Options of {@linkcode loadFerPlus}. */
export interface FerPlusOptions {
  /** Splits to load (default all three). */
  splits?: readonly string[];
  /** Label rule (default `"majority"`, the FER+ authors'). */
  labelMode?: FerPlusLabelMode;
}

/** Result of {@linkcode ferPlusLabel}: the class, or why the row is dropped. */
export type FerPlusLabel = { label: number } | { label: null; reason: string };

/**
 * The hard label of one row's ten votes (8 emotions, unknown, NF) under `mode`; see the module doc.
 */
export function ferPlusLabel(votes: readonly number[], mode: FerPlusLabelMode): FerPlusLabel {
  if (votes.length !== 10) throw new Error(`expected 10 votes, got ${votes.length}`);
  const names = [...FERPLUS_CLASSES, "unknown", "NF"];
  if (mode === "plurality") {
    let best = 0;
    for (let i = 1; i < 10; i++) if (votes[i] > votes[best]) best = i;
    if (votes[best] <= 0) return { label: null, reason: "no votes" };
    if (best >= 8) return { label: null, reason: `most votes are ${names[best]}` };
    return { label: best };
  }
  const v = votes.map((x) => (x < 1 + Number.EPSILON ? 0 : x)); // outlier removal
  const sum = v.reduce((a, b) => a + b, 0);
  let best = 0;
  for (let i = 1; i < 10; i++) if (v[i] > v[best]) best = i;
  if (!(v[best] > 0.5 * sum)) {
    return { label: null, reason: "no majority (no class has more than half the votes)" };
  }
  if (best >= 8) return { label: null, reason: `majority is ${names[best]}` };
  return { label: best };
}

/**
 * Loads FER+ from `root` (else `$GREFEL_FERPLUS`, else `../shared/data/ferplus` beside the repo).
 * Reads only the label files and directory listings; pixels are read by `loadImage`.
 * Rows whose image file is missing, malformed rows and rows without a usable label are skipped,
 * counted and listed.
 * @throws DatasetError when the root or a requested split's folder or label.csv is missing, or a
 * split name is unknown.
 */
export async function loadFerPlus(
  root?: string | null,
  opts: FerPlusOptions = {},
): Promise<LoadedDataset> {
  const dir = await resolveRoot(root, FERPLUS_ENV, FERPLUS_DEFAULT, "ferplus");
  const splits = opts.splits ?? Object.keys(FERPLUS_SPLIT_FOLDERS);
  const mode = opts.labelMode ?? "majority";
  const samples: DatasetSample[] = [];
  const skipped: SkippedItem[] = [];
  for (const split of splits) {
    const folder = FERPLUS_SPLIT_FOLDERS[split];
    if (!folder) {
      throw new DatasetError(
        `unknown FER+ split "${split}" (known: ${Object.keys(FERPLUS_SPLIT_FOLDERS).join(", ")})`,
      );
    }
    const splitDir = join(dir, folder);
    if (!(await exists(splitDir))) {
      throw new DatasetError(`FER+ split folder ${splitDir} not found`);
    }
    const labelPath = join(splitDir, "label.csv");
    const text = await readLabelFile(labelPath, "FER+ label file");
    let rows: string[][];
    try {
      rows = parse(text, { relax_column_count: true, skip_empty_lines: true, trim: true });
    } catch (e) {
      throw new DatasetError(`malformed FER+ label file ${labelPath}: ${(e as Error).message}`);
    }
    if (rows.length === 0) throw new DatasetError(`FER+ label file ${labelPath} is empty`);
    const files = new Set(await listDir(splitDir, "file"));
    rows.forEach((row, i) => {
      const where = `${folder}/label.csv row ${i + 1}`;
      if (row.length !== 12) {
        skipped.push({ item: where, reason: `expected 12 columns, got ${row.length}` });
        return;
      }
      const blank = row.slice(2).flatMap((f, j) => f.trim() === "" ? [j + 3] : []);
      if (blank.length) {
        skipped.push({
          item: where,
          reason: `blank vote field(s) in column(s) ${blank.join(", ")}`,
        });
        return;
      }
      const votes = row.slice(2).map(numberField);
      if (votes.some((x) => !Number.isFinite(x) || x < 0)) {
        skipped.push({
          item: where,
          reason: `votes are not non-negative numbers: ${row.slice(2)}`,
        });
        return;
      }
      const name = row[0];
      const id = `${folder}/${name}`;
      if (!files.has(name)) {
        skipped.push({ item: id, reason: "image file missing" });
        return;
      }
      const lab = ferPlusLabel(votes, mode);
      if (lab.label === null) {
        skipped.push({ item: id, reason: lab.reason });
        return;
      }
      const emo = votes.slice(0, 8);
      const total = emo.reduce((a, b) => a + b, 0);
      samples.push({
        id,
        split,
        label: lab.label,
        soft: emo.map((x) => x / total),
        path: join(splitDir, name),
      });
    });
  }
  return fileDataset("ferplus", [...FERPLUS_CLASSES], samples, skipped);
}
