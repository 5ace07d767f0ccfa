/**
 * Layer functions `(params, x) => y` on the named weight tree, each beside its `plan*` function
 * that declares its parameters and multiply-accumulates.
 *
 * wasm constraint: the wasm backend has no gradient kernels for conv2d filters, depthwise filters
 * or gather (UnsortedSegmentSum), and tfjs has no gradient for strided slices. So the trainable path
 * uses none of them: convolutions are patch extraction (pad, reshape, plain slices) followed by a
 * matMul ({@linkcode conv2dMatmul}), and the relative-position bias is looked up by two constant
 * one-hot matMuls ({@linkcode relativePositionBias}). All reshapes stay at rank ≤ 4 (webgpu).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ParamTree } from "./types.ts";
import { leaf, type Plan } from "./params.ts";

/** Weight initialisation styles. `vit`: trunc-normal σ 0.02 (timm); `torch`: U(±1/√fan_in). */
export type InitStyle = "vit" | "torch";

// ---------------------------------------------------------------------------------------------
// Linear

/** Declares a linear layer `path/{w [in, out], b [out]}` applied to `tokens` tokens per image. */
export function planLinear(
  plan: Plan,
  path: string,
  inDim: number,
  outDim: number,
  tokens: number,
  style: InitStyle = "vit",
): void {
  plan.param(
    `${path}/w`,
    [inDim, outDim],
    style === "vit"
      ? { kind: "trunc", std: 0.02 }
      : { kind: "uniform", bound: 1 / Math.sqrt(inDim) },
  );
  plan.param(
    `${path}/b`,
    [outDim],
    style === "vit" ? { kind: "zeros" } : { kind: "uniform", bound: 1 / Math.sqrt(inDim) },
  );
  plan.mac(path, tokens * inDim * outDim);
}

/** y = x W + b over the last axis of `x` (any rank ≥ 2). */
export function linear<T extends tf.Tensor>(p: ParamTree, x: T): T {
  const w = leaf(p, "w");
  const [inDim, outDim] = w.shape;
  const lead = x.shape.slice(0, -1);
  const x2 = x.reshape([-1, inDim]) as tf.Tensor2D; // [N, in]
  return tf.add(tf.matMul(x2, w as tf.Tensor2D), leaf(p, "b")).reshape([...lead, outDim]) as T;
}

type AddFn = (y: tf.Tensor, b: tf.Tensor) => tf.Tensor;
let addKeyBias: AddFn | undefined;

/**
 * The key projection of an attention, y = x W + b like {@linkcode linear}, with the gradient of b
 * set to exactly zero. Its true gradient is zero: b adds q·b to every logit of a query row, and
 * softmax is unchanged by a shift of the whole row. Computed by autodiff it is float noise
 * (~1e-10 relative), which Adam rescales into full-size steps; returning zeros skips the sum over
 * all tokens and keeps b where it is. Values, and the gradients of x and W, are those of `linear`.
 * Only valid where the result feeds attention logits as keys (softmax over the keys).
 */
export function keyLinear<T extends tf.Tensor>(p: ParamTree, x: T): T {
  addKeyBias ??= tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [y, b] = args as tf.Tensor[];
    return {
      value: tf.add(y, b),
      gradFunc: (dy: tf.Tensor) => [dy, tf.zerosLike(b)],
    };
  }) as unknown as AddFn;
  const w = leaf(p, "w");
  const [inDim, outDim] = w.shape;
  const lead = x.shape.slice(0, -1);
  const y = tf.matMul(x.reshape([-1, inDim]) as tf.Tensor2D, w as tf.Tensor2D); // [N, out]
  return addKeyBias(y, leaf(p, "b")).reshape([...lead, outDim]) as T;
}

// ---------------------------------------------------------------------------------------------
// LayerNorm

/** Declares a LayerNorm `path/{gamma, beta}` of width `dim`. */
export function planLayerNorm(plan: Plan, path: string, dim: number): void {
  plan.param(`${path}/gamma`, [dim], { kind: "ones" });
  plan.param(`${path}/beta`, [dim], { kind: "zeros" });
}

type LayerNormFn = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
const layerNormFns = new Map<number, LayerNormFn>();

/**
 * LayerNorm as one differentiable op with a hand-written gradient (tf.customGrad):
 * x̂ = (x − μ)·r, r = 1/√(σ² + ε), y = x̂·γ + β; dγ = Σ dy·x̂, dβ = Σ dy,
 * dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ (means over the normalised axis).
 * Decision: tfjs' autodiff of `tf.moments` costs ~2× the kernels and 3.4× the time of this
 * (bench/: [64, 148, 64] on wasm 93 → 27 ms); values are the same.
 */
function layerNormFn(eps: number): LayerNormFn {
  let f = layerNormFns.get(eps);
  if (f) return f;
  f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, gamma, beta] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const axis = x.rank - 1;
    const xc = tf.sub(x, tf.mean(x, axis, true));
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), axis, true), eps));
    const xn = tf.mul(xc, r);
    save([xn, r, gamma]);
    return {
      value: tf.add(tf.mul(xn, gamma), beta),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xn, r, gamma] = saved;
        const lead = Array.from({ length: xn.rank - 1 }, (_, i) => i);
        const g = tf.mul(dy, gamma);
        const dx = tf.mul(
          r,
          tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xn, tf.mean(tf.mul(g, xn), -1, true))),
        );
        return [dx, tf.sum(tf.mul(dy, xn), lead), tf.sum(dy, lead)];
      },
    };
  }) as unknown as LayerNormFn;
  layerNormFns.set(eps, f);
  return f;
}

/** LayerNorm over the last axis (ε = 1e-5, PyTorch's default). */
export function layerNorm<T extends tf.Tensor>(p: ParamTree, x: T, eps = 1e-5): T {
  return layerNormFn(eps)(x, leaf(p, "gamma"), leaf(p, "beta")) as T;
}

// ---------------------------------------------------------------------------------------------
// Activations, dropout

type GeluFn = (x: tf.Tensor) => tf.Tensor;
let geluFn: GeluFn | undefined;

/**
 * GELU, tanh approximation (0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))). Decision: the tanh form
 * rather than erf because every backend has tanh and its gradient; the two differ by < 1e-3.
 *
 * Computed as the equal x·σ(2z), z = √(2/π)(x + 0.044715x³) (0.5(1 + tanh z) = σ(2z)), as one op
 * with a hand-written gradient: dy·(s + x·s(1 − s)·2√(2/π)(1 + 3·0.044715x²)), s = σ(2z).
 * tfjs-wasm's Sigmoid is vectorised and ~6× faster than its Tanh, and the hand-written gradient
 * takes about half the kernels of autodiff (bench/: wasm profile). Values equal the tanh form
 * within float rounding (lib/model/layers_test.ts).
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  const c2 = 2 * Math.sqrt(2 / Math.PI);
  const k = 0.044715;
  geluFn ??= tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const x2 = tf.square(x);
    const s = tf.sigmoid(tf.mul(x, tf.add(tf.mul(x2, c2 * k), c2))); // σ(2z)
    save([x, x2, s]);
    return {
      value: tf.mul(x, s),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [x, x2, s] = saved;
        const dz = tf.add(tf.mul(x2, 3 * c2 * k), c2); // d(2z)/dx
        const ds = tf.mul(tf.mul(s, tf.sub(1, s)), tf.mul(x, dz)); // x·σ'·d(2z)/dx
        return [tf.mul(dy, tf.add(s, ds))];
      },
    };
  }) as unknown as GeluFn;
  return geluFn(x) as T;
}

/** Inverted dropout with a seed; identity when not training or rate is 0. */
export function dropout<T extends tf.Tensor>(
  x: T,
  rate: number,
  training: boolean,
  seed: number | undefined,
): T {
  if (!training || rate <= 0) return x;
  return tf.dropout(x, rate, undefined, seed) as T;
}

// ---------------------------------------------------------------------------------------------
// Convolution as patches × matMul

/** Output side of a "same"-padded convolution: ⌈side / stride⌉. */
export function convOut(side: number, stride: number): number {
  return Math.ceil(side / stride);
}

/**
 * Declares a convolution `path/{w [k, k, in, out], b [out]}` on a `side`×`side` input
 * (PyTorch default initialisation).
 */
export function planConv(
  plan: Plan,
  path: string,
  side: number,
  inCh: number,
  outCh: number,
  kernel: number,
  stride: number,
): void {
  const fanIn = kernel * kernel * inCh;
  const bound = 1 / Math.sqrt(fanIn);
  plan.param(`${path}/w`, [kernel, kernel, inCh, outCh], { kind: "uniform", bound });
  plan.param(`${path}/b`, [outCh], { kind: "uniform", bound });
  const o = convOut(side, stride);
  plan.mac(path, o * o * fanIn * outCh);
}

/**
 * Extracts the k×k patches of a "same"-padded convolution with stride 1 or 2:
 * `[B, H, W, C] → [B, Ho, Wo, k·k·C]`, patch channels ordered (dy, dx, c) like a TF filter
 * `[k, k, C, out]`. Uses pad, reshape and plain slices only (all have gradients on every backend);
 * stride 2 is taken by reshaping pairs of rows/columns into a new axis and slicing one of them.
 */
export function extractPatches(x: tf.Tensor4D, kernel: number, stride: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (kernel === 1 && stride === 1) return x;
  const pad = (kernel - 1) >> 1;
  const ho = convOut(h, stride);
  const wo = convOut(w, stride);
  const span = (o: number) => Math.ceil((kernel + stride * (o - 1)) / stride) * stride;
  const hp = Math.max(span(ho), Math.ceil((h + pad) / stride) * stride);
  const wp = Math.max(span(wo), Math.ceil((w + pad) / stride) * stride);
  const xp = tf.pad(x, [[0, 0], [pad, hp - h - pad], [pad, wp - w - pad], [0, 0]]); // [B, Hp, Wp, C]
  const rowsFor = (dy: number): tf.Tensor4D => {
    if (stride === 1) return xp.slice([0, dy, 0, 0], [b, ho, wp, c]);
    const r = xp.reshape([b, hp / stride, stride, wp * c]); // [B, Hp/s, s, Wp·C]
    return r.slice([0, Math.floor(dy / stride), dy % stride, 0], [b, ho, 1, wp * c])
      .reshape([b, ho, wp, c]);
  };
  const colsFor = (rows: tf.Tensor4D, dx: number): tf.Tensor4D => {
    if (stride === 1) return rows.slice([0, 0, dx, 0], [b, ho, wo, c]);
    const r = rows.reshape([b, ho, wp / stride, stride * c]); // [B, Ho, Wp/s, s·C]
    return r.slice([0, 0, Math.floor(dx / stride), (dx % stride) * c], [
      b,
      ho,
      wo,
      c,
    ]) as tf.Tensor4D;
  };
  const parts: tf.Tensor4D[] = [];
  for (let dy = 0; dy < kernel; dy++) {
    const rows = rowsFor(dy);
    for (let dx = 0; dx < kernel; dx++) parts.push(colsFor(rows, dx));
  }
  return parts.length === 1 ? parts[0] : tf.concat(parts, 3); // [B, Ho, Wo, k·k·C]
}

/**
 * A "same"-padded 2-D convolution with bias as patch extraction + matMul (equals
 * `tf.conv2d(x, w, stride, "same")` for odd kernels when the side is divisible by the stride,
 * and PyTorch's `Conv2d(k, stride, padding=(k-1)/2)` in every case).
 */
export function conv2dMatmul(p: ParamTree, x: tf.Tensor4D, stride: number): tf.Tensor4D {
  const w = leaf(p, "w");
  const [k, , inCh, outCh] = w.shape;
  const patches = extractPatches(x, k, stride); // [B, Ho, Wo, k·k·in]
  const [b, ho, wo] = patches.shape;
  const y = tf.matMul(
    patches.reshape([b * ho * wo, k * k * inCh]) as tf.Tensor2D,
    w.reshape([k * k * inCh, outCh]) as tf.Tensor2D,
  );
  return tf.add(y, leaf(p, "b")).reshape([b, ho, wo, outCh]);
}

// ---------------------------------------------------------------------------------------------
// Batch norm

/** Declares a batch norm `path/{gamma, beta}` with buffers `path/{runningMean, runningVar}`. */
export function planBatchNorm(plan: Plan, path: string, dim: number): void {
  plan.param(`${path}/gamma`, [dim], { kind: "ones" });
  plan.param(`${path}/beta`, [dim], { kind: "zeros" });
  plan.buffer(`${path}/runningMean`, [dim], { kind: "zeros" });
  plan.buffer(`${path}/runningVar`, [dim], { kind: "ones" });
}

/**
 * Batch norm over the batch axis of `[B, F]`. Training: normalises with the batch mean and biased
 * variance and, when `updateStats`, updates the running statistics in place (PyTorch convention:
 * running = (1 − m)·running + m·batch, with the unbiased variance; the biased one when B = 1).
 * The update is outside the gradient (the running statistics are non-trainable variables).
 * Evaluation: normalises with the running statistics.
 */
export function batchNorm(
  p: ParamTree,
  x: tf.Tensor2D,
  training: boolean,
  momentum: number,
  eps: number,
  updateStats: boolean,
): tf.Tensor2D {
  const rm = leaf(p, "runningMean");
  const rv = leaf(p, "runningVar");
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  if (training) {
    const m = tf.moments(x, 0);
    mean = m.mean;
    variance = m.variance;
    if (updateStats) {
      const n = x.shape[0];
      const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
      const newMean = tf.add(tf.mul(rm, 1 - momentum), tf.mul(mean, momentum));
      const newVar = tf.add(tf.mul(rv, 1 - momentum), tf.mul(unbiased, momentum));
      rm.assign(newMean);
      rv.assign(newVar);
    }
  } else {
    mean = rm;
    variance = rv;
  }
  const xn = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(xn, leaf(p, "gamma")), leaf(p, "beta"));
}

// ---------------------------------------------------------------------------------------------
// Attention

/**
 * Scaled dot-product attention with `heads` heads (eq. 2):
 * q `[N, Mq, H·d]`, k and v `[N, Mk, H·d]` → `[N, Mq, H·d]`; `bias` `[H, Mq, Mk]` is added to the
 * logits of every item. Attention is within each of the N items only.
 */
export function multiHeadAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  heads: number,
  bias?: tf.Tensor3D,
): tf.Tensor3D {
  const [n, mq, width] = q.shape;
  const mk = k.shape[1];
  const d = width / heads;
  const split = (t: tf.Tensor3D, m: number) =>
    t.reshape([n, m, heads, d]).transpose([0, 2, 1, 3]).reshape([n * heads, m, d]) as tf.Tensor3D;
  // q is scaled by 1/√d before the product rather than the logits after it: Mk/d times fewer
  // elements (forward and gradient); the same values within float rounding.
  const qh = split(tf.mul(q, 1 / Math.sqrt(d)) as tf.Tensor3D, mq); // [N·H, Mq, d]
  const kh = split(k, mk); // [N·H, Mk, d]
  const vh = split(v, mk); // [N·H, Mk, d]
  let logits: tf.Tensor = tf.matMul(qh, kh, false, true); // [N·H, Mq, Mk]
  if (bias) logits = tf.add(logits.reshape([n, heads, mq, mk]), bias).reshape([n * heads, mq, mk]);
  const att = tf.softmax(logits) as tf.Tensor3D;
  const o = tf.matMul(att, vh); // [N·H, Mq, d]
  return o.reshape([n, heads, mq, d]).transpose([0, 2, 1, 3]).reshape([n, mq, width]);
}

/**
 * Declares a self-attention block `path/{wq, wk, wv, wo}` of width `dim` on `tokens` tokens per
 * image (items per image × tokens per item), including the QKᵀ and AV products.
 */
export function planSelfAttention(
  plan: Plan,
  path: string,
  dim: number,
  tokens: number,
  tokensPerItem: number,
): void {
  for (const n of ["wq", "wk", "wv", "wo"]) planLinear(plan, `${path}/${n}`, dim, dim, tokens);
  plan.mac(`${path}/qk`, tokens * tokensPerItem * dim, true);
  plan.mac(`${path}/av`, tokens * tokensPerItem * dim, true);
}

/** Multi-head self-attention `[N, M, dim] → [N, M, dim]` within each of the N items. */
export function selfAttention(p: ParamTree, x: tf.Tensor3D, heads: number): tf.Tensor3D {
  const q = linear(p.wq as ParamTree, x);
  const k = keyLinear(p.wk as ParamTree, x);
  const v = linear(p.wv as ParamTree, x);
  return linear(p.wo as ParamTree, multiHeadAttention(q, k, v, heads));
}

/** One-hot `[w², 2w−1]`: row `a·w + b` has its 1 at column `a − b + w − 1`. */
function relativeOneHot(w: number): tf.Tensor2D {
  const n = 2 * w - 1;
  const m = new Float32Array(w * w * n);
  for (let a = 0; a < w; a++) {
    for (let b = 0; b < w; b++) m[(a * w + b) * n + (a - b + w - 1)] = 1;
  }
  return tf.tensor2d(m, [w * w, n]);
}

/** Declares a relative-position bias table `path` `[(2w−1)², heads]` (Swin layout). */
export function planRelativePositionBias(
  plan: Plan,
  path: string,
  window: number,
  heads: number,
): void {
  plan.param(path, [(2 * window - 1) ** 2, heads], { kind: "trunc", std: 0.02 });
}

/**
 * The learned relative-position bias b of eq. 2 for a w×w window: `table` `[(2w−1)², H]` indexed
 * by `(Δy + w − 1)·(2w − 1) + (Δx + w − 1)` → `[H, w², w²]` (query token `(yi, xi)` row-major,
 * key token `(yj, xj)`). Decision: the lookup is two constant one-hot matMuls (separable in Δy and
 * Δx) instead of a gather, so its gradient exists on wasm; memory O(H·w⁴) for the result only.
 */
export function relativePositionBias(table: tf.Tensor2D, w: number): tf.Tensor3D {
  const heads = table.shape[1];
  const n = 2 * w - 1;
  const e = relativeOneHot(w); // [w², 2w−1]
  const t = table.reshape([n, n * heads]); // [Δy, (Δx, h)]
  const u = tf.matMul(e, t) // [(yi, yj), (Δx, h)]
    .reshape([w, w, n, heads])
    .transpose([3, 0, 1, 2]) // [h, yi, yj, Δx]
    .reshape([heads * w * w, n]);
  const v = tf.matMul(u, e, false, true) // [(h, yi, yj), (xi, xj)]
    .reshape([heads * w, w, w, w]) // [(h, yi), yj, xi, xj]
    .transpose([0, 2, 1, 3]); // [(h, yi), xi, yj, xj]
  return v.reshape([heads, w * w, w * w]);
}

// ---------------------------------------------------------------------------------------------
// Windows

/** `[B, S, S, c]` → `[B·(S/w)², w², c]` non-overlapping w×w windows, row-major. */
export function windowPartition(x: tf.Tensor4D, w: number): tf.Tensor3D {
  const [b, s, , c] = x.shape;
  if (w === s) return x.reshape([b, s * s, c]);
  const n = s / w;
  return x.reshape([b * n, w, n, w * c]) // [(B, wy), y, wx, (x, c)]
    .transpose([0, 2, 1, 3]) // [(B, wy), wx, y, (x, c)]
    .reshape([b * n * n, w * w, c]);
}

/** Inverse of {@linkcode windowPartition}: `[B·(S/w)², w², c]` → `[B, S, S, c]`. */
export function windowReverse(x: tf.Tensor3D, w: number, s: number): tf.Tensor4D {
  const c = x.shape[2];
  const n = s / w;
  const b = x.shape[0] / (n * n);
  if (w === s) return x.reshape([b, s, s, c]);
  return x.reshape([b * n, n, w, w * c]) // [(B, wy), wx, y, (x, c)]
    .transpose([0, 2, 1, 3]) // [(B, wy), y, wx, (x, c)]
    .reshape([b, s, s, c]);
}

// ---------------------------------------------------------------------------------------------
// Transformer MLP

/** Declares a transformer MLP `path/{fc1, fc2}` dim → hidden → dim on `tokens` tokens. */
export function planMlp(plan: Plan, path: string, dim: number, hidden: number, tokens: number) {
  planLinear(plan, `${path}/fc1`, dim, hidden, tokens);
  planLinear(plan, `${path}/fc2`, hidden, dim, tokens);
}

/** Transformer MLP: Linear → GELU → Linear. */
export function mlp<T extends tf.Tensor>(p: ParamTree, x: T): T {
  return linear(p.fc2 as ParamTree, gelu(linear(p.fc1 as ParamTree, x)));
}
