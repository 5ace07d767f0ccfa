import { assert, assertClose } from "../testing.ts";
import {
  calinskiHarabasz,
  clusterScores,
  daviesBouldin,
  pairedClusterDifference,
} from "./cluster.ts";
import { verdict } from "./paired.ts";

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

Deno.test("paired cluster difference: tighter classes in arm A are resolved, identical arms are not", () => {
  // Two seeds, 3 classes × 40 points in 4 dimensions; arm A's points lie closer to their class
  // centres than arm B's (the same directions, half the spread).
  let s = 11;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const n = 120, dim = 4;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const run = (spread: number, noise: Float64Array) => {
    const data = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) {
        data[i * dim + j] = (j === labels[i] ? 3 : 0) + spread * noise[i * dim + j];
      }
    }
    return { data, labels, dim };
  };
  const noises = [0, 1].map(() => Float64Array.from({ length: n * dim }, rnd));
  const a = noises.map((z) => run(1, z)), b = noises.map((z) => run(2, z));
  const db = pairedClusterDifference(a, b, "daviesBouldin", { replicates: 200 });
  assert.ok(db.difference < 0, `A has the lower Davies–Bouldin: ${db.difference}`);
  assert.equal(verdict(db, -1), "holds");
  const ch = pairedClusterDifference(a, b, "calinskiHarabasz", { replicates: 200 });
  assert.equal(verdict(ch, 1), "holds");
  const same = pairedClusterDifference(a, a, "daviesBouldin", { replicates: 50 });
  assert.equal(same.difference, 0);
  assert.deepEqual(same.interval, [0, 0]);
  assert.throws(
    () =>
      pairedClusterDifference(
        a,
        [b[0], { ...b[1], labels: labels.map((l) => (l + 1) % 3) }],
        "daviesBouldin",
      ),
    /not the same test images/,
  );
});
