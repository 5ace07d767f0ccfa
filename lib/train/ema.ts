/**
 * Weight averaging for evaluation (`train.emaDecay`): an exponential moving average of every
 * weight, the averaged model being the one that is validated, checkpointed as `best` and tested.
 *
 * The average follows TensorFlow's `tf.train.ExponentialMovingAverage` with `num_updates`: after
 * step t (counted from 0), `w̄ ← d_t·w̄ + (1 − d_t)·w` with `d_t = min(decay, (1 + t)/(10 + t))`, so
 * the first steps are not dominated by the initial weights. Like timm's `ModelEmaV2` it averages
 * every leaf of the parameter tree, the batch norms' running statistics included, so that the
 * averaged model's statistics belong to averaged weights rather than to the last few batches.
 * Why: with the paper's class-balanced epochs of 4,000 images and batch-norm momentum 0.1, the
 * validation accuracy of single weights moves by 2–8 points from one epoch to the next on FER+
 * (the neutral/sadness boundary swings), so early stopping and the best checkpoint select on noise.
 * The paper does not average; `emaDecay` 0 (the default) trains and evaluates as it does.
 *
 * The training step always updates the raw weights: {@linkcode WeightAverage.withAveraged} swaps
 * the averages in for an evaluation and swaps them back.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Variable } from "../tensor.ts";

/**
 * The decay of update `step` (0-based): `min(decay, (1 + step) / (10 + step))`.
 * @throws RangeError when `decay` is outside (0, 1) or `step` is negative.
 */
export function emaDecayAt(decay: number, step: number): number {
  if (!(decay > 0 && decay < 1)) throw new RangeError(`EMA decay must be in (0, 1), got ${decay}`);
  if (!(step >= 0)) throw new RangeError(`EMA step must be ≥ 0, got ${step}`);
  return Math.min(decay, (1 + step) / (10 + step));
}

/** A moving average of a set of named variables; see the module doc. */
export class WeightAverage {
  /** Whether the variables currently hold the averages (inside `withAveraged`). */
  private swapped = false;

  private constructor(
    private readonly vars: ReadonlyMap<string, Variable>,
    private readonly shadows: Map<string, Variable>,
    /** The decay ceiling (`train.emaDecay`). */
    readonly decay: number,
  ) {}

  /**
   * Starts an average at the variables' current values (the initialised, or restored, model).
   * @throws RangeError when `decay` is outside (0, 1).
   */
  static start(vars: ReadonlyMap<string, Variable>, decay: number): WeightAverage {
    emaDecayAt(decay, 0);
    const shadows = new Map<string, Variable>();
    for (const [path, v] of vars) shadows.set(path, tf.variable(v, false));
    return new WeightAverage(vars, shadows, decay);
  }

  /** Folds the variables' values after update `step` (0-based) into the average. */
  update(step: number): void {
    if (this.swapped) throw new Error("WeightAverage.update inside withAveraged");
    const d = emaDecayAt(this.decay, step);
    tf.tidy(() => {
      const keep = tf.scalar(d), mix = tf.scalar(1 - d);
      for (const [path, v] of this.vars) {
        const s = this.shadows.get(path)!;
        s.assign(tf.add(tf.mul(s, keep), tf.mul(v, mix)));
      }
    });
  }

  /** Exchanges the variables' values and the averages (its own inverse). */
  private swap(): void {
    tf.tidy(() => {
      for (const [path, v] of this.vars) {
        const s = this.shadows.get(path)!;
        const raw = tf.clone(v);
        v.assign(s);
        s.assign(raw);
      }
    });
    this.swapped = !this.swapped;
  }

  /** Runs `fn` with the averages in the variables; the raw weights are back afterwards (also on throw). */
  async withAveraged<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.swapped) throw new Error("WeightAverage.withAveraged is not reentrant");
    this.swap();
    try {
      return await fn();
    } finally {
      this.swap();
    }
  }

  /** The averages by path (the caller owns nothing; read them before the next update). */
  averages(): ReadonlyMap<string, Variable> {
    return this.shadows;
  }

  /** Writes the averages into the variables for good (training is over; the raw weights are dropped). */
  commit(): void {
    if (this.swapped) throw new Error("WeightAverage.commit inside withAveraged");
    tf.tidy(() => {
      for (const [path, v] of this.vars) v.assign(this.shadows.get(path)!);
    });
  }

  /** Frees the averages. */
  dispose(): void {
    for (const s of this.shadows.values()) s.dispose();
    this.shadows.clear();
  }
}
