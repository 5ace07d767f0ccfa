import * as tf from "@tensorflow/tfjs";
import { assert, assertNoLeak } from "../testing.ts";
import { loadAgeGenderTrunk, loadLandmark68Tiny, loadRecognitionTrunk } from "./face_api_trunks.ts";

Deno.test("face-api trunks: map shapes, distinct faces give distinct features, no leak", async () => {
  const x = tf.randomUniform([2, 112, 112, 3], 0, 1, "float32", 3) as tf.Tensor4D;
  const expected: [string, () => ReturnType<typeof loadLandmark68Tiny>, number[][]][] = [
    ["landmark68-tiny", loadLandmark68Tiny, [[56, 32], [28, 64], [14, 128]]],
    ["recognition", loadRecognitionTrunk, [[35, 32], [17, 64], [8, 128], [4, 256], [2, 256]]],
    ["age-gender", loadAgeGenderTrunk, [[28, 64], [14, 128], [7, 512]]],
  ];
  for (const [name, load, shapes] of expected) {
    const net = await load();
    await assertNoLeak(async () => {
      const maps = net.run(x);
      assert.deepEqual(maps.map((m) => [m.shape[1], m.shape[3]]), shapes, name);
      for (const m of maps) {
        const d = await m.data();
        assert.ok(d.every(Number.isFinite), `${name}: finite`);
        const half = d.length / 2;
        let diff = 0;
        for (let i = 0; i < half; i++) diff += Math.abs(d[i] - d[half + i]);
        assert.ok(diff > 0, `${name}: two inputs differ`);
      }
      tf.dispose(maps);
    }, name);
    net.dispose();
  }
  x.dispose();
});
