import * as tf from "@tensorflow/tfjs";
import { assert } from "./testing.ts";
import { isBackendName, isSoftwareAdapter, selectBackend } from "./backend.ts";

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

Deno.test("isSoftwareAdapter recognises lavapipe/llvmpipe and SwiftShader, not hardware", () => {
  assert.ok(isSoftwareAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }));
  assert.ok(isSoftwareAdapter({ vendor: "google", device: "SwiftShader Device" }));
  assert.ok(!isSoftwareAdapter({ vendor: "nvidia", description: "NVIDIA H200" }));
});

Deno.test("auto selection passes over a software WebGPU adapter and says why", async () => {
  const info = await selectBackend();
  if (info.backend === "webgpu") {
    assert.equal(info.softwareAdapter, false, "auto chose a software adapter");
  } else {
    assert.equal(info.backend, "wasm");
    // On this kind of machine (no GPU, lavapipe installed) the note names the skipped adapter.
    if (info.note) assert.match(info.note, /software adapter/);
  }
  await selectBackend("cpu");
});
