/**
 * Generic class-per-folder loader (the torchvision `ImageFolder` convention):
 *
 *     <root>/<split>/<class>/*.{png,jpg,jpeg,tif,tiff}   with split folders train, valid|val, test
 *     <root>/<class>/*                                    without: splits assigned, seeded
 *
 * Class names: `classNames` when given (its order is the label order), else the sorted folder
 * names. Decisions: with explicit `classNames`, a folder that is not one of them is an error
 * ("unknown class name") and a class without images is an error ("empty class"); with inferred
 * names an empty class folder is skipped and listed, and is not a class. Images are not decoded at
 * load time; sizes and channel counts are normalised by pre-processing.
 * @module
 */
import {
  assignSplitsFromOptions,
  DatasetError,
  exists,
  fileDataset,
  filterSplits,
  isImageName,
  join,
  listDir,
  resolveRoot,
  type SplitOptions,
} from "./common.ts";
import type { DatasetSample, LoadedDataset, SkippedItem } from "./types.ts";

/** Options of {@linkcode loadFolder}. */
export interface FolderOptions extends SplitOptions {
  /** Class names in label order (default: sorted folder names). */
  classNames?: readonly string[];
  /** Data-set name (default `"folder"`). */
  name?: string;
}

const SPLIT_DIRS: [string, string][] = [["train", "train"], ["valid", "valid"], [
  "valid",
  "val",
], ["test", "test"]];

/**
 * Loads a class-per-folder data set from `root` (else `$GREFEL_FOLDER`).
 * @throws DatasetError for a missing root, no images, an unknown class folder or an empty class
 * (with explicit `classNames`).
 */
export async function loadFolder(
  root?: string | null,
  opts: FolderOptions = {},
): Promise<LoadedDataset> {
  const dir = await resolveRoot(root, "GREFEL_FOLDER");
  const splitDirs: [string, string][] = [];
  for (const [split, name] of SPLIT_DIRS) {
    if (await exists(join(dir, name))) splitDirs.push([split, join(dir, name)]);
  }
  const hasSplits = splitDirs.length > 0;
  if (!hasSplits) splitDirs.push(["train", dir]);
  // class folder -> files, per split
  const found: { split: string; cls: string; files: string[]; base: string }[] = [];
  const folderNames = new Set<string>();
  for (const [split, base] of splitDirs) {
    for (const cls of await listDir(base, "dir")) {
      folderNames.add(cls);
      found.push({
        split,
        cls,
        base,
        files: (await listDir(join(base, cls), "file")).filter(isImageName),
      });
    }
  }
  const skipped: SkippedItem[] = [];
  let classNames: string[];
  if (opts.classNames) {
    classNames = [...opts.classNames];
    const unknown = [...folderNames].filter((f) => !classNames.includes(f));
    if (unknown.length) {
      throw new DatasetError(
        `unknown class name(s) ${unknown.map((u) => `"${u}"`).join(", ")} in ${dir} ` +
          `(known: ${classNames.join(", ")})`,
      );
    }
    const counts = new Map(classNames.map((c) => [c, 0]));
    for (const f of found) counts.set(f.cls, counts.get(f.cls)! + f.files.length);
    const empty = classNames.filter((c) => counts.get(c) === 0);
    if (empty.length) {
      throw new DatasetError(`empty class(es) ${empty.map((e) => `"${e}"`).join(", ")} in ${dir}`);
    }
  } else {
    const counts = new Map<string, number>();
    for (const f of found) counts.set(f.cls, (counts.get(f.cls) ?? 0) + f.files.length);
    classNames = [...counts.keys()].filter((c) => counts.get(c)! > 0).sort();
    for (const [c, n] of counts) {
      if (n === 0) skipped.push({ item: c, reason: "empty class folder: not used as a class" });
    }
  }
  const samples: DatasetSample[] = [];
  for (const f of found) {
    const label = classNames.indexOf(f.cls);
    if (label < 0) continue;
    for (const file of f.files) {
      const rel = hasSplits
        ? `${f.base.slice(dir.length + 1)}/${f.cls}/${file}`
        : `${f.cls}/${file}`;
      samples.push({ id: rel, split: f.split, label, path: join(f.base, f.cls, file) });
    }
  }
  if (samples.length === 0) throw new DatasetError(`no images found in ${dir}`);
  if (!hasSplits) assignSplitsFromOptions(samples, opts, "sample");
  return fileDataset(
    opts.name ?? "folder",
    classNames,
    filterSplits(samples, opts.splits),
    skipped,
  );
}
