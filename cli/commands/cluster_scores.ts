/**
 * `deno task grefel cluster-scores --embeddings E.csv --labels L.csv [--json]`: Davies–Bouldin and
 * Calinski–Harabasz scores (scikit-learn's definitions, `lib/eval/cluster.ts`) of embeddings grouped
 * by labels.
 *
 * - E.csv: one embedding per row, comma-separated numbers, no header.
 * - L.csv: one integer label per row, no header; row i labels embedding i.
 *
 * CSV is read with csv-parse (pinned; its sync API works under Deno). Every bad input stops with a
 * message naming the file and line: a ragged row, an empty or non-numeric field, NaN or ±Infinity, a
 * non-integer label, a row-count mismatch, fewer than 2 clusters (or one cluster per point).
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { parseArgs } from "node:util";
import type { Command } from "../command.ts";
import { type ClusterScores, clusterScores } from "../../lib/eval/cluster.ts";

const HELP = `usage: deno task grefel cluster-scores --embeddings E.csv --labels L.csv [--json]

Davies–Bouldin (lower is better) and Calinski–Harabasz (higher is better) scores of embeddings
grouped by labels, as scikit-learn defines them.

  --embeddings FILE   one embedding per row, comma-separated, no header
  --labels FILE       one integer label per row, no header
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

/**
 * Parses embeddings CSV text (one row per embedding, no header) into `[n, dim]` Float64.
 * @param source file name used in error messages
 */
export function parseEmbeddingsCsv(
  text: string,
  source = "embeddings",
): { data: Float64Array; n: number; dim: number } {
  const rows = records(text, source);
  if (rows.length === 0) throw new Error(`${source}: no rows`);
  const dim = rows[0].fields.length;
  const data = new Float64Array(rows.length * dim);
  rows.forEach(({ fields, line }, i) => {
    if (fields.length !== dim) {
      throw new Error(
        `${source} line ${line}: ragged row: ${fields.length} values, expected ${dim} (as line ${
          rows[0].line
        })`,
      );
    }
    for (let j = 0; j < dim; j++) {
      data[i * dim + j] = number(fields[j], `${source} line ${line}, column ${j + 1}`);
    }
  });
  return { data, n: rows.length, dim };
}

/**
 * Parses labels CSV text (one integer per row, no header).
 * @param source file name used in error messages
 */
export function parseLabelsCsv(text: string, source = "labels"): Int32Array {
  const rows = records(text, source);
  if (rows.length === 0) throw new Error(`${source}: no rows`);
  const out = new Int32Array(rows.length);
  rows.forEach(({ fields, line }, i) => {
    if (fields.length !== 1) {
      throw new Error(`${source} line ${line}: expected one label, got ${fields.length} values`);
    }
    const v = number(fields[0], `${source} line ${line}`);
    if (!Number.isInteger(v) || Math.abs(v) > 2 ** 31 - 1) {
      throw new Error(`${source} line ${line}: label is not an integer: "${fields[0]}"`);
    }
    out[i] = v;
  });
  return out;
}

/** Reads both files and computes the scores. */
export async function clusterScoresFromFiles(
  embeddingsPath: string,
  labelsPath: string,
): Promise<ClusterScores & { n: number; dim: number }> {
  const read = async (p: string) => {
    try {
      return await Deno.readTextFile(p);
    } catch (e) {
      throw new Error(`cannot read ${p}: ${e instanceof Error ? e.message : e}`);
    }
  };
  const [et, lt] = await Promise.all([read(embeddingsPath), read(labelsPath)]);
  const e = parseEmbeddingsCsv(et, embeddingsPath);
  const labels = parseLabelsCsv(lt, labelsPath);
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
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        embeddings: { type: "string" },
        labels: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.embeddings || !values.labels) {
      console.error(`cluster-scores: --embeddings and --labels are required\n\n${HELP}`);
      return 2;
    }
    const s = await clusterScoresFromFiles(values.embeddings, values.labels);
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
