import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "../testing.ts";
import { selectBackend } from "../backend.ts";
import { extractorNames, loadExtractor } from "./registry.ts";
import type { FeatureMaps } from "./types.ts";

/** Two different synthetic "faces" (smooth blobs at different places) and a repeat of the first. */
function batch(size: number): tf.Tensor4D {
  return tf.tidy(() => {
    const r = tf.range(0, size).div(size - 1) as tf.Tensor1D;
    const yy = tf.tile(tf.reshape(r, [size, 1]), [1, size]);
    const xx = tf.tile(tf.reshape(r, [1, size]), [size, 1]);
    const blob = (cx: number, cy: number) =>
      tf.exp(tf.mul(-12, tf.add(tf.square(tf.sub(xx, cx)), tf.square(tf.sub(yy, cy)))));
    const a = tf.stack([blob(0.35, 0.4), blob(0.6, 0.4), blob(0.5, 0.75)], 2);
    const b = tf.stack([blob(0.5, 0.3), blob(0.3, 0.7), blob(0.7, 0.6)], 2);
    return tf.stack([a, b, a]) as tf.Tensor4D;
  });
}

function maps(m: FeatureMaps): tf.Tensor4D[] {
  return [...m.landmark, ...m.image];
}

for (const name of ["npm-face", "npm-face-fast"]) {
  Deno.test(`${name}: loads from npm files, declared shapes, finite, deterministic, distinct, no leaks`, async () => {
    await selectBackend("wasm");
    const before = tf.memory().numTensors;
    const ex = await loadExtractor(name);
    try {
      assert.equal(ex.name, name);
      assert.equal(ex.inputSize, 112);
      const x = batch(ex.inputSize);
      const live = tf.memory().numTensors;
      const m1 = ex.extract(x);
      assert.equal(tf.memory().numTensors, live + 6, "extract returns exactly its six maps");
      const m2 = ex.extract(x);
      const shapes = [...ex.landmarkShape, ...ex.imageShape];
      const a = maps(m1), b = maps(m2);
      for (let i = 0; i < 6; i++) {
        const [side, ch] = shapes[i];
        assert.deepEqual(a[i].shape, [3, side, side, ch], `map ${i}`);
        const v = await a[i].data();
        assert.ok(v.every(Number.isFinite), `map ${i} finite`);
        assert.ok(v.some((t) => t !== 0), `map ${i} not all zero`);
        await assertClose(a[i], b[i], 0, 0, `map ${i} deterministic`);
        // Image 0 and its repeat (image 2) agree; image 1 differs.
        const per = v.length / 3;
        let d01 = 0, d02 = 0, n0 = 0;
        for (let k = 0; k < per; k++) {
          d01 += (v[k] - v[per + k]) ** 2;
          d02 += (v[k] - v[2 * per + k]) ** 2;
          n0 += v[k] ** 2;
        }
        assert.ok(Math.sqrt(d01 / n0) > 0.05, `map ${i}: different faces give different features`);
        assert.ok(Math.sqrt(d02 / n0) < 1e-4, `map ${i}: batch items are independent`);
      }
      tf.dispose([...a, ...b, x]);
      const gray = tf.zeros([1, 112, 112, 1]) as tf.Tensor4D;
      assert.throws(() => ex.extract(gray), /RGB input/);
      gray.dispose();
    } finally {
      ex.dispose();
    }
    assert.equal(tf.memory().numTensors, before, "weights and maps freed");
  });
}

Deno.test("declared npm-face shapes match the SPEC's strides", async () => {
  await selectBackend("wasm");
  const ex = await loadExtractor("npm-face");
  try {
    assert.deepEqual(ex.landmarkShape, [[28, 64], [14, 128], [7, 256]]);
    assert.deepEqual(ex.imageShape, [[28, 256], [14, 512], [7, 1024]]);
  } finally {
    ex.dispose();
  }
});

Deno.test("unknown extractor names are errors naming the known ones", async () => {
  await assert.rejects(
    () => loadExtractor("resnet-9000"),
    /unknown feature extractor "resnet-9000"/,
  );
  assert.ok(extractorNames().includes("npm-face-fast"));
});

Deno.test("registry builds paper extractors from their names and refuses checkpoint names", async () => {
  await selectBackend("wasm");
  const ex = await loadExtractor("paper:seed=3:width=0.125");
  try {
    assert.equal(ex.name, "paper:seed=3:width=0.125");
    assert.equal(ex.imageShape[0][1], 8);
  } finally {
    ex.dispose();
  }
  await assert.rejects(() => loadExtractor("paper:weights=abcd"), /load it explicitly/);
});
