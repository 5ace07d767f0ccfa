/**
 * FER2013 loader for the Kaggle csv (`fer2013.csv`: `emotion,pixels,Usage`, 48×48 gray pixels as
 * 2,304 space-separated values), optionally relabelled with the FER+ votes of `fer2013new.csv`
 * (`Usage,Image name,neutral,…,contempt,unknown,NF`, one row per `fer2013.csv` row, same order).
 *
 * - Without FER+ votes: classes are FER2013's own `[angry, disgust, fear, happy, sad, surprise,
 *   neutral]` (emotion 0–6).
 * - With `fer2013new.csv` (found beside `fer2013.csv`, or `ferPlusCsv`): classes and labels are
 *   FER+'s (see {@linkcode ferPlusLabel}); rows the FER+ authors removed (empty `Image name`) are
 *   skipped and listed.
 * - `Usage` Training / PublicTest / PrivateTest → splits train / valid / test.
 *
 * Pixels are kept in memory (35,887 × 2,304 bytes ≈ 83 MB); `loadImage` copies a row out.
 * @module
 */
import { parse } from "csv-parse/sync";
import { DatasetError, exists, join, numberField, readLabelFile, resolveRoot } from "./common.ts";
import { FERPLUS_CLASSES, ferPlusLabel, type FerPlusLabelMode } from "./ferplus.ts";
import type { DatasetSample, LoadedDataset, RawImage, SkippedItem } from "./types.ts";

/** FER2013's classes, emotion codes 0–6. */
export const FER2013_CLASSES: readonly string[] = [
  "angry",
  "disgust",
  "fear",
  "happy",
  "sad",
  "surprise",
  "neutral",
];

/** `Usage` value → split. */
export const FER2013_USAGE: Readonly<Record<string, string>> = {
  Training: "train",
  PublicTest: "valid",
  PrivateTest: "test",
};

/** Options of {@linkcode loadFer2013}. */
export interface Fer2013Options {
  /** Splits to keep (default all). */
  splits?: readonly string[];
  /** Path of `fer2013new.csv`; default: beside `fer2013.csv` when present. `false`: ignore it. */
  ferPlusCsv?: string | false;
  /** Label rule when FER+ votes are used (default `"majority"`). */
  labelMode?: FerPlusLabelMode;
}

const SIDE = 48;

function parseCsv(text: string, path: string): string[][] {
  try {
    return parse(text, { relax_column_count: true, skip_empty_lines: true, trim: true });
  } catch (e) {
    throw new DatasetError(`malformed csv ${path}: ${(e as Error).message}`);
  }
}

/**
 * Loads FER2013 from `root` (a folder holding `fer2013.csv`, or the csv itself; else
 * `$GREFEL_FER2013`).
 * @throws DatasetError when the csv is missing, has no `emotion`/`pixels`/`Usage` header, or the
 * FER+ csv's row count differs from FER2013's.
 */
export async function loadFer2013(
  root?: string | null,
  opts: Fer2013Options = {},
): Promise<LoadedDataset> {
  let csvPath: string;
  if (root && root.toLowerCase().endsWith(".csv")) csvPath = root;
  else {csvPath = join(
      await resolveRoot(root, "GREFEL_FER2013", undefined, "fer2013"),
      "fer2013.csv",
    );}
  const rows = parseCsv(await readLabelFile(csvPath, "FER2013 csv"), csvPath);
  const header = rows.shift() ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) {
      throw new DatasetError(
        `FER2013 csv ${csvPath} has no "${name}" column (header: ${header.join(",")})`,
      );
    }
    return i;
  };
  const [cEmo, cPix, cUse] = [col("emotion"), col("pixels"), col("Usage")];

  let plus: string[][] | null = null;
  const plusPath = opts.ferPlusCsv === false
    ? null
    : opts.ferPlusCsv ?? join(csvPath, "..", "fer2013new.csv");
  if (plusPath && (opts.ferPlusCsv || await exists(plusPath))) {
    plus = parseCsv(await readLabelFile(plusPath, "FER+ csv"), plusPath);
    plus.shift(); // header
    if (plus.length !== rows.length) {
      throw new DatasetError(
        `FER+ csv ${plusPath} has ${plus.length} rows but ${csvPath} has ${rows.length}`,
      );
    }
  }
  const mode = opts.labelMode ?? "majority";
  const classNames = plus ? [...FERPLUS_CLASSES] : [...FER2013_CLASSES];
  const pixels = new Uint8Array(rows.length * SIDE * SIDE);
  const offset = new Map<string, number>();
  const samples: DatasetSample[] = [];
  const skipped: SkippedItem[] = [];
  rows.forEach((row, i) => {
    const id = `fer2013/${String(i).padStart(5, "0")}`;
    const where = `${csvPath} row ${i + 2}`;
    const split = FER2013_USAGE[row[cUse]];
    if (!split) {
      skipped.push({ item: where, reason: `unknown Usage "${row[cUse]}"` });
      return;
    }
    if (opts.splits && !opts.splits.includes(split)) return;
    const values = (row[cPix] ?? "").split(/\s+/).filter((x) => x.length > 0).map(Number);
    if (values.length !== SIDE * SIDE) {
      skipped.push({
        item: where,
        reason: `pixels: expected ${SIDE * SIDE} values, got ${values.length}`,
      });
      return;
    }
    const bad = values.findIndex((v) => !(Number.isInteger(v) && v >= 0 && v <= 255));
    if (bad >= 0) {
      const raw = (row[cPix] ?? "").split(/\s+/).filter((x) => x.length > 0)[bad];
      skipped.push({
        item: where,
        reason: `pixels: value ${bad + 1} is "${raw}", not an integer in 0–255`,
      });
      return;
    }
    let label: number;
    let soft: number[] | undefined;
    if (plus) {
      const p = plus[i];
      if (!p[1]) {
        skipped.push({ item: id, reason: "no FER+ image name (removed by the FER+ authors)" });
        return;
      }
      const votes = p.slice(2, 12).map(numberField);
      if (votes.length !== 10 || votes.some((v) => !(v >= 0))) {
        skipped.push({ item: `${plusPath} row ${i + 2}`, reason: "malformed FER+ votes" });
        return;
      }
      const lab = ferPlusLabel(votes, mode);
      if (lab.label === null) {
        skipped.push({ item: id, reason: lab.reason });
        return;
      }
      label = lab.label;
      const emo = votes.slice(0, 8);
      const total = emo.reduce((a, b) => a + b, 0);
      soft = emo.map((x) => x / total);
    } else {
      label = numberField(row[cEmo]);
      if (!(Number.isInteger(label) && label >= 0 && label < FER2013_CLASSES.length)) {
        skipped.push({ item: where, reason: `unknown emotion code "${row[cEmo]}"` });
        return;
      }
    }
    pixels.set(values, i * SIDE * SIDE);
    offset.set(id, i * SIDE * SIDE);
    samples.push(soft ? { id, split, label, soft } : { id, split, label });
  });
  return {
    name: "fer2013",
    classNames,
    samples,
    skipped,
    loadImage(sample: DatasetSample): Promise<RawImage> {
      const o = offset.get(sample.id);
      if (o === undefined) throw new DatasetError(`no FER2013 image ${sample.id}`);
      const data = pixels.slice(o, o + SIDE * SIDE);
      return Promise.resolve({ width: SIDE, height: SIDE, channels: 1, data });
    },
  };
}
