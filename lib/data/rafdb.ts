/**
 * RAF-DB (basic emotion subset) loader:
 *
 *     <root>/EmoLabel/list_patition_label.txt   lines "train_00001.jpg 5" / "test_0001.jpg 1"
 *     <root>/Image/aligned/train_00001_aligned.jpg
 *
 * Labels 1–7 are Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral (RAF-DB's order; the
 * file name's misspelt `patition` is RAF-DB's). The split is the file name's prefix (train/test;
 * RAF-DB has no validation split). Lines with a label outside 1–7, a bad format, or no aligned
 * image are skipped and listed.
 * @module
 */
import { DatasetError, fileDataset, join, listDir, readLabelFile, resolveRoot } from "./common.ts";
import type { DatasetSample, LoadedDataset, SkippedItem } from "./types.ts";

/** RAF-DB basic classes, labels 1–7. */
export const RAFDB_CLASSES: readonly string[] = [
  "surprise",
  "fear",
  "disgust",
  "happiness",
  "sadness",
  "anger",
  "neutral",
];

/** Options of {@linkcode loadRafDb}. */
export interface RafDbOptions {
  /** Splits to keep (default train and test). */
  splits?: readonly string[];
}

/**
 * Loads RAF-DB basic from `root` (else `$GREFEL_RAFDB`).
 * @throws DatasetError when the root, the label file or the aligned-image folder is missing.
 */
export async function loadRafDb(
  root?: string | null,
  opts: RafDbOptions = {},
): Promise<LoadedDataset> {
  const dir = await resolveRoot(root, "GREFEL_RAFDB", undefined, "rafdb");
  const labelPath = join(dir, "EmoLabel", "list_patition_label.txt");
  const text = await readLabelFile(labelPath, "RAF-DB label file");
  const imgDir = join(dir, "Image", "aligned");
  const files = new Set(await listDir(imgDir, "file"));
  if (files.size === 0) throw new DatasetError(`RAF-DB image folder ${imgDir} is missing or empty`);
  const samples: DatasetSample[] = [];
  const skipped: SkippedItem[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const where = `list_patition_label.txt line ${i + 1}`;
    const m = /^\s*((train|test)_\d+)\.(\w+)\s+(\S+)\s*$/.exec(line);
    if (!m) {
      skipped.push({ item: where, reason: `malformed line "${line.trim()}"` });
      return;
    }
    const [, stem, split, ext, lab] = m;
    const label = Number(lab) - 1;
    if (!(Number.isInteger(label) && label >= 0 && label < RAFDB_CLASSES.length)) {
      skipped.push({ item: where, reason: `unknown label "${lab}" (expected 1–7)` });
      return;
    }
    if (opts.splits && !opts.splits.includes(split)) return;
    const name = `${stem}_aligned.${ext}`;
    if (!files.has(name)) {
      skipped.push({ item: `Image/aligned/${name}`, reason: "image file missing" });
      return;
    }
    samples.push({ id: `rafdb/${stem}`, split, label, path: join(imgDir, name) });
  });
  return fileDataset("rafdb", [...RAFDB_CLASSES], samples, skipped);
}
