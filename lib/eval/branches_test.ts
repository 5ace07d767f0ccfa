import { assert } from "../testing.ts";
import { branchReport, rbChanges, rowConfidence } from "./branches.ts";

const C = 2;
const f = (rows: number[][]) => Float32Array.from(rows.flat());

Deno.test("rbChanges: changed, fixed, broken by hand", () => {
  const labels = Int32Array.from([0, 1, 1, 0]);
  const primary = f([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]); // 0 0 1 0
  const final = f([[0.9, 0.1], [0.4, 0.6], [0.6, 0.4], [0.7, 0.3]]); // 0 1 0 0
  const r = rbChanges(labels, primary, final, C);
  assert.deepEqual([r.changed, r.fixed, r.broken], [2, 1, 1]);
  assert.equal(r.changedShare, 0.5);
  assert.deepEqual([r.mcnemar.b, r.mcnemar.c, r.mcnemar.p], [1, 1, 1]);
});

Deno.test("branchReport: accuracies, confidences and l's weight by hand", () => {
  const labels = Int32Array.from([0, 1]);
  const primary = f([[0.5, 0.5], [0.5, 0.5]]); // uniform: c_l = 0
  const correction = f([[1, 0], [0, 1]]); // one-hot: c_t = 1
  const r = branchReport(labels, {
    primary,
    geometric: correction,
    attentive: null,
    correction,
    final: correction,
  }, C);
  assert.equal(r.accuracy.primary, 0.5); // ties → class 0
  assert.equal(r.accuracy.final, 1);
  assert.equal(r.accuracy.attentive, null);
  assert.equal(r.confidence.attentive, null);
  assert.ok(Math.abs(r.confidence.primary!.median) < 1e-6);
  assert.ok(Math.abs(r.confidence.correction!.mean - 1) < 1e-6);
  assert.ok(r.primaryWeight!.median < 1e-5, `w_l ${r.primaryWeight!.median}`);
  assert.deepEqual([r.changes.changed, r.changes.fixed, r.changes.broken], [1, 1, 0]);
  assert.ok(Math.abs(r.distributionStd.primary) < 1e-7 && r.distributionStd.final > 0.49);
  assert.throws(
    () => branchReport(labels, { ...r, primary: f([[1, 0]]) } as never, C),
    /primary has 2 values, expected 2 × 2/,
  );
});

Deno.test("rowConfidence: uniform 0, one-hot 1, matches −Σ p ln p / ln C", () => {
  const c = rowConfidence(f([[0.5, 0.5], [1, 0], [0.75, 0.25]]), C);
  const h = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25)) / Math.log(2);
  assert.ok(Math.abs(c[0]) < 1e-7 && Math.abs(c[1] - 1) < 1e-7 && Math.abs(c[2] - (1 - h)) < 1e-6);
});
