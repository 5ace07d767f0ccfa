import * as tf from "@tensorflow/tfjs";
import { assert, assertNoLeak } from "../testing.ts";
import { loadGraphTrunk, nodeDepths, pickStageNodes } from "./graph_trunk.ts";
import { FACERES_NODES } from "./faceres.ts";
import { npmFile } from "./weights.ts";

Deno.test("graph trunk: stage picking takes the deepest node per side, finest first", () => {
  const topo = [
    { name: "in", input: [] },
    { name: "b", input: ["a"] }, // listed before its input: depth, not list order, decides
    { name: "a", input: ["in"] },
    { name: "c", input: ["b:0", "^a"] },
    { name: "head", input: ["c"] },
  ];
  const depth = nodeDepths(topo);
  assert.deepEqual([...depth.entries()].sort(), [["a", 1], ["b", 2], ["c", 3], ["head", 4], [
    "in",
    0,
  ]]);
  const nodes = [
    { name: "a", shape: [1, 8, 8, 4], depth: 1 },
    { name: "b", shape: [1, 8, 8, 4], depth: 2 },
    { name: "c", shape: [1, 4, 4, 8], depth: 3 },
    { name: "head", shape: [1, 2, 2, 2], depth: 4 },
    { name: "flat", shape: [1, 16], depth: 5 },
  ];
  assert.deepEqual(pickStageNodes(nodes, 3), ["b", "c", "head"]);
  assert.deepEqual(pickStageNodes(nodes, 2), ["c", "head"]);
  assert.deepEqual(pickStageNodes(nodes, 3, [4, 8]), ["b", "c"]);
  assert.throws(() => pickStageNodes(nodes, 3, [16]), /no square map of side 16/);
});

Deno.test("graph trunk: on Human's faceres it picks the nodes the npm-face image stream taps", async () => {
  const trunk = await loadGraphTrunk(await npmFile("@vladmandic/human", "models/faceres.json"), {
    input: "x255",
  });
  try {
    assert.deepEqual(trunk.nodes, FACERES_NODES);
    assert.deepEqual(trunk.shapes, [[28, 256], [14, 512], [7, 1024]]);
    assert.equal(trunk.generatedBy, "https://github.com/HSE-asavchenko/HSE_FaceRec_tf");
    await assertNoLeak(async () => {
      const x = tf.randomUniform([1, 112, 112, 3], 0, 1, "float32", 1) as tf.Tensor4D;
      const maps = trunk.run(x);
      assert.deepEqual(maps.map((m) => m.shape), [[1, 28, 28, 256], [1, 14, 14, 512], [
        1,
        7,
        7,
        1024,
      ]]);
      assert.ok((await maps[2].data()).every(Number.isFinite));
      tf.dispose([x, ...maps]);
    });
  } finally {
    trunk.dispose();
  }
});
