import { assert } from "../testing.ts";
import { balancedSample, seededSample } from "./session.ts";

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
