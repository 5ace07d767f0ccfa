/**
 * The CSV files of a run folder, writer and reader: `predictions.csv` (test split: id, label,
 * arg-max of the primary head and of L_final, then both distributions) and `embeddings.csv` (test
 * split: id, label, the embedding e).
 *
 * @module
 */
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { writeFileAtomic } from "../run/atomic.ts";
import { argmax } from "../eval/metrics.ts";

/** The samples of a split, as the CSV files list them. */
export interface SplitRows {
  /** Sample ids. */
  ids: readonly string[];
  /** Class index per sample. */
  labels: Int32Array;
}

/** The distributions predictions.csv records, `[N, C]` row-major. */
export interface PredictionColumns {
  /** Primary head l. */
  primary: Float32Array;
  /** Final prediction L_final. */
  final: Float32Array;
}

/** The embeddings embeddings.csv records. */
export interface EmbeddingColumns {
  /** `[N, dim]` row-major. */
  embedding: Float32Array;
  /** Embedding width. */
  dim: number;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Formats the test predictions as CSV: id, label, primary, final, then both distributions. */
export function predictionsCsv(
  split: SplitRows,
  pred: PredictionColumns,
  classNames: readonly string[],
): string {
  const c = classNames.length;
  const pArg = argmax(pred.primary, c), fArg = argmax(pred.final, c);
  const head = ["id", "label", "primary", "final"]
    .concat(classNames.map((n) => `primary_${n}`), classNames.map((n) => `final_${n}`));
  const rows = [head.map(csvField).join(",")];
  for (let i = 0; i < split.ids.length; i++) {
    const dist = (d: Float32Array) =>
      Array.from(d.subarray(i * c, (i + 1) * c), (x) => x.toPrecision(6));
    rows.push(
      [
        csvField(split.ids[i]),
        split.labels[i],
        pArg[i],
        fArg[i],
        ...dist(pred.primary),
        ...dist(pred.final),
      ]
        .join(","),
    );
  }
  return rows.join("\n") + "\n";
}

/** Formats the test embeddings as CSV: id, label, e_0..e_{D-1}. */
export function embeddingsCsv(split: SplitRows, pred: EmbeddingColumns): string {
  const d = pred.dim;
  const head = ["id", "label", ...Array.from({ length: d }, (_, j) => `e${j}`)];
  const rows = [head.join(",")];
  for (let i = 0; i < split.ids.length; i++) {
    rows.push(
      [
        csvField(split.ids[i]),
        split.labels[i],
        ...Array.from(pred.embedding.subarray(i * d, (i + 1) * d), (x) => x.toPrecision(6)),
      ]
        .join(","),
    );
  }
  return rows.join("\n") + "\n";
}

/** Writes `predictions.csv` of the run folder `dir` atomically ({@linkcode predictionsCsv}). */
export function writePredictions(
  dir: string,
  split: SplitRows,
  pred: PredictionColumns,
  classNames: readonly string[],
  file = "predictions.csv",
): Promise<void> {
  return writeFileAtomic(join(dir, file), predictionsCsv(split, pred, classNames));
}

/** Writes `embeddings.csv` of the run folder `dir` atomically ({@linkcode embeddingsCsv}). */
export function writeEmbeddings(
  dir: string,
  split: SplitRows,
  pred: EmbeddingColumns,
): Promise<void> {
  return writeFileAtomic(join(dir, "embeddings.csv"), embeddingsCsv(split, pred));
}

/** A run's test predictions (predictions.csv). */
export interface RunPredictions {
  /** Class names, from the column headers. */
  classNames: string[];
  /** Sample ids. */
  ids: string[];
  /** True labels. */
  labels: Int32Array;
  /** Primary distributions l, one row per sample. */
  primary: number[][];
  /** Final distributions L_final. */
  final: number[][];
}

function readCsv(path: string): string[][] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${path} is missing (run not finished?)`);
    }
    throw e;
  }
  return parse(text, { skip_empty_lines: true }) as string[][];
}

function num(path: string, row: number, col: string, v: string): number {
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x)) {
    throw new Error(`${path} line ${row + 1}, column ${col}: "${v}" is not a number`);
  }
  return x;
}

/**
 * Reads `<dir>/predictions.csv`, or another predictions file of the run such as
 * `predictions-raw.csv` (id, label, primary, final, primary_<class>…, final_<class>…).
 * @throws Error naming the file and line of a bad value.
 */
export function readPredictions(dir: string, file = "predictions.csv"): RunPredictions {
  const path = join(dir, file);
  const [head, ...rows] = readCsv(path);
  const classNames = head.filter((h) => h.startsWith("primary_")).map((h) => h.slice(8));
  const c = classNames.length;
  if (!c || head.length !== 4 + 2 * c) {
    throw new Error(`${path}: unexpected header (${head.slice(0, 6).join(",")}…)`);
  }
  const vals = rows.map((r, i) => r.slice(4).map((v, j) => num(path, i + 1, head[4 + j], v)));
  return {
    classNames,
    ids: rows.map((r) => r[0]),
    labels: Int32Array.from(rows, (r, i) => num(path, i + 1, "label", r[1])),
    primary: vals.map((v) => v.slice(0, c)),
    final: vals.map((v) => v.slice(c)),
  };
}

/** A run's test embeddings (embeddings.csv). */
export interface RunEmbeddings {
  /** Sample ids. */
  ids: string[];
  /** True labels. */
  labels: Int32Array;
  /** Embeddings `[N, dim]`, row-major. */
  data: Float32Array;
  /** Embedding width. */
  dim: number;
}

/**
 * Reads `<dir>/embeddings.csv` (id, label, e0…).
 * @throws Error naming the file and line of a bad value.
 */
export function readEmbeddings(dir: string): RunEmbeddings {
  const path = join(dir, "embeddings.csv");
  const [head, ...rows] = readCsv(path);
  const dim = head.length - 2;
  if (dim < 1) throw new Error(`${path}: no embedding columns`);
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    if (r.length !== dim + 2) {
      throw new Error(`${path} line ${i + 2}: ${r.length} fields, expected ${dim + 2}`);
    }
    for (let j = 0; j < dim; j++) data[i * dim + j] = num(path, i + 1, head[j + 2], r[j + 2]);
  });
  return {
    ids: rows.map((r) => r[0]),
    labels: Int32Array.from(rows, (r, i) => num(path, i + 1, "label", r[1])),
    data,
    dim,
  };
}
