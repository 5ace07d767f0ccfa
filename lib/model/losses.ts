/**
 * The losses of paper §3.4 (eqs. 20–23) and label smoothing (Table 8). Pure tensor functions;
 * call inside `tf.tidy` / `tf.variableGrads`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Scalar, Tensor2D, Tensor3D } from "../tensor.ts";
import type { GrefelLosses, GrefelOutputs, ParamTree } from "./types.ts";
import { anchorsOn, type ModelConfig, rbOn, rbTrainingSwitches } from "./config.ts";
import { leaf, sub } from "./params.ts";

/**
 * Label smoothing (Table 8): y = (1 − ε)·onehot + ε/C with ε = s/100 (the paper's "smoothing
 * term" s; s = 11 is its choice). Returns the target distributions `[B, C]`.
 * @throws Error naming a label outside 0..C−1 or s outside [0, 100].
 */
export function smoothLabels(
  labels: Int32Array | number[],
  classes: number,
  smoothing: number,
): Tensor2D {
  if (!(smoothing >= 0 && smoothing <= 100)) {
    throw new Error(`smoothLabels: smoothing term ${smoothing} not in [0, 100]`);
  }
  const eps = smoothing / 100;
  const n = labels.length;
  const y = new Float32Array(n * classes).fill(eps / classes);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new Error(`smoothLabels: label ${c} at index ${i} not in 0..${classes - 1}`);
    }
    y[i * classes + c] += 1 - eps;
  }
  return tf.tensor2d(y, [n, classes]);
}

/** L_cls = −mean_b Σ_c y_bc log clip(L_final,bc, ε, 1) (eq. 20). */
export function classLoss(final: Tensor2D, target: Tensor2D, logClamp = 1e-7): Scalar {
  const logp = tf.log(tf.clipByValue(final, logClamp, 1));
  return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), 1)));
}

/**
 * Squared distances ‖a_p − a_q‖² between all anchors `[C, K, D]` → `[C·K, C·K]` (via the Gram
 * matrix, clamped at 0).
 */
function anchorPairDistances(anchors: Tensor3D): Tensor2D {
  const [c, k, d] = anchors.shape;
  const a = anchors.reshape([c * k, d]) as Tensor2D;
  const n = tf.sum(tf.square(a), 1); // [C·K]
  const gram = tf.matMul(a, a, false, true); // [C·K, C·K]
  return tf.relu(tf.sub(tf.add(n.reshape([-1, 1]), n.reshape([1, -1])), tf.mul(2, gram)));
}

/** Constant mask `[C·K, C·K]`: 1 where the two anchors belong to different classes. */
function differentClassMask(c: number, k: number): Tensor2D {
  const m = new Float32Array(c * k * c * k);
  for (let p = 0; p < c * k; p++) {
    for (let q = 0; q < c * k; q++) {
      m[p * c * k + q] = Math.floor(p / k) !== Math.floor(q / k) ? 1 : 0;
    }
  }
  return tf.tensor2d(m, [c * k, c * k]);
}

/**
 * Anchor loss (eq. 21). `paper`: L_a = −mean over pairs of anchors of different classes of
 * ‖a_ij − a_kl‖² / D: unbounded below, as in the paper (its "anchor-loss dominance").
 * `bounded`: −mean min(‖a_ij − a_kl‖² / D, margin), bounded below by −margin and with no gradient
 * for pairs already farther apart than the margin.
 */
export function anchorLoss(
  anchors: Tensor3D,
  variant: "paper" | "bounded" = "paper",
  margin = 2.0,
): Scalar {
  const [c, k, d] = anchors.shape;
  const mask = differentClassMask(c, k);
  let d2 = tf.div(anchorPairDistances(anchors), d);
  if (variant === "bounded") d2 = tf.minimum(d2, margin);
  return tf.neg(tf.div(tf.sum(tf.mul(d2, mask)), tf.sum(mask)));
}

/**
 * Center loss L_c = mean_b min_k ‖e_b − a_{y_b,k}‖² / D (eq. 22), with y_b = argmax of the target
 * distribution (the label, also under label smoothing). Gradients reach both e and the anchors.
 */
export function centerLoss(e: Tensor2D, anchors: Tensor3D, target: Tensor2D): Scalar {
  const [c, k, d] = anchors.shape;
  const diff = tf.sub(e.reshape([-1, 1, d]), anchors.reshape([1, c * k, d])); // [B, C·K, D]
  const sq = tf.sum(tf.square(diff), 2).reshape([-1, c, k]); // [B, C, K]
  const onehot = tf.oneHot(tf.argMax(target, 1), c).toFloat().reshape([-1, c, 1]); // [B, C, 1]
  const own = tf.sum(tf.mul(sq, onehot), 1); // [B, K]
  return tf.div(tf.mean(tf.min(own, 1)), d);
}

/**
 * Trust τ of the `trust-ramp` variant (ARBEx `train.py`: τ = iteration / total): rises linearly
 * from 0 at the start of training to 1 after `rampEpochs` epochs, then stays at 1.
 * @param progress training progress in epochs (epoch index + fraction of the epoch done).
 */
export function trustAt(progress: number, rampEpochs: number): number {
  return Math.min(1, Math.max(0, progress / rampEpochs));
}

/** Options of {@linkcode grefelLoss}. */
export interface LossOptions {
  /**
   * Training progress in epochs (epoch index + fraction done); drives the `trust-ramp` variant's
   * τ. Absent: τ = 1 (the end of the ramp).
   */
  progress?: number;
}

/**
 * The total loss L = λ_cls·L_cls + λ_a·L_a + λ_c·L_c (eq. 23), trained as `model.rb.training`
 * says (see `RB_TRAINING_VARIANTS`):
 * - `paper`: L_cls on L_final (eq. 20).
 * - `trust-ramp`: L_cls on (1 − τ)·l + τ·L_final, and λ_a, λ_c multiplied by τ ({@linkcode trustAt}).
 * - `aux-primary`: plus λ_aux·L_cls(l), reported as `aux`.
 * - `aux-branches`: plus λ_aux·(L_cls(l) + L_cls(t_g) + L_cls(t_a)) over the branches that are on,
 *   reported as `aux`.
 * A term whose λ is 0 is switched off (not computed, reported as 0); L_a and L_c are 0 when the
 * anchors are off. With reliability balancing off, L_final = l and the variants change nothing
 * but the λ_a, λ_c ramp.
 * @param target target distributions `[B, C]` (see {@linkcode smoothLabels}).
 */
export function grefelLoss(
  params: ParamTree,
  outputs: GrefelOutputs,
  target: Tensor2D,
  cfg: ModelConfig,
  opts: LossOptions = {},
): GrefelLosses {
  const l = cfg.loss;
  if (target.shape[0] !== outputs.final.shape[0] || target.shape[1] !== cfg.classes) {
    throw new Error(
      `grefelLoss: target shape [${target.shape}] does not match [${
        outputs.final.shape[0]
      }, ${cfg.classes}]`,
    );
  }
  const switches = rbTrainingSwitches(cfg.rb.training);
  const trust = switches.has("trust-ramp")
    ? trustAt(opts.progress ?? Infinity, cfg.rb.trustRampEpochs)
    : 1;
  const zero = () => tf.scalar(0);
  const prediction = trust < 1
    ? tf.add(tf.mul(1 - trust, outputs.primary), tf.mul(trust, outputs.final)) as Tensor2D
    : outputs.final;
  const cls = l.cls > 0 ? classLoss(prediction, target, l.logClamp) : zero();
  const auxOn = cfg.rb.auxWeight > 0 && rbOn(cfg);
  const aux = auxOn && switches.has("aux-branches")
    ? tf.addN(
      [outputs.primary, outputs.geometric, outputs.attentive]
        .filter((p): p is Tensor2D => p !== null)
        .map((p) => classLoss(p, target, l.logClamp)),
    ) as Scalar
    : auxOn && switches.has("aux-primary")
    ? classLoss(outputs.primary, target, l.logClamp)
    : zero();
  const anchors = anchorsOn(cfg) ? leaf(sub(params, "rb"), "anchors") as Tensor3D : null;
  const anchor = anchors && l.anchor > 0
    ? anchorLoss(anchors, l.anchorLossVariant, l.anchorMargin)
    : zero();
  const center = anchors && l.center > 0 ? centerLoss(outputs.embedding, anchors, target) : zero();
  const total = tf.addN([
    tf.mul(l.cls, cls),
    tf.mul(l.anchor * trust, anchor),
    tf.mul(l.center * trust, center),
    tf.mul(cfg.rb.auxWeight, aux),
  ]) as Scalar;
  return { total, cls, anchor, center, aux, trust };
}
