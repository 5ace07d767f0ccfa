/**
 * What reliability balancing does, branch by branch: the accuracy of the primary l, the geometric
 * and attentive corrections t_g, t_a, their mix t and L_final; their normalised-entropy
 * confidences (eqs. 10–11); the weight w_l = c_l / (c_l + c_t) that l gets in L_final (eq. 19);
 * and how many predictions reliability balancing changes, fixes and breaks (with McNemar's test of
 * primary vs final). Plain numbers: works on a run's predictions, on any backend.
 *
 * @module
 */
import { accuracy, argmax, distributionStd, predictionChanges, summarize } from "./metrics.ts";
import { mcnemar, type McNemarResult } from "./stats.ts";

/** Row-major `[N, C]` distributions of each branch; null where the branch is off. */
export interface BranchDistributions {
  /** Primary l (eq. 9). */
  primary: Float32Array;
  /** Geometric correction t_g (eq. 15). */
  geometric: Float32Array | null;
  /** Attentive correction t_a (eq. 17). */
  attentive: Float32Array | null;
  /** Combined correction t (eq. 18). */
  correction: Float32Array | null;
  /** L_final (eq. 19). */
  final: Float32Array;
}

/** The branches, in report order. */
export const BRANCHES = ["primary", "geometric", "attentive", "correction", "final"] as const;

/** One branch's name. */
export type Branch = typeof BRANCHES[number];

/** Mean and median of a per-sample quantity. */
export interface MeanMedian {
  /** Mean over samples. */
  mean: number;
  /** Median over samples. */
  median: number;
}

/** How many predictions reliability balancing changes (arg-max L_final ≠ arg-max l). */
export interface RbChanges {
  /** Samples. */
  n: number;
  /** Predictions changed. */
  changed: number;
  /** Changed from wrong to right. */
  fixed: number;
  /** Changed from right to wrong. */
  broken: number;
  /** changed / n. */
  changedShare: number;
  /** fixed / n. */
  fixedShare: number;
  /** broken / n. */
  brokenShare: number;
  /** McNemar's exact test, primary vs final (b = fixed, c = broken). */
  mcnemar: McNemarResult;
}

/** {@linkcode branchReport}'s result. */
export interface BranchReport {
  /** Accuracy of each branch's arg-max (null: branch off). */
  accuracy: Record<Branch, number | null>;
  /** Confidence Cf = 1 − H of each distribution (eq. 10), over samples (null: branch off). */
  confidence: Record<Exclude<Branch, "final">, MeanMedian | null>;
  /** w_l = c_l / (c_l + c_t), l's weight in L_final (null without a correction). */
  primaryWeight: MeanMedian | null;
  /** Mean per-sample std of l and of L_final (paper Fig. 9: 0.1316 vs 0.0881). */
  distributionStd: { primary: number; final: number };
  /** Predictions changed, fixed and broken by reliability balancing. */
  changes: RbChanges;
}

/**
 * Normalised-entropy confidence 1 − clip(−Σ p log(p + ε) / log C, 0, 1) of each row (eqs. 10–11),
 * as lib/model/reliability.ts computes it.
 */
export function rowConfidence(d: Float32Array, classes: number, eps = 1e-8): Float64Array {
  const n = d.length / classes;
  const out = new Float64Array(n);
  const logC = Math.log(classes);
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let j = 0; j < classes; j++) {
      const p = d[i * classes + j];
      h -= p * Math.log(p + eps);
    }
    out[i] = 1 - Math.min(1, Math.max(0, h / logC));
  }
  return out;
}

function meanMedian(v: ArrayLike<number>): MeanMedian {
  const s = summarize(v);
  return { mean: s.mean, median: s.median };
}

/** Counts the predictions reliability balancing changes, fixes and breaks. */
export function rbChanges(
  labels: Int32Array,
  primary: Float32Array,
  final: Float32Array,
  classes: number,
): RbChanges {
  const { changed, fixed, broken } = predictionChanges(
    labels,
    argmax(primary, classes),
    argmax(final, classes),
  );
  const n = labels.length;
  return {
    n,
    changed,
    fixed,
    broken,
    changedShare: n ? changed / n : NaN,
    fixedShare: n ? fixed / n : NaN,
    brokenShare: n ? broken / n : NaN,
    mcnemar: mcnemar(fixed, broken),
  };
}

/**
 * Reports every branch of reliability balancing on `labels` (see the module doc).
 * @throws Error when a distribution's size does not match the labels.
 */
export function branchReport(
  labels: Int32Array,
  d: BranchDistributions,
  classes: number,
  eps = 1e-8,
): BranchReport {
  for (const b of BRANCHES) {
    const x = d[b];
    if (x && x.length !== labels.length * classes) {
      throw new Error(
        `branchReport: ${b} has ${x.length} values, expected ${labels.length} × ${classes}`,
      );
    }
  }
  const acc = (x: Float32Array | null) => (x ? accuracy(labels, argmax(x, classes)) : null);
  const conf = (x: Float32Array | null) => (x ? rowConfidence(x, classes, eps) : null);
  const cl = conf(d.primary)!;
  const ct = conf(d.correction);
  let primaryWeight: MeanMedian | null = null;
  if (ct) {
    // The guard of eq. 19 in lib/model/reliability.ts (CONFIDENCE_GUARD = 1e-6, halved per side).
    const w = cl.map((c, i) => (c + 5e-7) / (c + ct[i] + 1e-6));
    primaryWeight = meanMedian(w);
  }
  const stdMean = (x: Float32Array) => summarize(distributionStd(x, classes)).mean;
  return {
    accuracy: {
      primary: acc(d.primary),
      geometric: acc(d.geometric),
      attentive: acc(d.attentive),
      correction: acc(d.correction),
      final: acc(d.final),
    },
    confidence: {
      primary: meanMedian(cl),
      geometric: d.geometric ? meanMedian(conf(d.geometric)!) : null,
      attentive: d.attentive ? meanMedian(conf(d.attentive)!) : null,
      correction: ct ? meanMedian(ct) : null,
    },
    primaryWeight,
    distributionStd: { primary: stdMean(d.primary), final: stdMean(d.final) },
    changes: rbChanges(labels, d.primary, d.final, classes),
  };
}
