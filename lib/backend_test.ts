import * as tf from "@tensorflow/tfjs";
import { assert } from "./testing.ts";
import { isBackendName, selectBackend } from "./backend.ts";

Deno.test("selectBackend honours an explicit choice and records it", async () => {
  const info = await selectBackend("cpu");
  assert.equal(info.backend, "cpu");
  assert.equal(info.source, "flag");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal(info.adapter, null);
});

Deno.test("selectBackend rejects an unknown backend by name", async () => {
  await assert.rejects(() => selectBackend("tpu"), /unknown backend "tpu"/);
});

Deno.test("GREFEL_BACKEND is read when no flag is given", async () => {
  Deno.env.set("GREFEL_BACKEND", "wasm");
  try {
    const info = await selectBackend();
    assert.equal(info.backend, "wasm");
    assert.equal(info.source, "env");
  } finally {
    Deno.env.delete("GREFEL_BACKEND");
  }
});

Deno.test("webgpu gives a real adapter here and records it", async () => {
  const info = await selectBackend("webgpu");
  assert.equal(info.backend, "webgpu");
  assert.ok(info.adapter !== null);
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.square(x);
  assert.deepEqual(Array.from(await y.data()), [1, 4, 9]);
  tf.dispose([x, y]);
  await selectBackend("cpu");
});

Deno.test("isBackendName", () => {
  assert.ok(isBackendName("wasm"));
  assert.ok(!isBackendName("webgl"));
});
