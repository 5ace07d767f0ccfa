import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "./testing.ts";
import { selectBackend } from "./backend.ts";
import {
  patchWasmBatchMatMul,
  setWasmBatchLoop,
  unpatchWasmBatchMatMul,
  wasmBatchMatMulPatched,
} from "./wasm_matmul.ts";

/** Products under every flag combination, batch layout and broadcast the model uses. */
function cases(keep: tf.Tensor[]): [string, () => tf.Tensor][] {
  const r = (shape: number[], seed: number) => {
    const t = tf.randomNormal(shape, 0, 1, "float32", seed);
    keep.push(t);
    return t;
  };
  const a2 = r([20, 30], 1), b2 = r([30, 12], 2), at2 = r([30, 20], 3), bt2 = r([12, 30], 4);
  const a3 = r([5, 20, 30], 5), b3 = r([5, 30, 12], 6), at3 = r([5, 30, 20], 7);
  const bt3 = r([5, 12, 30], 8), b1 = r([1, 30, 12], 9), a4 = r([2, 3, 20, 30], 10);
  const b4 = r([2, 3, 30, 12], 11);
  return [
    ["2d", () => tf.matMul(a2, b2)],
    ["2d aT", () => tf.matMul(at2, b2, true, false)],
    ["2d bT", () => tf.matMul(a2, bt2, false, true)],
    ["2d aT bT", () => tf.matMul(at2, bt2, true, true)],
    ["3d", () => tf.matMul(a3, b3)],
    ["3d aT", () => tf.matMul(at3, b3, true, false)],
    ["3d bT", () => tf.matMul(a3, bt3, false, true)],
    ["3d aT bT", () => tf.matMul(at3, bt3, true, true)],
    ["3d broadcast b", () => tf.matMul(a3, b1)],
    ["3d broadcast 2d b", () => tf.matMul(a3, b2)],
    ["4d", () => tf.matMul(a4, b4)],
    ["4d bT", () => tf.matMul(a4, tf.transpose(b4, [0, 1, 3, 2]), false, true)],
  ];
}

Deno.test("wasm BatchMatMul patch: same products as tfjs' kernel, no leaks", async () => {
  await selectBackend("wasm");
  assert.ok(wasmBatchMatMulPatched(), "selectBackend('wasm') patches the kernel");
  unpatchWasmBatchMatMul();
  const inputs: tf.Tensor[] = [];
  const all = cases(inputs);
  const expected: Float32Array[] = [];
  for (const [, f] of all) {
    const y = tf.tidy(f);
    expected.push((await y.data()) as Float32Array);
    y.dispose();
  }
  for (const loop of [false, true]) {
    patchWasmBatchMatMul();
    setWasmBatchLoop(loop);
    const before = tf.memory().numTensors;
    const ids = tf.engine().backend.numDataIds();
    for (const [i, [name, f]] of all.entries()) {
      const y = tf.tidy(f);
      await assertClose(y, expected[i], 1e-4, 1e-5, `${name} (loop ${loop})`);
      y.dispose();
    }
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
    assert.equal(tf.engine().backend.numDataIds(), ids, "no backend buffers left behind");
    unpatchWasmBatchMatMul();
  }
  patchWasmBatchMatMul();
  setWasmBatchLoop(true);
  tf.dispose(inputs);
});

Deno.test("wasm BatchMatMul patch: gradients unchanged", async () => {
  await selectBackend("wasm");
  const a = tf.randomNormal([4, 9, 7], 0, 1, "float32", 1);
  const b = tf.randomNormal([4, 5, 7], 0, 1, "float32", 2);
  const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, false, true)));
  const patched = tf.grads(f)([a, b]);
  unpatchWasmBatchMatMul();
  const stock = tf.grads(f)([a, b]);
  patchWasmBatchMatMul();
  await assertClose(patched[0], stock[0], 1e-3, 1e-4);
  await assertClose(patched[1], stock[1], 1e-3, 1e-4);
  tf.dispose([a, b, ...patched, ...stock]);
});

Deno.test("wasm Identity patch: clones share data, equal values, disposal order free", async () => {
  await selectBackend("wasm");
  try {
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const before = tf.memory().numTensors, ids = backend.numDataIds();
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const y = tf.clone(x);
    assert.equal(backend.numDataIds(), ids + 1, "the clone shares x's data");
    x.dispose();
    await assertClose(y, [[1, 2, 3], [4, 5, 6]], 0, 0, "clone outlives x");
    const v = tf.variable(y);
    const doubled = tf.mul(v, 2) as tf.Tensor2D;
    v.assign(doubled);
    doubled.dispose();
    await assertClose(y, [[1, 2, 3], [4, 5, 6]], 0, 0, "assign leaves the clone");
    tf.dispose([y, v]);
    assert.equal(tf.memory().numTensors, before, "no tensors leak");
    assert.equal(backend.numDataIds(), ids, "no wasm buffers leak");
  } finally {
    await selectBackend("cpu");
  }
});
