/**
 * Generic class-per-folder loader (the torchvision `ImageFolder` convention):
 *
 *     <root>/<split>/<class>/.../<image>   with split folders train, valid|val, test
 *     <root>/<class>/.../<image>           without: splits assigned (stratified, seeded)
 *
 * Images may sit in sub-folders of a class folder (e.g. one per subject); every file with an
 * image extension ({@linkcode IMAGE_EXTENSIONS}: PNG, JPEG, TIFF, WebP, BMP, GIF, PGM/PPM/PBM) is a
 * sample, whatever its format inside (the decoder reads the bytes). Other files are skipped and
 * listed ("unsupported file type"), except hidden files and desktop metadata (`Thumbs.db`,
 * `desktop.ini`). Images are not decoded here: the pre-processing scan (lib/data/scan.ts) decodes
 * every file once, and skips and lists those that fail.
 *
 * Class names: `classNames` when given (its order is the label order), else the sorted folder
 * names. Decisions: with explicit `classNames`, a folder that is not one of them is an error
 * ("unknown class name") and a class without images is an error ("empty class"); with inferred
 * names a class folder without images is skipped and listed (with the unsupported files it has),
 * and is not a class.
 *
 * Groups (subjects), used by subject-independent splits and by data refinement: `groupLevel` k
 * takes the k-th folder below the class folder (`<class>/<subject>/img.png`: 1); `groupPattern`
 * is a regular expression over the path below the class folder (`S(\d+)_` on `S005_001.png`: the
 * first capture group, else the whole match); a file it does not match has no group.
 * @module
 */
import {
  assignSplitsFromOptions,
  DatasetError,
  exists,
  fileDataset,
  filterSplits,
  IMAGE_EXTENSIONS,
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
  /** Group = the folder this many levels below the class folder (default none). */
  groupLevel?: number | null;
  /** Group = this regular expression's first capture group (or match) on the path below the class folder. */
  groupPattern?: string | null;
}

const SPLIT_DIRS: [string, string][] = [["train", "train"], ["valid", "valid"], [
  "valid",
  "val",
], ["test", "test"]];

const IGNORED = new Set(["thumbs.db", "desktop.ini"]);

/** Files below `dir` (recursively), as paths relative to it, sorted. */
async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of await listDir(dir, "any")) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    const info = await Deno.stat(path);
    if (info.isDirectory) out.push(...await walk(path, `${prefix}${name}/`));
    else if (info.isFile && !IGNORED.has(name.toLowerCase())) out.push(`${prefix}${name}`);
  }
  return out;
}

/** The group of a file at `rel` (path below its class folder), or undefined. */
export function folderGroup(
  rel: string,
  opts: Pick<FolderOptions, "groupLevel" | "groupPattern">,
  re?: RegExp,
): string | undefined {
  if (opts.groupLevel) {
    const parts = rel.split("/");
    return parts.length > opts.groupLevel ? parts[opts.groupLevel - 1] : undefined;
  }
  if (re) {
    const m = re.exec(rel);
    if (!m) return undefined;
    return m[1] ?? m[0];
  }
  return undefined;
}

/**
 * Loads a class-per-folder data set from `root` (else `$GREFEL_FOLDER`).
 * @throws DatasetError for a missing root, no images, an unknown class folder or an empty class
 * (with explicit `classNames`), or an invalid `groupPattern`.
 */
export async function loadFolder(
  root?: string | null,
  opts: FolderOptions = {},
): Promise<LoadedDataset> {
  const dir = await resolveRoot(root, "GREFEL_FOLDER", undefined, "folder");
  if (opts.groupLevel && opts.groupPattern) {
    throw new DatasetError("set one of data.groupLevel and data.groupPattern, not both");
  }
  let re: RegExp | undefined;
  if (opts.groupPattern) {
    try {
      re = new RegExp(opts.groupPattern);
    } catch (e) {
      throw new DatasetError(`data.groupPattern "${opts.groupPattern}": ${(e as Error).message}`);
    }
  }
  const splitDirs: [string, string][] = [];
  for (const [split, name] of SPLIT_DIRS) {
    if (await exists(join(dir, name))) splitDirs.push([split, join(dir, name)]);
  }
  const hasSplits = splitDirs.length > 0;
  if (!hasSplits) splitDirs.push(["train", dir]);
  const found: { split: string; cls: string; files: string[]; other: string[]; base: string }[] =
    [];
  const folderNames = new Set<string>();
  let looseImages = 0;
  for (const [split, base] of splitDirs) {
    looseImages += (await listDir(base, "file")).filter(isImageName).length;
    for (const cls of await listDir(base, "dir")) {
      if (cls.startsWith(".")) continue;
      folderNames.add(cls);
      const all = await walk(join(base, cls));
      found.push({
        split,
        cls,
        base,
        files: all.filter(isImageName),
        other: all.filter((f) => !isImageName(f)),
      });
    }
  }
  const skipped: SkippedItem[] = [];
  const unsupported = (f: { other: string[] }) => {
    const exts = [...new Set(f.other.map((o) => /\.[^./]*$/.exec(o)?.[0] ?? "(none)"))];
    return `${f.other.length} file(s) of unsupported type ${exts.join(", ")}`;
  };
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
      throw new DatasetError(
        `empty class(es) ${empty.map((e) => `"${e}"`).join(", ")} in ${dir} (no files with ` +
          `an image extension: ${IMAGE_EXTENSIONS.join(" ")})`,
      );
    }
  } else {
    const counts = new Map<string, number>();
    for (const f of found) counts.set(f.cls, (counts.get(f.cls) ?? 0) + f.files.length);
    classNames = [...counts.keys()].filter((c) => counts.get(c)! > 0).sort();
    for (const [c, n] of counts) {
      if (n > 0) continue;
      const other = found.filter((f) => f.cls === c).flatMap((f) => f.other);
      skipped.push({
        item: c,
        reason: "empty class folder: not used as a class" +
          (other.length ? ` (${unsupported({ other })})` : ""),
      });
    }
  }
  const samples: DatasetSample[] = [];
  for (const f of found) {
    const label = classNames.indexOf(f.cls);
    if (label < 0) continue;
    const where = (file: string) =>
      hasSplits ? `${f.base.slice(dir.length + 1)}/${f.cls}/${file}` : `${f.cls}/${file}`;
    for (const file of f.files) {
      const s: DatasetSample = {
        id: where(file),
        split: f.split,
        label,
        path: join(f.base, f.cls, file),
      };
      const group = folderGroup(file, opts, re);
      if (group !== undefined) s.group = group;
      samples.push(s);
    }
    for (const file of f.other) {
      const ext = /\.[^./]*$/.exec(file)?.[0] ?? "(no extension)";
      skipped.push({
        item: join(f.base, f.cls, file),
        reason: `unsupported file type ${ext} (supported: ${IMAGE_EXTENSIONS.join(" ")})`,
        kind: "file",
      });
    }
  }
  if (samples.length === 0) {
    throw new DatasetError(
      `no images found in ${dir}: expected ${dir}/<class>/<image> or ` +
        `${dir}/train/<class>/<image> (image extensions: ${IMAGE_EXTENSIONS.join(" ")})` +
        (looseImages ? `; ${looseImages} image(s) lie directly in it, outside class folders` : ""),
    );
  }
  if (!hasSplits) assignSplitsFromOptions(samples, opts, "group");
  const ds = fileDataset(
    opts.name ?? "folder",
    classNames,
    filterSplits(samples, opts.splits),
    skipped,
  );
  if (!hasSplits && !opts.splits) {
    ds.reassignSplits = (subset) => assignSplitsFromOptions(subset, opts, "group");
  }
  return ds;
}
