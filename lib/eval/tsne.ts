/**
 * 2-D t-SNE of embeddings (paper Fig. 5) behind a swappable engine interface:
 *
 * - `barnes-hut` (default): Barnes–Hut t-SNE written here (van der Maaten 2014, "Accelerating t-SNE
 *   using tree-based algorithms"), following scikit-learn's `TSNE(method="barnes_hut")`: input
 *   affinities from the exact k = ⌊3·perplexity + 1⌋ nearest neighbours with per-point perplexity
 *   calibration, symmetrised P = (P + Pᵀ)/2N; a quadtree with θ = 0.5 for the repulsive forces;
 *   early exaggeration 12 for 250 iterations with momentum 0.5, then momentum 0.8; gains (+0.2 /
 *   ×0.8, min 0.01); learning rate "auto" = max(N / 12 / 4, 50); PCA initialisation scaled to
 *   std 1e-4. Before the kNN the data is reduced to 50 dimensions by PCA (as Rtsne and openTSNE do);
 *   `pcaDims: 0` turns that off. O(N log N) per iteration.
 * - `tsne-js`: the npm package the design names (exact O(N²) t-SNE, pinned 1.0.3), wrapped: seeded
 *   by overwriting its random initial solution; its early exaggeration stays at its default 4 for its
 *   fixed first 100 iterations, but the learning rate defaults to the same "auto" rule, because its own
 *   default (1000) diverges for a few hundred points (kNN label agreement 0.4 on separated clusters).
 *   It stops early when the error stalls. Use it for a few hundred points only (≈ 40 s for 300 × 768,
 *   75 s for 500 here).
 *
 * Why hand-written: the npm candidates are exact O(N²) (tsne-js; @keckelt/tsne, a port of karpathy's
 * tsnejs that also seeds from `Math.random`), which take hours at a few thousand points. Which engine
 * is the default was chosen by `bench/tsne.ts` (results/bench/tsne.json): 25× faster than tsne-js at
 * 500 points with the same trustworthiness; 5,000 × 768 in ≈ 17 s on this 2-core machine.
 *
 * @module
 */
import TSNE from "tsne-js";
import { seededNormal } from "./random.ts";
import { knn } from "./neighbors.ts";
import { pca } from "./pca.ts";

/** Options shared by the engines; each field has a default. */
export interface TsneOptions {
  /** Perplexity, the effective number of neighbours (default 30; reduced to (N − 1)/3 for tiny N). */
  perplexity?: number;
  /** Total gradient-descent iterations (default 1000). */
  iterations?: number;
  /** Seed for every random choice (default 0). The same seed gives the same output. */
  seed?: number;
  /** Early exaggeration factor (default 12 for barnes-hut, 4 for tsne-js). */
  earlyExaggeration?: number;
  /** Iterations with exaggeration (default 250; barnes-hut only). */
  exaggerationIterations?: number;
  /** Learning rate, or "auto" = max(N / exaggeration / 4, 50) (default "auto"). */
  learningRate?: number | "auto";
  /** Barnes–Hut accuracy θ (default 0.5; 0 would be exact but slow). */
  theta?: number;
  /** Reduce to this many dimensions by PCA first (default 50; 0 = no reduction). */
  pcaDims?: number;
  /** Initial layout: "pca" (default, as scikit-learn ≥ 1.2) or "random" (N(0, 1e-4²), seeded). */
  init?: "pca" | "random";
  /** Called every 50 iterations with (iteration, total). */
  onProgress?: (iteration: number, total: number) => void;
}

/** A t-SNE implementation. */
export interface TsneEngine {
  /** Engine name, as `getTsneEngine` takes it. */
  name: string;
  /** Embeds `[n, dim]` row-major data in 2-D; resolves to `[n, 2]` row-major coordinates. */
  run(data: Float32Array, n: number, dim: number, opts?: TsneOptions): Promise<Float32Array>;
}

function checkInput(data: Float32Array, n: number, dim: number): void {
  if (data.length !== n * dim) throw new Error(`t-SNE: ${data.length} values is not ${n} × ${dim}`);
  if (n < 4) throw new Error(`t-SNE needs at least 4 points, got ${n}`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(`t-SNE: non-finite value at point ${Math.floor(i / dim)}, dim ${i % dim}`);
    }
  }
}

/** Perplexity actually used: the requested one, capped so that 3·perplexity < N. */
export function effectivePerplexity(n: number, perplexity = 30): number {
  return Math.max(1, Math.min(perplexity, (n - 1) / 3));
}

/**
 * Sparse symmetric input affinities P (CSR), from the k nearest neighbours with the Gaussian
 * bandwidth of each point calibrated by binary search so that the conditional distribution has the
 * requested perplexity (scikit-learn `_binary_search_perplexity`: squared distances, tolerance 1e-5
 * on the entropy in nats, ≤ 100 steps). P = (P_cond + P_condᵀ) / Σ, which equals /2N.
 */
export function inputAffinities(
  data: Float64Array,
  n: number,
  dim: number,
  perplexity: number,
): { rowPtr: Int32Array; cols: Int32Array; vals: Float64Array } {
  const k = Math.min(n - 1, Math.floor(3 * perplexity + 1));
  const nn = knn(data, n, dim, k);
  const cond = new Float64Array(n * k); // [N, k] conditional p_{j|i}
  const target = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    const base = i * k;
    const d0 = nn.distances[base]; // shift for numerical range; cancels on normalisation
    let beta = 1, lo = -Infinity, hi = Infinity;
    for (let step = 0; step < 100; step++) {
      let sum = 0, wsum = 0;
      for (let m = 0; m < k; m++) {
        const dd = nn.distances[base + m] - d0;
        const p = Math.exp(-dd * beta);
        cond[base + m] = p;
        sum += p;
        wsum += dd * p;
      }
      if (sum === 0) sum = 1e-8;
      const entropy = Math.log(sum) + (beta * wsum) / sum;
      for (let m = 0; m < k; m++) cond[base + m] /= sum;
      const diff = entropy - target;
      if (Math.abs(diff) <= 1e-5) break;
      if (diff > 0) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
      }
    }
  }
  // Symmetrise: row i gets its k outgoing entries plus every incoming one; duplicates are summed.
  const count = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    count[i] += k;
    for (let m = 0; m < k; m++) count[nn.indices[i * k + m]]++;
  }
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i] + count[i];
  const fill = start.slice(0, n);
  const rawCols = new Int32Array(start[n]), rawVals = new Float64Array(start[n]);
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < k; m++) {
      const j = nn.indices[i * k + m], p = cond[i * k + m];
      rawCols[fill[i]] = j;
      rawVals[fill[i]++] = p;
      rawCols[fill[j]] = i;
      rawVals[fill[j]++] = p;
    }
  }
  const rowPtr = new Int32Array(n + 1);
  const cols = new Int32Array(start[n]), vals = new Float64Array(start[n]);
  let total = 0, w = 0;
  for (let i = 0; i < n; i++) {
    const a = start[i], b = start[i + 1];
    const order = Array.from({ length: b - a }, (_, t) => a + t).sort((x, y) =>
      rawCols[x] - rawCols[y]
    );
    let last = -1;
    for (const t of order) {
      if (rawCols[t] === last) vals[w - 1] += rawVals[t];
      else {
        cols[w] = rawCols[t];
        vals[w++] = rawVals[t];
        last = rawCols[t];
      }
      total += rawVals[t];
    }
    rowPtr[i + 1] = w;
  }
  const norm = Math.max(total, Number.EPSILON);
  for (let t = 0; t < w; t++) vals[t] /= norm;
  return { rowPtr, cols: cols.slice(0, w), vals: vals.slice(0, w) };
}

/**
 * A 2-D quadtree over the current layout, rebuilt every iteration (arrays reused). What the force
 * traversal reads is packed per node in `node` = [comX, comY, count, width²], one cache line per
 * visit instead of four.
 */
class QuadTree {
  cap = 0;
  size = 0;
  node = new Float64Array(0); // [cap, 4]: centre of mass x, y; point count; squared cell width
  cx = new Float64Array(0); // cell centre (insertion only)
  cy = new Float64Array(0);
  hw = new Float64Array(0); // half width (insertion only)
  child = new Int32Array(0); // first of 4 children, -1 for a leaf
  point = new Int32Array(0); // a point of a leaf, -1 when empty

  private grow(min: number): void {
    const cap = Math.max(min, this.cap * 2, 64);
    const f = (a: Float64Array, w = 1) => {
      const b = new Float64Array(cap * w);
      b.set(a);
      return b;
    };
    const g = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.node = f(this.node, 4);
    this.cx = f(this.cx);
    this.cy = f(this.cy);
    this.hw = f(this.hw);
    this.child = g(this.child);
    this.point = g(this.point);
    this.cap = cap;
  }

  private add(cx: number, cy: number, hw: number): number {
    if (this.size === this.cap) this.grow(this.size + 1);
    const id = this.size++, o = 4 * id;
    this.node[o] = 0;
    this.node[o + 1] = 0;
    this.node[o + 2] = 0;
    this.node[o + 3] = 4 * hw * hw;
    this.cx[id] = cx;
    this.cy[id] = cy;
    this.hw[id] = hw;
    this.child[id] = -1;
    this.point[id] = -1;
    return id;
  }

  build(y: Float64Array, n: number): void {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const a = y[2 * i], b = y[2 * i + 1];
      if (a < minX) minX = a;
      if (a > maxX) maxX = a;
      if (b < minY) minY = b;
      if (b > maxY) maxY = b;
    }
    this.size = 0;
    const hw = (Math.max(maxX - minX, maxY - minY) / 2) * (1 + 1e-6) + 1e-12;
    this.add((minX + maxX) / 2, (minY + maxY) / 2, hw);
    for (let i = 0; i < n; i++) this.insert(y, i);
  }

  private insert(y: Float64Array, p: number): void {
    const px = y[2 * p], py = y[2 * p + 1];
    let nd = 0;
    for (let depth = 0;; depth++) {
      const o = 4 * nd;
      if (this.child[nd] >= 0) {
        const c = ++this.node[o + 2];
        this.node[o] += (px - this.node[o]) / c;
        this.node[o + 1] += (py - this.node[o + 1]) / c;
        nd = this.child[nd] + (px >= this.cx[nd] ? 1 : 0) + (py >= this.cy[nd] ? 2 : 0);
        continue;
      }
      if (this.node[o + 2] === 0) {
        this.node[o] = px;
        this.node[o + 1] = py;
        this.node[o + 2] = 1;
        this.point[nd] = p;
        return;
      }
      const q = this.point[nd];
      if ((y[2 * q] === px && y[2 * q + 1] === py) || depth >= 48) {
        // coincident points (or cells below float resolution) share a leaf
        const c = ++this.node[o + 2];
        this.node[o] += (px - this.node[o]) / c;
        this.node[o + 1] += (py - this.node[o + 1]) / c;
        return;
      }
      // split the leaf: its content moves to the matching child, then p descends
      const h = this.hw[nd] / 2, cx = this.cx[nd], cy = this.cy[nd];
      const first = this.add(cx - h, cy - h, h);
      this.add(cx + h, cy - h, h);
      this.add(cx - h, cy + h, h);
      this.add(cx + h, cy + h, h);
      this.child[nd] = first;
      const qx = this.node[o], qy = this.node[o + 1];
      const qc = first + (qx >= cx ? 1 : 0) + (qy >= cy ? 2 : 0);
      this.node[4 * qc] = qx;
      this.node[4 * qc + 1] = qy;
      this.node[4 * qc + 2] = this.node[o + 2];
      this.point[qc] = q;
      this.point[nd] = -1;
    }
  }
}

/**
 * Points in Z-order (Morton order of a 2¹⁶ × 2¹⁶ grid over the layout), so consecutive force
 * traversals visit mostly the same tree nodes (cache locality; results do not depend on order up to
 * floating-point summation order of Z).
 */
function zOrder(y: Float64Array, n: number, out: Int32Array): void {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, y[2 * i]);
    maxX = Math.max(maxX, y[2 * i]);
    minY = Math.min(minY, y[2 * i + 1]);
    maxY = Math.max(maxY, y[2 * i + 1]);
  }
  const sx = 65535 / Math.max(maxX - minX, 1e-300), sy = 65535 / Math.max(maxY - minY, 1e-300);
  const spread = (v: number) => {
    v = (v | (v << 8)) & 0x00ff00ff;
    v = (v | (v << 4)) & 0x0f0f0f0f;
    v = (v | (v << 2)) & 0x33333333;
    return (v | (v << 1)) & 0x55555555;
  };
  const key = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const gx = Math.floor((y[2 * i] - minX) * sx), gy = Math.floor((y[2 * i + 1] - minY) * sy);
    key[i] = ((spread(gx) | (spread(gy) << 1)) >>> 0) * n + i; // unique keys, stable by index
  }
  key.sort();
  for (let i = 0; i < n; i++) out[i] = key[i] % n;
}

/**
 * Barnes–Hut gradient of KL(P‖Q) (scikit-learn `_barnes_hut_tsne.gradient`): 4·(F_attr − F_rep/Z),
 * F_attr,i = Σ_j exag·p_ij·q̃_ij·(y_i − y_j), F_rep,i = Σ_j q̃_ij²·(y_i − y_j), q̃ = 1/(1 + ‖·‖²),
 * Z = Σ_{i≠j} q̃_ij, the repulsive sums approximated by cells with (cell width)/distance < θ.
 */
function gradient(
  y: Float64Array,
  n: number,
  p: { rowPtr: Int32Array; cols: Int32Array; vals: Float64Array },
  exag: number,
  theta: number,
  tree: QuadTree,
  order: Int32Array,
  grad: Float64Array,
  rep: Float64Array,
  stack: Int32Array,
): void {
  tree.build(y, n);
  const { node, child, point } = tree;
  const theta2 = theta * theta;
  const { rowPtr, cols, vals } = p;
  let z = 0;
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi];
    const yx = y[2 * i], yy = y[2 * i + 1];
    // attractive
    let ax = 0, ay = 0;
    for (let t = rowPtr[i], e = rowPtr[i + 1]; t < e; t++) {
      const j = cols[t];
      const dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
      const m = vals[t] / (1 + dx * dx + dy * dy);
      ax += m * dx;
      ay += m * dy;
    }
    // repulsive
    let rx = 0, ry = 0, zi = 0, sp = 0;
    stack[sp++] = 0;
    while (sp > 0) {
      const nd = stack[--sp], o = 4 * nd;
      const dx = yx - node[o], dy = yy - node[o + 1];
      const d2 = dx * dx + dy * dy;
      let c = node[o + 2];
      const f = child[nd];
      if (f < 0) {
        const q = point[nd];
        if (q === i || (y[2 * q] === yx && y[2 * q + 1] === yy)) c -= 1; // not itself
        if (c === 0) continue;
      } else if (node[o + 3] >= theta2 * d2) {
        // open the cell: push its non-empty children
        if (node[4 * f + 2] > 0) stack[sp++] = f;
        if (node[4 * f + 6] > 0) stack[sp++] = f + 1;
        if (node[4 * f + 10] > 0) stack[sp++] = f + 2;
        if (node[4 * f + 14] > 0) stack[sp++] = f + 3;
        continue;
      }
      const q = 1 / (1 + d2);
      const cq = c * q;
      zi += cq;
      const cqq = cq * q;
      rx += cqq * dx;
      ry += cqq * dy;
    }
    z += zi;
    grad[2 * i] = exag * ax;
    grad[2 * i + 1] = exag * ay;
    // keep the repulsive part until Z is known
    rep[2 * i] = rx;
    rep[2 * i + 1] = ry;
  }
  const inv = 1 / Math.max(z, Number.MIN_VALUE);
  for (let t = 0; t < 2 * n; t++) grad[t] = 4 * (grad[t] - rep[t] * inv);
}

/** Gradient descent with momentum and gains (scikit-learn `_gradient_descent`), in place. */
function descend(
  y: Float64Array,
  n: number,
  p: { rowPtr: Int32Array; cols: Int32Array; vals: Float64Array },
  o: { from: number; to: number; exag: number; momentum: number; lr: number; theta: number },
  total: number,
  onProgress?: (iteration: number, total: number) => void,
): void {
  const update = new Float64Array(2 * n), gains = new Float64Array(2 * n).fill(1);
  const grad = new Float64Array(2 * n), rep = new Float64Array(2 * n);
  const tree = new QuadTree();
  const stack = new Int32Array(4 * 64 + 8);
  const order = new Int32Array(n);
  for (let it = o.from; it < o.to; it++) {
    if ((it - o.from) % 10 === 0) zOrder(y, n, order);
    gradient(y, n, p, o.exag, o.theta, tree, order, grad, rep, stack);
    for (let t = 0; t < 2 * n; t++) {
      const g = grad[t];
      let gain = update[t] * g < 0 ? gains[t] + 0.2 : gains[t] * 0.8;
      if (gain < 0.01) gain = 0.01;
      gains[t] = gain;
      update[t] = o.momentum * update[t] - o.lr * gain * g;
      y[t] += update[t];
    }
    if (onProgress && (it + 1) % 50 === 0) onProgress(it + 1, total);
  }
}

/** Reduces `[n, dim]` data with PCA when `pcaDims` asks for fewer dimensions; Float64 out. */
function reduce(
  data: Float32Array,
  n: number,
  dim: number,
  pcaDims: number,
  seed: number,
): { x: Float64Array; d: number; pcs: Float64Array | null } {
  if (pcaDims > 0 && pcaDims < dim) {
    const r = pca(data, n, dim, pcaDims, seed);
    return { x: r.projected, d: r.k, pcs: r.projected };
  }
  return { x: Float64Array.from(data), d: dim, pcs: null };
}

/** Initial layout `[n, 2]`: top-2 PCs scaled to std 1e-4 (scikit-learn), or seeded N(0, 1e-4²). */
function initialLayout(
  x: Float64Array,
  n: number,
  d: number,
  pcs: { data: Float64Array; k: number } | null,
  init: "pca" | "random",
  seed: number,
): Float64Array {
  const y = new Float64Array(2 * n);
  if (init === "random") {
    const randn = seededNormal(seed);
    for (let t = 0; t < 2 * n; t++) y[t] = 1e-4 * randn();
    return y;
  }
  const src = pcs ?? { data: pca(x, n, d, 2, seed).projected, k: 2 };
  let mean = 0, v = 0;
  for (let i = 0; i < n; i++) mean += src.data[i * src.k];
  mean /= n;
  for (let i = 0; i < n; i++) v += (src.data[i * src.k] - mean) ** 2;
  const scale = 1e-4 / Math.max(Math.sqrt(v / n), 1e-300);
  for (let i = 0; i < n; i++) {
    y[2 * i] = src.data[i * src.k] * scale;
    y[2 * i + 1] = (src.k > 1 ? src.data[i * src.k + 1] : 0) * scale;
  }
  return y;
}

/** Barnes–Hut t-SNE (see the module doc). */
export const barnesHutEngine: TsneEngine = {
  name: "barnes-hut",
  run(data, n, dim, opts = {}) {
    checkInput(data, n, dim);
    const seed = opts.seed ?? 0;
    const perplexity = effectivePerplexity(n, opts.perplexity);
    const iterations = opts.iterations ?? 1000;
    const exag = opts.earlyExaggeration ?? 12;
    const exIters = Math.min(opts.exaggerationIterations ?? 250, iterations);
    const lr = opts.learningRate === undefined || opts.learningRate === "auto"
      ? Math.max(n / exag / 4, 50)
      : opts.learningRate;
    const theta = opts.theta ?? 0.5;
    const red = reduce(data, n, dim, opts.pcaDims ?? 50, seed);
    const p = inputAffinities(red.x, n, red.d, perplexity);
    const y = initialLayout(
      red.x,
      n,
      red.d,
      red.pcs ? { data: red.pcs, k: red.d } : null,
      opts.init ?? "pca",
      seed,
    );
    const common = { lr, theta };
    descend(
      y,
      n,
      p,
      { ...common, from: 0, to: exIters, exag, momentum: 0.5 },
      iterations,
      opts.onProgress,
    );
    descend(
      y,
      n,
      p,
      { ...common, from: exIters, to: iterations, exag: 1, momentum: 0.8 },
      iterations,
      opts.onProgress,
    );
    return Promise.resolve(Float32Array.from(y));
  },
};

/** The tsne-js package (exact O(N²)), seeded by replacing its `Math.random` initial layout. */
export const tsneJsEngine: TsneEngine = {
  name: "tsne-js",
  run(data, n, dim, opts = {}) {
    checkInput(data, n, dim);
    const seed = opts.seed ?? 0;
    const red = reduce(data, n, dim, opts.pcaDims ?? 50, seed);
    const exag = opts.earlyExaggeration ?? 4;
    const rows: number[][] = [];
    for (let i = 0; i < n; i++) rows.push(Array.from(red.x.subarray(i * red.d, (i + 1) * red.d)));
    const model = new TSNE({
      dim: 2,
      perplexity: effectivePerplexity(n, opts.perplexity),
      nIter: opts.iterations ?? 1000,
      earlyExaggeration: exag,
      // tsne-js's own default (1000) diverges for a few hundred points; use the "auto" rule.
      learningRate: typeof opts.learningRate === "number"
        ? opts.learningRate
        : Math.max(n / exag / 4, 50),
    });
    model.init({ data: rows, type: "dense" });
    const randn = seededNormal(seed);
    const init = (model as unknown as { outputEmbedding: { data: Float64Array } }).outputEmbedding;
    for (let t = 0; t < init.data.length; t++) init.data[t] = 1e-4 * randn();
    model.run();
    const out = model.getOutput() as number[][];
    return Promise.resolve(Float32Array.from(out.flat()));
  },
};

/** Engines by name. */
export const TSNE_ENGINES: Record<string, TsneEngine> = {
  [barnesHutEngine.name]: barnesHutEngine,
  [tsneJsEngine.name]: tsneJsEngine,
};

/** The default engine's name (chosen by `bench/tsne.ts`; see the module doc). */
export const DEFAULT_TSNE_ENGINE = "barnes-hut";

/** Looks up an engine by name; the error lists the known ones. */
export function getTsneEngine(name: string = DEFAULT_TSNE_ENGINE): TsneEngine {
  const e = TSNE_ENGINES[name];
  if (!e) {
    throw new Error(
      `unknown t-SNE engine "${name}" (known: ${Object.keys(TSNE_ENGINES).join(", ")})`,
    );
  }
  return e;
}
