import * as tf from "@tensorflow/tfjs";
import { assert, assertNoLeak } from "./testing.ts";
import { selectBackend } from "./backend.ts";
import {
  patchSoftmaxGradient,
  SOFTMAX_GRAD_KERNEL,
  unpatchSoftmaxGradient,
} from "./wasm_softmax.ts";

/** ∂/∂x of Σ softmax(x, dim)·w, read back. */
async function gradient(x: tf.Tensor, w: tf.Tensor, dim = -1): Promise<Float32Array> {
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.softmax(t, dim), w)))(x);
  const v = (await g.data()) as Float32Array;
  g.dispose();
  return v;
}

function seeded(shape: number[], seed: number, scale = 3): tf.Tensor {
  return tf.randomNormal(shape, 0, scale, "float32", seed);
}

Deno.test("wasm softmax gradient: fused kernel equals tfjs' composite gradient, no leaks", async () => {
  await selectBackend("wasm"); // patches the gradient
  // Row lengths below, at and past a SIMD width, not multiples of 4, and the attention shape.
  const shapes = [[5, 1], [3, 4], [2, 7], [4, 3, 9], [2, 148, 148], [6, 49, 50]];
  try {
    for (const [i, shape] of shapes.entries()) {
      const x = seeded(shape, 10 + i), w = seeded(shape, 40 + i, 1);
      assert.ok(unpatchSoftmaxGradient());
      const want = await gradient(x, w);
      assert.ok(patchSoftmaxGradient());
      const got = await gradient(x, w);
      let worst = 0;
      for (let j = 0; j < want.length; j++) {
        worst = Math.max(worst, Math.abs(got[j] - want[j]) / (1e-6 + Math.abs(want[j])));
        assert.ok(Math.abs(got[j] - want[j]) <= 1e-6 + 1e-5 * Math.abs(want[j]), `${shape}[${j}]`);
      }
      x.dispose(), w.dispose();
      assert.ok(worst < 1e-3, `${shape}: worst relative error ${worst}`);
    }
    // A softmax over another axis keeps tfjs' composite: the values match exactly.
    const x = seeded([3, 5, 6], 3), w = seeded([3, 5, 6], 4, 1);
    unpatchSoftmaxGradient();
    const want = await gradient(x, w, 1).catch(() => null);
    patchSoftmaxGradient();
    const got = await gradient(x, w, 1).catch(() => null);
    assert.deepEqual(got, want);
    await assertNoLeak(async () => {
      await gradient(x, w);
    });
    // The fused kernel is what runs: one kernel in place of tfjs' four.
    const kernels = async () =>
      (await tf.profile(async () => {
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.softmax(t), w)))(x);
        await g.data();
        g.dispose();
      })).kernelNames;
    assert.ok((await kernels()).includes(SOFTMAX_GRAD_KERNEL));
    unpatchSoftmaxGradient();
    assert.ok(!(await kernels()).includes(SOFTMAX_GRAD_KERNEL));
    patchSoftmaxGradient();
    x.dispose(), w.dispose();
  } finally {
    patchSoftmaxGradient();
  }
});

Deno.test("softmax gradient on the cpu backend: the patched gradient is tfjs' composite", async () => {
  await selectBackend("cpu");
  const x = seeded([4, 11], 7), w = seeded([4, 11], 8, 1);
  try {
    unpatchSoftmaxGradient();
    const want = await gradient(x, w);
    patchSoftmaxGradient();
    assert.deepEqual(await gradient(x, w), want);
    // The fused result is correct on its own terms too: rows of the gradient sum to zero.
    const g = await gradient(x, w);
    for (let r = 0; r < 4; r++) {
      const s = g.slice(r * 11, r * 11 + 11).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s) < 1e-5, `row ${r} sums to ${s}`);
    }
  } finally {
    x.dispose(), w.dispose();
    await selectBackend("wasm");
  }
});
