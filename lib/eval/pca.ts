/**
 * Principal component analysis on typed arrays, for reducing embeddings before t-SNE (the standard
 * preprocessing of Rtsne/openTSNE: PCA to 50 dimensions) and for t-SNE's PCA initialisation.
 *
 * Hand-written (no maintained npm PCA works on typed arrays without a tensor runtime, and ml-pca's
 * full SVD of an N × D matrix is far slower): covariance in Float64 (O(N·D²/2)), then randomised
 * subspace iteration on it (Halko, Martinsson & Tropp 2011, Alg. 4.4) with k + 10 vectors and 8
 * power steps, and a Rayleigh–Ritz step solved by cyclic Jacobi. Seeded, so repeatable.
 *
 * @module
 */
import { seededNormal } from "./random.ts";

/** Result of {@linkcode pca}. */
export interface PcaResult {
  /** Projected data `[N, k]`, components in decreasing variance order. */
  projected: Float64Array;
  /** Principal axes `[k, D]` (unit rows). */
  components: Float64Array;
  /** Variance along each component (sample variance, divisor N − 1). */
  variance: Float64Array;
  /** Number of components k. */
  k: number;
}

/** Eigen-decomposition of a symmetric `[m, m]` matrix by cyclic Jacobi; eigenvalues descending. */
export function symmetricEigen(
  a: Float64Array,
  m: number,
): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(m * m); // columns are eigenvectors
  for (let i = 0; i < m; i++) V[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, diag = 0;
    for (let p = 0; p < m; p++) {
      diag += A[p * m + p] ** 2;
      for (let q = p + 1; q < m; q++) off += A[p * m + q] ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = A[p * m + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * m + q] - A[p * m + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let r = 0; r < m; r++) {
          const arp = A[r * m + p], arq = A[r * m + q];
          A[r * m + p] = c * arp - s * arq;
          A[r * m + q] = s * arp + c * arq;
        }
        for (let r = 0; r < m; r++) {
          const apr = A[p * m + r], aqr = A[q * m + r];
          A[p * m + r] = c * apr - s * aqr;
          A[q * m + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < m; r++) {
          const vrp = V[r * m + p], vrq = V[r * m + q];
          V[r * m + p] = c * vrp - s * vrq;
          V[r * m + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = [...Array(m).keys()].sort((x, y) => A[y * m + y] - A[x * m + x]);
  const values = new Float64Array(m), vectors = new Float64Array(m * m);
  order.forEach((src, dst) => {
    values[dst] = A[src * m + src];
    for (let r = 0; r < m; r++) vectors[r * m + dst] = V[r * m + src];
  });
  return { values, vectors };
}

/** Orthonormalises the `c` columns of `[d, c]` matrix `q` in place (modified Gram–Schmidt, twice). */
function orthonormalize(q: Float64Array, d: number, c: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < c; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < d; r++) dot += q[r * c + i] * q[r * c + j];
        for (let r = 0; r < d; r++) q[r * c + j] -= dot * q[r * c + i];
      }
      let norm = 0;
      for (let r = 0; r < d; r++) norm += q[r * c + j] ** 2;
      norm = Math.sqrt(norm);
      if (norm < 1e-300) continue; // rank-deficient: leave the zero column
      for (let r = 0; r < d; r++) q[r * c + j] /= norm;
    }
  }
}

/**
 * Projects `[N, D]` data onto its top `k` principal components (data centred first). Component signs
 * are fixed so that the largest-magnitude entry of each axis is positive.
 */
export function pca(
  data: Float32Array | Float64Array,
  n: number,
  dim: number,
  k: number,
  seed = 0,
): PcaResult {
  if (data.length !== n * dim) throw new Error(`${data.length} values is not ${n} × ${dim}`);
  k = Math.min(k, dim);
  if (!(k >= 1) || n < 2) throw new Error(`pca needs k ≥ 1 and N ≥ 2 (k = ${k}, N = ${n})`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += data[i * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= n;
  // Covariance [D, D], upper triangle, accumulated 4 centred rows at a time (one sweep over the
  // D²/2 accumulators per 4 rows instead of per row: memory traffic, not arithmetic, bounds this).
  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  const blk = new Float64Array(4 * dim); // [4, D]
  for (let i0 = 0; i0 < n; i0 += 4) {
    const m = Math.min(4, n - i0);
    blk.fill(0);
    for (let r = 0; r < m; r++) {
      for (let d = 0; d < dim; d++) blk[r * dim + d] = data[(i0 + r) * dim + d] - mean[d];
    }
    const d1 = dim, d2 = 2 * dim, d3 = 3 * dim;
    for (let a = 0; a < dim; a++) {
      const x0 = blk[a], x1 = blk[d1 + a], x2 = blk[d2 + a], x3 = blk[d3 + a];
      const base = a * dim;
      for (let b = a; b < dim; b++) {
        cov[base + b] += x0 * blk[b] + x1 * blk[d1 + b] + x2 * blk[d2 + b] + x3 * blk[d3 + b];
      }
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b] / (n - 1);
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }
  // Randomised subspace iteration on cov: Q [D, c].
  const c = Math.min(dim, k + 10);
  const randn = seededNormal(seed ^ 0x5ca1ab1e);
  let q = new Float64Array(dim * c);
  for (let i = 0; i < q.length; i++) q[i] = randn();
  orthonormalize(q, dim, c);
  const steps = c === dim ? 1 : 8;
  let z = new Float64Array(dim * c);
  const mul = (src: Float64Array, dst: Float64Array) => {
    dst.fill(0);
    for (let a = 0; a < dim; a++) {
      for (let b = 0; b < dim; b++) {
        const w = cov[a * dim + b];
        if (w === 0) continue;
        const so = b * c, dOff = a * c;
        for (let j = 0; j < c; j++) dst[dOff + j] += w * src[so + j];
      }
    }
  };
  for (let s = 0; s < steps; s++) {
    mul(q, z);
    [q, z] = [z, q];
    orthonormalize(q, dim, c);
  }
  // Rayleigh–Ritz: B = Qᵀ·cov·Q [c, c].
  mul(q, z);
  const bm = new Float64Array(c * c);
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let r = 0; r < dim; r++) s += q[r * c + i] * z[r * c + j];
      bm[i * c + j] = s;
    }
  }
  for (let i = 0; i < c; i++) {
    for (let j = i + 1; j < c; j++) {
      bm[i * c + j] = bm[j * c + i] = (bm[i * c + j] + bm[j * c + i]) / 2;
    }
  }
  const eig = symmetricEigen(bm, c);
  // components [k, D] = (Q · U[:, :k])ᵀ
  const components = new Float64Array(k * dim);
  for (let j = 0; j < k; j++) {
    let big = 0;
    for (let r = 0; r < dim; r++) {
      let s = 0;
      for (let t = 0; t < c; t++) s += q[r * c + t] * eig.vectors[t * c + j];
      components[j * dim + r] = s;
      if (Math.abs(s) > Math.abs(big)) big = s;
    }
    if (big < 0) { for (let r = 0; r < dim; r++) components[j * dim + r] *= -1; }
  }
  const projected = new Float64Array(n * k); // [N, k]
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) row[d] = data[i * dim + d] - mean[d];
    for (let j = 0; j < k; j++) {
      let s = 0;
      const co = j * dim;
      for (let d = 0; d < dim; d++) s += row[d] * components[co + d];
      projected[i * k + j] = s;
    }
  }
  return { projected, components, variance: eig.values.slice(0, k).map((v) => Math.max(v, 0)), k };
}
