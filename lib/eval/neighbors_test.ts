import { assert, assertClose } from "../testing.ts";
import { knn, knnLabelAgreement, knnPreservation, trustworthiness } from "./neighbors.ts";

const golden = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/golden.json", import.meta.url)),
) as { trustworthiness: { x: number[][]; y: number[][]; k5: number; k10: number } };

Deno.test("knn matches a full sort", () => {
  const n = 40, d = 3;
  const x = Float64Array.from({ length: n * d }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
  const nn = knn(x, n, d, 7);
  for (let i = 0; i < n; i++) {
    const all = [...Array(n).keys()].filter((j) => j !== i).map((j) => {
      let s = 0;
      for (let t = 0; t < d; t++) s += (x[i * d + t] - x[j * d + t]) ** 2;
      return [s, j];
    }).sort((a, b) => a[0] - b[0]);
    assert.deepEqual(
      Array.from(nn.indices.subarray(i * 7, i * 7 + 7)),
      all.slice(0, 7).map((a) => a[1]),
    );
    assert.ok(nn.distances[i * 7] <= nn.distances[i * 7 + 6]);
  }
  assert.throws(() => knn(x, n, d, n), /k must be/);
});

Deno.test("trustworthiness matches scikit-learn", async () => {
  const g = golden.trustworthiness;
  const x = Float64Array.from(g.x.flat()), y = Float64Array.from(g.y.flat());
  await assertClose(trustworthiness(x, g.x[0].length, y, 2, 5), g.k5, 0, 1e-6, "k=5");
  await assertClose(trustworthiness(x, g.x[0].length, y, 2, 10), g.k10, 0, 1e-6, "k=10");
  // an isometric embedding is perfectly trustworthy and preserving
  assert.equal(trustworthiness(x, 6, x, 6, 5), 1);
  assert.equal(knnPreservation(x, 6, x, 6, 5), 1);
});

Deno.test("kNN label agreement", () => {
  const y = Float64Array.from([0, 0, 0.1, 0, 0, 0.1, 5, 5, 5.1, 5, 5, 5.1]);
  assert.equal(knnLabelAgreement(y, 2, [0, 0, 0, 1, 1, 1], 2), 1);
  assert.equal(knnLabelAgreement(y, 2, [0, 1, 0, 1, 0, 1], 2), 1 / 3);
});
