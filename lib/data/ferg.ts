/**
 * FERG-DB loader (stylised characters):
 *
 *     <root>/<character>/<character>_<expression>/*.png      e.g. aia/aia_joy/aia_joy_1.png
 *
 * Classes in FERG-DB's order (alphabetical): anger, disgust, fear, joy, neutral, sadness,
 * surprise. The character is the group. FERG-DB has no splits; with six characters a
 * character-wise split would leave whole characters unseen, so (as FERG-DB papers do) images are
 * split individually by default (`unit: "sample"`), seeded. Expression folders with an unknown
 * name are skipped and listed; empty ones too.
 * @module
 */
import {
  assignSplitsFromOptions,
  DatasetError,
  fileDataset,
  filterSplits,
  isImageName,
  join,
  listDir,
  resolveRoot,
  type SplitOptions,
  type SplitUnit,
} from "./common.ts";
import type { DatasetSample, LoadedDataset, SkippedItem } from "./types.ts";

/** FERG-DB classes (folder suffixes), in order. */
export const FERG_CLASSES: readonly string[] = [
  "anger",
  "disgust",
  "fear",
  "joy",
  "neutral",
  "sadness",
  "surprise",
];

/** Options of {@linkcode loadFerg}. */
export interface FergOptions extends SplitOptions {
  /** Split unit (default `"sample"`; `"group"` holds out whole characters). */
  unit?: SplitUnit;
}

/**
 * Loads FERG-DB from `root` (else `$GREFEL_FERG`).
 * @throws DatasetError when the root is missing or holds no FERG-DB image.
 */
export async function loadFerg(
  root?: string | null,
  opts: FergOptions = {},
): Promise<LoadedDataset> {
  const dir = await resolveRoot(root, "GREFEL_FERG", undefined, "ferg");
  const samples: DatasetSample[] = [];
  const skipped: SkippedItem[] = [];
  for (const character of await listDir(dir, "dir")) {
    for (const folder of await listDir(join(dir, character), "dir")) {
      const prefix = `${character}_`;
      const expr = folder.startsWith(prefix) ? folder.slice(prefix.length).toLowerCase() : "";
      const label = FERG_CLASSES.indexOf(expr);
      if (label < 0) {
        skipped.push({
          item: `${character}/${folder}`,
          reason: `not <character>_<expression> with a known expression (${
            FERG_CLASSES.join(", ")
          })`,
        });
        continue;
      }
      const files = (await listDir(join(dir, character, folder), "file")).filter(isImageName);
      if (files.length === 0) {
        skipped.push({ item: `${character}/${folder}`, reason: "empty expression folder" });
      }
      for (const f of files) {
        samples.push({
          id: `ferg/${character}/${folder}/${f}`,
          split: "train",
          label,
          group: character,
          path: join(dir, character, folder, f),
        });
      }
    }
  }
  if (samples.length === 0) throw new DatasetError(`no FERG-DB images found in ${dir}`);
  assignSplitsFromOptions(samples, opts, opts.unit ?? "sample");
  const ds = fileDataset("ferg", [...FERG_CLASSES], filterSplits(samples, opts.splits), skipped);
  if (!opts.splits) {
    ds.reassignSplits = (subset) => assignSplitsFromOptions(subset, opts, opts.unit ?? "sample");
  }
  return ds;
}
