import { assert } from "../testing.ts";

const near = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} is not within ${tol} of ${b}`);
import {
  bestValidated,
  earlyStopStatus,
  movingMean,
  shouldStopEarly,
  stopReason,
  validatedEpochs,
} from "./early_stop.ts";
import type { EpochLog } from "../run/log.ts";
import { earlyStopSchema } from "./config.ts";

Deno.test("movingMean: means over the last window values, fewer at the start", () => {
  const m = movingMean([1, 3, 5, 7], 3);
  assert.deepEqual(m.length, 4);
  near(m[0], 1);
  near(m[1], 2);
  near(m[2], 3);
  near(m[3], 5);
  assert.deepEqual(movingMean([2, 4], 1), [2, 4]);
  assert.throws(() => movingMean([1], 0), /window 0/);
});

Deno.test("earlyStopStatus: window 1 counts evaluations since the single best value", () => {
  const es = { window: 1, minDelta: 0 };
  assert.deepEqual(earlyStopStatus([], es), { smoothed: [], best: -1, since: 0 });
  // Best 0.6 at index 1; an equal value later is not an improvement.
  assert.deepEqual(earlyStopStatus([0.5, 0.6, 0.55, 0.6], es).best, 1);
  assert.deepEqual(earlyStopStatus([0.5, 0.6, 0.55, 0.6], es).since, 2);
  // minDelta: 0.61 does not beat 0.6 by more than 0.02.
  assert.deepEqual(earlyStopStatus([0.5, 0.6, 0.61], { window: 1, minDelta: 0.02 }).since, 1);
});

Deno.test("earlyStopStatus: a single lucky epoch does not reset a windowed patience", () => {
  // Values as in a noisy run: a spike at index 3, then a slow rise.
  const v = [0.01, 0.15, 0.22, 0.54, 0.34, 0.40, 0.39, 0.43, 0.40, 0.37, 0.48, 0.54];
  const single = earlyStopStatus(v, { window: 1, minDelta: 0 });
  assert.deepEqual(single.best, 3);
  assert.deepEqual(single.since, 8);
  const mean3 = earlyStopStatus(v, { window: 3, minDelta: 0 });
  // Means of the last three: the best is the last one, (0.37 + 0.48 + 0.54) / 3.
  assert.deepEqual(mean3.best, 11);
  near(mean3.smoothed[11], (0.37 + 0.48 + 0.54) / 3);
  assert.deepEqual(mean3.since, 0);
});

Deno.test("shouldStopEarly: patience, minEpochs and enabled all apply", () => {
  const base = earlyStopSchema.parse({ enabled: true, patience: 2 });
  const v = [0.5, 0.6, 0.55, 0.58];
  assert.deepEqual(shouldStopEarly(v, 4, base), true);
  assert.deepEqual(shouldStopEarly(v.slice(0, 3), 3, base), false);
  assert.deepEqual(shouldStopEarly(v, 4, { ...base, minEpochs: 5 }), false);
  assert.deepEqual(shouldStopEarly(v, 4, { ...base, enabled: false }), false);
  // Mean of 2: 0.5, 0.55, 0.575, 0.565 → best at index 2, one evaluation since.
  assert.deepEqual(shouldStopEarly(v, 4, { ...base, window: 2 }), false);
  assert.deepEqual(earlyStopSchema.parse({}).window, 1);
});

Deno.test("validatedEpochs: the selection metric of validated epochs only, with their epochs", () => {
  const log = [
    { epoch: 1, valAccuracy: 0.5, valPrimaryAccuracy: 0.4 },
    { epoch: 2, valAccuracy: null, valPrimaryAccuracy: null },
    { epoch: 3, valAccuracy: 0.7, valPrimaryAccuracy: 0.6 },
    { epoch: 4 },
  ] as unknown as EpochLog[];
  assert.deepEqual(validatedEpochs(log, "valAccuracy"), [
    { epoch: 1, value: 0.5 },
    { epoch: 3, value: 0.7 },
  ]);
  assert.deepEqual(validatedEpochs(log, "valPrimaryAccuracy").map((v) => v.value), [0.4, 0.6]);
  assert.deepEqual(validatedEpochs([], "valAccuracy"), []);
});

Deno.test("bestValidated: the first value that beats the best by more than minDelta wins", () => {
  const v = [
    { epoch: 1, value: 0.5 },
    { epoch: 2, value: 0.6 },
    { epoch: 3, value: 0.6 },
    { epoch: 5, value: 0.61 },
  ];
  assert.deepEqual(bestValidated(v, 0), { epoch: 5, value: 0.61 });
  // A tie never replaces the best; 0.61 is not more than 0.02 above 0.6.
  assert.deepEqual(bestValidated(v.slice(0, 3), 0), { epoch: 2, value: 0.6 });
  assert.deepEqual(bestValidated(v, 0.02), { epoch: 2, value: 0.6 });
  assert.deepEqual(bestValidated([], 0), null);
});

Deno.test("stopReason: early stopping first, then the epoch cap, else null", () => {
  const es = earlyStopSchema.parse({ enabled: true, patience: 2 });
  const v = [0.5, 0.6, 0.55, 0.58];
  assert.deepEqual(stopReason(v, 4, es, 10), "early-stop");
  // At the cap, a run that also ran out of patience is reported as early-stopped.
  assert.deepEqual(stopReason(v, 4, es, 4), "early-stop");
  assert.deepEqual(stopReason(v.slice(0, 3), 3, es, 10), null);
  assert.deepEqual(stopReason(v.slice(0, 3), 3, es, 3), "epoch-cap");
  assert.deepEqual(stopReason([], 3, { ...es, enabled: false }, 3), "epoch-cap");
  assert.deepEqual(stopReason(v, 4, { ...es, enabled: false }, 10), null);
});
