import * as tf from "@tensorflow/tfjs";
import { assert, assertNoLeak } from "../../testing.ts";
import { selectBackend } from "../../backend.ts";
import { createPaperExtractor, ir50, mobileFaceNet } from "./mod.ts";

// Inference only (the extractors are frozen), so wasm's forward conv kernels suffice; wasm runs
// the full-size pair in well under a second per image, the cpu backend takes tens of seconds.
await selectBackend("wasm");

Deno.test("paper extractor: six maps of the paper's shapes for a 1×112×112×3 input, no leaks", async () => {
  const ex = createPaperExtractor({ seed: 7 });
  try {
    assert.equal(ex.name, "paper:seed=7");
    assert.equal(ex.version, 1);
    assert.equal(ex.inputSize, 112);
    assert.deepEqual(ex.landmarkShape, [[28, 64], [14, 128], [7, 512]]);
    assert.deepEqual(ex.imageShape, [[56, 64], [28, 128], [14, 256]]);
    const x = tf.randomUniform([1, 112, 112, 3], 0, 1, "float32", 1) as tf.Tensor4D;
    await assertNoLeak(async () => {
      const maps = ex.extract(x);
      assert.deepEqual(maps.landmark.map((t) => t.shape), [[1, 28, 28, 64], [1, 14, 14, 128], [
        1,
        7,
        7,
        512,
      ]]);
      assert.deepEqual(maps.image.map((t) => t.shape), [[1, 56, 56, 64], [1, 28, 28, 128], [
        1,
        14,
        14,
        256,
      ]]);
      for (const t of [...maps.landmark, ...maps.image]) {
        const v = await t.data();
        assert.ok(v.every(Number.isFinite), "finite features");
        assert.ok(v.some((a) => a !== 0), "non-zero features");
      }
      tf.dispose([...maps.landmark, ...maps.image]);
    }, "extract");
    x.dispose();
  } finally {
    ex.dispose();
  }
  assert.throws(() => ex.extract(tf.zeros([1, 112, 112, 3])), /after dispose/);
});

Deno.test("paper extractor: other input sides are resized; bad input is refused", async () => {
  const ex = createPaperExtractor({ seed: 1, width: 0.25 });
  try {
    assert.equal(ex.name, "paper:seed=1:width=0.25");
    assert.deepEqual(ex.imageShape, [[56, 16], [28, 32], [14, 64]]);
    const x = tf.ones([2, 48, 48, 3]) as tf.Tensor4D;
    await assertNoLeak(() => {
      const maps = ex.extract(x);
      assert.deepEqual(maps.image[0].shape, [2, 56, 56, 16]);
      assert.deepEqual(maps.landmark[2].shape, [2, 7, 7, 128]);
      tf.dispose([...maps.landmark, ...maps.image]);
    });
    x.dispose();
    const gray = tf.zeros([1, 112, 112, 1]) as tf.Tensor4D;
    assert.throws(
      () => ex.extract(gray),
      /paper: expected \[B, H, W, 3\] RGB input, got \[1,112,112,1\]/,
    );
    assert.throws(
      () => mobileFaceNet(ex.trees.mobilefacenet, tf.zeros([1, 64, 64, 3])),
      /mobilefacenet: expected \[B, 112, 112, 3\]/,
    );
    gray.dispose();
  } finally {
    ex.dispose();
  }
});

Deno.test("paper extractor: the seed decides the weights; the same seed gives the same features", async () => {
  const a = createPaperExtractor({ seed: 5, width: 0.25 });
  const b = createPaperExtractor({ seed: 5, width: 0.25 });
  const c = createPaperExtractor({ seed: 6, width: 0.25 });
  const x = tf.randomUniform([1, 112, 112, 3], 0, 1, "float32", 2) as tf.Tensor4D;
  try {
    const outs = [a, b, c].map((e) => ir50(e.trees.ir50, x));
    const [da, db, dc] = await Promise.all(outs.map((o) => o[2].data()));
    assert.deepEqual(Array.from(da), Array.from(db));
    assert.notDeepEqual(Array.from(da), Array.from(dc));
    tf.dispose(outs.flat());
  } finally {
    for (const e of [a, b, c]) e.dispose();
    x.dispose();
  }
});
