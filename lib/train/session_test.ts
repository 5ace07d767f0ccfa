import { assert } from "../testing.ts";
import { averagePredictions, balancedSample, seededSample } from "./session.ts";

Deno.test("balancedSample: every present class equally often, seeded, cut to k", () => {
  // Class 0 has 8 members, class 1 has 2, class 2 none: 6 draws are 3 + 3, class 1 repeating.
  const labels = Int32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  const idx = balancedSample(labels, 3, 6, 4);
  assert.equal(idx.length, 6);
  const count = (c: number) => idx.filter((i) => labels[i] === c).length;
  assert.deepEqual([count(0), count(1), count(2)], [3, 3, 0]);
  assert.equal(
    new Set(idx.filter((i) => labels[i] === 0)).size,
    3,
    "no repeat while members remain",
  );
  assert.deepEqual(balancedSample(labels, 3, 6, 4), idx, "seeded");
  assert.notDeepEqual(balancedSample(labels, 3, 6, 5), idx, "another seed, another draw");
  // The natural draw keeps the prior instead (distinct indices).
  const nat = seededSample(labels.length, 10, 4);
  assert.equal(new Set(nat).size, 10);
  assert.equal(nat.filter((i) => labels[i] === 1).length, 2);
});

Deno.test("averagePredictions: the element-wise mean of every present distribution", () => {
  const p = (x: number, withT: boolean) => ({
    embedding: Float32Array.of(x, 2 * x),
    dim: 2,
    primary: Float32Array.of(x, 1 - x),
    geometric: withT ? Float32Array.of(x, x) : null,
    attentive: null,
    correction: withT ? Float32Array.of(1, 0) : null,
    final: Float32Array.of(1 - x, x),
  });
  const m = averagePredictions(p(0.2, true), p(0.6, true));
  assert.deepEqual(Array.from(m.primary), [0.4000000059604645, 0.6000000238418579]);
  assert.deepEqual(Array.from(m.embedding), [0.4000000059604645, 0.800000011920929]);
  assert.equal(m.attentive, null);
  assert.deepEqual(Array.from(m.correction!), [1, 0]);
  assert.equal(averagePredictions(p(0.2, false), p(0.6, true)).geometric, null);
  assert.throws(
    () => averagePredictions(p(0.2, true), { ...p(0.6, true), final: Float32Array.of(1) }),
    /final lengths differ/,
  );
});
