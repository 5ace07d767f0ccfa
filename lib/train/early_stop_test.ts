import { assert } from "../testing.ts";

const near = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} is not within ${tol} of ${b}`);
import {
  bestValidated,
  earlyStopStatus,
  movingMean,
  replayStop,
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

Deno.test("startEpoch: a warm-up epoch that predicts one class is never the best", () => {
  // As in a FER+ run whose first epoch predicts "neutral" for every validation image (its share of
  // the split, 0.370) and whose learning epochs stay below that for a while (seed 4 of Table 6's
  // K = 0 cell): from epoch 1 the patience of 8 runs out at epoch 12; from epoch 6 it goes on.
  const v = [0.370, 0.035, 0.048, 0.113, 0.177, 0.129, 0.378, 0.248, 0.236, 0.303, 0.210, 0.276];
  const es = earlyStopSchema.parse({ enabled: true, patience: 8, minEpochs: 12, window: 3 });
  assert.deepEqual(earlyStopStatus(v, es).best, 0);
  assert.deepEqual(shouldStopEarly(v, 12, es), true);
  const warm = { ...es, startEpoch: 6 };
  const s = earlyStopStatus(v, warm);
  // Means of three from epoch 6 on: the best is epoch 9's, (0.378 + 0.248 + 0.236) / 3.
  assert.deepEqual(s.best, 8);
  assert.deepEqual(s.since, 3);
  assert.deepEqual(shouldStopEarly(v, 12, warm), false);
  // Before the first counted evaluation nothing is best and patience has not started.
  assert.deepEqual(earlyStopStatus(v.slice(0, 3), warm), {
    ...earlyStopStatus(v.slice(0, 3), es),
    best: -1,
    since: 0,
  });
  // The epochs of the evaluations, when they are not 1, 2, …: index 2 is epoch 6.
  assert.deepEqual(earlyStopStatus([0.9, 0.1, 0.2], warm, [2, 4, 6]).best, 2);
  assert.throws(() => earlyStopStatus([0.9], warm, [1, 2]), /1 validation values but 2 epochs/);
  // The best checkpoint starts there too.
  const vals = v.map((value, i) => ({ epoch: i + 1, value }));
  assert.deepEqual(bestValidated(vals, 0), { epoch: 7, value: 0.378 });
  assert.deepEqual(bestValidated(vals, 0, 8), { epoch: 10, value: 0.303 });
  assert.deepEqual(bestValidated(vals, 0, 13), null);
  // Replayed on a log: the old rule stops after epoch 12, the warm-up rule has not decided.
  const log = v.map((x, i) => ({ epoch: i + 1, valAccuracy: x })) as unknown as EpochLog[];
  assert.deepEqual(replayStop(log, es, 60), {
    epoch: 12,
    reason: "early-stop",
    bestEpoch: 7,
    bestValue: 0.378,
  });
  assert.deepEqual(replayStop(log, { ...es, startEpoch: 12 }, 60), {
    epoch: null,
    reason: "undecided",
    bestEpoch: 12,
    bestValue: 0.276,
  });
  assert.deepEqual(earlyStopSchema.parse({}).startEpoch, 1);
  assert.throws(() => earlyStopSchema.parse({ startEpoch: 0 }));
});
