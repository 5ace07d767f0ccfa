import { assert, assertClose } from "../testing.ts";
import { calinskiHarabasz, clusterScores, daviesBouldin } from "./cluster.ts";

interface GoldenCluster {
  name: string;
  x: number[][];
  labels: number[];
  daviesBouldin: number;
  calinskiHarabasz: number;
}
const golden = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/golden.json", import.meta.url)),
) as { cluster: GoldenCluster[] };

for (const g of golden.cluster) {
  Deno.test(`cluster scores match scikit-learn: ${g.name}`, async () => {
    const s = clusterScores(g.x, g.labels);
    await assertClose(s.daviesBouldin, g.daviesBouldin, 0, 1e-6, "DB");
    await assertClose(s.calinskiHarabasz, g.calinskiHarabasz, 0, 1e-6, "CH");
    // flat Float64Array input gives the same numbers
    const flat = Float64Array.from(g.x.flat());
    await assertClose(daviesBouldin(flat, g.labels, g.x[0].length), g.daviesBouldin, 0, 1e-6);
    await assertClose(
      calinskiHarabasz(flat, Int32Array.from(g.labels)),
      g.calinskiHarabasz,
      0,
      1e-6,
    );
  });
}

Deno.test("cluster scores: degenerate cases as scikit-learn", () => {
  // all points on their centroids: DB 0, CH 1
  const x = [[0, 0], [0, 0], [1, 1], [1, 1]];
  assert.deepEqual(clusterScores(x, [0, 0, 1, 1]), {
    daviesBouldin: 0,
    calinskiHarabasz: 1,
    numClusters: 2,
  });
});

Deno.test("cluster scores: bad input names the problem", () => {
  const x = [[0, 1], [1, 0], [2, 2]];
  assert.throws(() => clusterScores(x, [1, 1, 1]), /number of clusters is 1/);
  assert.throws(() => clusterScores(x, [0, 1, 2]), /number of clusters is 3/);
  assert.throws(() => clusterScores(x, [0, 1]), /3 embeddings but 2 labels/);
  assert.throws(() => clusterScores([[0, 1], [1], [2, 2]], [0, 1, 1]), /embedding 1 has 1/);
  assert.throws(
    () => clusterScores([[0, 1], [1, NaN], [2, 2]], [0, 1, 1]),
    /embedding 1 has a non-finite value/,
  );
  assert.throws(() => clusterScores(new Float32Array(7), [0, 1, 1]), /cannot infer/);
});

Deno.test("cluster scores: 2000 × 768 in well under a second", () => {
  const n = 2000, d = 768;
  const x = new Float32Array(n * d);
  let s = 1;
  for (let i = 0; i < x.length; i++) {
    s = (s * 16807) % 2147483647;
    x[i] = s / 2147483647 + (Math.floor(i / d) % 7) * 0.01;
  }
  const labels = Int32Array.from({ length: n }, (_, i) => i % 7);
  const t = performance.now();
  const r = clusterScores(x, labels, d);
  assert.ok(performance.now() - t < 2000);
  assert.ok(Number.isFinite(r.daviesBouldin) && r.calinskiHarabasz > 0);
});
