import { assert } from "../testing.ts";
import { seededNormal } from "./random.ts";
import { knnLabelAgreement } from "./neighbors.ts";
import {
  barnesHutEngine,
  DEFAULT_TSNE_ENGINE,
  getTsneEngine,
  inputAffinities,
  tsneJsEngine,
} from "./tsne.ts";

/** `c` well-separated Gaussian clusters in `dim` dimensions, `n` points. */
function clusters(n: number, dim: number, c: number, seed = 7) {
  const r = seededNormal(seed);
  const centers = Array.from({ length: c }, () => Array.from({ length: dim }, () => 8 * r()));
  const x = new Float32Array(n * dim), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % c;
    for (let d = 0; d < dim; d++) x[i * dim + d] = centers[labels[i]][d] + r();
  }
  return { x, labels };
}

Deno.test("barnes-hut t-SNE: finite, seed-deterministic, separates clusters", async () => {
  const n = 200, dim = 60;
  const { x, labels } = clusters(n, dim, 4);
  const opts = { seed: 3, iterations: 300, perplexity: 15 };
  const y = await barnesHutEngine.run(x, n, dim, opts);
  assert.equal(y.length, 2 * n);
  assert.ok(y.every(Number.isFinite));
  assert.deepEqual(await barnesHutEngine.run(x, n, dim, opts), y);
  const agree = knnLabelAgreement(y, 2, labels, 10);
  assert.ok(agree > 0.95, `kNN label agreement ${agree}`);
  // a random start with another seed gives a different (but as good) layout
  const z = await barnesHutEngine.run(x, n, dim, { ...opts, seed: 4, init: "random" });
  assert.notDeepEqual(z, y);
  assert.ok(knnLabelAgreement(z, 2, labels, 10) > 0.95);
});

Deno.test("tsne-js engine: seeded wrapper, output shape and finiteness", async () => {
  const n = 60, dim = 10;
  const { x, labels } = clusters(n, dim, 3);
  const opts = { seed: 1, iterations: 150, perplexity: 10 };
  const y = await tsneJsEngine.run(x, n, dim, opts);
  assert.equal(y.length, 2 * n);
  assert.ok(y.every(Number.isFinite));
  assert.deepEqual(await tsneJsEngine.run(x, n, dim, opts), y);
  assert.ok(knnLabelAgreement(y, 2, labels, 5) > 0.8);
});

Deno.test("input affinities: symmetric, sum to 1, perplexity calibrated", () => {
  const n = 50, dim = 5;
  const { x } = clusters(n, dim, 2);
  const p = inputAffinities(Float64Array.from(x), n, dim, 5);
  let total = 0;
  const get = (i: number, j: number) => {
    for (let t = p.rowPtr[i]; t < p.rowPtr[i + 1]; t++) if (p.cols[t] === j) return p.vals[t];
    return 0;
  };
  for (let i = 0; i < n; i++) {
    for (let t = p.rowPtr[i]; t < p.rowPtr[i + 1]; t++) {
      total += p.vals[t];
      assert.ok(Math.abs(p.vals[t] - get(p.cols[t], i)) < 1e-15, "symmetric");
      assert.notEqual(p.cols[t], i);
    }
  }
  assert.ok(Math.abs(total - 1) < 1e-12);
});

Deno.test("engine registry and bad input", async () => {
  assert.equal(getTsneEngine().name, DEFAULT_TSNE_ENGINE);
  assert.throws(() => getTsneEngine("umap"), /unknown t-SNE engine "umap".*barnes-hut/);
  await assert.rejects(
    async () => await barnesHutEngine.run(new Float32Array(10), 5, 3),
    /10 values is not 5 × 3/,
  );
  const bad = new Float32Array(12);
  bad[7] = NaN;
  await assert.rejects(async () => await barnesHutEngine.run(bad, 6, 2), /point 3, dim 1/);
});
