/**
 * AffectNet loader (manually annotated part):
 *
 *     <root>/[Manually_Annotated_file_lists/]training.csv, validation.csv
 *     <root>/[Manually_Annotated/]Manually_Annotated_Images/<subDirectory_filePath>
 *
 * csv columns: `subDirectory_filePath, face_x, face_y, face_width, face_height,
 * facial_landmarks, expression, valence, arousal` (a header line is optional). Expressions 0–7
 * are kept (8 classes: Neutral, Happiness, Sadness, Surprise, Fear, Disgust, Anger, Contempt);
 * 8–10 (None, Uncertain, Non-Face) are skipped and listed, as are missing images and malformed
 * rows. `training.csv` → split train; `validation.csv` → split **test** (AffectNet's test set is
 * not public, so papers, GReFEL included, report on the validation set).
 * With `cropFace` (default true) `loadImage` crops the annotated face box.
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

/** AffectNet classes, expression codes 0–7. */
export const AFFECTNET_CLASSES: readonly string[] = [
  "neutral",
  "happiness",
  "sadness",
  "surprise",
  "fear",
  "disgust",
  "anger",
  "contempt",
];

const NON_CLASS = ["none", "uncertain", "non-face"];

/** Options of {@linkcode loadAffectNet}. */
export interface AffectNetOptions {
  /** Splits to keep (default train and test). */
  splits?: readonly string[];
  /** Crop the annotated face box in `loadImage` (default true). */
  cropFace?: boolean;
}

const COLUMNS = [
  "subDirectory_filePath",
  "face_x",
  "face_y",
  "face_width",
  "face_height",
  "facial_landmarks",
  "expression",
];

async function firstExisting(paths: string[]): Promise<string | null> {
  for (const p of paths) if (await exists(p)) return p;
  return null;
}

/**
 * Loads AffectNet from `root` (else `$GREFEL_AFFECTNET`).
 * @throws DatasetError when the root, a requested split's csv, or the image folder is missing, or
 * a csv is malformed.
 */
export async function loadAffectNet(
  root?: string | null,
  opts: AffectNetOptions = {},
): Promise<LoadedDataset> {
  const dir = await resolveRoot(root, "GREFEL_AFFECTNET", undefined, "affectnet");
  const imgDir = await firstExisting([
    join(dir, "Manually_Annotated_Images"),
    join(dir, "Manually_Annotated", "Manually_Annotated_Images"),
  ]) ?? dir;
  const splits = opts.splits ?? ["train", "test"];
  const crop = opts.cropFace ?? true;
  const samples: DatasetSample[] = [];
  const skipped: SkippedItem[] = [];
  const listings = new Map<string, Set<string>>();
  for (const [split, file] of [["train", "training.csv"], ["test", "validation.csv"]]) {
    if (!splits.includes(split)) continue;
    const csvPath = await firstExisting([
      join(dir, file),
      join(dir, "Manually_Annotated_file_lists", file),
    ]);
    if (!csvPath) throw new DatasetError(`AffectNet label file ${file} not found under ${dir}`);
    let rows: string[][];
    try {
      rows = parse(await readLabelFile(csvPath), { relax_column_count: true, trim: true });
    } catch (e) {
      if (e instanceof DatasetError) throw e;
      throw new DatasetError(`malformed AffectNet csv ${csvPath}: ${(e as Error).message}`);
    }
    let col = Object.fromEntries(COLUMNS.map((c, i) => [c, i]));
    if (rows[0]?.[0] === "subDirectory_filePath") {
      const header = rows.shift()!;
      const missing = COLUMNS.filter((c) => !header.includes(c));
      if (missing.length) {
        throw new DatasetError(`AffectNet csv ${csvPath} lacks columns ${missing.join(", ")}`);
      }
      col = Object.fromEntries(COLUMNS.map((c) => [c, header.indexOf(c)]));
    }
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const where = `${file} row ${i + 1}`;
      const rel = row[col.subDirectory_filePath];
      const expr = numberField(row[col.expression]);
      const box = [col.face_x, col.face_y, col.face_width, col.face_height].map((c) =>
        numberField(row[c])
      );
      if (!rel || !Number.isInteger(expr) || box.some((v) => !Number.isFinite(v))) {
        skipped.push({ item: where, reason: "malformed row" });
        continue;
      }
      if (expr >= 8 && expr <= 10) {
        skipped.push({ item: rel, reason: `expression ${expr} (${NON_CLASS[expr - 8]})` });
        continue;
      }
      if (expr < 0 || expr > 10) {
        skipped.push({ item: where, reason: `unknown expression code ${expr}` });
        continue;
      }
      const slash = rel.lastIndexOf("/");
      const sub = slash < 0 ? "" : rel.slice(0, slash);
      let files = listings.get(sub);
      if (!files) {
        files = new Set(await listDir(join(imgDir, sub), "file"));
        listings.set(sub, files);
      }
      if (!files.has(rel.slice(slash + 1))) {
        skipped.push({ item: rel, reason: "image file missing" });
        continue;
      }
      const s: DatasetSample = {
        id: `affectnet/${rel}`,
        split,
        label: expr,
        path: join(imgDir, rel),
      };
      if (crop && box[2] > 0 && box[3] > 0) s.box = box as [number, number, number, number];
      samples.push(s);
    }
  }
  return fileDataset("affectnet", [...AFFECTNET_CLASSES], samples, skipped);
}
