import * as tf from "@tensorflow/tfjs";
import { assert, assertNoLeak } from "./testing.ts";
import { selectBackend } from "./backend.ts";
import { patchWasmScalarMinMax, unpatchWasmScalarMinMax } from "./wasm_minmax.ts";

/** Runs `f` with tfjs' own kernels, then with the patched ones; returns both results' values. */
async function both(
  f: () => tf.Tensor,
): Promise<[Float32Array | Int32Array, number[], Float32Array | Int32Array, number[]]> {
  unpatchWasmScalarMinMax();
  const a = f();
  const av = (await a.data()) as Float32Array, as = a.shape;
  a.dispose();
  assert.ok(patchWasmScalarMinMax());
  const b = f();
  const bv = (await b.data()) as Float32Array, bs = b.shape;
  b.dispose();
  return [av, as, bv, bs];
}

Deno.test("wasm maximum/minimum with a scalar operand: same values and shapes as tfjs' kernels, no leaks", async () => {
  await selectBackend("wasm");
  const x = tf.tensor4d(
    Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => Math.sin(i * 1.7) * 8),
    [2, 3, 4, 5],
  );
  const special = tf.tensor1d([-Infinity, -6, -0.5, 0, 0.25, 6, 7, Infinity]);
  const iv = tf.tensor1d([-3, 0, 2, 9], "int32");
  const vec = tf.tensor1d([0, 1, 2, 3, 4]);
  try {
    const cases: [string, () => tf.Tensor][] = [
      ["max(x, 0)", () => tf.maximum(x, 0)],
      ["min(x, 6)", () => tf.minimum(x, 6)],
      ["relu6 as min(max(x, 0), 6)", () => tf.minimum(tf.maximum(x, 0), 6)],
      ["max(0.5, x): scalar first", () => tf.maximum(tf.scalar(0.5), x)],
      ["min(x, [2.5]): one-element vector", () => tf.minimum(x, tf.tensor1d([2.5]))],
      [
        "max([[1]], v): scalar of higher rank falls back",
        () => tf.maximum(tf.tensor2d([[1]]), special),
      ],
      ["specials vs 0", () => tf.maximum(special, 0)],
      ["specials vs 6", () => tf.minimum(special, 6)],
      ["int32 falls back", () => tf.maximum(iv, 1)],
      ["vector operand falls back", () => tf.maximum(x, vec)],
    ];
    for (const [name, f] of cases) {
      const [av, as, bv, bs] = await both(() => tf.tidy(f));
      assert.deepEqual(bs, as, `${name}: shape`);
      // Same values; a zero may change sign (−0 vs +0), which === treats as equal.
      for (let i = 0; i < av.length; i++) {
        assert.ok(av[i] === bv[i], `${name}[${i}]: ${bv[i]} vs ${av[i]}`);
      }
    }
    await assertNoLeak(async () => {
      const y = tf.tidy(() => tf.minimum(tf.maximum(x, 0), 6));
      await y.data();
      y.dispose();
    });
    // Gradients are the op's, not the kernel's: relu6's gradient passes 0 < x < 6.
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.minimum(tf.maximum(t, 0), 6)))(special);
    assert.deepEqual(Array.from(await g.data()), [0, 0, 0, 1, 1, 1, 0, 0]);
    g.dispose();
  } finally {
    patchWasmScalarMinMax();
    tf.dispose([x, special, iv, vec]);
  }
});
