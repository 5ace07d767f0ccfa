/**
 * Label-noise injection for the noise ablations (paper Tables 5 and 7, SPEC §5): a seeded
 * fraction of the training labels is flipped to a different class, chosen uniformly among the
 * other C − 1 classes. Exactly `round(rate · n)` labels are flipped (a fixed count rather than an
 * independent coin per label, so the realised rate equals the requested one). The test split is
 * never touched: passing a test sample is an error.
 * @module
 */
import { Rng, seedOf } from "./rng.ts";
import type { DatasetSample } from "./types.ts";

/** Result of {@linkcode injectLabelNoise}. */
export interface NoisyLabels {
  /** The labels after flipping (same order as the input). */
  labels: number[];
  /** Indices (into the input) whose label was flipped, ascending. */
  flipped: number[];
}

/**
 * Flips `round(rate · n)` labels of `samples` (train/valid only), seeded.
 * @throws Error when `rate` is outside [0, 1], there are fewer than 2 classes, or a sample
 * belongs to the test split.
 */
export function injectLabelNoise(
  samples: readonly Pick<DatasetSample, "label" | "split">[],
  numClasses: number,
  rate: number,
  seed: number,
): NoisyLabels {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`label-noise rate must be in [0, 1], got ${rate}`);
  if (numClasses < 2 && rate > 0) throw new Error("label noise needs at least 2 classes");
  const test = samples.findIndex((s) => s.split === "test");
  if (test >= 0) {
    throw new Error(
      `refusing to add label noise to the test split (sample ${test} is a test sample)`,
    );
  }
  const labels = samples.map((s) => s.label);
  const r = new Rng(seedOf(seed, 0x4015e));
  const order = r.shuffle(labels.map((_, i) => i));
  const flipped = order.slice(0, Math.round(rate * labels.length)).sort((a, b) => a - b);
  for (const i of flipped) {
    const other = r.int(numClasses - 1);
    labels[i] = other >= labels[i] ? other + 1 : other;
  }
  return { labels, flipped };
}

/** Returns copies of `samples` carrying the noisy labels of {@linkcode injectLabelNoise}. */
export function withLabelNoise<T extends Pick<DatasetSample, "label" | "split">>(
  samples: readonly T[],
  numClasses: number,
  rate: number,
  seed: number,
): { samples: T[]; flipped: number[] } {
  const { labels, flipped } = injectLabelNoise(samples, numClasses, rate, seed);
  return { samples: samples.map((s, i) => ({ ...s, label: labels[i] })), flipped };
}
