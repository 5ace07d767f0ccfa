/**
 * Batch-norm recalibration of the primary head (eq. 9) for evaluation.
 *
 * The paper's head is `Linear → ReLU → Dropout(0.5) → BatchNorm` per hidden layer, so in training
 * the batch norms estimate their running statistics on dropped-out activations (inverted dropout:
 * the mean is kept, the variance is not), and in evaluation they normalise activations without
 * dropout by those statistics: the "variance shift" of Li et al., *Understanding the Disharmony
 * between Dropout and Batch Normalization by Variance Shift* (CVPR 2019). The paper does not say
 * how it evaluates; this module lets a run be evaluated either way and so measures how much of the
 * primary head's deficit is this shift rather than the head itself.
 *
 * Decision: statistics are a cumulative (equal-weight) average over the batches given, the same
 * as PyTorch's `momentum=None`; the variance is each batch's unbiased variance, averaged. Only the
 * head's `bn*` running statistics change; every trainable weight is left as it is.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "./config.ts";
import { grefelForward } from "./grefel.ts";
import type { GrefelInputs, ParamTree } from "./types.ts";

/** What {@linkcode recalibrateHeadBatchNorm} did. */
export interface RecalibrationReport {
  /** Batches the statistics were averaged over. */
  batches: number;
  /** Samples in them. */
  samples: number;
}

/**
 * Re-estimates the running mean and variance of every batch norm of the primary head from
 * `batches` (model inputs, typically training samples without augmentation), with dropout off.
 * Each batch runs the forward pass in training mode with `head.dropout = 0` and batch-norm
 * momentum 1/(i+1) for the i-th batch (i from 0), which makes the running statistics the average
 * of the batches' statistics. The caller owns and disposes the inputs; `next(i)` returns the
 * i-th batch or `null` when done.
 *
 * @throws Error when no batch is given (the statistics would be left as they were).
 */
export async function recalibrateHeadBatchNorm(
  params: ParamTree,
  cfg: ModelConfig,
  next: (i: number) => Promise<GrefelInputs | null> | GrefelInputs | null,
): Promise<RecalibrationReport> {
  let batches = 0, samples = 0;
  for (;;) {
    const inputs = await next(batches);
    if (!inputs) break;
    const b = inputs.landmark[0].shape[0];
    const c: ModelConfig = {
      ...cfg,
      head: { ...cfg.head, dropout: 0, bnMomentum: 1 / (batches + 1) },
    };
    // Training mode for batch statistics; outputs are discarded, only the running stats change.
    tf.tidy(() => {
      grefelForward(params, inputs, c, { training: true, updateStats: true });
    });
    batches++;
    samples += b;
  }
  if (batches === 0) throw new Error("recalibrateHeadBatchNorm: no batches given");
  return { batches, samples };
}
