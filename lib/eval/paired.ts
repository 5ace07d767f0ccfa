/**
 * Paired comparison of two configurations trained with the same seeds and tested on the same
 * images: the difference of their accuracies with a 95% interval, a verdict, and the smallest
 * effect the design could detect.
 *
 * Method (one function, cited by the notebooks and README): a two-level paired bootstrap. Each
 * replicate resamples the seeds with replacement (keeping both arms' runs of a seed together) and,
 * independently, the test images with replacement (the same images for every run), then takes the
 * mean over the drawn seeds of acc_A − acc_B on the drawn images. The 2.5% and 97.5% quantiles of
 * the replicates are the interval. Resampling the seeds carries the between-seed spread (training
 * noise); resampling the images carries the test set's sampling noise; pairing by seed and image
 * removes what the two arms share. With one seed, the interval is the image bootstrap alone and says
 * nothing about training noise (the verdict says so).
 *
 * @module
 */
import { mulberry32 } from "../random.ts";

/** Per-seed correctness of one arm: `correct[s][i]` is 1 when run `s` got test image `i` right. */
export type Correctness = readonly (Uint8Array | readonly number[])[];

/** Verdict on a claimed direction. */
export type Verdict = "holds" | "is contradicted" | "not resolved";

/** Result of {@linkcode pairedDifference}. */
export interface PairedDifference {
  /** Seeds (runs per arm). */
  seeds: number;
  /** Test images. */
  images: number;
  /** Mean over seeds of acc_A − acc_B. */
  difference: number;
  /** 95% bootstrap interval of the difference. */
  interval: [number, number];
  /** Bootstrap standard error of the difference. */
  standardError: number;
  /**
   * Smallest true difference this design would detect with 80% power at the 5% level:
   * (1.96 + 0.84) · standard error.
   */
  detectable: number;
  /** Bootstrap replicates drawn. */
  replicates: number;
  /** Mean accuracy of each arm over seeds. */
  accuracy: { a: number; b: number };
}

/** Options of {@linkcode pairedDifference}. */
export interface PairedOptions {
  /** Bootstrap replicates (default 2000). */
  replicates?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
}

function check(a: Correctness, b: Correctness): { s: number; n: number } {
  if (a.length === 0 || a.length !== b.length) {
    throw new Error(
      `pairedDifference: arms have ${a.length} and ${b.length} seeds (need equal, ≥ 1)`,
    );
  }
  const n = a[0].length;
  for (const [arm, runs] of [["A", a], ["B", b]] as const) {
    runs.forEach((r, s) => {
      if (r.length !== n) {
        throw new Error(
          `pairedDifference: arm ${arm} seed ${s} has ${r.length} images, expected ${n}`,
        );
      }
    });
  }
  if (n === 0) throw new Error("pairedDifference: no test images");
  return { s: a.length, n };
}

function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Paired difference acc_A − acc_B with a two-level bootstrap interval (see the module doc).
 * Deterministic for a given `seed`.
 * @throws Error when the arms differ in seeds or images.
 */
export function pairedDifference(
  a: Correctness,
  b: Correctness,
  opts: PairedOptions = {},
): PairedDifference {
  const { s, n } = check(a, b);
  const reps = opts.replicates ?? 2000;
  // d[seed][image] ∈ {−1, 0, 1}: the paired per-image difference of one seed.
  const d = Array.from({ length: s }, (_, k) => {
    const row = new Int8Array(n);
    for (let i = 0; i < n; i++) row[i] = (a[k][i] ? 1 : 0) - (b[k][i] ? 1 : 0);
    return row;
  });
  const mean = (xs: ArrayLike<number>) => {
    let t = 0;
    for (let i = 0; i < xs.length; i++) t += xs[i];
    return t / xs.length;
  };
  const accOf = (runs: Correctness) =>
    mean(runs.map((r) => mean(Array.from(r, (x) => (x ? 1 : 0)))));
  const difference = mean(d.map((row) => mean(row)));
  const rand = mulberry32(opts.seed ?? 0);
  const draws = new Float64Array(reps);
  const idx = new Int32Array(n);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rand() * n);
    let total = 0;
    for (let k = 0; k < s; k++) {
      const row = d[s === 1 ? 0 : Math.floor(rand() * s)];
      let t = 0;
      for (let i = 0; i < n; i++) t += row[idx[i]];
      total += t / n;
    }
    draws[r] = total / s;
  }
  const m = mean(draws);
  const se = Math.sqrt(draws.reduce((t, x) => t + (x - m) ** 2, 0) / Math.max(1, reps - 1));
  draws.sort();
  return {
    seeds: s,
    images: n,
    difference,
    interval: [quantile(draws, 0.025), quantile(draws, 0.975)],
    standardError: se,
    detectable: (1.96 + 0.84) * se,
    replicates: reps,
    accuracy: { a: accOf(a), b: accOf(b) },
  };
}

/**
 * The verdict on the claim "A is better than B" (`direction` 1) or "A is worse than B" (−1):
 * `holds` when the 95% interval excludes zero in the claimed direction, `is contradicted` when it
 * excludes zero the other way, `not resolved` otherwise.
 */
export function verdict(diff: Pick<PairedDifference, "interval">, direction: 1 | -1 = 1): Verdict {
  const [lo, hi] = diff.interval.map((x) => direction * x).sort((x, y) => x - y);
  if (lo > 0) return "holds";
  if (hi < 0) return "is contradicted";
  return "not resolved";
}

/** One line for a table or a claim: "+1.23 points [0.41, 2.05] (holds; detectable ≥ 1.1)". */
export function formatDifference(diff: PairedDifference, v?: Verdict): string {
  const p = (x: number) => (100 * x).toFixed(2);
  const sign = diff.difference >= 0 ? "+" : "";
  return `${sign}${p(diff.difference)} points [${p(diff.interval[0])}, ${p(diff.interval[1])}]` +
    ` (${v ? `${v}; ` : ""}${diff.seeds} seed${diff.seeds === 1 ? "" : "s"}, detectable ≥ ${
      p(diff.detectable)
    })`;
}

/** Result of {@linkcode pairedMeanDifference}. */
export interface PairedMeanDifference {
  /** Paired items (test images). */
  images: number;
  /** Mean over items of a − b. */
  difference: number;
  /** 95% bootstrap interval of the difference (items resampled). */
  interval: [number, number];
  /** Bootstrap standard error of the difference. */
  standardError: number;
  /** Smallest true difference detectable with 80% power at the 5% level: 2.8 · standard error. */
  detectable: number;
  /** Bootstrap replicates drawn. */
  replicates: number;
}

/**
 * Mean of a per-item quantity's paired difference a − b over the items of one run (e.g. the
 * standard deviation of each test image's corrected against its primary distribution), with a
 * 95% bootstrap interval over items. {@linkcode verdict} reads it as {@linkcode pairedDifference}'s.
 * Deterministic for a given `seed`.
 * @throws Error when the lengths differ, there are no items, or a value is not finite.
 */
export function pairedMeanDifference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  opts: PairedOptions = {},
): PairedMeanDifference {
  const n = a.length;
  if (b.length !== n) throw new Error(`pairedMeanDifference: ${n} items against ${b.length}`);
  if (n === 0) throw new Error("pairedMeanDifference: no items");
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    d[i] = a[i] - b[i];
    if (!Number.isFinite(d[i])) throw new Error(`pairedMeanDifference: item ${i} is not finite`);
  }
  const reps = opts.replicates ?? 2000;
  const rand = mulberry32(opts.seed ?? 0);
  const draws = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let t = 0;
    for (let i = 0; i < n; i++) t += d[Math.floor(rand() * n)];
    draws[r] = t / n;
  }
  const difference = d.reduce((s, x) => s + x, 0) / n;
  const m = draws.reduce((s, x) => s + x, 0) / reps;
  const se = Math.sqrt(draws.reduce((t, x) => t + (x - m) ** 2, 0) / Math.max(1, reps - 1));
  draws.sort();
  return {
    images: n,
    difference,
    interval: [quantile(draws, 0.025), quantile(draws, 0.975)],
    standardError: se,
    detectable: (1.96 + 0.84) * se,
    replicates: reps,
  };
}

/**
 * Result of {@linkcode pairedStatisticDifference}: {@linkcode PairedDifference}'s fields for any
 * statistic, with each arm's mean statistic over seeds (on all items) in place of its accuracy.
 */
export type PairedStatisticDifference = Omit<PairedDifference, "accuracy"> & {
  /** Mean of each arm's statistic over seeds, on all items. */
  value: { a: number; b: number };
};

/**
 * {@linkcode pairedDifference}'s two-level bootstrap (seeds and test images resampled, the two arms
 * of a seed kept together, the same images for every run) for any statistic of a run's items, not
 * only accuracy: `statistic(arm, seed, items)` computes the statistic of run `seed` of `arm` on
 * the items listed in `items` (repeats allowed), or on all of them when `items` is null. Used for
 * set-level scores such as Davies–Bouldin of the test embeddings, which are not a mean over
 * images. With `statistic` = accuracy it draws exactly {@linkcode pairedDifference}'s replicates
 * (the same random stream in the same order), so the two agree. Deterministic for a given `seed`.
 * @throws Error when there are no seeds or no items, or a statistic is not finite.
 */
export function pairedStatisticDifference(
  seeds: number,
  items: number,
  statistic: (arm: "a" | "b", seed: number, items: Int32Array | null) => number,
  opts: PairedOptions = {},
): PairedStatisticDifference {
  if (!(seeds >= 1) || !(items >= 1)) {
    throw new Error(`pairedStatisticDifference: ${seeds} seeds and ${items} items (need ≥ 1 each)`);
  }
  const stat = (arm: "a" | "b", k: number, idx: Int32Array | null) => {
    const v = statistic(arm, k, idx);
    if (!Number.isFinite(v)) {
      throw new Error(`pairedStatisticDifference: arm ${arm} seed ${k} gave ${v}`);
    }
    return v;
  };
  const reps = opts.replicates ?? 2000;
  const mean = (f: (k: number) => number) => {
    let t = 0;
    for (let k = 0; k < seeds; k++) t += f(k);
    return t / seeds;
  };
  const va = mean((k) => stat("a", k, null)), vb = mean((k) => stat("b", k, null));
  const rand = mulberry32(opts.seed ?? 0);
  const draws = new Float64Array(reps);
  const idx = new Int32Array(items);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < items; i++) idx[i] = Math.floor(rand() * items);
    let total = 0;
    for (let k = 0; k < seeds; k++) {
      const s = seeds === 1 ? 0 : Math.floor(rand() * seeds);
      total += stat("a", s, idx) - stat("b", s, idx);
    }
    draws[r] = total / seeds;
  }
  const m = draws.reduce((s, x) => s + x, 0) / reps;
  const se = Math.sqrt(draws.reduce((t, x) => t + (x - m) ** 2, 0) / Math.max(1, reps - 1));
  draws.sort();
  return {
    seeds,
    images: items,
    difference: va - vb,
    interval: [quantile(draws, 0.025), quantile(draws, 0.975)],
    standardError: se,
    detectable: (1.96 + 0.84) * se,
    replicates: reps,
    value: { a: va, b: vb },
  };
}
