/**
 * Reliability balancing (paper §3.2–3.3, eqs. 10–19): normalised-entropy confidence, the
 * geometric (anchor) correction t_g, the per-sample attentive correction t_a, and their
 * confidence-weighted combinations t and L_final. Pure tensor functions; call inside `tf.tidy`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor, Tensor1D, Tensor2D, Tensor3D } from "../tensor.ts";
import type { ParamTree } from "./types.ts";
import { linear, planLinear, planSelfAttention, selfAttention } from "./layers.ts";
import type { Plan } from "./params.ts";

/**
 * Normalised entropy H(p) = −Σ_c p_c log(p_c + ε) / log C (eq. 11), clipped to [0, 1], per row of
 * `[B, C]` → `[B]`. Decision (SPEC): divide by log C (so a uniform distribution has H = 1), with
 * ε inside the log (so p_c = 0 contributes 0 and never NaN).
 */
export function normalizedEntropy(p: Tensor2D, eps = 1e-8): Tensor1D {
  const c = p.shape[1];
  const h = tf.neg(tf.sum(tf.mul(p, tf.log(tf.add(p, eps))), 1));
  return tf.clipByValue(tf.div(h, Math.log(c)), 0, 1) as Tensor1D;
}

/** Confidence Cf(p) = 1 − H(p) ∈ [0, 1] (eq. 10), `[B, C]` → `[B]`. */
export function confidence(p: Tensor2D, eps = 1e-8): Tensor1D {
  return tf.sub(1, normalizedEntropy(p, eps)) as Tensor1D;
}

/**
 * Guard added to the confidence weights of eqs. 18–19: with c₁ = c₂ = 0 (two uniform
 * distributions) the result is their mean instead of 0/0. Decision (SPEC): weights are
 * (c + g/2) / (c₁ + c₂ + g), g = 1e-6, which changes non-degenerate results by < 1e-5.
 */
export const CONFIDENCE_GUARD = 1e-6;

/**
 * Identity in the forward pass with a zero gradient (PyTorch's `detach`): tfjs has no public
 * stop-gradient op, so it is a custom gradient.
 */
export function stopGradient<T extends Tensor>(x: T): T {
  const f = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as Tensor),
    gradFunc: (dy: Tensor) => tf.zerosLike(dy),
  }));
  return f(x) as T;
}

/**
 * Confidence-weighted mix (c₁·p₁ + c₂·p₂) / (c₁ + c₂) of two distributions `[B, C]` with
 * c = Cf(p) (eq. 18 for t from t_g, t_a; eq. 19 for L_final from l, t), guarded against c₁+c₂ = 0.
 * With `detach`, the weights c₁, c₂ are constants for the gradient (the `detach-confidence`
 * training variant): gradients reach p₁ and p₂ only through their weighted share.
 */
export function confidenceMix(
  p1: Tensor2D,
  p2: Tensor2D,
  eps = 1e-8,
  detach = false,
): Tensor2D {
  const g = CONFIDENCE_GUARD / 2;
  const weight = (p: Tensor2D) => {
    const c = tf.add(confidence(p, eps), g).expandDims(1) as Tensor2D; // [B, 1]
    return detach ? stopGradient(c) : c;
  };
  const c1 = weight(p1);
  const c2 = weight(p2);
  return tf.div(tf.add(tf.mul(c1, p1), tf.mul(c2, p2)), tf.add(c1, c2)) as Tensor2D;
}

/**
 * Distances d_ij = ‖e − a_ij‖₂ (eq. 13) of every embedding to every anchor:
 * e `[B, D]`, anchors `[C, K, D]` → `[B, C, K]`. A tiny 1e-12 inside the square root keeps the
 * gradient finite when an embedding sits on an anchor.
 */
export function anchorDistances(e: Tensor2D, anchors: Tensor3D): Tensor3D {
  const [c, k, d] = anchors.shape;
  const diff = tf.sub(e.reshape([-1, 1, d]), anchors.reshape([1, c * k, d])); // [B, C·K, D]
  const sq = tf.sum(tf.square(diff), 2); // [B, C·K]
  return tf.sqrt(tf.add(sq, 1e-12)).reshape([-1, c, k]);
}

/**
 * Similarity s_ij = softmax over all C·K anchors of −d_ij/δ (eq. 14), `[B, C, K]` → `[B, C, K]`.
 */
export function anchorSimilarity(dist: Tensor3D, delta: number): Tensor3D {
  const [b, c, k] = dist.shape;
  return tf.softmax(tf.div(tf.neg(dist.reshape([b, c * k])), delta)).reshape([b, c, k]);
}

/**
 * Geometric correction t_g,c = Σ_j s_cj (eqs. 12, 15: the anchor labels m_ij are one-hot of
 * class i, so the sum over anchors with their labels is the sum over each class's K anchors).
 */
export function geometricCorrection(dist: Tensor3D, delta: number): Tensor2D {
  return tf.sum(anchorSimilarity(dist, delta), 2) as Tensor2D;
}

/**
 * Declares the attentive correction (eqs. 16–17): a self-attention of width D/T over the T
 * tokens of one embedding (`rb/attention/{wq, wk, wv, wo}`) and W_out: D → C (`rb/out`).
 */
export function planAttentiveCorrection(
  plan: Plan,
  embedDim: number,
  tokens: number,
  classes: number,
): void {
  planSelfAttention(plan, "rb/attention", embedDim / tokens, tokens, tokens);
  planLinear(plan, "rb/out", embedDim, classes, 1);
}

/**
 * Attentive correction t_a = softmax(W_out · MHSA(e)) (eqs. 16–17). Decision (SPEC): the
 * self-attention runs on each embedding alone. e `[B, D]` is split into T tokens of width D/T
 * (`[B, T, D/T]`), attention mixes these tokens within a sample only, the result is flattened
 * back to `[B, D]` and W_out maps it to C logits. A sample's t_a never depends on the rest of
 * the batch. `p` is the `rb` subtree.
 */
export function attentiveCorrection(
  p: ParamTree,
  e: Tensor2D,
  tokens: number,
  heads: number,
): Tensor2D {
  const [b, d] = e.shape;
  const x = e.reshape([b, tokens, d / tokens]) as Tensor3D; // [B, T, D/T]
  const o = selfAttention(p.attention as ParamTree, x, heads).reshape([b, d]) as Tensor2D;
  return tf.softmax(linear(p.out as ParamTree, o));
}
