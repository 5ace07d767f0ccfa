import { assert } from "../testing.ts";
import { mcnemar } from "./stats.ts";

Deno.test("mcnemar exact: hand-checked binomial tails", () => {
  // b = 3, c = 0: p = 2 · ½³ = 0.25
  assert.ok(Math.abs(mcnemar(3, 0).p - 0.25) < 1e-12);
  // b = 10, c = 2: n = 12, P(X ≤ 2) = (1 + 12 + 66) / 4096, p = 158 / 4096
  assert.ok(Math.abs(mcnemar(10, 2).p - 158 / 4096) < 1e-12);
  // symmetric in b and c; equal counts give p = 1 (capped); none gives 1
  assert.equal(mcnemar(2, 10).p, mcnemar(10, 2).p);
  assert.equal(mcnemar(5, 5).p, 1);
  assert.equal(mcnemar(0, 0).p, 1);
  // large counts stay finite: 610 fixed vs 176 broken is far beyond chance
  const big = mcnemar(610, 176).p;
  assert.ok(big > 0 && big < 1e-50, `p = ${big}`);
  assert.throws(() => mcnemar(-1, 2), /b = -1 is not a count/);
});
