/**
 * Evaluation: classification metrics for primary and final predictions, cluster scores and a
 * 2-D t-SNE of the embeddings. Re-exports the parts and offers
 * {@linkcode evaluateEmbeddings} for the embedding half.
 *
 * @module
 */
import { type ClusterScores, clusterScores } from "./cluster.ts";
import { getTsneEngine, type TsneOptions } from "./tsne.ts";

export * from "./metrics.ts";
export * from "./cluster.ts";
export * from "./tsne.ts";
export * from "./branches.ts";
export * from "./stats.ts";
export * from "./paired.ts";
export * from "./prior.ts";
export { knnLabelAgreement, knnPreservation, trustworthiness } from "./neighbors.ts";

/** Result of {@linkcode evaluateEmbeddings}. */
export interface EmbeddingReport extends ClusterScores {
  /** 2-D t-SNE layout `[N, 2]` (null when not asked for). */
  tsne: Float32Array | null;
  /** Engine that made it. */
  tsneEngine: string | null;
  /** Seconds the t-SNE took. */
  tsneSeconds: number | null;
}

/**
 * Davies–Bouldin and Calinski–Harabasz of `[n, dim]` embeddings grouped by true labels (paper
 * Fig. 5), and their 2-D t-SNE unless `tsne` is false.
 */
export async function evaluateEmbeddings(
  embeddings: Float32Array,
  labels: Int32Array,
  dim: number,
  opts: { tsne?: boolean; engine?: string } & TsneOptions = {},
): Promise<EmbeddingReport> {
  const scores = clusterScores(embeddings, labels, dim);
  if (opts.tsne === false) return { ...scores, tsne: null, tsneEngine: null, tsneSeconds: null };
  const engine = getTsneEngine(opts.engine);
  const t = performance.now();
  const layout = await engine.run(embeddings, labels.length, dim, opts);
  return {
    ...scores,
    tsne: layout,
    tsneEngine: engine.name,
    tsneSeconds: (performance.now() - t) / 1000,
  };
}
export type { Points } from "./neighbors.ts";
