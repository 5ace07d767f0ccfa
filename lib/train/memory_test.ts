import { assert } from "../testing.ts";
import { selectBackend } from "../backend.ts";
import { presetConfig } from "../config.ts";
import { MODEL_FNS } from "./model_fns.ts";
import {
  BatchTooLargeError,
  checkBatchFits,
  explainOutOfMemory,
  isOutOfMemory,
  largestBatch,
  measureStepMemory,
} from "./memory.ts";

Deno.test("wasm batch check: the largest batch from a linear fit; a trap becomes a clear error", () => {
  assert.equal(largestBatch({ base: 100, perSample: 10 }, 1100), 100);
  assert.equal(largestBatch({ base: 2000, perSample: 10 }, 1100), 0);
  const config = presetConfig("tiny", { train: { batchSize: 1024 } });
  const trap = new WebAssembly.RuntimeError("memory access out of bounds");
  assert.ok(isOutOfMemory(trap));
  assert.ok(isOutOfMemory(new WebAssembly.RuntimeError("Aborted(). Build with -sASSERTIONS")));
  const e = explainOutOfMemory(trap, config, "wasm");
  assert.ok(e instanceof BatchTooLargeError);
  assert.match((e as Error).message, /out of memory .* at train\.batchSize=1024: lower/);
  const other = new Error("shape mismatch");
  assert.equal(explainOutOfMemory(other, config, "wasm"), other);
  assert.equal(explainOutOfMemory(trap, config, "cpu"), trap);
});

Deno.test("wasm batch check: measured per-sample bytes grow with the model; a huge batch is refused", async () => {
  await selectBackend("wasm");
  const tiny = presetConfig("tiny", {
    model: { landmarkShape: [[7, 3], [7, 3], [7, 3]], imageShape: [[7, 3], [7, 3], [7, 3]] },
  });
  const m = await measureStepMemory(MODEL_FNS, tiny);
  assert.ok(m.perSample > 0 && m.base > 0, JSON.stringify(m));
  assert.equal(await checkBatchFits(MODEL_FNS, tiny, "cpu"), null, "only wasm is checked");
  const ok = await checkBatchFits(MODEL_FNS, tiny, "wasm");
  assert.ok(ok && ok.largest > tiny.train.batchSize, JSON.stringify(ok));
  const huge = { ...tiny, train: { ...tiny.train, batchSize: ok!.largest + 1 } };
  await assert.rejects(
    checkBatchFits(MODEL_FNS, huge, "wasm"),
    new RegExp(`train\\.batchSize=${ok!.largest + 1} does not fit .* is ${ok!.largest}:`),
  );
});
