import { assert } from "../testing.ts";
import { clusterScores, evaluateEmbeddings } from "./mod.ts";

Deno.test("evaluateEmbeddings: cluster scores and an optional t-SNE layout", async () => {
  const n = 40, dim = 6;
  const x = new Float32Array(n * dim), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let d = 0; d < dim; d++) x[i * dim + d] = labels[i] * 5 + Math.sin(i * 7.1 + d * 3.3);
  }
  const ref = clusterScores(x, labels, dim);
  const off = await evaluateEmbeddings(x, labels, dim, { tsne: false });
  assert.equal(off.tsne, null);
  assert.equal(off.daviesBouldin, ref.daviesBouldin);
  const on = await evaluateEmbeddings(x, labels, dim, { iterations: 100, seed: 1 });
  assert.equal(on.tsneEngine, "barnes-hut");
  assert.equal(on.tsne!.length, 2 * n);
  assert.ok(on.tsne!.every(Number.isFinite));
  assert.ok(on.tsneSeconds! >= 0);
  assert.equal(on.calinskiHarabasz, ref.calinskiHarabasz);
});
