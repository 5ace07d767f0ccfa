/**
 * Aff-Wild2 expression (EXPR) loader:
 *
 *     <root>/cropped_aligned/<video>/00001.jpg, 00002.jpg, ...
 *     <root>/Annotations/EXPR_Classification_Challenge/Train_Set/<video>.txt
 *     <root>/Annotations/EXPR_Classification_Challenge/Validation_Set/<video>.txt
 *
 * Each annotation file has a header line naming the classes (`Neutral,Anger,Disgust,Fear,
 * Happiness,Sadness,Surprise,Other`), then one label per frame: line k+1 is frame k, image
 * `String(k).padStart(5, "0") + ".jpg"`. Label −1 (frame not annotated) and frames without an
 * image (no face detected) are skipped, counted and listed compactly (one item per video and
 * reason, with the count). The video is the group. `Train_Set` → split train; `Validation_Set`
 * → split **test** (the challenge's test labels are not public; papers report on validation).
 * A header that names a class outside the 8 is an error (unknown class name).
 * @module
 */
import {
  DatasetError,
  exists,
  fileDataset,
  join,
  listDir,
  readLabelFile,
  resolveRoot,
} from "./common.ts";
import type { DatasetSample, LoadedDataset, SkippedItem } from "./types.ts";

/** Aff-Wild2 EXPR classes, label codes 0–7. */
export const AFFWILD2_CLASSES: readonly string[] = [
  "neutral",
  "anger",
  "disgust",
  "fear",
  "happiness",
  "sadness",
  "surprise",
  "other",
];

/** Options of {@linkcode loadAffWild2}. */
export interface AffWild2Options {
  /** Splits to keep (default train and test). */
  splits?: readonly string[];
}

/**
 * Loads Aff-Wild2 EXPR from `root` (else `$GREFEL_AFFWILD2`).
 * @throws DatasetError when the root, the annotation folder of a requested split, or a video's
 * frame folder is missing, or an annotation header names an unknown class.
 */
export async function loadAffWild2(
  root?: string | null,
  opts: AffWild2Options = {},
): Promise<LoadedDataset> {
  const dir = await resolveRoot(root, "GREFEL_AFFWILD2", undefined, "affwild2");
  const annDir = join(dir, "Annotations", "EXPR_Classification_Challenge");
  const frameDir = join(dir, "cropped_aligned");
  const splits = opts.splits ?? ["train", "test"];
  const samples: DatasetSample[] = [];
  const skipped: SkippedItem[] = [];
  for (const [split, folder] of [["train", "Train_Set"], ["test", "Validation_Set"]]) {
    if (!splits.includes(split)) continue;
    const setDir = join(annDir, folder);
    if (!(await exists(setDir))) {
      throw new DatasetError(`Aff-Wild2 annotation folder ${setDir} not found`);
    }
    for (const file of await listDir(setDir, "file")) {
      if (!file.endsWith(".txt")) continue;
      const video = file.slice(0, -4);
      const path = join(setDir, file);
      const lines = (await readLabelFile(path, "Aff-Wild2 annotation file")).split(/\r?\n/);
      const header = lines.shift()!.split(",").map((h) => h.trim().toLowerCase());
      const unknown = header.filter((h) => !AFFWILD2_CLASSES.includes(h));
      if (unknown.length || header.length !== AFFWILD2_CLASSES.length) {
        throw new DatasetError(
          `Aff-Wild2 annotation file ${path}: header names unknown class(es) ` +
            `${unknown.map((u) => `"${u}"`).join(", ") || "(wrong count)"} (expected ${
              AFFWILD2_CLASSES.join(",")
            })`,
        );
      }
      // header order → our class order (identical in the released files)
      const remap = header.map((h) => AFFWILD2_CLASSES.indexOf(h));
      const vdir = join(frameDir, video);
      const frames = new Set(await listDir(vdir, "file"));
      if (frames.size === 0) {
        skipped.push({ item: `cropped_aligned/${video}`, reason: "no frame folder or no frames" });
        continue;
      }
      let unlabelled = 0, missing = 0, malformed = 0;
      lines.forEach((line, k) => {
        const t = line.trim();
        if (!t) return;
        const code = Number(t);
        if (code === -1) {
          unlabelled++;
          return;
        }
        if (!(Number.isInteger(code) && code >= 0 && code < remap.length)) {
          malformed++;
          return;
        }
        const name = `${String(k + 1).padStart(5, "0")}.jpg`;
        if (!frames.has(name)) {
          missing++;
          return;
        }
        samples.push({
          id: `affwild2/${video}/${name}`,
          split,
          label: remap[code],
          group: video,
          path: join(vdir, name),
        });
      });
      if (unlabelled) {
        skipped.push({ item: `${video} (${unlabelled} frames)`, reason: "label -1 (unannotated)" });
      }
      if (missing) {
        skipped.push({ item: `${video} (${missing} frames)`, reason: "frame image missing" });
      }
      if (malformed) {
        skipped.push({
          item: `${video} (${malformed} frames)`,
          reason: "label not an integer 0–7",
        });
      }
    }
  }
  return fileDataset("affwild2", [...AFFWILD2_CLASSES], samples, skipped);
}
