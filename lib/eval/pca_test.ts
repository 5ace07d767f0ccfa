import { assert, assertClose } from "../testing.ts";
import { pca, symmetricEigen } from "./pca.ts";

const golden = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/golden.json", import.meta.url)),
) as { pca: { x: number[][]; k: number; explainedVariance: number[]; components: number[][] } };

Deno.test("pca matches scikit-learn's explained variance and axes (up to sign)", async () => {
  const g = golden.pca;
  const n = g.x.length, d = g.x[0].length;
  const r = pca(Float64Array.from(g.x.flat()), n, d, g.k, 3);
  await assertClose(r.variance, g.explainedVariance, 0, 1e-6, "variance");
  for (let j = 0; j < g.k; j++) {
    const mine = Array.from(r.components.subarray(j * d, (j + 1) * d));
    const dot = mine.reduce((a, v, t) => a + v * g.components[j][t], 0);
    await assertClose(Math.abs(dot), 1, 1e-6, 0, `axis ${j}`);
  }
  // projected columns have the component variances
  for (let j = 0; j < g.k; j++) {
    let m = 0, v = 0;
    for (let i = 0; i < n; i++) m += r.projected[i * g.k + j] / n;
    for (let i = 0; i < n; i++) v += (r.projected[i * g.k + j] - m) ** 2 / (n - 1);
    await assertClose(v, g.explainedVariance[j], 0, 1e-6);
  }
});

Deno.test("pca: seeded and deterministic; subspace iteration on a wide matrix", async () => {
  const n = 200, d = 120;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < d; t++) x[i * d + t] = Math.sin(i * 0.37 + t * 1.3) * (t < 5 ? 5 - t : 0.1);
  }
  const a = pca(x, n, d, 8, 1), b = pca(x, n, d, 8, 1);
  assert.deepEqual(a.projected, b.projected);
  // compare with the exact eigenvalues of the covariance
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let t = 0; t < d; t++) mean[t] += x[i * d + t] / n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < d; s++) {
      for (let t = 0; t < d; t++) {
        cov[s * d + t] += (x[i * d + s] - mean[s]) * (x[i * d + t] - mean[t]) / (n - 1);
      }
    }
  }
  const exact = symmetricEigen(cov, d).values.slice(0, 8);
  await assertClose(a.variance, exact, 1e-9, 1e-6);
  assert.throws(() => pca(x, n, d + 1, 2), /not 200 × 121/);
});
