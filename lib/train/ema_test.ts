import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert, assertClose } from "../testing.ts";
import { type GrefelConfig, type PartialConfig, presetConfig } from "../config.ts";
import { type EpochLog, loadCheckpoint, readLog, type RunMetrics } from "../run/mod.ts";
import { runDir, runId } from "./run.ts";
import { emaDecayAt, WeightAverage } from "./ema.ts";
import { trainRun } from "./train.ts";
import { replayStop, validatedEpochs } from "./early_stop.ts";
import { trajectoryDifferences } from "./adopt.ts";
import { TOY_MODEL, toyData, trainUntilCrash } from "./test_helpers.ts";

await tf.setBackend("cpu");

Deno.test("EMA decay ramps up as TensorFlow's num_updates rule and is validated", () => {
  assertClose(emaDecayAt(0.999, 0), 0.1, 1e-12);
  assertClose(emaDecayAt(0.999, 10), 11 / 20, 1e-12);
  assert.equal(emaDecayAt(0.9, 1000), 0.9);
  assert.throws(() => emaDecayAt(1, 0), RangeError);
  assert.throws(() => emaDecayAt(0, 0), RangeError);
  assert.throws(() => emaDecayAt(0.9, -1), RangeError);
});

Deno.test("WeightAverage: the hand-computed average; swapped in and back, also on throw; no leaks", async () => {
  const before = tf.memory().numTensors;
  const w = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
  const set = (x: number[]) => tf.tidy(() => void w.assign(tf.tensor1d(x)));
  const avg = WeightAverage.start(new Map([["w", w]]), 0.5);
  // Step 0: d = min(0.5, 1/10) = 0.1 → 0.1·[1,2] + 0.9·[3,6] = [2.8, 5.6].
  set([3, 6]);
  avg.update(0);
  // Step 100: d = 0.5 → 0.5·[2.8,5.6] + 0.5·[5,0] = [3.9, 2.8].
  set([5, 0]);
  avg.update(100);
  const seen = await avg.withAveraged(async () => Array.from(await w.data()));
  assertClose(seen, [3.9, 2.8], 1e-6);
  assert.deepEqual(Array.from(await w.data()), [5, 0], "raw weights restored");
  await assert.rejects(() => avg.withAveraged(() => Promise.reject(new Error("boom"))), /boom/);
  assert.deepEqual(Array.from(await w.data()), [5, 0], "raw weights restored after a throw");
  await assert.rejects(() => avg.withAveraged(() => avg.withAveraged(() => 0)), /reentrant/);
  avg.commit();
  assertClose(Array.from(await w.data()), [3.9, 2.8], 1e-6);
  avg.dispose();
  w.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

/** The toy run of these tests: 3 classes and 3 epochs unless `classes` / `train` say otherwise. */
function cfg(
  resultsDir: string,
  emaDecay: number,
  more: { classes?: number; train?: PartialConfig["train"] } = {},
): GrefelConfig {
  return presetConfig("tiny", {
    model: { classes: more.classes ?? 3 },
    train: {
      epochs: 3,
      batchSize: 8,
      progress: "off",
      resultsDir,
      lrDecay: 0.9,
      lr: 0.01,
      emaDecay,
      ...more.train,
    },
  });
}

const quiet = { model: TOY_MODEL, print: () => {} };

Deno.test("train.emaDecay 0 keeps every recorded run id; any other value is part of it", () => {
  assert.equal(
    runId(cfg("x", 0)),
    runId(presetConfig("tiny", {
      model: { classes: 3 },
      train: { epochs: 3, batchSize: 8, progress: "off", resultsDir: "x", lrDecay: 0.9, lr: 0.01 },
    })),
  );
  assert.notEqual(runId(cfg("x", 0.9)), runId(cfg("x", 0)));
});

Deno.test("a run with a weight average validates, checkpoints and tests the averages, tests its raw weights' best epoch as the plain run, and resumes exactly", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const before = tf.memory().numTensors;
    const full = await trainRun(cfg(join(tmp, "a"), 0.8), toyData(), quiet);
    assert.equal(tf.memory().numTensors, before, "tensors leaked by trainRun");
    const log = await readLog(full.dir);
    for (const e of log) {
      assert.ok(Number.isFinite(e.valRawAccuracy), `raw validation accuracy at epoch ${e.epoch}`);
      assert.ok(Number.isFinite(e.valRawPrimaryAccuracy));
    }
    // The last checkpoint's weights are the averages; its optimiser state holds the raw ones,
    // which differ from them after training.
    const last = (await loadCheckpoint(join(full.dir, "checkpoints", "last")))!;
    const raw = new Map(
      last.optimizer.filter((o) => o.name.startsWith("raw/")).map((o) => [o.name.slice(4), o]),
    );
    assert.equal(raw.size, last.weights.length, "every weight's raw value is saved");
    const moved = last.weights.some((w) => {
      const r = raw.get(w.name)!.data;
      return w.data.some((x, i) => Math.abs(x - r[i]) > 1e-6);
    });
    assert.ok(moved, "the averages equal the raw weights: nothing was averaged");
    // Without an average, the same seed gives other raw-weight validations (same training path,
    // so the logged raw accuracies of the averaged run equal its plain validation accuracies).
    const plain = await trainRun(cfg(join(tmp, "p"), 0), toyData(), quiet);
    const plainLog = await readLog(plain.dir);
    assert.deepEqual(
      log.map((e) => e.valRawAccuracy),
      plainLog.map((e) => e.valAccuracy),
      "averaging changed the training path",
    );
    assert.equal(plainLog[0].valRawAccuracy, undefined);
    // The raw arm (the raw weights of their own best validation epoch) is the plain run's model:
    // the same epoch, the same test predictions, byte for byte.
    const fm = full.metrics as RunMetrics, pm = plain.metrics as RunMetrics;
    assert.equal(fm.raw?.weights, pm.weights.replace("best", "best raw"));
    assert.equal(fm.raw?.accuracy, pm.accuracy);
    assert.equal(
      await Deno.readTextFile(join(full.dir, "predictions-raw.csv")),
      await Deno.readTextFile(join(plain.dir, "predictions.csv")),
    );
    assert.equal(plain.metrics.raw, undefined);
    await assert.rejects(
      () => Deno.stat(join(plain.dir, "predictions-raw.csv")),
      Deno.errors.NotFound,
    );

    // Interrupted after epoch 2 and resumed: the same log, metrics and predictions.
    const config = cfg(join(tmp, "b"), 0.8);
    await trainUntilCrash(config, toyData(), quiet, 2);
    const resumed = await trainRun(config, toyData(), quiet);
    assert.equal(resumed.status, "resumed");
    const strip = (l: typeof full.log) => l.map(({ seconds: _s, code: _c, ...rest }) => rest);
    assert.deepEqual(strip(resumed.log), strip(full.log));
    assert.equal(resumed.metrics.accuracy, full.metrics.accuracy);
    for (const f of ["predictions.csv", "predictions-raw.csv"]) {
      assert.equal(
        await Deno.readTextFile(join(runDir(config), f)),
        await Deno.readTextFile(join(full.dir, f)),
        f,
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test('earlyStop.watch "raw": an averaged run stops where the plain run stops, and says so', async () => {
  const tmp = await Deno.makeTempDir();
  try {
    // Eight classes and patience 1: the plain curve peaks later than the lagging average's.
    const stopping = (resultsDir: string, emaDecay: number, watch: "selected" | "raw") =>
      cfg(resultsDir, emaDecay, {
        classes: 8,
        train: { epochs: 12, earlyStop: { enabled: true, patience: 1, watch } },
      });
    const data = () => toyData(8, { train: 64, val: 64, test: 16 });
    const plain = await trainRun(stopping(join(tmp, "p"), 0, "selected"), data(), quiet);
    const pm = plain.metrics as RunMetrics;
    assert.equal(pm.stopped?.reason, "early-stop", "the plain run must stop early for this test");
    assert.equal(pm.stopped?.watched, undefined);
    const raw = await trainRun(stopping(join(tmp, "r"), 0.9, "raw"), data(), quiet);
    const rm = raw.metrics as RunMetrics;
    assert.equal(rm.stopped?.reason, "early-stop");
    assert.equal(
      rm.stopped?.epoch,
      pm.stopped?.epoch,
      "stopped at another epoch than the plain run",
    );
    assert.equal(rm.stopped?.watched, "raw");
    assert.equal(rm.raw?.accuracy, pm.accuracy, "the raw arm is the plain run's model");
    // Watching the averaged curve stops this run elsewhere, so the option is what decides.
    const sel = await trainRun(stopping(join(tmp, "s"), 0.9, "selected"), data(), quiet);
    assert.notEqual((sel.metrics as RunMetrics).stopped?.epoch, pm.stopped?.epoch);
    assert.notEqual(runId(stopping("x", 0.8, "raw")), runId(stopping("x", 0.8, "selected")));
    assert.equal(
      runId(stopping("x", 0.8, "selected")),
      runId((() => {
        const c = stopping("x", 0.8, "selected");
        const { watch: _w, ...rest } = c.train.earlyStop;
        return { ...c, train: { ...c.train, earlyStop: rest as typeof c.train.earlyStop } };
      })()),
      "the default watch is part of no recorded run id",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("replayStop: another stopping rule replayed on a run's log is where that rule stops the same run", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const rule = (watch: "selected" | "raw", patience: number) => ({ patience, watch });
    const rules = [rule("raw", 1), rule("selected", 1), rule("selected", 3), rule("raw", 4)];
    const config = (i: number) =>
      cfg(join(tmp, `r${i}`), 0.9, {
        classes: 8,
        train: { epochs: 12, earlyStop: { enabled: true, ...rules[i] } },
      });
    const data = () => toyData(8, { train: 64, val: 64, test: 16 });
    const runs: Awaited<ReturnType<typeof trainRun>>[] = [];
    for (let i = 0; i < rules.length; i++) runs.push(await trainRun(config(i), data(), quiet));
    const strip = (l: readonly EpochLog[]) => l.map(({ seconds: _s, ...rest }) => rest);
    const stops = new Set<number>();
    let decided = 0;
    for (const x of runs) {
      for (let j = 0; j < runs.length; j++) {
        const y = runs[j], ym = y.metrics as RunMetrics, ytc = config(j).train;
        // One training path: the runs agree on every epoch both trained.
        const n = Math.min(x.log.length, y.log.length);
        assert.deepEqual(strip(x.log.slice(0, n)), strip(y.log.slice(0, n)));
        const r = replayStop(x.log, ytc.earlyStop, ytc.epochs);
        stops.add(ym.stopped!.epoch);
        if (ym.stopped!.epoch <= x.log.length) {
          decided++;
          assert.equal(r.epoch, ym.stopped!.epoch, `rule ${j} on run ${runs.indexOf(x)}`);
          assert.equal(r.reason, ym.stopped!.reason);
          assert.equal(r.bestEpoch, ym.stopped!.bestEpoch);
        } else {
          assert.equal(r.reason, "undecided");
          assert.equal(r.epoch, null);
        }
      }
    }
    assert.ok(stops.size >= 2, "the rules must stop at different epochs for this test");
    assert.ok(decided > rules.length, "some rule must be decided on another rule's run");
    assert.throws(
      () => replayStop([{ ...runs[0].log[0], valAccuracy: null }], config(0).train.earlyStop, 12),
      /no valAccuracy/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test('earlyStop.watch "raw" without an average is rejected, and a log without raw values names the epoch', () => {
  assert.throws(
    () => presetConfig("tiny", { train: { earlyStop: { enabled: true, watch: "raw" } } }),
    /train\.earlyStop\.watch.*emaDecay is 0/s,
  );
  const e = { epoch: 3, valAccuracy: 0.5, valPrimaryAccuracy: 0.4 } as EpochLog;
  assert.deepEqual(validatedEpochs([e], "valAccuracy"), [{ epoch: 3, value: 0.5 }]);
  assert.throws(() => validatedEpochs([e], "valAccuracy", "raw"), /epoch 3 has no raw/);
  const r = { ...e, valRawAccuracy: 0.45, valRawPrimaryAccuracy: 0.35 };
  assert.deepEqual(validatedEpochs([r], "valPrimaryAccuracy", "raw"), [{ epoch: 3, value: 0.35 }]);
});

Deno.test("train.validateRaw off: the averaged run's own numbers, no raw curve, arm or checkpoint; adoptable from a run that validated raw, not back", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const both = await trainRun(cfg(join(tmp, "a"), 0.8), toyData(), quiet);
    const before = tf.memory().numTensors;
    const config = cfg(join(tmp, "o"), 0.8, { train: { validateRaw: false } });
    const only = await trainRun(config, toyData(), quiet);
    assert.equal(tf.memory().numTensors, before, "tensors leaked by trainRun");
    assert.notEqual(runId(config), runId(cfg("x", 0.8)), "what a run writes is part of its id");
    assert.equal(runId(cfg("x", 0.8)), runId(cfg("x", 0.8, { train: { validateRaw: true } })));
    const strip = (l: EpochLog[]) =>
      l.map(({ seconds: _s, code: _c, valRawAccuracy: _r, valRawPrimaryAccuracy: _p, ...rest }) =>
        rest
      );
    const log = await readLog(only.dir);
    assert.ok(log.every((e) => e.valRawAccuracy === undefined && Number.isFinite(e.valAccuracy)));
    assert.deepEqual(strip(log), strip(await readLog(both.dir)), "the same averaged validations");
    assert.equal(only.metrics.accuracy, both.metrics.accuracy);
    assert.equal(
      await Deno.readTextFile(join(only.dir, "predictions.csv")),
      await Deno.readTextFile(join(both.dir, "predictions.csv")),
    );
    assert.equal((only.metrics as RunMetrics).raw, undefined);
    assert.ok((both.metrics as RunMetrics).raw, "the run that validated raw has its raw arm");
    for (const f of ["predictions-raw.csv", "checkpoints/best-raw"]) {
      await assert.rejects(() => Deno.stat(join(only.dir, f)), Deno.errors.NotFound, f);
    }
    assert.throws(
      () =>
        cfg("x", 0.8, {
          train: { validateRaw: false, earlyStop: { enabled: true, watch: "raw" } },
        }),
      /train\.earlyStop\.watch.*validateRaw is false/s,
    );
    // Fewer validations than recorded is no other computation; more would need what was not logged.
    assert.deepEqual(trajectoryDifferences(cfg("x", 0.8), config), []);
    assert.deepEqual(trajectoryDifferences(config, cfg("x", 0.8)), ["train.validateRaw"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
