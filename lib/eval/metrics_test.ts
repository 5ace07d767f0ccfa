import { assert, assertClose } from "../testing.ts";
import {
  accuracy,
  argmax,
  balancedAccuracy,
  calibration,
  confusionMatrix,
  distributionStd,
  evaluatePredictions,
  expectedCalibrationError,
  macroF1,
  mispredictionShare,
  perClassScores,
  predictionChanges,
  summarize,
  withFinalKey,
} from "./metrics.ts";

interface GoldenCase {
  name: string;
  numClasses: number;
  labels: number[];
  preds: number[];
  accuracy: number;
  confusionMatrix: number[][];
  macroF1: number;
  macroF1AllClasses: number;
  balancedAccuracy: number;
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
  probs?: number[][];
  ece15?: number;
  distributionStd?: number[];
}

const golden = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/golden.json", import.meta.url)),
) as { classification: GoldenCase[] };
const REL = 1e-6;

for (const g of golden.classification) {
  Deno.test(`metrics match scikit-learn: ${g.name}`, async () => {
    const y = Int32Array.from(g.labels), p = Int32Array.from(g.preds), c = g.numClasses;
    await assertClose(accuracy(y, p), g.accuracy, 0, REL, "accuracy");
    assert.deepEqual(confusionMatrix(y, p, c), g.confusionMatrix);
    await assertClose(macroF1(y, p, { numClasses: c }), g.macroF1, 0, REL, "macroF1");
    await assertClose(
      macroF1(y, p, { classes: [...Array(c).keys()] }),
      g.macroF1AllClasses,
      0,
      REL,
      "macroF1 labels=range(C)",
    );
    await assertClose(
      balancedAccuracy(y, p, { numClasses: c }),
      g.balancedAccuracy,
      0,
      REL,
      "bacc",
    );
    const s = perClassScores(y, p, c);
    await assertClose(s.precision, g.precision, 1e-12, REL, "precision");
    await assertClose(s.recall, g.recall, 1e-12, REL, "recall");
    await assertClose(s.f1, g.f1, 1e-12, REL, "f1");
    assert.deepEqual(s.support, g.support);
    if (g.probs) {
      assert.deepEqual(Array.from(argmax(g.probs)), g.preds);
      await assertClose(expectedCalibrationError(g.probs, y), g.ece15!, 1e-12, REL, "ece");
      await assertClose(distributionStd(g.probs), g.distributionStd!, 1e-12, REL, "std");
    }
  });
}

Deno.test("edge case: macro-F1 default set differs from labels=range(C)", () => {
  const g = golden.classification.find((c) => c.name === "edge-missing-classes")!;
  // The case must actually exercise the edge: class 2 never predicted, class 4 never true, 5 neither.
  assert.ok(!g.preds.includes(2) && !g.labels.includes(4) && g.preds.includes(4));
  assert.ok(g.macroF1 !== g.macroF1AllClasses);
});

Deno.test("flat Float32Array distributions agree with number[][]", () => {
  const rows = [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25], [0.3, 0.3, 0.4]];
  const flat = Float32Array.from(rows.flat());
  assert.deepEqual(Array.from(argmax(flat, 3)), [1, 0, 2]);
  assert.deepEqual(Array.from(argmax(rows)), [1, 0, 2]);
  // ties: lowest index
  assert.deepEqual(Array.from(argmax([[0.4, 0.4, 0.2]])), [0]);
  assert.throws(() => argmax(flat), /numClasses/);
  assert.throws(() => argmax(flat, 4), /multiple/);
});

Deno.test("ECE: hand-computed bins and boundaries", async () => {
  // conf 1/15 exactly falls into bin 0 ((0, 1/15]); conf 1 into the last bin.
  const probs = [[1, 0], [0.6, 0.4], [0.6, 0.4], [0.9, 0.1]];
  const labels = Int32Array.from([0, 0, 1, 1]);
  const { ece, bins } = calibration(probs, labels);
  // bins: 1.0 → bin 14 (acc 1, conf 1); 0.6 → bin 8 (acc .5, conf .6); 0.9 → bin 13 (acc 0, conf .9)
  assert.equal(bins[14].count, 1);
  assert.equal(bins[8].count, 2);
  assert.equal(bins[13].count, 1);
  await assertClose(ece, (2 / 4) * 0.1 + (1 / 4) * 0.9, 1e-12);
  assert.equal(calibration([[1 / 15, 14 / 15]], Int32Array.from([1])).bins[13].count, 1);
  assert.throws(() => calibration(probs, Int32Array.from([0])), /differ in length/);
});

Deno.test("misprediction share: by true vs predicted class", () => {
  const y = Int32Array.from([0, 0, 1, 1, 2, 2]);
  const p = Int32Array.from([1, 1, 1, 2, 2, 0]);
  // wrong: (0→1), (0→1), (1→2), (2→0): by true [2,1,1]/4, by predicted [1,2,1]/4
  assert.deepEqual(mispredictionShare(y, p, 3, "true"), [0.5, 0.25, 0.25]);
  assert.deepEqual(mispredictionShare(y, p, 3, "predicted"), [0.25, 0.5, 0.25]);
  assert.deepEqual(mispredictionShare(y, y, 3), [0, 0, 0]);
});

Deno.test("distribution std is the population std; summary", async () => {
  await assertClose(distributionStd([[0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0]]), [
    0,
    Math.sqrt(3) / 4,
  ], 1e-12);
  const s = summarize([3, 1, 2, 4]);
  assert.deepEqual({ ...s, std: 0 }, { mean: 2.5, std: 0, min: 1, median: 2.5, max: 4 });
  await assertClose(s.std, Math.sqrt(1.25), 1e-12);
  assert.ok(Number.isNaN(summarize([]).mean));
});

Deno.test("bad input names the problem", () => {
  assert.throws(
    () => confusionMatrix(Int32Array.from([0, 1]), Int32Array.from([0])),
    /differ in length/,
  );
  assert.throws(
    () => confusionMatrix(Int32Array.from([0, 3]), Int32Array.from([0, 1]), 3),
    /label 3 at sample 1/,
  );
  assert.throws(() => argmax([[0.5, 0.5], [1]]), /distribution 1 has 1/);
});

Deno.test("evaluatePredictions: primary vs final report", async () => {
  const names = ["a", "b", "c"];
  const labels = Int32Array.from([0, 1, 2, 2]);
  const primary = Float32Array.from([0.8, 0.1, 0.1, 0.6, 0.3, 0.1, 0.2, 0.5, 0.3, 0.1, 0.1, 0.8]);
  const final = [[0.5, 0.3, 0.2], [0.3, 0.5, 0.2], [0.3, 0.3, 0.4], [0.5, 0.2, 0.3]];
  const r = evaluatePredictions({ labels, primary, final, classNames: names });
  assert.equal(r.numSamples, 4);
  assert.equal(r.primary.accuracy, 0.5);
  assert.equal(r.final.accuracy, 0.75);
  assert.deepEqual(r.change, { changed: 3, fixed: 2, broken: 1 });
  assert.deepEqual(r.primary.confusionMatrix, [[1, 0, 0], [1, 0, 0], [0, 1, 1]]);
  assert.deepEqual(r.final.perClass.map((c) => c.recall), [1, 1, 0.5]);
  assert.equal(r.primary.mispredictions, 2);
  assert.deepEqual(r.primary.perClass.map((c) => c.mispredictionShareByTrue), [0, 0.5, 0.5]);
  assert.ok(r.final.distributionStd.mean < r.primary.distributionStd.mean);
  await assertClose(r.final.maxProbability.max, 0.5, 1e-7);
  // JSON round trip keeps the numbers
  const back = JSON.parse(JSON.stringify(r));
  assert.equal(back.final.macroF1, r.final.macroF1);
  assert.throws(
    () => evaluatePredictions({ labels, primary, final: final.slice(1), classNames: names }),
    /differ in length/,
  );
});

Deno.test("predictionChanges: changed, fixed and broken; parallel arrays only", () => {
  const labels = Int32Array.from([0, 1, 2, 2, 1]);
  const before = Int32Array.from([0, 0, 2, 1, 1]);
  const after = Int32Array.from([1, 1, 2, 0, 1]);
  // sample 0 right → wrong (broken), 1 wrong → right (fixed), 3 wrong → wrong (changed only)
  assert.deepEqual(predictionChanges(labels, before, after), { changed: 3, fixed: 1, broken: 1 });
  assert.deepEqual(predictionChanges(labels, before, before), { changed: 0, fixed: 0, broken: 0 });
  assert.throws(() => predictionChanges(labels, before, after.subarray(1)), /differ in length/);
});

Deno.test("withFinalKey: an older report's `corrected` reads as `final`; others unchanged", () => {
  const old = { classNames: ["a"], primary: { accuracy: 1 }, corrected: { accuracy: 0.5 } };
  const r = withFinalKey(old) as Record<string, unknown>;
  assert.deepEqual(r, { classNames: ["a"], primary: { accuracy: 1 }, final: { accuracy: 0.5 } });
  assert.ok("corrected" in old, "the input is not changed");
  const now = { primary: {}, final: { accuracy: 0.7 } };
  assert.equal(withFinalKey(now), now);
  assert.equal(withFinalKey(null), null);
  assert.deepEqual(withFinalKey([1]), [1]);
});
