/**
 * Cluster-quality scores of embeddings (paper Fig. 5): Davies–Bouldin (lower is better) and
 * Calinski–Harabasz (higher is better), exactly as scikit-learn defines them
 * (`sklearn.metrics.davies_bouldin_score`, `calinski_harabasz_score`, checked against golden values in
 * `cluster_test.ts`).
 *
 * Both are computed together in two passes over the data with Float64 accumulation: pass 1 the
 * centroids and the global mean, pass 2 each sample's distance to its centroid (Davies–Bouldin needs
 * the mean Euclidean distance, which cannot be had from sums alone; Calinski–Harabasz's within-cluster
 * sum of squares is taken around the centroids, not as Σ‖x‖² − n‖c‖², to avoid cancellation).
 * 10,000 × 768 takes tens of milliseconds.
 *
 * @module
 */

import {
  type PairedOptions,
  type PairedStatisticDifference,
  pairedStatisticDifference,
} from "./paired.ts";

/** Embeddings: `[N, D]` row-major typed array (give `dim`), or one array per sample. */
export type Embeddings = Float32Array | Float64Array | number[][];

/** Both scores, and the number of distinct clusters they were computed over. */
export interface ClusterScores {
  /** Davies–Bouldin index (↓). */
  daviesBouldin: number;
  /** Calinski–Harabasz index (↑). */
  calinskiHarabasz: number;
  /** Number of distinct labels. */
  numClusters: number;
}

/** Flattens embeddings to `[N, D]` and checks them against the label count. */
function flatten(
  x: Embeddings,
  n: number,
  dim?: number,
): { data: Float32Array | Float64Array; d: number } {
  if (Array.isArray(x)) {
    if (x.length !== n) throw new Error(`${x.length} embeddings but ${n} labels`);
    const d = dim ?? (n > 0 ? x[0].length : 0);
    const data = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      if (x[i].length !== d) {
        throw new Error(`embedding ${i} has ${x[i].length} values, expected ${d}`);
      }
      data.set(x[i], i * d);
    }
    return { data, d };
  }
  if (dim === undefined) {
    if (n === 0 || x.length % n !== 0) {
      throw new Error(`cannot infer the dimension: ${x.length} values for ${n} labels`);
    }
    dim = x.length / n;
  }
  if (x.length !== n * dim) {
    throw new Error(`${x.length} values is not ${n} labels × dimension ${dim}`);
  }
  return { data: x, d: dim };
}

/**
 * Davies–Bouldin and Calinski–Harabasz scores of `embeddings` clustered by `labels` (any integers;
 * mapped to clusters like scikit-learn's `LabelEncoder`).
 *
 * Definitions (scikit-learn 1.2):
 * - s_k = mean Euclidean distance of cluster k's points to its centroid c_k; d_kl = ‖c_k − c_l‖.
 *   DB = mean_k max_{l≠k} (s_k + s_l) / d_kl, where d_kl = 0 counts as ∞; DB = 0 when all s_k ≈ 0
 *   or all d_kl ≈ 0 (`numpy.allclose(·, 0)`). As in scikit-learn, only an exactly zero d_kl is
 *   skipped: two centroids that coincide up to rounding give a huge ratio, and which of the two
 *   happens can depend on summation order.
 * - CH = [Σ_k n_k ‖c_k − c‖² / (K − 1)] / [Σ_k Σ_{x∈k} ‖x − c_k‖² / (N − K)]; CH = 1 when the
 *   within-cluster dispersion is 0.
 *
 * @throws when the number of clusters K is not in `[2, N − 1]` (scikit-learn's check), on a length
 *   mismatch, or on a non-finite value.
 */
export function clusterScores(
  embeddings: Embeddings,
  labels: ArrayLike<number>,
  dim?: number,
): ClusterScores {
  const n = labels.length;
  const { data, d } = flatten(embeddings, n, dim);
  // LabelEncoder: sorted distinct labels → 0..K-1.
  const distinct = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const k = distinct.length;
  if (!(k >= 2 && k <= n - 1)) {
    throw new Error(
      `number of clusters is ${k}; valid values are 2 to n_samples - 1 = ${n - 1} (inclusive)`,
    );
  }
  const index = new Map(distinct.map((v, i) => [v, i]));
  const cluster = new Int32Array(n);
  for (let i = 0; i < n; i++) cluster[i] = index.get(labels[i])!;

  // Pass 1: centroids [K, D] and the global mean [D].
  const count = new Float64Array(k);
  const centroids = new Float64Array(k * d);
  for (let i = 0; i < n; i++) {
    const c = cluster[i], off = c * d, row = i * d;
    count[c]++;
    for (let j = 0; j < d; j++) {
      const v = data[row + j];
      if (!Number.isFinite(v)) throw new Error(`embedding ${i} has a non-finite value at ${j}`);
      centroids[off + j] += v;
    }
  }
  const mean = new Float64Array(d);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) {
      mean[j] += centroids[c * d + j];
      centroids[c * d + j] /= count[c];
    }
  }
  for (let j = 0; j < d; j++) mean[j] /= n;

  // Pass 2: distances to the own centroid.
  const distSum = new Float64Array(k); // Σ ‖x − c_k‖ per cluster
  let intraDisp = 0; // Σ ‖x − c_k‖²
  for (let i = 0; i < n; i++) {
    const c = cluster[i], off = c * d, row = i * d;
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = data[row + j] - centroids[off + j];
      s += t * t;
    }
    intraDisp += s;
    distSum[c] += Math.sqrt(s);
  }

  // Calinski–Harabasz.
  let extraDisp = 0;
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (centroids[c * d + j] - mean[j]) ** 2;
    extraDisp += count[c] * s;
  }
  const calinskiHarabasz = intraDisp === 0 ? 1 : (extraDisp * (n - k)) / (intraDisp * (k - 1));

  // Davies–Bouldin.
  const intra = distSum.map((s, c) => s / count[c]);
  const cd = new Float64Array(k * k); // [K, K] centroid distances
  let allCdZero = true;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (centroids[a * d + j] - centroids[b * d + j]) ** 2;
      cd[a * k + b] = cd[b * k + a] = Math.sqrt(s);
      if (Math.sqrt(s) > 1e-8) allCdZero = false;
    }
  }
  let daviesBouldin = 0;
  if (!(intra.every((s) => s <= 1e-8) || allCdZero)) {
    for (let a = 0; a < k; a++) {
      let best = -Infinity;
      for (let b = 0; b < k; b++) {
        const dist = a === b || cd[a * k + b] === 0 ? Infinity : cd[a * k + b];
        best = Math.max(best, (intra[a] + intra[b]) / dist);
      }
      daviesBouldin += best;
    }
    daviesBouldin /= k;
  }
  return { daviesBouldin, calinskiHarabasz, numClusters: k };
}

/** Davies–Bouldin index (↓); see {@linkcode clusterScores}. */
export function daviesBouldin(
  embeddings: Embeddings,
  labels: ArrayLike<number>,
  dim?: number,
): number {
  return clusterScores(embeddings, labels, dim).daviesBouldin;
}

/** Calinski–Harabasz index (↑); see {@linkcode clusterScores}. */
export function calinskiHarabasz(
  embeddings: Embeddings,
  labels: ArrayLike<number>,
  dim?: number,
): number {
  return clusterScores(embeddings, labels, dim).calinskiHarabasz;
}

/** One run's test embeddings for {@linkcode pairedClusterDifference}. */
export interface RunEmbeddings {
  /** `[N, dim]` row-major. */
  data: Float32Array | Float64Array;
  /** True class per row. */
  labels: ArrayLike<number>;
  /** Embedding width. */
  dim: number;
}

/**
 * Paired difference of a cluster score, arm A − arm B (e.g. with reliability balancing against
 * without), over seeds and test images: {@linkcode pairedStatisticDifference}'s two-level
 * bootstrap, where each replicate recomputes the score on the drawn images (repeats included) of
 * the drawn seeds' two runs. Both arms must hold the same test images in the same order (checked
 * by their labels). Lower Davies–Bouldin and higher Calinski–Harabasz mean better-separated
 * classes, so "A separates better" is direction −1 for `daviesBouldin` and +1 for
 * `calinskiHarabasz` in `verdict`. A resample repeats points, which shrinks within-class scatter
 * the same way in both arms; the interval is of the paired difference, not of either score.
 * @throws Error when the arms differ in seeds, images or labels.
 */
export function pairedClusterDifference(
  a: readonly RunEmbeddings[],
  b: readonly RunEmbeddings[],
  score: "daviesBouldin" | "calinskiHarabasz",
  opts: PairedOptions = {},
): PairedStatisticDifference {
  if (a.length === 0 || a.length !== b.length) {
    throw new Error(`pairedClusterDifference: arms have ${a.length} and ${b.length} seeds`);
  }
  const n = a[0].labels.length;
  for (const [arm, runs] of [["A", a], ["B", b]] as const) {
    runs.forEach((r, k) => {
      if (r.labels.length !== n || r.data.length !== n * r.dim) {
        throw new Error(`pairedClusterDifference: arm ${arm} seed ${k} has another image count`);
      }
      for (let i = 0; i < n; i++) {
        if (r.labels[i] !== a[0].labels[i]) {
          throw new Error(
            `pairedClusterDifference: arm ${arm} seed ${k} image ${i} has label ${r.labels[i]}, ` +
              `not ${a[0].labels[i]}: not the same test images in the same order`,
          );
        }
      }
    });
  }
  const scoreOn = (r: RunEmbeddings, idx: Int32Array | null) => {
    if (!idx) return clusterScores(r.data, r.labels, r.dim)[score];
    const data = new Float64Array(idx.length * r.dim);
    const labels = new Int32Array(idx.length);
    idx.forEach((i, j) => {
      data.set(r.data.subarray(i * r.dim, (i + 1) * r.dim), j * r.dim);
      labels[j] = r.labels[i];
    });
    return clusterScores(data, labels, r.dim)[score];
  };
  return pairedStatisticDifference(
    a.length,
    n,
    (arm, k, idx) => scoreOn(arm === "a" ? a[k] : b[k], idx),
    opts,
  );
}
