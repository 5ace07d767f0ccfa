/**
 * Learning-rate schedule and seed derivation for training.
 * @module
 */
import type { TrainConfig } from "./config.ts";

export { mulberry32 } from "../random.ts";

/**
 * Learning rate of epoch `epochIndex` (0-based): lr · γ^epochIndex (paper §4.1: exponential decay
 * γ = 0.995 per epoch). The rate is constant within an epoch.
 */
export function learningRateAt(
  train: Pick<TrainConfig, "lr" | "lrDecay">,
  epochIndex: number,
): number {
  return train.lr * Math.pow(train.lrDecay, epochIndex);
}

/**
 * Derives a 31-bit seed from a base seed and integer coordinates (epoch, step, purpose...) by
 * hashing (FNV-1a over the 32-bit words, then a murmur3 finaliser). Every random draw of training
 * uses a seed derived this way, so a resumed run redraws exactly what an uninterrupted one would.
 */
export function deriveSeed(base: number, ...coords: number[]): number {
  let h = 0x811c9dc5;
  for (const x of [base, ...coords]) {
    let v = x >>> 0;
    for (let i = 0; i < 4; i++) {
      h ^= v & 0xff;
      h = Math.imul(h, 0x01000193);
      v >>>= 8;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) & 0x7fffffff;
}

/** Purposes for {@linkcode deriveSeed}, so two uses never share a stream. */
export const SEED_PURPOSE = {
  init: 1,
  sampler: 2,
  dropout: 3,
  view: 4,
  anchors: 5,
  split: 6,
  recalibrate: 7,
} as const;
