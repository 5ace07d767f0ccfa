import assert from "node:assert/strict";
import { median, timeIterations } from "./model_speed.ts";

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
