/**
 * Class mapping: renaming, merging, dropping and re-ordering a data set's classes, so that sets
 * with other class names or orders (FER2013's `angry`, a folder's `Happy`, RAF-DB's seven) train
 * and evaluate in one label space, e.g. FER+'s.
 *
 * - `classMap` renames data-set class names (`{"happy": "happiness"}`); a class mapped to `null`
 *   is dropped (its samples are skipped and listed). A key that is not a class of the data set is
 *   an error (a typo would otherwise be silently ignored).
 * - `classNames` is the target label space, in label order. Every (renamed) data-set class must
 *   match one of them: by name, case-insensitively, else through the expression synonyms
 *   ({@linkcode EXPRESSION_SYNONYMS}: `happy` = `happiness`, `angry` = `anger`, ...). A target
 *   class the data set lacks is allowed (its count is 0 and the data report warns).
 * - Without `classNames`, the classes are the renamed names in the data set's order (two classes
 *   renamed to one name are merged).
 *
 * Soft labels (vote distributions) are carried over by summing into the target classes; a sample
 * whose votes fall partly on a dropped class is renormalised over the rest.
 * @module
 */
import { DatasetError } from "./common.ts";
import type { DatasetSample, LoadedDataset, SkippedItem } from "./types.ts";

/**
 * Synonyms of the basic expression names, each mapped to FER+'s name: the spellings the public
 * data sets use (FER2013, RAF-DB, AffectNet, JAFFE, CK+, face-api).
 */
export const EXPRESSION_SYNONYMS: Readonly<Record<string, string>> = {
  neutral: "neutral",
  neutrality: "neutral",
  happy: "happiness",
  happiness: "happiness",
  joy: "happiness",
  surprise: "surprise",
  surprised: "surprise",
  sad: "sadness",
  sadness: "sadness",
  angry: "anger",
  anger: "anger",
  disgust: "disgust",
  disgusted: "disgust",
  fear: "fear",
  fearful: "fear",
  afraid: "fear",
  contempt: "contempt",
};

const canonical = (name: string) => {
  const l = name.trim().toLowerCase();
  return EXPRESSION_SYNONYMS[l] ?? l;
};

/** Options of {@linkcode mapClasses}. */
export interface ClassMapping {
  /** Target class names in label order (null: the data set's, after renaming). */
  classNames?: readonly string[] | null;
  /** Renames (`null`: drop the class). */
  classMap?: Readonly<Record<string, string | null>> | null;
}

/** Index of `name` in `targets`: exact, case-insensitive, then by synonym; -1 when none. */
export function matchClass(name: string, targets: readonly string[]): number {
  let i = targets.indexOf(name);
  if (i >= 0) return i;
  const lower = targets.map((t) => t.toLowerCase());
  i = lower.indexOf(name.toLowerCase());
  if (i >= 0) return i;
  const c = canonical(name);
  return targets.findIndex((t) => canonical(t) === c);
}

/**
 * The data set in the mapped label space (a new object; the input is not changed). Returns `ds`
 * itself when there is nothing to map.
 * @throws DatasetError naming a `classMap` key that is not a class of the data set, or data-set
 *   classes that match none of `classNames` (with what to set).
 */
export function mapClasses(ds: LoadedDataset, m: ClassMapping): LoadedDataset {
  const map = m.classMap ?? null;
  const target = m.classNames ?? null;
  if (!map && !target) return ds;
  if (target && new Set(target.map((t) => t.toLowerCase())).size !== target.length) {
    throw new DatasetError(`data.classNames has duplicate names: ${target.join(", ")}`);
  }
  if (map) {
    const unknown = Object.keys(map).filter((k) => !ds.classNames.includes(k));
    if (unknown.length) {
      throw new DatasetError(
        `data.classMap names ${unknown.map((u) => `"${u}"`).join(", ")}, not classes of data set ` +
          `${ds.name} (its classes: ${ds.classNames.join(", ")})`,
      );
    }
  }
  const renamed = ds.classNames.map((c) => (map && c in map ? map[c] : c));
  let names: string[];
  let index: number[]; // source class -> target class (-1: dropped)
  if (target) {
    names = [...target];
    index = renamed.map((r) => (r === null ? -1 : matchClass(r, names)));
    const unmatched = renamed.filter((r, i) => r !== null && index[i] < 0) as string[];
    if (unmatched.length) {
      throw new DatasetError(
        `class(es) ${unmatched.map((u) => `"${u}"`).join(", ")} of data set ${ds.name} match ` +
          `none of data.classNames (${names.join(", ")}): rename them with data.classMap ` +
          `(e.g. --set 'data.classMap={"${unmatched[0]}":"${names[0]}"}'), or map them to null ` +
          `to drop them`,
      );
    }
  } else {
    names = [...new Set(renamed.filter((r): r is string => r !== null))];
    index = renamed.map((r) => (r === null ? -1 : names.indexOf(r)));
  }
  const skipped: SkippedItem[] = [...ds.skipped];
  const dropped = new Map<number, number>();
  const samples: DatasetSample[] = [];
  for (const s of ds.samples) {
    const to = index[s.label];
    if (to < 0) {
      dropped.set(s.label, (dropped.get(s.label) ?? 0) + 1);
      continue;
    }
    const out: DatasetSample = { ...s, label: to };
    if (s.soft) {
      const soft = new Array(names.length).fill(0);
      s.soft.forEach((p, c) => {
        if (index[c] >= 0) soft[index[c]] += p;
      });
      const total = soft.reduce((a, b) => a + b, 0);
      if (total > 0) out.soft = soft.map((p) => p / total);
      else delete out.soft;
    }
    samples.push(out);
  }
  for (const [c, n] of dropped) {
    skipped.push({
      item: `class ${ds.classNames[c]}`,
      reason: `${n} sample(s) dropped: data.classMap maps the class to null`,
    });
  }
  const out: LoadedDataset = {
    ...ds,
    classNames: names,
    samples,
    skipped,
    loadImage: ds.loadImage,
  };
  if (ds.reassignSplits) out.reassignSplits = ds.reassignSplits;
  return out;
}
