import { assert } from "../testing.ts";
import { adjustPrior, classPrior } from "./prior.ts";
import { priorCorrect } from "./probe.ts";

Deno.test("classPrior: shares of the labels in range", () => {
  assert.deepEqual(classPrior([0, 0, 1, 2, -1, 2, 2, 0], 4), [3 / 7, 1 / 7, 3 / 7, 0]);
  assert.throws(() => classPrior([-1, 5], 3), /none of 2 labels is in 0..2/);
});

Deno.test("adjustPrior: hand-checked two-class case", () => {
  // Trained under a uniform prior, the row (0.4, 0.6) moved to the prior (0.8, 0.2):
  // (0.4·1.6, 0.6·0.4) = (0.64, 0.24) → (0.64, 0.24) / 0.88 = (0.7273, 0.2727): the arg-max flips.
  const out = adjustPrior(Float32Array.of(0.4, 0.6, 0.9, 0.1), 2, [0.5, 0.5], [0.8, 0.2]);
  assert.ok(Math.abs(out[0] - 0.64 / 0.88) < 1e-6 && Math.abs(out[1] - 0.24 / 0.88) < 1e-6);
  assert.ok(Math.abs(out[2] - 0.72 / 0.74) < 1e-6 && Math.abs(out[3] - 0.02 / 0.74) < 1e-6);
});

Deno.test("adjustPrior: the same rule as the probe's logit correction; identity for equal priors", () => {
  const logits = Float32Array.of(1, -2, 0.5, 3, 0, -1);
  const soft = (z: Float32Array) => {
    const out = new Float32Array(z.length);
    for (let i = 0; i < z.length; i += 3) {
      const e = [0, 1, 2].map((k) => Math.exp(z[i + k]));
      const s = e[0] + e[1] + e[2];
      for (let k = 0; k < 3; k++) out[i + k] = e[k] / s;
    }
    return out;
  };
  const from = [0.2, 0.3, 0.5];
  const to = [0.6, 0.3, 0.1];
  const a = adjustPrior(soft(logits), 3, from, to);
  const b = soft(priorCorrect(logits, 3, from, to));
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) < 1e-6, `${i}: ${a[i]} ${b[i]}`);
  }
  const same = adjustPrior(soft(logits), 3, from, from);
  soft(logits).forEach((v, i) => assert.ok(Math.abs(v - same[i]) < 1e-7));
});

Deno.test("adjustPrior: bad priors and shapes are named", () => {
  const d = Float32Array.of(0.5, 0.5);
  assert.throws(() => adjustPrior(d, 2, [1], [0.5, 0.5]), /priors must have 2 entries/);
  assert.throws(() => adjustPrior(d, 2, [0, 1], [0.5, 0.5]), /class 0 has prior 0/);
  assert.throws(() => adjustPrior(d, 2, [0.5, 0.5], [-1, 2]), /class 0 has target prior -1/);
  assert.throws(
    () => adjustPrior(Float32Array.of(1, 0, 0), 2, [0.5, 0.5], [0.5, 0.5]),
    /not rows of 2/,
  );
  // A row whose mass lies only on target-prior-0 classes keeps its distribution.
  assert.deepEqual([...adjustPrior(Float32Array.of(1, 0), 2, [0.5, 0.5], [0, 1])], [1, 0]);
});
