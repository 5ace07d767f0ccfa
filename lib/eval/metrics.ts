/**
 * Classification metrics for the paper's evaluation (Tables 1–8, Figs. 4, 7–9), in plain TypeScript
 * on typed arrays, so they run on any backend and in tests without tensors.
 *
 * Conventions (each matches scikit-learn 1.2 where scikit-learn defines the metric; the golden tests
 * in `metrics_test.ts` compare against values scikit-learn computed):
 * - Labels and predictions are `Int32Array`s of class indices in `[0, C)`.
 * - Distributions are `Float32Array`/`Float64Array` of shape `[N, C]` (row-major) or `number[][]`.
 * - The prediction of a distribution is its arg-max; ties go to the lowest index (as `numpy.argmax`).
 * - The confusion matrix has rows = true class, columns = predicted class (`confusion_matrix`).
 * - Undefined ratios (a class never predicted → precision 0/0; a class absent from the labels →
 *   recall 0/0) are 0, as scikit-learn's default `zero_division="warn"` returns (without the
 *   warning). F1 is `2·TP / (2·TP + FP + FN)`, 0 when that is 0/0.
 * - Macro-F1 and balanced accuracy average over the classes scikit-learn would use when called
 *   without `labels=`: macro-F1 over the classes that occur in the labels **or** the predictions
 *   (`f1_score(average="macro")`), balanced accuracy over the classes that occur in the labels
 *   (`balanced_accuracy_score`, which drops classes only predicted). Pass `classes` to average over
 *   a fixed class list instead (scikit-learn's `labels=`).
 *
 * @module
 */

/** Class distributions: `[N, C]` row-major typed array, or one array per sample. */
export type Distributions = Float32Array | Float64Array | number[][];

/** Checks that labels and predictions are parallel and in `[0, numClasses)`. */
function checkPair(labels: Int32Array, preds: Int32Array, numClasses?: number): void {
  if (labels.length !== preds.length) {
    throw new Error(`labels (${labels.length}) and predictions (${preds.length}) differ in length`);
  }
  if (numClasses === undefined) return;
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i] >= 0 && labels[i] < numClasses)) {
      throw new Error(`label ${labels[i]} at sample ${i} is outside [0, ${numClasses})`);
    }
    if (!(preds[i] >= 0 && preds[i] < numClasses)) {
      throw new Error(`prediction ${preds[i]} at sample ${i} is outside [0, ${numClasses})`);
    }
  }
}

/** One more than the largest class index in `labels` and `preds` (the inferred class count). */
function inferNumClasses(labels: Int32Array, preds: Int32Array): number {
  let m = -1;
  for (let i = 0; i < labels.length; i++) m = Math.max(m, labels[i], preds[i]);
  return m + 1;
}

/** Converts distributions to a flat `[N, C]` `Float64Array`, checking the shape. */
export function toMatrix(dists: Distributions, numClasses?: number): {
  data: Float64Array;
  n: number;
  c: number;
} {
  if (Array.isArray(dists)) {
    const n = dists.length;
    const c = numClasses ?? (n > 0 ? dists[0].length : 0);
    const data = new Float64Array(n * c);
    for (let i = 0; i < n; i++) {
      if (dists[i].length !== c) {
        throw new Error(`distribution ${i} has ${dists[i].length} entries, expected ${c}`);
      }
      for (let j = 0; j < c; j++) data[i * c + j] = dists[i][j];
    }
    return { data, n, c };
  }
  if (numClasses === undefined || numClasses <= 0) {
    throw new Error("numClasses is required for flat typed-array distributions");
  }
  if (dists.length % numClasses !== 0) {
    throw new Error(`distribution length ${dists.length} is not a multiple of ${numClasses}`);
  }
  return { data: Float64Array.from(dists), n: dists.length / numClasses, c: numClasses };
}

/** Arg-max of each row of `[N, C]` distributions; ties go to the lowest index (`numpy.argmax`). */
export function argmax(dists: Distributions, numClasses?: number): Int32Array {
  const { data, n, c } = toMatrix(dists, numClasses);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (data[i * c + j] > data[i * c + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** How a second prediction differs from a first one on the same samples. */
export interface PredictionChanges {
  /** Samples whose prediction changed. */
  changed: number;
  /** Wrong → right. */
  fixed: number;
  /** Right → wrong. */
  broken: number;
}

/**
 * Counts the samples whose prediction `after` differs from `before`, and of those the ones it
 * fixes (now equal to the label) and breaks (the label was `before`'s).
 */
export function predictionChanges(
  labels: Int32Array,
  before: Int32Array,
  after: Int32Array,
): PredictionChanges {
  checkPair(labels, before);
  checkPair(labels, after);
  let changed = 0, fixed = 0, broken = 0;
  for (let i = 0; i < labels.length; i++) {
    if (before[i] === after[i]) continue;
    changed++;
    if (after[i] === labels[i]) fixed++;
    else if (before[i] === labels[i]) broken++;
  }
  return { changed, fixed, broken };
}

/** Fraction of samples whose prediction equals the label (`accuracy_score`); NaN when empty. */
export function accuracy(labels: Int32Array, preds: Int32Array): number {
  checkPair(labels, preds);
  if (labels.length === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === preds[i]) ok++;
  return ok / labels.length;
}

/**
 * Confusion matrix `[C][C]`: entry `[t][p]` counts samples of true class t predicted as p
 * (`confusion_matrix(y_true, y_pred, labels=range(C))`).
 */
export function confusionMatrix(
  labels: Int32Array,
  preds: Int32Array,
  numClasses = inferNumClasses(labels, preds),
): number[][] {
  checkPair(labels, preds, numClasses);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][preds[i]]++;
  return m;
}

/** Per-class scores, indexed by class `0..C-1`. */
export interface ClassScores {
  /** TP / (TP + FP); 0 when the class is never predicted. */
  precision: number[];
  /** TP / (TP + FN); 0 when the class is absent from the labels. */
  recall: number[];
  /** 2·TP / (2·TP + FP + FN); 0 when the class is in neither labels nor predictions. */
  f1: number[];
  /** Number of samples of the class in the labels. */
  support: number[];
  /** Number of samples predicted as the class. */
  predicted: number[];
}

/**
 * Per-class precision, recall and F1 (`precision_recall_fscore_support(average=None,
 * labels=range(C), zero_division=0)`).
 */
export function perClassScores(
  labels: Int32Array,
  preds: Int32Array,
  numClasses = inferNumClasses(labels, preds),
): ClassScores {
  const cm = confusionMatrix(labels, preds, numClasses);
  const out: ClassScores = { precision: [], recall: [], f1: [], support: [], predicted: [] };
  for (let k = 0; k < numClasses; k++) {
    const tp = cm[k][k];
    let support = 0, predicted = 0;
    for (let j = 0; j < numClasses; j++) {
      support += cm[k][j];
      predicted += cm[j][k];
    }
    const fp = predicted - tp, fn = support - tp;
    out.precision.push(predicted > 0 ? tp / predicted : 0);
    out.recall.push(support > 0 ? tp / support : 0);
    out.f1.push(2 * tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : 0);
    out.support.push(support);
    out.predicted.push(predicted);
  }
  return out;
}

/** Options for the averaged scores. */
export interface AverageOptions {
  /** Class count (default: one more than the largest index seen). */
  numClasses?: number;
  /** Average over exactly these classes (scikit-learn's `labels=`) instead of the default set. */
  classes?: number[];
}

/**
 * Macro-averaged F1 (`f1_score(average="macro")`): the unweighted mean of per-class F1 over the
 * classes present in the labels or the predictions (or over `classes` when given, where a class in
 * neither counts as F1 = 0, as scikit-learn's `zero_division` default gives). NaN when empty.
 */
export function macroF1(labels: Int32Array, preds: Int32Array, opts: AverageOptions = {}): number {
  const numClasses = Math.max(
    opts.numClasses ?? 0,
    inferNumClasses(labels, preds),
    ...(opts.classes ?? []).map((k) => k + 1),
  );
  const s = perClassScores(labels, preds, numClasses);
  const classes = opts.classes ??
    [...Array(numClasses).keys()].filter((k) => s.support[k] > 0 || s.predicted[k] > 0);
  if (classes.length === 0) return NaN;
  return classes.reduce((a, k) => a + s.f1[k], 0) / classes.length;
}

/**
 * Balanced accuracy (`balanced_accuracy_score`, `adjusted=False`): the mean recall over the classes
 * present in the labels; classes that are only predicted are left out (scikit-learn warns and drops
 * them). With `classes`, the mean over those of them that are present in the labels. NaN when empty.
 */
export function balancedAccuracy(
  labels: Int32Array,
  preds: Int32Array,
  opts: AverageOptions = {},
): number {
  const numClasses = Math.max(
    opts.numClasses ?? 0,
    inferNumClasses(labels, preds),
    ...(opts.classes ?? []).map((k) => k + 1),
  );
  const s = perClassScores(labels, preds, numClasses);
  const classes = (opts.classes ?? [...Array(numClasses).keys()]).filter((k) => s.support[k] > 0);
  if (classes.length === 0) return NaN;
  return classes.reduce((a, k) => a + s.recall[k], 0) / classes.length;
}

/** One reliability-diagram bin of {@linkcode calibration}. */
export interface CalibrationBin {
  /** Lower edge (exclusive, except the first bin which also holds confidence 0). */
  lower: number;
  /** Upper edge (inclusive). */
  upper: number;
  /** Samples in the bin. */
  count: number;
  /** Mean max-probability of the bin's samples (NaN when empty). */
  confidence: number;
  /** Accuracy of the bin's samples (NaN when empty). */
  accuracy: number;
}

/**
 * Reliability bins and expected calibration error (Guo et al. 2017, "On Calibration of Modern
 * Neural Networks", eq. 3): confidence = max probability of each sample, prediction = its arg-max;
 * M equal-width bins `((m-1)/M, m/M]` (confidence 0 goes to the first bin, values above 1 to the
 * last); ECE = Σ_m |B_m|/N · |acc(B_m) − conf(B_m)|. The distributions are used as given (not
 * re-normalised). Default M = 15, the usual choice in the calibration literature.
 */
export function calibration(
  dists: Distributions,
  labels: Int32Array,
  numClasses?: number,
  numBins = 15,
): { ece: number; bins: CalibrationBin[] } {
  const { data, n, c } = toMatrix(dists, numClasses);
  if (n !== labels.length) {
    throw new Error(`distributions (${n}) and labels (${labels.length}) differ in length`);
  }
  if (!(numBins >= 1)) throw new Error(`numBins must be ≥ 1, got ${numBins}`);
  const count = new Float64Array(numBins), conf = new Float64Array(numBins);
  const correct = new Float64Array(numBins);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (data[i * c + j] > data[i * c + best]) best = j;
    const p = data[i * c + best];
    const b = Math.min(numBins - 1, Math.max(0, Math.ceil(p * numBins) - 1));
    count[b]++;
    conf[b] += p;
    if (best === labels[i]) correct[b]++;
  }
  let ece = 0;
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < numBins; b++) {
    const k = count[b];
    const bin: CalibrationBin = {
      lower: b / numBins,
      upper: (b + 1) / numBins,
      count: k,
      confidence: k > 0 ? conf[b] / k : NaN,
      accuracy: k > 0 ? correct[b] / k : NaN,
    };
    if (k > 0) ece += (k / n) * Math.abs(bin.accuracy - bin.confidence);
    bins.push(bin);
  }
  return { ece: n > 0 ? ece : NaN, bins };
}

/** Expected calibration error with 15 equal-width bins; see {@linkcode calibration}. */
export function expectedCalibrationError(
  dists: Distributions,
  labels: Int32Array,
  numClasses?: number,
  numBins = 15,
): number {
  return calibration(dists, labels, numClasses, numBins).ece;
}

/**
 * Share of each class among all mispredictions (paper Figs. 7/8, "percentage of incorrect labels
 * among all incorrect labels"): of the samples with `pred ≠ label`, the fraction whose **true** class
 * is k (`by = "true"`, the default: the paper speaks of the proportion of mislabelled *images* of
 * each emotion, which is a property of the image's true class) or whose **predicted** class is k
 * (`by = "predicted"`). Sums to 1 over classes; all zeros when there is no misprediction.
 */
export function mispredictionShare(
  labels: Int32Array,
  preds: Int32Array,
  numClasses = inferNumClasses(labels, preds),
  by: "true" | "predicted" = "true",
): number[] {
  checkPair(labels, preds, numClasses);
  const out = new Array<number>(numClasses).fill(0);
  let wrong = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === preds[i]) continue;
    out[by === "true" ? labels[i] : preds[i]]++;
    wrong++;
  }
  return wrong > 0 ? out.map((v) => v / wrong) : out;
}

/**
 * Standard deviation of each sample's distribution over its C probabilities (paper Fig. 9: the
 * spread of the primary vs the final distribution). Population std (divide by C, `numpy.std`
 * default): for a distribution summing to 1 this is `sqrt(Σ p² / C − 1/C²)`.
 */
export function distributionStd(dists: Distributions, numClasses?: number): Float64Array {
  const { data, n, c } = toMatrix(dists, numClasses);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let j = 0; j < c; j++) mean += data[i * c + j];
    mean /= c;
    let v = 0;
    for (let j = 0; j < c; j++) v += (data[i * c + j] - mean) ** 2;
    out[i] = Math.sqrt(v / c);
  }
  return out;
}

/** Summary statistics of a list of numbers. */
export interface Summary {
  /** Mean (the figure the paper quotes for Fig. 9). */
  mean: number;
  /** Population standard deviation across the values. */
  std: number;
  /** Smallest value. */
  min: number;
  /** Median (mean of the two middle values for even counts). */
  median: number;
  /** Largest value. */
  max: number;
}

/** Mean, population std, min, median and max of `values`; all NaN when empty. */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, median: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  let mean = 0;
  for (let i = 0; i < n; i++) mean += sorted[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (sorted[i] - mean) ** 2;
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { mean, std: Math.sqrt(v / n), min: sorted[0], median, max: sorted[n - 1] };
}

/** Per-class entry of a {@linkcode PredictionReport}. */
export interface ClassReport {
  /** Class name. */
  name: string;
  /** Precision (0 when never predicted). */
  precision: number;
  /** Recall (0 when absent from the labels). */
  recall: number;
  /** F1. */
  f1: number;
  /** Samples of the class in the labels. */
  support: number;
  /** Share of all mispredictions whose true class is this one (Fig. 7/8). */
  mispredictionShareByTrue: number;
  /** Share of all mispredictions predicted as this class. */
  mispredictionShareByPredicted: number;
}

/** Metrics of one set of distributions (primary or final). */
export interface PredictionReport {
  /** Accuracy. */
  accuracy: number;
  /** Macro-F1 (scikit-learn default class set; see module doc). */
  macroF1: number;
  /** Balanced accuracy (mean recall over classes present in the labels). */
  balancedAccuracy: number;
  /** Expected calibration error, 15 bins. */
  ece: number;
  /** Number of mispredicted samples. */
  mispredictions: number;
  /** Per-class scores, in class order. */
  perClass: ClassReport[];
  /** Confusion matrix, rows = true, columns = predicted. */
  confusionMatrix: number[][];
  /** Per-sample std of the distribution (Fig. 9), summarised over samples. */
  distributionStd: Summary;
  /** Per-sample max probability, summarised over samples. */
  maxProbability: Summary;
  /** Per-sample min probability, summarised over samples. */
  minProbability: Summary;
  /** Reliability bins behind `ece`. */
  calibrationBins: CalibrationBin[];
}

/** Result of {@linkcode evaluatePredictions}; plain data, `JSON.stringify`-safe except NaN. */
export interface EvaluationReport {
  /** Class names, in index order. */
  classNames: string[];
  /** Number of samples. */
  numSamples: number;
  /** Metrics of the primary distribution l (eq. 9): the primary head of the same model (arg-max l). */
  primary: PredictionReport;
  /** Metrics of the final distribution L_final (eq. 19, with reliability balancing). */
  final: PredictionReport;
  /** How reliability balancing changed the arg-max predictions. */
  change: PredictionChanges;
}

/**
 * An evaluation report as a file holds it, with L_final's metrics under `final`: reports written
 * before they were named so hold them under `corrected`, which is read as `final` (an object that
 * has `final` already, or is no object, is returned as it is).
 */
export function withFinalKey<T>(report: T): T {
  if (!report || typeof report !== "object" || Array.isArray(report)) return report;
  const r = report as Record<string, unknown>;
  if (!("corrected" in r) || "final" in r) return report;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[k === "corrected" ? "final" : k] = v;
  return out as T;
}

function reportFor(
  labels: Int32Array,
  dists: Distributions,
  classNames: string[],
): PredictionReport {
  const c = classNames.length;
  const { data, n } = toMatrix(dists, c);
  if (n !== labels.length) {
    throw new Error(`distributions (${n}) and labels (${labels.length}) differ in length`);
  }
  const preds = argmax(data, c);
  const s = perClassScores(labels, preds, c);
  const byTrue = mispredictionShare(labels, preds, c, "true");
  const byPred = mispredictionShare(labels, preds, c, "predicted");
  const maxP = new Float64Array(n), minP = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let hi = -Infinity, lo = Infinity;
    for (let j = 0; j < c; j++) {
      hi = Math.max(hi, data[i * c + j]);
      lo = Math.min(lo, data[i * c + j]);
    }
    maxP[i] = hi;
    minP[i] = lo;
  }
  const cal = calibration(data, labels, c);
  let wrong = 0;
  for (let i = 0; i < n; i++) if (preds[i] !== labels[i]) wrong++;
  return {
    accuracy: accuracy(labels, preds),
    macroF1: macroF1(labels, preds, { numClasses: c }),
    balancedAccuracy: balancedAccuracy(labels, preds, { numClasses: c }),
    ece: cal.ece,
    mispredictions: wrong,
    perClass: classNames.map((name, k) => ({
      name,
      precision: s.precision[k],
      recall: s.recall[k],
      f1: s.f1[k],
      support: s.support[k],
      mispredictionShareByTrue: byTrue[k],
      mispredictionShareByPredicted: byPred[k],
    })),
    confusionMatrix: confusionMatrix(labels, preds, c),
    distributionStd: summarize(distributionStd(data, c)),
    maxProbability: summarize(maxP),
    minProbability: summarize(minP),
    calibrationBins: cal.bins,
  };
}

/**
 * Evaluates the primary head (arg-max l) and the final prediction (arg-max L_final) of one model on
 * the same samples against their labels: accuracy, macro-F1, balanced accuracy, ECE, per-class
 * scores, confusion matrices, misprediction shares (Figs. 7/8), distribution spread (Fig. 9).
 *
 * @param input.labels true class per sample, `[N]`
 * @param input.primary primary distributions l, `[N, C]`
 * @param input.final final distributions L_final, `[N, C]` (equal to `primary` when RB is off)
 * @param input.classNames class names; their count is C
 */
export function evaluatePredictions(input: {
  labels: Int32Array;
  primary: Distributions;
  final: Distributions;
  classNames: string[];
}): EvaluationReport {
  const { labels, classNames } = input;
  const c = classNames.length;
  if (c < 1) throw new Error("classNames is empty");
  checkPair(labels, labels, c);
  const primary = reportFor(labels, input.primary, classNames);
  const final = reportFor(labels, input.final, classNames);
  const change = predictionChanges(labels, argmax(input.primary, c), argmax(input.final, c));
  return {
    classNames: [...classNames],
    numSamples: labels.length,
    primary,
    final,
    change,
  };
}
