/**
 * Exact k-nearest neighbours and neighbourhood-based embedding quality (trustworthiness, kNN
 * preservation, kNN label agreement), used by the t-SNE engines and their tests and benchmark.
 *
 * Hand-written: no maintained npm package does exact brute-force kNN on typed arrays without a
 * tensor runtime; brute force in ≤ 50 dimensions (after PCA) is as fast as a tree here.
 *
 * @module
 */

/** Row-major `[N, D]` points. */
export type Points = Float32Array | Float64Array;

/** k nearest neighbours of every point (excluding itself), nearest first. */
export interface Neighbors {
  /** Neighbour indices, `[N, k]`. */
  indices: Int32Array;
  /** Squared Euclidean distances, `[N, k]`, ascending per row. */
  distances: Float64Array;
  /** k. */
  k: number;
}

/**
 * Exact kNN by brute force over all pairs (each pair computed once, pushed into both points' bounded
 * max-heaps). O(N²·D) time, O(N·k) memory. Ties are broken by heap order (unspecified).
 */
export function knn(data: Points, n: number, dim: number, k: number): Neighbors {
  if (data.length !== n * dim) throw new Error(`${data.length} values is not ${n} × ${dim}`);
  if (!(k >= 1 && k <= n - 1)) throw new Error(`k must be in [1, ${n - 1}], got ${k}`);
  const hd = new Float64Array(n * k).fill(Infinity); // [N, k] max-heaps of distances
  const hi = new Int32Array(n * k).fill(-1); // [N, k] matching indices
  const size = new Int32Array(n);
  const push = (row: number, d: number, j: number) => {
    const base = row * k;
    let pos: number;
    if (size[row] < k) {
      pos = size[row]++;
      // sift up
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (hd[base + parent] >= d) break;
        hd[base + pos] = hd[base + parent];
        hi[base + pos] = hi[base + parent];
        pos = parent;
      }
    } else {
      if (d >= hd[base]) return;
      // replace the root and sift down
      pos = 0;
      for (;;) {
        const l = 2 * pos + 1;
        if (l >= k) break;
        const r = l + 1;
        const c = r < k && hd[base + r] > hd[base + l] ? r : l;
        if (hd[base + c] <= d) break;
        hd[base + pos] = hd[base + c];
        hi[base + pos] = hi[base + c];
        pos = c;
      }
    }
    hd[base + pos] = d;
    hi[base + pos] = j;
  };
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    for (let j = i + 1; j < n; j++) {
      const oj = j * dim;
      let s = 0;
      for (let t = 0; t < dim; t++) {
        const v = data[oi + t] - data[oj + t];
        s += v * v;
      }
      if (size[i] < k || s < hd[i * k]) push(i, s, j);
      if (size[j] < k || s < hd[j * k]) push(j, s, i);
    }
  }
  // sort each row ascending
  const order = new Int32Array(k);
  const td = new Float64Array(k), ti = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const base = i * k;
    for (let t = 0; t < k; t++) order[t] = t;
    order.sort((a, b) => hd[base + a] - hd[base + b] || hi[base + a] - hi[base + b]);
    for (let t = 0; t < k; t++) {
      td[t] = hd[base + order[t]];
      ti[t] = hi[base + order[t]];
    }
    hd.set(td, base);
    hi.set(ti, base);
  }
  return { indices: hi, distances: hd, k };
}

/**
 * Trustworthiness of an embedding (Venna & Kaski 2001; `sklearn.manifold.trustworthiness`,
 * Euclidean): T(k) = 1 − 2/(N·k·(2N − 3k − 1)) · Σ_i Σ_{j ∈ U_k(i)} (r(i, j) − k), where U_k(i) are
 * the embedding's k nearest neighbours of i that are not among its k nearest in the input and
 * r(i, j) is j's rank among i's input-space neighbours. 1 is perfect. O(N² log N): for test sizes.
 */
export function trustworthiness(
  x: Points,
  dimX: number,
  y: Points,
  dimY: number,
  k = 5,
): number {
  const n = x.length / dimX;
  if (y.length !== n * dimY) throw new Error(`embedding has ${y.length / dimY} points, input ${n}`);
  if (!(k < n / 2)) throw new Error(`k must be < N/2 = ${n / 2}, got ${k}`);
  const embNn = knn(y, n, dimY, k).indices;
  const rank = new Int32Array(n);
  const dist = new Float64Array(n);
  const order = new Int32Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let d = 0; d < dimX; d++) s += (x[i * dimX + d] - x[j * dimX + d]) ** 2;
      dist[j] = j === i ? Infinity : s;
      order[j] = j;
    }
    order.sort((a, b) => dist[a] - dist[b]);
    for (let r = 0; r < n; r++) rank[order[r]] = r + 1;
    for (let m = 0; m < k; m++) {
      const r = rank[embNn[i * k + m]] - k;
      if (r > 0) t += r;
    }
  }
  return 1 - t * (2 / (n * k * (2 * n - 3 * k - 1)));
}

/** Mean fraction of each point's k input-space neighbours that are also its k embedding neighbours. */
export function knnPreservation(
  x: Points,
  dimX: number,
  y: Points,
  dimY: number,
  k = 10,
): number {
  const n = x.length / dimX;
  const a = knn(x, n, dimX, k).indices, b = knn(y, n, dimY, k).indices;
  let shared = 0;
  for (let i = 0; i < n; i++) {
    const set = new Set(a.subarray(i * k, (i + 1) * k));
    for (let m = 0; m < k; m++) if (set.has(b[i * k + m])) shared++;
  }
  return shared / (n * k);
}

/** Mean fraction of each point's k nearest neighbours (in `y`) that share its label. */
export function knnLabelAgreement(
  y: Points,
  dim: number,
  labels: ArrayLike<number>,
  k = 10,
): number {
  const n = labels.length;
  const nn = knn(y, n, dim, k).indices;
  let same = 0;
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < k; m++) if (labels[nn[i * k + m]] === labels[i]) same++;
  }
  return same / (n * k);
}
