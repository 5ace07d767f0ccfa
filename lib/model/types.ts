/**
 * The model's public contract, shared by training and evaluation.
 * @module
 */
import type { Scalar, Tensor2D, Variable } from "../tensor.ts";
import type { FeatureMaps } from "../extractors/types.ts";

/**
 * Weights held as a named tree (face-api.js style): every leaf is a `Variable` named by its
 * tree path (`fusion/block0/attn/wq/w`), so a checkpoint names every weight. The tfjs variable
 * name is that path plus `#<n>` (unique per model instance, so several models can live in one
 * engine); `flattenParams` returns the plain paths. Non-trainable state (batch-norm running
 * statistics) is held in the same tree with `trainable = false`.
 */
export interface ParamTree {
  /** A weight, or a sub-tree, by name. */
  [name: string]: Variable | ParamTree;
}

/** Model inputs: the extractor's feature maps (or the same read back from the feature cache). */
export type GrefelInputs = FeatureMaps;

/** Everything a forward pass produces. Distributions are `[B, C]` and sum to 1. */
export interface GrefelOutputs {
  /** Embedding e, `[B, D]`. */
  embedding: Tensor2D;
  /** Primary distribution l = softmax(f(e)) (eq. 9). */
  primary: Tensor2D;
  /** Geometric correction t_g (eq. 15); null when anchors are off. */
  geometric: Tensor2D | null;
  /** Attentive correction t_a (eqs. 16–17); null when MHSA is off. */
  attentive: Tensor2D | null;
  /** Combined correction t (eq. 18); null when reliability balancing is off. */
  correction: Tensor2D | null;
  /** L_final (eq. 19); equals `primary` when reliability balancing is off. */
  final: Tensor2D;
}

/** The loss terms of eqs. 20–23 (scalars). Terms switched off are 0. */
export interface GrefelLosses {
  /** λ_cls·L_cls + τ·(λ_a·L_a + λ_c·L_c) + λ_aux·L_aux (τ = 1 unless `trust-ramp`). */
  total: Scalar;
  /** L_cls (eq. 20; under `trust-ramp` on (1 − τ)·l + τ·L_final). */
  cls: Scalar;
  /** L_a (eq. 21). */
  anchor: Scalar;
  /** L_c (eq. 22). */
  center: Scalar;
  /** The auxiliary L_cls of `aux-primary` (on l) or `aux-branches` (on l, t_g and t_a); 0 when off. */
  aux: Scalar;
  /** Trust τ of the `trust-ramp` variant at this step (1 when off). */
  trust: number;
}
