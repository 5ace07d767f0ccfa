/**
 * JAFFE loader: one folder of images named `<subject>.<expression><n>.<id>.<ext>`
 * (e.g. `KA.AN1.39.tiff`; `.tiff`, `.tif`, `.png`, `.jpg` accepted), searched in `root` and one
 * level of sub-folders. The subject is the group. Expression codes, in the order used here
 * (alphabetical by code, as JAFFE defines no index order): AN anger, DI disgust, FE fear,
 * HA happiness, NE neutral, SA sadness, SU surprise. JAFFE has no splits: they are assigned by
 * subject ({@linkcode assignSplits}, subject-independent), seeded. Files whose name does not
 * parse or whose code is unknown are skipped and listed.
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
} from "./common.ts";
import type { DatasetSample, LoadedDataset, SkippedItem } from "./types.ts";

/** JAFFE expression codes, in class order. */
export const JAFFE_CODES: readonly string[] = ["AN", "DI", "FE", "HA", "NE", "SA", "SU"];

/** JAFFE classes, in the order of {@linkcode JAFFE_CODES}. */
export const JAFFE_CLASSES: readonly string[] = [
  "anger",
  "disgust",
  "fear",
  "happiness",
  "neutral",
  "sadness",
  "surprise",
];

/**
 * Loads JAFFE from `root` (else `$GREFEL_JAFFE`).
 * @throws DatasetError when the root is missing or holds no JAFFE image.
 */
export async function loadJaffe(
  root?: string | null,
  opts: SplitOptions = {},
): Promise<LoadedDataset> {
  const dir = await resolveRoot(root, "GREFEL_JAFFE", undefined, "jaffe");
  const samples: DatasetSample[] = [];
  const skipped: SkippedItem[] = [];
  const folders = ["", ...(await listDir(dir, "dir"))];
  for (const sub of folders) {
    for (const name of await listDir(join(dir, sub), "file")) {
      if (!isImageName(name)) continue;
      const rel = sub ? `${sub}/${name}` : name;
      const m = /^([A-Za-z]+)\.([A-Za-z]{2})(\d*)\.(\d+)\.\w+$/.exec(name);
      if (!m) {
        skipped.push({ item: rel, reason: "name is not <subject>.<code><n>.<id>.<ext>" });
        continue;
      }
      const label = JAFFE_CODES.indexOf(m[2].toUpperCase());
      if (label < 0) {
        skipped.push({
          item: rel,
          reason: `unknown expression code "${m[2]}" (known: ${JAFFE_CODES.join(", ")})`,
        });
        continue;
      }
      samples.push({
        id: `jaffe/${rel}`,
        split: "train",
        label,
        group: m[1].toUpperCase(),
        path: join(dir, sub, name),
      });
    }
  }
  if (samples.length === 0) throw new DatasetError(`no JAFFE images found in ${dir}`);
  assignSplitsFromOptions(samples, opts);
  const ds = fileDataset("jaffe", [...JAFFE_CLASSES], filterSplits(samples, opts.splits), skipped);
  if (!opts.splits) ds.reassignSplits = (subset) => assignSplitsFromOptions(subset, opts);
  return ds;
}
