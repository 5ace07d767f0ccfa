/**
 * Paired tests between two classifiers evaluated on the same samples.
 *
 * @module
 */

/** Result of {@linkcode mcnemar}. */
export interface McNemarResult {
  /** Samples the second classifier gets right and the first wrong. */
  b: number;
  /** Samples the first classifier gets right and the second wrong. */
  c: number;
  /** Two-sided p-value. */
  p: number;
  /** `exact`: binomial test of b against Bin(b + c, ½). */
  method: "exact";
}

/** log of n choose k. */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/**
 * McNemar's test of two paired classifiers from their discordant counts, exact form: under the
 * null hypothesis (equal accuracy) each discordant sample is b or c with probability ½, so
 * p = min(1, 2·P(X ≤ min(b, c))) with X ~ Bin(b + c, ½). Exact for any count (the χ² form needs
 * b + c ≳ 25); b = c = 0 gives p = 1.
 * @throws Error for a negative or non-integer count.
 */
export function mcnemar(b: number, c: number): McNemarResult {
  for (const [name, v] of [["b", b], ["c", c]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`mcnemar: ${name} = ${v} is not a count`);
  }
  const n = b + c;
  if (n === 0) return { b, c, p: 1, method: "exact" };
  const k = Math.min(b, c);
  // Σ_{i ≤ k} C(n, i) / 2^n in log space (n can be thousands).
  const logs: number[] = [];
  for (let i = 0; i <= k; i++) logs.push(logChoose(n, i) - n * Math.LN2);
  const top = Math.max(...logs);
  const tail = Math.exp(top) * logs.reduce((s, l) => s + Math.exp(l - top), 0);
  return { b, c, p: Math.min(1, 2 * tail), method: "exact" };
}
