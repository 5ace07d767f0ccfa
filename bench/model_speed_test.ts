import assert from "node:assert/strict";
import { measureModel, median, timeIterations } from "./model_speed.ts";
import { summarizeModel } from "../lib/model/summary.ts";
import { presetConfig } from "../lib/config.ts";

Deno.test("timeIterations: warm-up calls are untimed, the first one's time is kept", async () => {
  let calls = 0;
  const r = await timeIterations(async () => {
    calls++;
    await Promise.resolve();
  }, { warmup: 2, steps: 3, maxSeconds: 60 });
  assert.equal(calls, 5);
  assert.equal(r.seconds.length, 3);
  assert.ok(r.first >= 0);
  assert.equal(r.capped, false);
});

Deno.test("timeIterations: without warm-up the first timed call is the first", async () => {
  const r = await timeIterations(() => Promise.resolve(), { warmup: 0, steps: 2, maxSeconds: 60 });
  assert.equal(r.seconds.length, 2);
  assert.equal(r.first, r.seconds[0]);
});

Deno.test("timeIterations: maxSeconds caps the timed calls, keeping at least one", async () => {
  let calls = 0;
  const r = await timeIterations(async () => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }, { warmup: 0, steps: 10, maxSeconds: 0 });
  assert.equal(calls, 1);
  assert.equal(r.seconds.length, 1);
  assert.equal(r.capped, true);
});

Deno.test("median of odd and even lists", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("measureModel: --set overrides change the model it times, and are recorded", async () => {
  const base = {
    config: "tiny",
    backend: "cpu",
    mode: "train" as const,
    from: "features" as const,
    batch: 4,
    warmup: 0,
    steps: 1,
    maxSeconds: 30,
    profile: false,
    stockMatMul: false,
    workers: 1,
  };
  const plain = await measureModel(base);
  const wide = await measureModel({ ...base, overrides: { model: { embedDim: 32 } } });
  const expected = summarizeModel(presetConfig("tiny", { model: { embedDim: 32 } }).model);
  assert.equal(wide.trainableParams, expected.trainableParams);
  assert.ok(wide.trainableParams > plain.trainableParams, "a wider embedding has more parameters");
  assert.deepEqual(wide.options.overrides, { model: { embedDim: 32 } });
});
