import { assert, assertClose, assertNoLeak } from "../testing.ts";
import { mulberry32, normalSampler } from "../random.ts";
import {
  classPrior,
  crossValidate,
  fitLogistic,
  linearProbe,
  priorCorrect,
  probeLogits,
  standardizer,
  stratifiedFolds,
} from "./probe.ts";

interface Golden {
  numClasses: number;
  dims: number;
  trainX: number[];
  trainY: number[];
  testX: number[];
  testY: number[];
  scalerMean: number[];
  scalerScale: number[];
  cases: {
    C: number;
    coef: number[];
    intercept: number[];
    testProba: number[];
    testAccuracy: number;
  }[];
}

const golden = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/probe_golden.json", import.meta.url)),
) as Golden;

function softmaxRows(z: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < z.length; i += k) {
    const row = Array.from(z.subarray(i, i + k));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((v) => v / s));
  }
  return out;
}

function centred(v: ArrayLike<number>): number[] {
  const a = Array.from(v);
  const m = a.reduce((s, x) => s + x, 0) / a.length;
  return a.map((x) => x - m);
}

Deno.test("probe: standardiser matches scikit-learn's StandardScaler", async () => {
  const n = golden.trainY.length, d = golden.dims;
  const { mean, scale } = standardizer(Float32Array.from(golden.trainX), n, d);
  await assertClose(mean, golden.scalerMean, 1e-5, 1e-5, "mean");
  await assertClose(scale, golden.scalerScale, 1e-5, 1e-5, "scale");
});

Deno.test("probe: L-BFGS fit matches scikit-learn's multinomial LogisticRegression", async () => {
  const k = golden.numClasses, d = golden.dims;
  const train = { x: Float32Array.from(golden.trainX), y: Int32Array.from(golden.trainY) };
  const testX = Float32Array.from(golden.testX);
  await assertNoLeak(async () => {
    for (const g of golden.cases) {
      const m = await fitLogistic(train, d, k, g.C, { tol: 1e-6 });
      assert.ok(m.fit.converged, `C=${g.C}: converged (max grad ${m.fit.gradMax})`);
      // The penalised weights are identified; the unpenalised intercepts only up to a constant.
      await assertClose(m.weights, g.coef, 2e-3, 2e-3, `C=${g.C} weights`);
      await assertClose(centred(m.bias), centred(g.intercept), 2e-3, 2e-3, `C=${g.C} bias`);
      const p = softmaxRows(await probeLogits(m, testX), k);
      await assertClose(p, g.testProba, 1e-3, 0, `C=${g.C} probabilities`);
    }
  });
  // The cases differ, so matching all three is not an accident of a flat solution.
  assert.notDeepEqual(golden.cases[0].coef, golden.cases[2].coef);
});

/** Gaussian classes with means `sep` apart along separate axes, `n` per class. */
function blobs(n: number, k: number, d: number, sep: number, seed: number) {
  const z = normalSampler(mulberry32(seed));
  const x = new Float32Array(n * k * d), y = new Int32Array(n * k);
  for (let i = 0; i < n * k; i++) {
    y[i] = i % k;
    for (let j = 0; j < d; j++) x[i * d + j] = z() + (j === y[i] ? sep : 0);
  }
  return { x, y };
}

Deno.test("probe: separable classes are recovered exactly; chance on label-free features", async () => {
  await assertNoLeak(async () => {
    const train = blobs(30, 3, 5, 12, 1), test = blobs(20, 3, 5, 12, 2);
    const r = await linearProbe({
      train,
      test,
      dims: 5,
      numClasses: 3,
      options: { folds: 3, cGrid: [0.01, 0.1, 1] },
    });
    assert.equal(r.metrics.accuracy, 1);
    assert.equal(r.metrics.macroF1, 1);
    assert.equal(r.priorCorrected, null, "no target prior, no correction");
    assert.ok(r.fit.converged);
    assert.deepEqual(r.sizes, { train: 90, test: 60, dims: 5 });
    assert.deepEqual(r.cv.map((s) => s.c), [0.01, 0.1, 1]);

    // Labels independent of the features: cross-validated accuracy stays near chance (1/3).
    const noise = blobs(40, 3, 5, 0, 3);
    const cv = await crossValidate(noise, 5, 3, { folds: 4, seed: 1, cGrid: [0.01, 1] });
    for (const s of cv.scores) assert.ok(s.accuracy < 0.55, `C=${s.c}: ${s.accuracy}`);
  });
});

Deno.test("probe: prior correction adds log(target/train) and moves predictions to the prior", async () => {
  const z = Float32Array.from([0, 0, 1, 0, 2, 0]); // 3 samples × 2 classes
  const out = priorCorrect(z, 2, [0.5, 0.5], [0.8, 0.2]);
  await assertClose(out, [
    Math.log(1.6),
    Math.log(0.4),
    1 + Math.log(1.6),
    Math.log(0.4),
    2 + Math.log(1.6),
    Math.log(0.4),
  ], 1e-6);
  assert.throws(() => priorCorrect(z, 2, [1, 0], [0.5, 0.5]), /class 1 has training prior 0/);
  assert.throws(() => priorCorrect(z, 2, [1], [0.5, 0.5]), /2 entries/);

  // A balanced probe on uninformative features, evaluated where class 0 is 70%: the correction
  // predicts class 0 everywhere, so its accuracy is the class-0 share; uncorrected stays ≈ 1/3.
  await assertNoLeak(async () => {
    const train = blobs(40, 3, 4, 0, 5);
    const test = blobs(10, 3, 4, 0, 6);
    test.y = Int32Array.from({ length: 30 }, (_, i) => (i < 21 ? 0 : 1 + (i % 2)));
    const r = await linearProbe({
      train,
      test,
      dims: 4,
      numClasses: 3,
      targetPrior: [0.9, 0.05, 0.05],
      options: { folds: 4, cGrid: [1e-3] },
    });
    assert.deepEqual(r.trainPrior.map((p) => p.toFixed(4)), ["0.3333", "0.3333", "0.3333"]);
    assert.equal(r.priorCorrected!.accuracy, 0.7);
    assert.ok(r.metrics.accuracy < 0.6, `uncorrected ${r.metrics.accuracy}`);
  });
});

Deno.test("probe: stratified folds are balanced per class, seeded and complete", () => {
  const y = Int32Array.from({ length: 53 }, (_, i) => (i < 40 ? i % 3 : 3));
  const f = stratifiedFolds(y, 5, 0);
  for (let c = 0; c <= 3; c++) {
    const counts = [0, 0, 0, 0, 0];
    y.forEach((l, i) => l === c && counts[f[i]]++);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `class ${c}: ${counts}`);
  }
  assert.deepEqual(stratifiedFolds(y, 5, 0), f, "same seed, same folds");
  assert.notDeepEqual(stratifiedFolds(y, 5, 1), f, "another seed, other folds");
  assert.throws(() => stratifiedFolds(y, 1, 0), /folds must be an integer ≥ 2/);
  assert.deepEqual(Array.from(classPrior(Int32Array.from([0, 0, 1, 2]), 3)), [0.5, 0.25, 0.25]);
});
