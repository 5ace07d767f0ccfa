/**
 * One architecture description, three interpretations. IR-50 and MobileFaceNet are each written
 * once as a function over an abstract {@linkcode Ops} interface; that function is then run
 *
 * - with {@linkcode PlanOps} over per-image shapes `[H, W, C]`: records every weight tensor
 *   (name, shape, initialiser) and counts parameters and FLOPs analytically;
 * - with {@linkcode RunOps} over NHWC tensors: the actual forward pass, reading weights from a
 *   {@linkcode WeightTree} by name.
 *
 * So initialisation, counting and inference cannot drift apart.
 *
 * Weight names are PyTorch `state_dict` keys with `/` for `.` (`body1/0/res_layer/1/weight`), so
 * converted POSTER++ / face.evoLVe checkpoints load by name. Tree layouts are TensorFlow.js's:
 * convolution filters `[kh, kw, cin / groups, cout]` (so a depthwise filter is `[kh, kw, 1, C]`,
 * reshaped to tfjs's `[kh, kw, C, 1]` at run time), linear weights `[in, out]`.
 *
 * FLOP convention (documented in `mod.ts`): thop 0.1.1's `profile()` rules, which POSTER++'s
 * reported size follows (`compute_param_flop()` in POSTER_V2's `models/PosterV2_7cls.py` calls
 * `thop.profile`):
 * - Conv: `H_out·W_out·C_out · (C_in / groups) · k²` multiply-accumulates (bias not counted);
 * - Linear: `in · out` per image (bias not counted);
 * - BatchNorm (affine): `4 · numel(input)`; PReLU: `numel(input)`;
 * - residual additions and `MaxPool2d(1, s)` subsampling: 0 (thop counts functional ops as 0).
 *
 * Parameters are counted as thop counts them: the weights of layers that run in the forward pass;
 * batch-norm running statistics are buffers, reported separately.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from "../../tensor.ts";

/** A per-image activation shape `[H, W, C]`. */
export type Shape3 = [number, number, number];

/** Options of one 2-D convolution (PyTorch `Conv2d` semantics: symmetric zero padding). */
export interface ConvOptions {
  /** Output channels. */
  out: number;
  /** Square kernel side. */
  kernel: number;
  /** Stride (default 1). */
  stride?: number;
  /** Zero padding on each side (default 0). */
  pad?: number;
  /** Groups: 1 (dense) or equal to the input channels (depthwise). Default 1. */
  groups?: number;
}

/** The operations IR-50 and MobileFaceNet are built from. `V` is a shape or a tensor. */
export interface Ops<V> {
  /** Bias-free convolution; weight `<name>/weight`. */
  conv(name: string, x: V, o: ConvOptions): V;
  /** Inference-mode batch norm (ε = 1e-5); `<name>/{weight,bias,running_mean,running_var}`. */
  batchNorm(name: string, x: V): V;
  /** Per-channel PReLU; `<name>/weight`. */
  prelu(name: string, x: V): V;
  /** Bias-free linear map of a `[1, 1, C]` map (flattened) to `[1, 1, out]`; `<name>/weight`. */
  linear(name: string, x: V, out: number): V;
  /** Elementwise sum (residual connection). */
  add(a: V, b: V): V;
  /** `MaxPool2d(kernel 1, stride)`: keeps every `stride`-th row and column. */
  subsample(x: V, stride: number): V;
}

/** What a weight tensor belongs to; decides its initialiser and its PyTorch layout. */
export type LayerKind = "conv" | "linear" | "bn" | "prelu";

/** One weight tensor of a network. */
export interface WeightSpec {
  /** Tree path, `/`-separated PyTorch key. */
  path: string;
  /** Shape in the tree (TensorFlow.js layout). */
  shape: number[];
  /** Shape of the same tensor in PyTorch (`[out, in/groups, kh, kw]`, `[out, in]`, `[C]`). */
  torchShape: number[];
  /** The layer it belongs to. */
  kind: LayerKind;
  /** Batch-norm running statistic: a buffer, not a parameter. */
  buffer: boolean;
}

/** Parameters and FLOPs of one operation, per image. */
export interface OpCount {
  /** Layer name (path of its weights). */
  name: string;
  /** Operation kind. */
  kind: LayerKind;
  /** Parameters (buffers excluded). */
  params: number;
  /** Buffers (batch-norm running statistics). */
  buffers: number;
  /** FLOPs by thop's rules (multiply-accumulates for conv/linear). */
  flops: number;
}

/** Output side of a PyTorch convolution. */
export function convOutSide(side: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((side + 2 * pad - kernel) / stride) + 1;
}

/**
 * Records weights and counts parameters/FLOPs while an architecture function walks shapes.
 * The counts are computed from the layer formulas, independently of the weight shapes recorded.
 */
export class PlanOps implements Ops<Shape3> {
  /** Every weight tensor, in forward order. */
  readonly weights: WeightSpec[] = [];
  /** Every counted operation, in forward order. */
  readonly ops: OpCount[] = [];

  #record(path: string, shape: number[], torchShape: number[], kind: LayerKind, buffer = false) {
    if (this.weights.some((w) => w.path === path)) throw new Error(`duplicate weight ${path}`);
    this.weights.push({ path, shape, torchShape, kind, buffer });
  }

  conv(name: string, x: Shape3, o: ConvOptions): Shape3 {
    const [h, w, cin] = x;
    const { out, kernel: k, stride = 1, pad = 0, groups = 1 } = o;
    if (groups !== 1 && groups !== cin) {
      throw new Error(`${name}: groups must be 1 or the input channels (${cin}), got ${groups}`);
    }
    if (groups !== 1 && out !== cin) {
      throw new Error(`${name}: a depthwise convolution needs out = in = ${cin}, got ${out}`);
    }
    const ho = convOutSide(h, k, stride, pad);
    const wo = convOutSide(w, k, stride, pad);
    if (ho < 1 || wo < 1) throw new Error(`${name}: input ${h}×${w} too small for kernel ${k}`);
    const perGroupIn = cin / groups;
    this.#record(`${name}/weight`, [k, k, perGroupIn, out], [out, perGroupIn, k, k], "conv");
    this.ops.push({
      name,
      kind: "conv",
      params: out * perGroupIn * k * k,
      buffers: 0,
      flops: ho * wo * out * perGroupIn * k * k,
    });
    return [ho, wo, out];
  }

  batchNorm(name: string, x: Shape3): Shape3 {
    const c = x[2];
    this.#record(`${name}/weight`, [c], [c], "bn");
    this.#record(`${name}/bias`, [c], [c], "bn");
    this.#record(`${name}/running_mean`, [c], [c], "bn", true);
    this.#record(`${name}/running_var`, [c], [c], "bn", true);
    this.ops.push({ name, kind: "bn", params: 2 * c, buffers: 2 * c, flops: 4 * x[0] * x[1] * c });
    return x;
  }

  prelu(name: string, x: Shape3): Shape3 {
    const c = x[2];
    this.#record(`${name}/weight`, [c], [c], "prelu");
    this.ops.push({ name, kind: "prelu", params: c, buffers: 0, flops: x[0] * x[1] * c });
    return x;
  }

  linear(name: string, x: Shape3, out: number): Shape3 {
    const inF = x[0] * x[1] * x[2];
    this.#record(`${name}/weight`, [inF, out], [out, inF], "linear");
    this.ops.push({ name, kind: "linear", params: inF * out, buffers: 0, flops: inF * out });
    return [1, 1, out];
  }

  add(a: Shape3, b: Shape3): Shape3 {
    if (a.some((v, i) => v !== b[i])) throw new Error(`add: shapes differ [${a}] vs [${b}]`);
    return a;
  }

  subsample(x: Shape3, stride: number): Shape3 {
    return [convOutSide(x[0], 1, stride, 0), convOutSide(x[1], 1, stride, 0), x[2]];
  }
}

/** A tree of named frozen weights (plain tensors, not variables). */
export interface WeightTree {
  /** A weight, or a subtree of weights, by name. */
  [name: string]: Tensor | WeightTree;
}

/** The tensor at a `/`-separated path; throws naming the path when it is absent. */
export function getWeight(tree: WeightTree, path: string, what = "weights"): Tensor {
  let node: Tensor | WeightTree | undefined = tree;
  for (const part of path.split("/")) {
    node = node instanceof tf.Tensor || node === undefined ? undefined : node[part];
  }
  if (!(node instanceof tf.Tensor)) throw new Error(`${what}: no weight named "${path}"`);
  return node;
}

/** Runs an architecture on NHWC tensors, reading weights from a {@linkcode WeightTree}. */
export class RunOps implements Ops<Tensor4D> {
  /**
   * @param tree the weights
   * @param what network name used in error messages
   */
  constructor(readonly tree: WeightTree, readonly what: string) {}

  #w(path: string): Tensor {
    return getWeight(this.tree, path, this.what);
  }

  conv(name: string, x: Tensor4D, o: ConvOptions): Tensor4D {
    const { kernel: k, stride = 1, pad = 0, groups = 1 } = o;
    const w = this.#w(`${name}/weight`);
    if (groups === 1) return tf.conv2d(x, w as Tensor4D, stride, pad);
    // Depthwise: the tree holds [k, k, 1, C] (grouped-conv layout); tfjs wants [k, k, C, 1].
    const c = x.shape[3];
    return tf.depthwiseConv2d(x, tf.reshape(w, [k, k, c, 1]) as Tensor4D, stride, pad);
  }

  batchNorm(name: string, x: Tensor4D): Tensor4D {
    return tf.batchNorm4d(
      x,
      this.#w(`${name}/running_mean`) as Tensor1D,
      this.#w(`${name}/running_var`) as Tensor1D,
      this.#w(`${name}/bias`) as Tensor1D,
      this.#w(`${name}/weight`) as Tensor1D,
      1e-5,
    );
  }

  prelu(name: string, x: Tensor4D): Tensor4D {
    return tf.prelu(x, this.#w(`${name}/weight`)) as Tensor4D;
  }

  linear(name: string, x: Tensor4D, out: number): Tensor4D {
    const b = x.shape[0];
    const flat = tf.reshape(x, [b, -1]); // [B, H·W·C] (H = W = 1 where used)
    return tf.reshape(tf.matMul(flat, this.#w(`${name}/weight`) as Tensor2D), [b, 1, 1, out]);
  }

  add(a: Tensor4D, b: Tensor4D): Tensor4D {
    return tf.add(a, b);
  }

  subsample(x: Tensor4D, stride: number): Tensor4D {
    return stride === 1 ? x : tf.maxPool(x, 1, stride, "valid");
  }
}

/** Scales a channel count by `width`; throws when the result is not a positive integer. */
export function scaled(channels: number, width: number, what: string): number {
  const c = channels * width;
  if (!Number.isInteger(c) || c < 1) {
    throw new Error(
      `${what}: width ${width} gives ${c} channels from ${channels} (need an integer ≥ 1)`,
    );
  }
  return c;
}
