/**
 * Small statistics for the notebooks' tables: mean ± standard deviation over seeds, formatting
 * beside the paper's number, and the wording of a computed claim verdict. No model logic.
 *
 * @module
 */
import type { Verdict } from "../eval/paired.ts";

/** Mean and standard deviation of one table cell over seeds. */
export interface MeanStd {
  /** Mean (NaN with no values). */
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); NaN with fewer than 2 values. */
  std: number;
  /** Number of values (seeds). */
  n: number;
}

/**
 * Mean and sample standard deviation (ddof = 1) of `values`. Decision: the sample std, because
 * the seeds are a sample of the training randomness and the paper reports one run per cell; with a
 * single seed the std is NaN (shown as no ± part), not 0.
 */
export function meanStd(values: readonly number[]): MeanStd {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: NaN, n };
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(v), n };
}

/**
 * Formats `m` as the paper prints it: `scale` 100 turns a fraction into percent. `"71.20 ± 0.35"`
 * with two or more seeds, `"71.20"` with one, `""` with none.
 */
export function formatMeanStd(m: MeanStd, opts: { scale?: number; digits?: number } = {}): string {
  const scale = opts.scale ?? 100, digits = opts.digits ?? 2;
  if (m.n === 0 || !Number.isFinite(m.mean)) return "";
  const mean = (m.mean * scale).toFixed(digits);
  return Number.isFinite(m.std) ? `${mean} ± ${(m.std * scale).toFixed(digits)}` : mean;
}

/** The wording of a claim check: true, false, or null (not tested in this profile). */
export function verdict(holds: boolean | null): string {
  if (holds === null) return "not tested in this profile";
  return holds ? "holds" : "does not hold on this run";
}

/**
 * One line stating a claim of the paper and whether it holds on these results, with the evidence:
 * `claimLine("RB improves accuracy", acc.both > acc.none, "72.1 vs 70.3")`.
 */
export function claimLine(claim: string, holds: boolean | null, evidence: string): string {
  return `${claim}: ${verdict(holds)} (${evidence})`;
}

/**
 * A claim line decided by a paired interval (lib/eval/paired.ts `verdict`: `holds` only when the
 * 95% interval excludes zero in the claimed direction): `pairedClaimLine("RB fixes more than it
 * breaks", verdict(d), formatDifference(d))`.
 */
export function pairedClaimLine(claim: string, v: Verdict, evidence: string): string {
  return `${claim}: ${v} (${evidence})`;
}

/** The index of the largest value (first on ties); -1 for an empty list. NaN never wins. */
export function argmaxOf(values: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) continue;
    if (best < 0 || values[i] > values[best]) best = i;
  }
  return best;
}
