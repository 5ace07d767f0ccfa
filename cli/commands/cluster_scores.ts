/**
 * `deno task grefel cluster-scores --embeddings E.csv [--labels L.csv] [--json]` (or `--run DIR`):
 * Davies–Bouldin and Calinski–Harabasz scores (scikit-learn's definitions, `lib/eval/cluster.ts`)
 * of embeddings grouped by labels.
 *
 * - E.csv: one embedding per row, comma-separated numbers; either no header, or a header row with
 *   an `id` and a `label` column and the dimensions `e0, e1, …` (a run's `embeddings.csv`).
 * - L.csv: one integer label per row (no header), or a header row with a `label` column (a run's
 *   `predictions.csv`); row i labels embedding i. Optional when E.csv has a `label` column.
 *
 * CSV is read with csv-parse (pinned; its sync API works under Deno). Every bad input stops with a
 * message naming the file and line: a ragged row, an empty or non-numeric field, NaN or ±Infinity, a
 * non-integer label, a row-count mismatch, fewer than 2 clusters (or one cluster per point).
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { join } from "node:path";
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import { type ClusterScores, clusterScores } from "../../lib/eval/cluster.ts";

const HELP = `usage: deno task grefel cluster-scores --embeddings E.csv [--labels L.csv] [--json]
       deno task grefel cluster-scores --run DIR [--json]

Davies–Bouldin (lower is better) and Calinski–Harabasz (higher is better) scores of embeddings
grouped by labels, as scikit-learn defines them.

  --embeddings FILE   one embedding per row, comma-separated: no header, or a header with id,
                      label and e0, e1, … columns (a run's embeddings.csv)
  --labels FILE       one integer label per row (no header), or a header with a label column
                      (a run's predictions.csv); default: E.csv's own label column
  --run DIR           a run directory: its embeddings.csv with its own labels
  --json              print {"daviesBouldin": …, "calinskiHarabasz": …}
  -h, --help          this text`;

/** Reads CSV text into records with their 1-based line numbers. */
function records(text: string, source: string): { fields: string[]; line: number }[] {
  let out: { record: string[]; info: { lines: number } }[];
  try {
    // with `info: true` each record comes as { record, info } (the typings do not model that)
    out = parse(text, {
      info: true,
      relax_column_count: true,
      trim: true,
    }) as unknown as typeof out;
  } catch (e) {
    throw new Error(`${source}: ${e instanceof Error ? e.message : e}`);
  }
  return out.map((r) => ({ fields: r.record, line: r.info.lines }));
}

/** Parses one numeric field, naming the place of a bad one. */
function number(field: string, where: string): number {
  if (field === "") throw new Error(`${where}: empty value`);
  const v = Number(field);
  if (Number.isNaN(v)) {
    throw new Error(
      field.toLowerCase() === "nan" ? `${where}: NaN` : `${where}: not a number: "${field}"`,
    );
  }
  if (!Number.isFinite(v)) throw new Error(`${where}: not finite: "${field}"`);
  return v;
}

/** A column name: letters, digits, `_ . -`, not starting with a digit, and not a number word. */
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const NUMBER_WORDS = new Set(["nan", "inf", "infinity", "+inf", "-inf"]);

/** Whether a row is a header: every field a column name (so a mistyped number is no header). */
function isHeader(fields: string[]): boolean {
  return fields.length > 0 &&
    fields.every((f) => NAME.test(f) && !NUMBER_WORDS.has(f.toLowerCase()));
}

/** Embeddings read from a CSV file, with the labels and ids of its own columns when it has them. */
export interface EmbeddingsTable {
  /** `[n, dim]` values, row-major. */
  data: Float64Array;
  /** Rows. */
  n: number;
  /** Dimensions. */
  dim: number;
  /** The `label` column, when the file has a header with one. */
  labels?: Int32Array;
  /** The `id` column, when the file has a header with one. */
  ids?: string[];
}

/**
 * Parses embeddings CSV text into `[n, dim]` Float64. Two layouts: no header, every column a
 * dimension; or a header row (every field a column name), as a run's `embeddings.csv` has
 * (`id,label,e0,e1,…`): the `e<j>` columns are the dimensions (all columns but `id` and `label`
 * when there are none), `label` gives the labels and `id` the sample ids.
 * @param source file name used in error messages
 */
export function parseEmbeddingsCsv(text: string, source = "embeddings"): EmbeddingsTable {
  let rows = records(text, source);
  if (rows.length === 0) throw new Error(`${source}: no rows`);
  let header: string[] | null = null;
  if (isHeader(rows[0].fields)) {
    header = rows[0].fields;
    rows = rows.slice(1);
    if (rows.length === 0) throw new Error(`${source}: a header and no rows`);
  }
  const width = header ? header.length : rows[0].fields.length;
  const first = header ? rows[0].line - 1 : rows[0].line;
  let dims = Array.from({ length: width }, (_, j) => j);
  let labelCol = -1, idCol = -1;
  if (header) {
    const dup = header.find((h, i) => header!.indexOf(h) !== i);
    if (dup) throw new Error(`${source}: column "${dup}" appears twice in the header`);
    labelCol = header.indexOf("label");
    idCol = header.indexOf("id");
    const e = dims.filter((j) => /^e\d+$/.test(header![j]));
    dims = e.length ? e : dims.filter((j) => j !== labelCol && j !== idCol);
    if (!dims.length) throw new Error(`${source}: the header names no embedding columns`);
  }
  const dim = dims.length;
  const data = new Float64Array(rows.length * dim);
  const labels = labelCol >= 0 ? new Int32Array(rows.length) : undefined;
  const ids = idCol >= 0 ? new Array<string>(rows.length) : undefined;
  rows.forEach(({ fields, line }, i) => {
    if (fields.length !== width) {
      throw new Error(
        `${source} line ${line}: ragged row: ${fields.length} values, expected ${width} (as line ${first})`,
      );
    }
    dims.forEach((j, k) => {
      data[i * dim + k] = number(fields[j], `${source} line ${line}, column ${j + 1}`);
    });
    if (labels) labels[i] = label(fields[labelCol], `${source} line ${line}, column "label"`);
    if (ids) ids[i] = fields[idCol];
  });
  return { data, n: rows.length, dim, ...(labels ? { labels } : {}), ...(ids ? { ids } : {}) };
}

/** Parses one integer label, naming the place of a bad one. */
function label(field: string, where: string): number {
  const v = number(field, where);
  if (!Number.isInteger(v) || Math.abs(v) > 2 ** 31 - 1) {
    throw new Error(`${where}: label is not an integer: "${field}"`);
  }
  return v;
}

/**
 * Parses labels CSV text: one integer per row and no header, or a header row with a `label`
 * column (a run's `predictions.csv` or `embeddings.csv`).
 * @param source file name used in error messages
 */
export function parseLabelsCsv(text: string, source = "labels"): Int32Array {
  let rows = records(text, source);
  if (rows.length === 0) throw new Error(`${source}: no rows`);
  let col = 0, width = 1;
  if (isHeader(rows[0].fields)) {
    const header = rows[0].fields;
    col = header.indexOf("label");
    if (col < 0) {
      throw new Error(`${source}: the header (${header.join(",")}) has no "label" column`);
    }
    width = header.length;
    rows = rows.slice(1);
    if (rows.length === 0) throw new Error(`${source}: a header and no rows`);
  }
  const out = new Int32Array(rows.length);
  rows.forEach(({ fields, line }, i) => {
    if (fields.length !== width) {
      throw new Error(
        width === 1
          ? `${source} line ${line}: expected one label, got ${fields.length} values`
          : `${source} line ${line}: ragged row: ${fields.length} values, expected ${width}`,
      );
    }
    out[i] = label(
      fields[col],
      width === 1 ? `${source} line ${line}` : `${source} line ${line}, column "label"`,
    );
  });
  return out;
}

/** Reads both files and computes the scores. */
export async function clusterScoresFromFiles(
  embeddingsPath: string,
  labelsPath?: string,
): Promise<ClusterScores & { n: number; dim: number }> {
  const read = async (p: string) => {
    try {
      return await Deno.readTextFile(p);
    } catch (e) {
      throw new Error(`cannot read ${p}: ${e instanceof Error ? e.message : e}`);
    }
  };
  const e = parseEmbeddingsCsv(await read(embeddingsPath), embeddingsPath);
  let labels: Int32Array;
  if (labelsPath !== undefined) labels = parseLabelsCsv(await read(labelsPath), labelsPath);
  else if (e.labels) labels = e.labels;
  else {
    throw new Error(
      `${embeddingsPath} has no "label" column (no header naming one): pass --labels FILE`,
    );
  }
  labelsPath ??= `the "label" column of ${embeddingsPath}`;
  if (labels.length !== e.n) {
    throw new Error(
      `row count mismatch: ${embeddingsPath} has ${e.n} rows, ${labelsPath} has ${labels.length}`,
    );
  }
  const distinct = new Set(labels).size;
  if (distinct < 2) {
    throw new Error(`${labelsPath}: fewer than 2 clusters (${distinct} distinct label)`);
  }
  return { ...clusterScores(e.data, labels, e.dim), n: e.n, dim: e.dim };
}

/** The `cluster-scores` command. */
export const clusterScoresCommand: Command = {
  name: "cluster-scores",
  summary: "Davies–Bouldin and Calinski–Harabasz scores of embeddings (CSV) by labels",
  async run(args: string[]): Promise<number> {
    const { values } = parseCommandArgs({
      args,
      strict: true,
      options: {
        embeddings: { type: "string" },
        labels: { type: "string" },
        run: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.run !== undefined && values.embeddings !== undefined) {
      console.error(`cluster-scores: give --run or --embeddings, not both\n\n${HELP}`);
      return 2;
    }
    const embeddings = values.run !== undefined
      ? join(cliPath(values.run), "embeddings.csv")
      : values.embeddings === undefined
      ? undefined
      : cliPath(values.embeddings);
    if (!embeddings) {
      console.error(`cluster-scores: --embeddings (or --run) is required\n\n${HELP}`);
      return 2;
    }
    const labels = values.labels === undefined ? undefined : cliPath(values.labels);
    const s = await clusterScoresFromFiles(embeddings, labels);
    if (values.json) {
      console.log(
        JSON.stringify({ daviesBouldin: s.daviesBouldin, calinskiHarabasz: s.calinskiHarabasz }),
      );
    } else {
      console.log(`${s.n} embeddings × ${s.dim} dimensions, ${s.numClusters} clusters`);
      console.log(`Davies–Bouldin (lower is better):    ${s.daviesBouldin}`);
      console.log(`Calinski–Harabasz (higher is better): ${s.calinskiHarabasz}`);
    }
    return 0;
  },
};
