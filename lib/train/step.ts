/**
 * One training step: forward in training mode, the loss of eq. 23 (as `model.rb.training` says),
 * gradients, a finiteness check, and the Adam update. It also returns what the branch
 * instrumentation needs: each branch's training-mode distributions and the squared gradient norm
 * reaching each part of the model.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Optimizer, Scalar, Tensor, Tensor1D } from "../tensor.ts";
import type { ModelConfig } from "../model/config.ts";
import type { GrefelInputs, GrefelOutputs, ParamTree } from "../model/types.ts";
import type { BranchDistributions } from "../eval/branches.ts";
import type { ModelFns } from "./train.ts";
import { GRAD_GROUPS, type GradGroup } from "../run/log.ts";

export { GRAD_GROUPS, type GradGroup };

/**
 * The part a weight path belongs to: the head, the anchors, the attentive correction, the
 * fine-tuned extractor block (`finetune/…`), or the rest of the backbone.
 */
export function gradGroupOf(path: string): GradGroup {
  if (path.startsWith("head/")) return "head";
  if (path === "rb/anchors") return "anchors";
  if (path.startsWith("rb/")) return "attentive";
  if (path.startsWith("finetune/")) return "finetune";
  return "backbone";
}

/**
 * Whether a weight path is computed per sample before the embedding e (the backbone and a
 * fine-tuned extractor block): what data-parallel workers hold and differentiate.
 */
export function beforeEmbedding(path: string): boolean {
  const g = gradGroupOf(path);
  return g === "backbone" || g === "finetune";
}

const GROUPS_BY_PARAMS = new WeakMap<ParamTree, Map<string, GradGroup>>();

/** Variable name → gradient group of a weight tree, computed once per tree. */
function groupsOf(model: ModelFns, params: ParamTree): Map<string, GradGroup> {
  let m = GROUPS_BY_PARAMS.get(params);
  if (!m) {
    m = new Map();
    for (const [path, v] of model.flattenParams(params)) m.set(v.name, gradGroupOf(path));
    GROUPS_BY_PARAMS.set(params, m);
  }
  return m;
}

/** A mini-batch. */
export interface StepBatch {
  /** Model inputs (the caller disposes them). */
  inputs: GrefelInputs;
  /** Class per sample. */
  labels: Int32Array;
}

/** Per-step settings. */
export interface StepOptions {
  /** Seed of this step's dropout masks. */
  dropoutSeed: number;
  /** Training progress in epochs (epoch index + fraction done), for the trust ramp. */
  progress: number;
  /** Make the loss NaN (tests of non-finite-loss handling). */
  injectNan?: boolean;
}

/** What {@linkcode trainStep} did. */
export interface StepResult {
  /** Whether every loss term was finite; when false no update was applied. */
  finite: boolean;
  /** Loss terms: total, L_cls, L_a, L_c, auxiliary L_cls on l. */
  losses: { total: number; cls: number; anchor: number; center: number; aux: number };
  /** Trust τ of the trust ramp (1 when off). */
  trust: number;
  /** Training-mode distributions of the batch, `[B, C]` each. */
  dists: BranchDistributions;
  /** Squared gradient norm reaching each part of the model. */
  gradSq: Record<GradGroup, number>;
}

/** Weights and optimiser a step updates. */
export interface StepState {
  /** Model functions. */
  model: ModelFns;
  /** Weights. */
  params: ParamTree;
  /** Optimiser (its learning rate is set by the caller). */
  optimizer: Optimizer;
  /** Model section of the config. */
  cfg: ModelConfig;
  /** Label-smoothing term s (Table 8). */
  smoothing: number;
}

/** What a step keeps from its gradient closure for read-back (see {@linkcode stepLoss}). */
export interface StepKept {
  /** `[5]`: total, L_cls, L_a, L_c, aux. */
  losses: Tensor1D;
  /** primary, geometric, attentive, correction, final (`[0]` for an absent branch). */
  branches: Tensor[];
  /** Trust τ of the trust ramp. */
  trust: number;
}

/**
 * The loss of eq. 23 on `out`, inside a gradient closure: returns the total (NaN when
 * `opts.injectNan`) and keeps the loss terms and branch distributions for read-back.
 */
export function stepLoss(
  s: StepState,
  out: GrefelOutputs,
  target: tf.Tensor2D,
  opts: StepOptions,
): { total: Scalar; kept: StepKept } {
  const l = s.model.grefelLoss(s.params, out, target, s.cfg, { progress: opts.progress });
  const total = opts.injectNan ? l.total.mul(NaN) as Scalar : l.total;
  const losses = tf.keep(tf.stack([total, l.cls, l.anchor, l.center, l.aux]) as tf.Tensor1D);
  const branches = [out.primary, out.geometric, out.attentive, out.correction, out.final]
    .map((t) => tf.keep(t ?? tf.zeros([0])));
  return { total, kept: { losses, branches, trust: l.trust } };
}

/**
 * The end of a step: squared gradient norms per group, read-back, the finiteness check and the
 * update (skipped when a loss term is not finite). Disposes `grads` and the kept tensors.
 * @param grads gradient per variable name, in the order of `trainableVariables`.
 */
export async function finishStep(
  s: StepState,
  grads: tf.NamedTensorMap,
  kept: StepKept,
): Promise<StepResult> {
  const groupOf = groupsOf(s.model, s.params);
  const gradSqT = tf.tidy(() =>
    tf.stack(GRAD_GROUPS.map((g) => {
      const parts = Object.entries(grads)
        .filter(([name]) => groupOf.get(name) === g)
        .map(([, t]) => tf.sum(tf.square(t)));
      return parts.length ? tf.addN(parts) : tf.scalar(0);
    }))
  );
  const lv = (await kept.losses.data()) as Float32Array;
  const gv = (await gradSqT.data()) as Float32Array;
  const read = async (t: Tensor) => (t.size ? (await t.data()) as Float32Array : null);
  const [primary, geometric, attentive, correction, final] = await Promise.all(
    kept.branches.map(read),
  );
  tf.dispose([kept.losses, ...kept.branches, gradSqT]);
  const finite = [0, 1, 2, 3, 4].every((k) => Number.isFinite(lv[k]));
  if (finite) {
    s.optimizer.applyGradients(grads as unknown as Parameters<Optimizer["applyGradients"]>[0]);
  }
  tf.dispose(Object.values(grads));
  return {
    finite,
    losses: { total: lv[0], cls: lv[1], anchor: lv[2], center: lv[3], aux: lv[4] },
    trust: kept.trust,
    dists: { primary: primary!, geometric, attentive, correction, final: final! },
    gradSq: Object.fromEntries(GRAD_GROUPS.map((g, i) => [g, gv[i]])) as Record<GradGroup, number>,
  };
}

/**
 * Runs one training step on `batch` and applies it unless a loss term is non-finite. Leaves no
 * tensors behind. Reads back only the loss terms, four gradient norms and the batch's
 * distributions.
 */
export async function trainStep(
  s: StepState,
  batch: StepBatch,
  opts: StepOptions,
): Promise<StepResult> {
  const { model, params, cfg } = s;
  const target = model.smoothLabels(batch.labels, cfg.classes, s.smoothing);
  const vars = model.trainableVariables(params);
  let kept: StepKept | null = null;
  const { grads, value } = tf.variableGrads(() => {
    const out = model.grefelForward(params, batch.inputs, cfg, {
      training: true,
      seed: opts.dropoutSeed,
    });
    const r = stepLoss(s, out, target, opts);
    kept = r.kept;
    return r.total;
  }, vars);
  tf.dispose([value, target]);
  return await finishStep(s, grads, kept!);
}
