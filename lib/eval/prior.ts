/**
 * Class-prior correction of predicted distributions (Saerens, Latinne & Decaestecker 2002,
 * "Adjusting the outputs of a classifier to new a priori probabilities"; the logit adjustment of
 * long-tail learning, Menon et al. 2021, with τ = 1).
 *
 * A model trained on class-balanced epochs (the paper's data refinement, `data.sampler.mode:
 * "refine"`) learns posteriors under the epochs' class prior π_s, which is uniform, while FER+'s
 * test split has the skewed prior of its training split π_t (neutral 35%, contempt 0.5%). Under
 * the usual assumption that only the prior differs (p(x | y) is the same), the Bayes posterior
 * under π_t is
 *
 *   p_t(k | x) ∝ p_s(k | x) · π_t(k) / π_s(k).
 *
 * Nothing here is fitted: the rule has no free parameter, and π_t is the *training* split's
 * class frequency, never the test split's. It is an evaluation option reported beside the plain
 * number (accuracy rises on a skewed test split at the expense of the minority classes' recall,
 * so balanced accuracy usually falls), never applied silently.
 * @module
 */

/**
 * Class frequencies of `labels` as shares summing to 1 (`[C]`). Labels outside `0..C−1` (e.g. a
 * "no label" −1) are not counted.
 * @throws RangeError when no label is in range.
 */
export function classPrior(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (Number.isInteger(l) && l >= 0 && l < numClasses) {
      counts[l]++;
      n++;
    }
  }
  if (!n) {
    throw new RangeError(`classPrior: none of ${labels.length} labels is in 0..${numClasses - 1}`);
  }
  return counts.map((c) => c / n);
}

/**
 * Moves distributions (`[N, C]` row-major, each row summing to 1) from the class prior `from`
 * (what the model was trained under) to `to` (what the evaluation data is assumed to have):
 * each row is multiplied by `to / from` class by class and renormalised. A class with
 * `to(k) = 0` gets probability 0.
 * @throws Error when a prior's length is not C, a prior has a negative or non-finite entry,
 *   `from(k)` is 0 for a class (the model never saw it, so no correction is defined), or
 *   `d.length` is not a multiple of C.
 */
export function adjustPrior(
  d: Float32Array,
  numClasses: number,
  from: ArrayLike<number>,
  to: ArrayLike<number>,
): Float32Array {
  if (from.length !== numClasses || to.length !== numClasses) {
    throw new Error(`adjustPrior: priors must have ${numClasses} entries`);
  }
  if (d.length % numClasses) {
    throw new Error(`adjustPrior: ${d.length} values are not rows of ${numClasses}`);
  }
  const w = new Float64Array(numClasses);
  for (let k = 0; k < numClasses; k++) {
    if (!(from[k] > 0) || !Number.isFinite(from[k])) {
      throw new Error(`adjustPrior: class ${k} has prior ${from[k]} in the model's training`);
    }
    if (!(to[k] >= 0) || !Number.isFinite(to[k])) {
      throw new Error(`adjustPrior: class ${k} has target prior ${to[k]}`);
    }
    w[k] = to[k] / from[k];
  }
  const out = new Float32Array(d.length);
  const row = new Float64Array(numClasses);
  for (let i = 0; i < d.length; i += numClasses) {
    let s = 0;
    for (let k = 0; k < numClasses; k++) s += row[k] = d[i + k] * w[k];
    // A row that the weights zero out entirely (all its mass on classes with target prior 0)
    // keeps its own distribution rather than becoming 0/0.
    for (let k = 0; k < numClasses; k++) out[i + k] = s > 0 ? row[k] / s : d[i + k];
  }
  return out;
}
