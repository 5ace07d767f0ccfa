/**
 * Linear probe: a multinomial logistic regression on frozen features, the standard way to measure
 * how much linearly decodable signal a pretrained network's features carry for a task.
 *
 * **Model.** Features are standardised with the training part's mean and standard deviation
 * (population, as scikit-learn's `StandardScaler`; a constant feature gets scale 1). The logits are
 * `z = x·W + b` over `C` classes (the full, over-parametrised softmax, as scikit-learn's
 * `multi_class="multinomial"`), fitted by minimising
 *
 *     f(W, b) = (1/n) Σᵢ −log softmax(zᵢ)[yᵢ] + (λ/2)·‖W‖²,   λ = 1 / (C_reg · n)
 *
 * — the objective of scikit-learn's `LogisticRegression(C=C_reg, solver="lbfgs")` divided by
 * `C_reg · n` (same minimiser; the intercept is not penalised). `C_reg` is the inverse
 * regularisation strength, as in scikit-learn.
 *
 * **Solver.** Full-batch L-BFGS (history 10, backtracking Armijo line search) on the exact loss
 * and gradient, computed with TensorFlow.js on the active backend (the features stay on the
 * backend; each iteration reads back only the gradient). Near the optimum the decrease of f falls
 * below its float32 resolution; there a step is accepted when it lowers the largest gradient
 * entry instead. It stops when the largest gradient entry
 * is below `tol` (scikit-learn's `gtol` on the same, sample-normalised, objective), and reports
 * whether it converged. Decision: written here because TensorFlow.js has no quasi-Newton optimiser
 * and the npm L-BFGS packages are unmaintained single-author ports; L-BFGS rather than Adam
 * because the problem is smooth and strongly convex, where L-BFGS reaches a tight tolerance in a
 * few hundred full-batch steps and Adam does not converge to a tolerance without a schedule.
 *
 * **Regularisation.** `C_reg` is chosen from a grid by seeded, stratified k-fold cross-validation
 * on the training part only (mean fold accuracy; ties go to the smaller `C_reg`, i.e. the stronger
 * regularisation), then the probe is refitted on the whole training part. Along the grid each fold
 * warm-starts from the previous `C_reg`'s solution.
 *
 * **Class-prior correction.** A probe trained on a class-balanced subset predicts as if every
 * class were equally likely. When the evaluation data has another class prior, the Bayes-optimal
 * adjustment of a calibrated posterior is `z + log π_target − log π_train` (Saerens et al. 2002,
 * "Adjusting the outputs of a classifier to new a priori probabilities"). {@linkcode linearProbe}
 * reports the metrics with that correction *beside* the uncorrected ones, never instead of them,
 * and records both priors. Where `π_target` comes from is the caller's choice and must be stated:
 * an estimate that uses no evaluation labels (e.g. the full training split's class frequencies)
 * keeps the evaluation clean; the evaluation split's own frequencies would leak label information.
 *
 * @example
 * ```ts
 * import { linearProbe } from "./probe.ts";
 * const r = await linearProbe({
 *   train: { x: trainX, y: trainY }, test: { x: testX, y: testY }, dims: 512, numClasses: 8,
 *   targetPrior: fullTrainPrior, seed: 0,
 * });
 * console.log(r.metrics.accuracy, r.priorCorrected?.accuracy, r.c);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mulberry32 } from "../random.ts";
import { accuracy, argmax, balancedAccuracy, macroF1 } from "./metrics.ts";

/** Features of `n` samples: row-major `[n, dims]`. */
export interface LabelledFeatures {
  /** `[n, dims]` row-major. */
  x: Float32Array;
  /** `n` class indices in `[0, numClasses)`. */
  y: Int32Array;
}

/** Options of the solver ({@linkcode fitLogistic}). */
export interface SolverOptions {
  /** Stop when max |∂f| ≤ tol (default 1e-5). */
  tol?: number;
  /** Iteration limit (default 1000). */
  maxIter?: number;
  /** L-BFGS history length (default 10). */
  memory?: number;
}

/** A fitted probe. */
export interface LogisticModel {
  /** Feature dimension. */
  dims: number;
  /** Number of classes. */
  numClasses: number;
  /** Inverse regularisation strength it was fitted with. */
  c: number;
  /** Standardisation: per-feature mean of the training part. */
  mean: Float32Array;
  /** Standardisation: per-feature standard deviation (1 where it is 0). */
  scale: Float32Array;
  /** `[dims, numClasses]` row-major, on standardised features. */
  weights: Float32Array;
  /** `numClasses` intercepts. */
  bias: Float32Array;
  /** Solver summary. */
  fit: FitInfo;
}

/** What the solver did. */
export interface FitInfo {
  /** L-BFGS iterations taken. */
  iterations: number;
  /** Whether max |∂f| ≤ tol was reached. */
  converged: boolean;
  /** Final max |∂f|. */
  gradMax: number;
  /** Final objective value (mean cross-entropy + penalty). */
  loss: number;
}

/** Per-feature mean and population standard deviation of `[n, d]` features (1 where std is 0). */
export function standardizer(
  x: Float32Array,
  n: number,
  d: number,
): { mean: Float32Array; scale: Float32Array } {
  if (x.length !== n * d) throw new Error(`features have ${x.length} values, expected ${n}×${d}`);
  const sum = new Float64Array(d), sq = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) sum[j] += x[i * d + j];
  }
  const mean = new Float32Array(d);
  for (let j = 0; j < d; j++) mean[j] = sum[j] / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) sq[j] += (x[i * d + j] - mean[j]) ** 2;
  }
  const scale = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(sq[j] / n);
    scale[j] = s > 1e-12 ? s : 1;
  }
  return { mean, scale };
}

function standardize(x: Float32Array, d: number, mean: Float32Array, scale: Float32Array) {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] - mean[i % d]) / scale[i % d];
  return out;
}

function checkLabels(y: Int32Array, numClasses: number): void {
  for (let i = 0; i < y.length; i++) {
    if (!(y[i] >= 0 && y[i] < numClasses)) {
      throw new Error(`label ${y[i]} at sample ${i} is outside [0, ${numClasses})`);
    }
  }
}

function oneHot(y: Int32Array, k: number): Float32Array {
  const out = new Float32Array(y.length * k);
  for (let i = 0; i < y.length; i++) out[i * k + y[i]] = 1;
  return out;
}

/**
 * Objective and gradient at `theta` (`W` row-major then `b`) on the backend: the features `xs`
 * and one-hot labels stay there; only the gradient is read back.
 */
async function objective(
  xs: tf.Tensor2D,
  xt: tf.Tensor2D,
  onehot: tf.Tensor2D,
  theta: Float64Array,
  d: number,
  k: number,
  lambda: number,
): Promise<{ f: number; g: Float64Array }> {
  const n = xs.shape[0];
  const [loss, grad] = tf.tidy(() => {
    const th = tf.tensor1d(Float32Array.from(theta));
    const w = tf.reshape(th.slice(0, d * k), [d, k]) as tf.Tensor2D;
    const b = th.slice(d * k, k);
    const logp = tf.logSoftmax(tf.add(tf.matMul(xs, w), b));
    const ce = tf.neg(tf.div(tf.sum(tf.mul(onehot, logp)), n));
    const l = tf.add(ce, tf.mul(0.5 * lambda, tf.sum(tf.square(w))));
    const r = tf.div(tf.sub(tf.exp(logp), onehot), n) as tf.Tensor2D;
    const gw = tf.add(tf.matMul(xt, r), tf.mul(lambda, w));
    return [l, tf.concat([tf.reshape(gw, [-1]), tf.sum(r, 0)])];
  });
  try {
    const [f, g] = await Promise.all([loss.data(), grad.data()]);
    return { f: f[0], g: Float64Array.from(g) };
  } finally {
    tf.dispose([loss, grad]);
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Fits the L2 multinomial logistic regression on already standardised features (see the module
 * doc for the objective) by L-BFGS, starting from `init` (`W` row-major then `b`) or zero.
 */
async function fitStandardized(
  xz: Float32Array,
  y: Int32Array,
  d: number,
  k: number,
  c: number,
  opts: SolverOptions,
  init?: Float64Array,
): Promise<{ theta: Float64Array; fit: FitInfo }> {
  const n = y.length;
  const tol = opts.tol ?? 1e-5, maxIter = opts.maxIter ?? 1000, m = opts.memory ?? 10;
  const lambda = 1 / (c * n);
  const xs = tf.tensor2d(xz, [n, d]);
  const xt = tf.tidy(() => tf.transpose(xs) as tf.Tensor2D);
  const onehot = tf.tensor2d(oneHot(y, k), [n, k]);
  try {
    const p = d * k + k;
    let theta = init ? Float64Array.from(init) : new Float64Array(p);
    let { f, g } = await objective(xs, xt, onehot, theta, d, k, lambda);
    const S: Float64Array[] = [], Y: Float64Array[] = [], R: number[] = [];
    let it = 0;
    let gmax = maxAbs(g);
    while (gmax > tol && it < maxIter) {
      // Two-loop recursion: q ≈ H⁻¹·g.
      const q = Float64Array.from(g);
      const alpha = new Array<number>(S.length);
      for (let i = S.length - 1; i >= 0; i--) {
        alpha[i] = R[i] * dot(S[i], q);
        for (let j = 0; j < p; j++) q[j] -= alpha[i] * Y[i][j];
      }
      const gamma = S.length > 0
        ? dot(S[S.length - 1], Y[Y.length - 1]) / dot(Y[Y.length - 1], Y[Y.length - 1])
        : 1 / Math.max(1, Math.sqrt(dot(g, g)));
      for (let j = 0; j < p; j++) q[j] *= gamma;
      for (let i = 0; i < S.length; i++) {
        const beta = R[i] * dot(Y[i], q);
        for (let j = 0; j < p; j++) q[j] += S[i][j] * (alpha[i] - beta);
      }
      let slope = -dot(g, q);
      if (!(slope < 0)) {
        // Not a descent direction (numerical trouble): restart from steepest descent.
        S.length = Y.length = R.length = 0;
        for (let j = 0; j < p; j++) q[j] = g[j] / Math.max(1, Math.sqrt(dot(g, g)));
        slope = -dot(g, q);
      }
      // Backtracking Armijo line search along −q.
      let step = 1, accepted = false;
      let next = theta, fn = f, gn = g;
      for (let ls = 0; ls < 40; ls++) {
        next = new Float64Array(p);
        for (let j = 0; j < p; j++) next[j] = theta[j] - step * q[j];
        ({ f: fn, g: gn } = await objective(xs, xt, onehot, next, d, k, lambda));
        // Armijo; or, where the decrease is below float32 resolution of f, a smaller gradient.
        const flat = Math.abs(fn - f) <= 1e-6 * Math.max(1, Math.abs(f));
        if (fn <= f + 1e-4 * step * slope || (flat && maxAbs(gn) < gmax)) {
          accepted = true;
          break;
        }
        step *= 0.5;
      }
      it++;
      if (!accepted) break; // no decrease at float32 precision: stop, reported by `converged`
      const s = new Float64Array(p), yv = new Float64Array(p);
      for (let j = 0; j < p; j++) {
        s[j] = next[j] - theta[j];
        yv[j] = gn[j] - g[j];
      }
      const sy = dot(s, yv);
      if (sy > 1e-12) {
        S.push(s);
        Y.push(yv);
        R.push(1 / sy);
        if (S.length > m) {
          S.shift();
          Y.shift();
          R.shift();
        }
      }
      theta = next;
      f = fn;
      g = gn;
      gmax = maxAbs(g);
    }
    return { theta, fit: { iterations: it, converged: gmax <= tol, gradMax: gmax, loss: f } };
  } finally {
    tf.dispose([xs, xt, onehot]);
  }
}

/**
 * Fits the probe with inverse regularisation strength `c` on raw features (standardised here with
 * their own statistics).
 * @throws Error when the shapes disagree or a label is out of range.
 */
export async function fitLogistic(
  data: LabelledFeatures,
  dims: number,
  numClasses: number,
  c: number,
  opts: SolverOptions = {},
): Promise<LogisticModel> {
  const n = data.y.length;
  checkLabels(data.y, numClasses);
  if (!(c > 0)) throw new Error(`C must be positive, got ${c}`);
  const { mean, scale } = standardizer(data.x, n, dims);
  const xz = standardize(data.x, dims, mean, scale);
  const { theta, fit } = await fitStandardized(xz, data.y, dims, numClasses, c, opts);
  return modelOf(theta, dims, numClasses, c, mean, scale, fit);
}

function modelOf(
  theta: Float64Array,
  d: number,
  k: number,
  c: number,
  mean: Float32Array,
  scale: Float32Array,
  fit: FitInfo,
): LogisticModel {
  return {
    dims: d,
    numClasses: k,
    c,
    mean,
    scale,
    weights: Float32Array.from(theta.subarray(0, d * k)),
    bias: Float32Array.from(theta.subarray(d * k)),
    fit,
  };
}

/** The probe's logits `[n, numClasses]` (row-major) for raw features `[n, dims]`. */
export async function probeLogits(model: LogisticModel, x: Float32Array): Promise<Float32Array> {
  const d = model.dims, k = model.numClasses;
  if (x.length % d !== 0) {
    throw new Error(`features have ${x.length} values, not a multiple of ${d}`);
  }
  const n = x.length / d;
  const z = tf.tidy(() =>
    tf.add(
      tf.matMul(
        tf.tensor2d(standardize(x, d, model.mean, model.scale), [n, d]),
        tf.tensor2d(model.weights, [d, k]),
      ),
      tf.tensor1d(model.bias),
    )
  );
  try {
    return (await z.data()) as Float32Array;
  } finally {
    z.dispose();
  }
}

/** Class frequencies of `labels` over `numClasses` classes (sums to 1). */
export function classPrior(labels: Int32Array, numClasses: number): Float64Array {
  checkLabels(labels, numClasses);
  const p = new Float64Array(numClasses);
  for (const l of labels) p[l]++;
  for (let k = 0; k < numClasses; k++) p[k] /= labels.length;
  return p;
}

/**
 * Prior-corrected logits `z + log π_target − log π_train` (see the module doc).
 * @throws Error when the priors' lengths differ from the class count or a training prior is 0
 *   (the probe then knows nothing of that class, and no correction is defined).
 */
export function priorCorrect(
  logits: Float32Array,
  numClasses: number,
  trainPrior: ArrayLike<number>,
  targetPrior: ArrayLike<number>,
): Float32Array {
  if (trainPrior.length !== numClasses || targetPrior.length !== numClasses) {
    throw new Error(`priors must have ${numClasses} entries`);
  }
  const shift = new Float64Array(numClasses);
  for (let k = 0; k < numClasses; k++) {
    if (!(trainPrior[k] > 0)) throw new Error(`class ${k} has training prior 0`);
    shift[k] = Math.log(targetPrior[k]) - Math.log(trainPrior[k]);
  }
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] + shift[i % numClasses];
  return out;
}

/**
 * Seeded stratified fold assignment: each class's samples are shuffled (mulberry32) and dealt to
 * folds `0..k−1` in turn, so every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ samples of class c.
 */
export function stratifiedFolds(labels: Int32Array, k: number, seed: number): Int32Array {
  if (!(Number.isInteger(k) && k >= 2)) throw new Error(`folds must be an integer ≥ 2, got ${k}`);
  const rand = mulberry32(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => {
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  });
  const out = new Int32Array(labels.length);
  let offset = 0;
  for (const cls of [...byClass.keys()].sort((a, b) => a - b)) {
    const idx = byClass.get(cls)!;
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    // Continue dealing where the previous class stopped, so small classes do not all land in fold 0.
    idx.forEach((s, i) => (out[s] = (offset + i) % k));
    offset = (offset + idx.length) % k;
  }
  return out;
}

function rows(x: Float32Array, d: number, idx: number[]): Float32Array {
  const out = new Float32Array(idx.length * d);
  idx.forEach((r, i) => out.set(x.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/** Cross-validation score of one `C` in the grid. */
export interface CvScore {
  /** Inverse regularisation strength. */
  c: number;
  /** Mean held-out accuracy over the folds. */
  accuracy: number;
  /** Held-out accuracy of each fold. */
  folds: number[];
  /** Whether every fold's fit converged. */
  converged: boolean;
}

/** Options of {@linkcode crossValidate} and {@linkcode linearProbe}. */
export interface ProbeOptions extends SolverOptions {
  /** Grid of `C` values (default 10^-3 … 10^0 in half-decade steps). */
  cGrid?: number[];
  /** Number of folds (default 5). */
  folds?: number;
  /** Seed of the fold assignment (default 0). */
  seed?: number;
}

/** The default grid of `C` values. */
export const DEFAULT_C_GRID: readonly number[] = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1];

/**
 * Seeded stratified k-fold cross-validation of `C` on `data` (standardised within each fold with
 * the fold's own training statistics). Returns every grid value's score and the chosen `C` (best
 * mean accuracy; ties go to the smaller `C`).
 */
export async function crossValidate(
  data: LabelledFeatures,
  dims: number,
  numClasses: number,
  opts: ProbeOptions = {},
): Promise<{ c: number; scores: CvScore[] }> {
  const grid = [...(opts.cGrid ?? DEFAULT_C_GRID)].sort((a, b) => a - b);
  const k = opts.folds ?? 5;
  const folds = stratifiedFolds(data.y, k, opts.seed ?? 0);
  const perFold: number[][] = grid.map(() => []);
  const conv: boolean[] = grid.map(() => true);
  for (let f = 0; f < k; f++) {
    const tr: number[] = [], te: number[] = [];
    folds.forEach((fi, i) => (fi === f ? te : tr).push(i));
    const xtr = rows(data.x, dims, tr), xte = rows(data.x, dims, te);
    const ytr = Int32Array.from(tr, (i) => data.y[i]), yte = Int32Array.from(te, (i) => data.y[i]);
    const { mean, scale } = standardizer(xtr, tr.length, dims);
    const xz = standardize(xtr, dims, mean, scale);
    let init: Float64Array | undefined;
    for (let g = 0; g < grid.length; g++) {
      const { theta, fit } = await fitStandardized(xz, ytr, dims, numClasses, grid[g], opts, init);
      init = theta;
      const model = modelOf(theta, dims, numClasses, grid[g], mean, scale, fit);
      const preds = argmax(await probeLogits(model, xte), numClasses);
      perFold[g].push(accuracy(yte, preds));
      conv[g] &&= fit.converged;
    }
  }
  const scores = grid.map((c, g) => ({
    c,
    accuracy: perFold[g].reduce((a, b) => a + b, 0) / k,
    folds: perFold[g],
    converged: conv[g],
  }));
  let best = scores[0];
  for (const s of scores) if (s.accuracy > best.accuracy) best = s;
  return { c: best.c, scores };
}

/** Accuracy, balanced accuracy and macro-F1 (over all classes) of a set of predictions. */
export interface ProbeMetrics {
  /** Fraction correct. */
  accuracy: number;
  /** Mean per-class recall over the classes present in the labels. */
  balancedAccuracy: number;
  /** Mean per-class F1 over all `numClasses` classes. */
  macroF1: number;
}

function metricsOf(labels: Int32Array, logits: Float32Array, k: number): ProbeMetrics {
  const preds = argmax(logits, k);
  const classes = [...Array(k).keys()];
  return {
    accuracy: accuracy(labels, preds),
    balancedAccuracy: balancedAccuracy(labels, preds, { classes }),
    macroF1: macroF1(labels, preds, { classes }),
  };
}

/** Result of {@linkcode linearProbe}. */
export interface ProbeResult {
  /** Chosen inverse regularisation strength. */
  c: number;
  /** Cross-validation scores of the grid. */
  cv: CvScore[];
  /** Folds and seed of the cross-validation. */
  cvConfig: { folds: number; seed: number };
  /** Solver summary of the final fit on the whole training part. */
  fit: FitInfo;
  /** Test metrics of the probe as fitted. */
  metrics: ProbeMetrics;
  /** Test metrics after the class-prior correction; null when no target prior was given. */
  priorCorrected: ProbeMetrics | null;
  /** Class prior of the training part (what the probe was fitted under). */
  trainPrior: number[];
  /** Target prior used for the correction, or null. */
  targetPrior: number[] | null;
  /** Training and test sizes. */
  sizes: { train: number; test: number; dims: number };
}

/**
 * The full probe: cross-validates `C` on `train`, refits on all of `train`, evaluates on `test`,
 * and — when `targetPrior` is given — also reports the prior-corrected metrics beside the plain
 * ones (see the module doc; say where `targetPrior` comes from).
 */
export async function linearProbe(input: {
  train: LabelledFeatures;
  test: LabelledFeatures;
  dims: number;
  numClasses: number;
  targetPrior?: ArrayLike<number>;
  options?: ProbeOptions;
}): Promise<ProbeResult> {
  const { train, test, dims, numClasses } = input;
  const opts = input.options ?? {};
  checkLabels(test.y, numClasses);
  if (test.x.length !== test.y.length * dims) {
    throw new Error(
      `test features have ${test.x.length} values, expected ${test.y.length}×${dims}`,
    );
  }
  const { c, scores } = await crossValidate(train, dims, numClasses, opts);
  const model = await fitLogistic(train, dims, numClasses, c, opts);
  const logits = await probeLogits(model, test.x);
  const trainPrior = classPrior(train.y, numClasses);
  const target = input.targetPrior ? Array.from(input.targetPrior) : null;
  return {
    c,
    cv: scores,
    cvConfig: { folds: opts.folds ?? 5, seed: opts.seed ?? 0 },
    fit: model.fit,
    metrics: metricsOf(test.y, logits, numClasses),
    priorCorrected: target
      ? metricsOf(test.y, priorCorrect(logits, numClasses, trainPrior, target), numClasses)
      : null,
    trainPrior: Array.from(trainPrior),
    targetPrior: target,
    sizes: { train: train.y.length, test: test.y.length, dims },
  };
}
