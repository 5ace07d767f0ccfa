/**
 * Figures of a run's test split: confusion matrices without and with reliability balancing
 * (paper Fig. 4) and a t-SNE scatter of the embeddings with their Davies–Bouldin and
 * Calinski–Harabasz scores (paper Fig. 5), as standalone SVG files under `<run dir>/figures/`.
 *
 * @module
 */
import { join } from "node:path";
import { evaluatePredictions } from "../eval/metrics.ts";
import { type ClusterScores, clusterScores } from "../eval/cluster.ts";
import { getTsneEngine } from "../eval/tsne.ts";
import { writeFileAtomic } from "../run/atomic.ts";
import { confusionMatrixSvg, scatterSvg } from "./figures.ts";
import { mulberry32 } from "./schedule.ts";

/** The test-split outputs a report is made from. */
export interface ReportInput {
  /** Class names. */
  classNames: string[];
  /** True labels `[N]`. */
  labels: Int32Array;
  /** Primary distributions l `[N, C]`. */
  primary: Float32Array;
  /** Final distributions L_final `[N, C]`. */
  final: Float32Array;
  /** Embeddings `[N, D]`. */
  embedding: Float32Array;
  /** D. */
  dim: number;
}

/** Options of {@linkcode writeRunReport}. */
export interface ReportOptions {
  /** Title prefix (e.g. the run id or "demo"). */
  title?: string;
  /** Draw the t-SNE scatter (default true). */
  tsne?: boolean;
  /** t-SNE engine name (lib/eval/tsne.ts; default its default). */
  tsneEngine?: string;
  /** At most this many points in the t-SNE (a seeded subsample; default 2000). */
  maxTsnePoints?: number;
  /** Seed of the subsample and the t-SNE. */
  seed?: number;
}

/** What {@linkcode writeRunReport} wrote. */
export interface ReportResult {
  /** Paths of the files written. */
  files: string[];
  /** Cluster scores of the test embeddings (null when fewer than 2 classes are present). */
  cluster: ClusterScores | null;
}

/** Writes `figures/confusion-primary.svg`, `figures/confusion-final.svg`, `figures/tsne.svg`. */
export async function writeRunReport(
  dir: string,
  input: ReportInput,
  opts: ReportOptions = {},
): Promise<ReportResult> {
  const fig = join(dir, "figures");
  const title = opts.title ? `${opts.title}: ` : "";
  const ev = evaluatePredictions(input);
  const files: string[] = [];
  const put = async (name: string, text: string) => {
    const p = join(fig, name);
    await writeFileAtomic(p, text);
    files.push(p);
  };
  await put(
    "confusion-primary.svg",
    confusionMatrixSvg(
      ev.primary.confusionMatrix,
      input.classNames,
      `${title}primary head of the RB model (argmax l)`,
    ),
  );
  await put(
    "confusion-final.svg",
    confusionMatrixSvg(
      ev.final.confusionMatrix,
      input.classNames,
      `${title}RB model, final (argmax L_final)`,
    ),
  );
  const n = input.labels.length;
  let cluster: ClusterScores | null = null;
  try {
    cluster = clusterScores(input.embedding, input.labels, input.dim);
  } catch {
    cluster = null; // fewer than 2 classes present, or N ≤ K
  }
  if (opts.tsne !== false && n >= 4) {
    const max = opts.maxTsnePoints ?? 2000;
    let idx = Array.from({ length: n }, (_, i) => i);
    if (n > max) {
      const rand = mulberry32(opts.seed ?? 0);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      idx = idx.slice(0, max).sort((a, b) => a - b);
    }
    const d = input.dim;
    const data = new Float32Array(idx.length * d);
    idx.forEach((i, r) => data.set(input.embedding.subarray(i * d, (i + 1) * d), r * d));
    const xy = await getTsneEngine(opts.tsneEngine).run(data, idx.length, d, {
      seed: opts.seed ?? 0,
    });
    const points = idx.map((_, r) => [xy[2 * r], xy[2 * r + 1]]);
    const sub = cluster
      ? `Davies–Bouldin ${cluster.daviesBouldin.toFixed(3)} (↓), Calinski–Harabasz ` +
        `${cluster.calinskiHarabasz.toFixed(1)} (↑) on ${n} test embeddings`
      : `${n} test embeddings`;
    await put(
      "tsne.svg",
      scatterSvg(
        points,
        idx.map((i) => input.labels[i]),
        input.classNames,
        `${title}t-SNE of embeddings`,
        sub,
      ),
    );
    await put(
      "tsne.csv",
      "x,y,label\n" + points.map((p, r) => `${p[0]},${p[1]},${input.labels[idx[r]]}`).join("\n") +
        "\n",
    );
  }
  return { files, cluster };
}
