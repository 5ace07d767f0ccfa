/**
 * Benchmark worker (not a test): Davies–Bouldin + Calinski–Harabasz time (lib/eval/cluster.ts)
 * for N × D embeddings in 10 clusters (bench/tsne.ts's synthetic data). Prints one JSON line.
 *
 * Usage: deno run -A bench/cluster_speed.ts [--n 10000] [--dim 768] [--repeats 5]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { clusterScores } from "../lib/eval/cluster.ts";
import { clusteredData } from "./tsne.ts";
import { median, peakRssBytes } from "./model_speed.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      n: { type: "string", default: "10000" },
      dim: { type: "string", default: "768" },
      repeats: { type: "string", default: "5" },
    },
  });
  const n = Number(values.n), dim = Number(values.dim);
  const { x, labels } = clusteredData(n, dim);
  const ms: number[] = [];
  for (let r = 0; r < Number(values.repeats); r++) {
    const t = performance.now();
    clusterScores(x, labels, dim);
    ms.push(performance.now() - t);
  }
  console.log(
    JSON.stringify({
      n,
      dim,
      milliseconds: ms,
      medianMilliseconds: median(ms),
      peakRssBytes: peakRssBytes(),
    }),
  );
}
