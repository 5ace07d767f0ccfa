import { assert, assertClose } from "../testing.ts";
import { argmaxOf, claimLine, formatMeanStd, meanStd, verdict } from "./tables.ts";

Deno.test("meanStd: sample std over seeds, NaN std for one seed, NaN mean for none", () => {
  const m = meanStd([0.7, 0.72, 0.74]);
  assertClose(m.mean, 0.72, 1e-12);
  assertClose(m.std, 0.02, 1e-12); // ddof = 1 (population std would be 0.0163)
  assert.equal(m.n, 3);
  assert.ok(Number.isNaN(meanStd([0.5]).std));
  assert.equal(meanStd([0.5]).mean, 0.5);
  assert.ok(Number.isNaN(meanStd([]).mean));
});

Deno.test("formatMeanStd / verdict / claimLine / argmaxOf", () => {
  assert.equal(formatMeanStd(meanStd([0.7, 0.72, 0.74])), "72.00 ± 2.00");
  assert.equal(formatMeanStd(meanStd([0.7123])), "71.23");
  assert.equal(formatMeanStd(meanStd([1.5, 2.5]), { scale: 1, digits: 1 }), "2.0 ± 0.7");
  assert.equal(formatMeanStd(meanStd([])), "");
  assert.equal(verdict(true), "holds");
  assert.equal(verdict(false), "does not hold on this run");
  assert.equal(verdict(null), "not tested in this profile");
  assert.equal(
    claimLine("RB helps", false, "1 vs 2"),
    "RB helps: does not hold on this run (1 vs 2)",
  );
  assert.equal(argmaxOf([1, 3, 3, NaN]), 1);
  assert.equal(argmaxOf([NaN, 2]), 1);
  assert.equal(argmaxOf([]), -1);
});
