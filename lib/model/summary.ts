/**
 * Analytic size of the trainable model: parameters and multiply-accumulates per image, counted
 * from the same plan that {@linkcode initGrefel} builds its weights from.
 *
 * FLOP convention (thop's, which POSTER++ and hence the GReFEL paper use: POSTER_V2's
 * `compute_param_flop()` calls `thop.profile`): `flops` counts one multiply-accumulate per
 * multiply-add of every Linear and convolution layer (`k·k·C_in·C_out` per output position,
 * `in·out` per token, biases not counted), plus the anchor distances (C·K·D), for one image's
 * forward pass. Reasoning check that thop's "FLOPs" are MACs: POSTER++'s 2-block, 148-token,
 * D = 768 ViT alone is 148·(4·768² + 2·768·3072) ≈ 1.05 G multiply-adds per block, and its IR-50
 * trunk at 112 px ≈ 5.5 G, which only fits the reported 8.4 G total if each multiply-add counts
 * once. Not counted, as in thop: the attention products QKᵀ and AV (`q @ k` is not a module;
 * reported separately as `attentionFlops`), normalisation, softmax, activations, additions.
 *
 * Parameters follow PyTorch's `parameters()`: batch-norm running statistics are buffers, reported
 * separately and not counted. Every parameter of the model is counted (unlike thop, which skips
 * parameters held directly by non-leaf modules such as cls token and position embedding).
 *
 * @module
 */
import type { ModelConfig } from "./config.ts";
import { GROUPS, planGrefel } from "./grefel.ts";

/** Parameters and MACs of one group. */
export interface SizeCount {
  /** Parameters (buffers excluded). */
  params: number;
  /** Multiply-accumulates per image forward (thop's convention, see the module doc). */
  flops: number;
}

/** Size of the trainable GReFEL model for one config. */
export interface ModelSummary {
  /** Parameters (all trainable; the frozen extractors are not part of this model). */
  params: number;
  /** Trainable parameters. */
  trainableParams: number;
  /** Batch-norm running statistics (non-trainable, not counted in `params`). */
  buffers: number;
  /** MACs per image forward, thop's convention (Linear/Conv layers and anchor distances). */
  flops: number;
  /** MACs of the attention products QKᵀ and AV per image (not in `flops`, as in thop). */
  attentionFlops: number;
  /** Per group: crossAttention, embed, fusion, head, rb.anchors, rb.attentive. */
  breakdown: Record<string, SizeCount>;
}

/** Counts parameters and per-image MACs of the trainable model for `cfg` (no tensors created). */
export function summarizeModel(cfg: ModelConfig): ModelSummary {
  const plan = planGrefel(cfg);
  const breakdown: Record<string, SizeCount> = {};
  for (const g of GROUPS) breakdown[g] = { params: 0, flops: 0 };
  let params = 0;
  let trainableParams = 0;
  let buffers = 0;
  for (const p of plan.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.buffer) {
      buffers += n;
      continue;
    }
    params += n;
    if (p.trainable) trainableParams += n;
    breakdown[p.group].params += n;
  }
  let flops = 0;
  let attentionFlops = 0;
  for (const m of plan.macs) {
    if (m.activationProduct) {
      attentionFlops += m.macs;
      continue;
    }
    flops += m.macs;
    breakdown[m.group].flops += m.macs;
  }
  return { params, trainableParams, buffers, flops, attentionFlops, breakdown };
}

/** `cfg` with reliability balancing switched off (anchors and attentive correction). */
export function withoutReliabilityBalancing(cfg: ModelConfig): ModelConfig {
  return { ...cfg, rb: { ...cfg.rb, anchors: false, attentive: false } };
}
