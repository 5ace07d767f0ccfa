import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert } from "../testing.ts";
import { type GrefelConfig, presetConfig } from "../config.ts";
import {
  AdoptError,
  adoptIntoPlan,
  adoptRun,
  rankMatches,
  trajectoryDifferences,
} from "./adopt.ts";
import { acquireLock } from "../lock.ts";
import { runLockPath } from "./session.ts";
import { stoppedAfter } from "./early_stop.ts";
import { runDir, runId } from "./run.ts";
import { type EpochLog, loadCheckpoint, readLog } from "../run/mod.ts";
import { trainRun } from "./train.ts";
import { TOY_MODEL, toyData } from "./test_helpers.ts";

await tf.setBackend("cpu");

function cfg(resultsDir: string, train: Record<string, unknown> = {}): GrefelConfig {
  return presetConfig("tiny", {
    model: { classes: 3 },
    train: { epochs: 3, batchSize: 8, progress: "off", resultsDir, lr: 0.01, ...train },
  });
}

const adoptError = (re: RegExp) => (e: unknown) => e instanceof AdoptError && re.test(e.message);
const quiet = { model: TOY_MODEL, print: () => {} };
const bestEpoch = (m: Record<string, unknown>) => (m.best as { epoch: number } | null)?.epoch;
const strip = (l: EpochLog[]) => l.map(({ seconds: _s, ...rest }) => rest);

async function withTmp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an adopted run resumed under a new stopping rule equals that rule's run from scratch", async () => {
  await withTmp(async (tmp) => {
    // Old rule: 3 epochs, no early stopping. New rule: 5 epochs, a windowed early stop that
    // cannot trigger in 5 epochs.
    const late = { epochs: 5, earlyStop: { enabled: true, patience: 10, window: 2 } };
    const old = await trainRun(cfg(tmp), toyData(), quiet);
    const fresh = await trainRun(cfg(join(tmp, "fresh"), late), toyData(), quiet);
    const config = cfg(tmp, late);
    assert.notEqual(runId(config), old.runId);
    const r = await adoptRun(old.dir, config);
    assert.equal(r.to, runDir(config));
    assert.equal(r.epochs, 3);
    assert.equal(r.stopped, null);
    const record = JSON.parse(await Deno.readTextFile(join(r.to, "config.json")));
    assert.equal(record.runId, runId(config));
    assert.equal(record.adoptedFrom.runId, old.runId);
    const ck = (await loadCheckpoint(join(r.to, "checkpoints", "last")))!;
    assert.equal(ck.state.runId, runId(config));
    const resumed = await trainRun(config, toyData(), quiet);
    assert.equal(resumed.status, "resumed");
    assert.deepEqual(strip(resumed.log), strip(fresh.log));
    assert.equal(
      await Deno.readTextFile(join(resumed.dir, "predictions.csv")),
      await Deno.readTextFile(join(fresh.dir, "predictions.csv")),
    );
    // The old run is untouched.
    assert.equal((await readLog(old.dir)).length, 3);
    // A second adoption into the same directory is refused.
    await assert.rejects(() => adoptRun(old.dir, config), adoptError(/already holds a run/));
  });
});

Deno.test("an adopted run with a weight average tests the same averaged and raw weights as that rule's run", async () => {
  await withTmp(async (tmp) => {
    const late = { epochs: 5, earlyStop: { enabled: true, patience: 10, window: 2 } };
    const avg = { emaDecay: 0.9 };
    const old = await trainRun(cfg(tmp, avg), toyData(), quiet);
    const fresh = await trainRun(cfg(join(tmp, "fresh"), { ...avg, ...late }), toyData(), quiet);
    assert.ok(fresh.metrics.raw, "the run tests its raw weights");
    // The raw weights' best epoch lies among the adopted epochs: only the adopted checkpoint
    // holds those weights.
    const rawBest = (await loadCheckpoint(join(fresh.dir, "checkpoints", "best-raw")))!.state
      .bestRaw!.epoch;
    assert.ok(rawBest <= 3, `raw best epoch ${rawBest} is not among the adopted ones`);
    const config = cfg(tmp, { ...avg, ...late });
    await adoptRun(old.dir, config, undefined, "late");
    const record = JSON.parse(await Deno.readTextFile(join(runDir(config), "config.json")));
    assert.equal(record.variant, "late", "the adopted run is recorded as the new variant");
    const resumed = await trainRun(config, toyData(), quiet);
    assert.equal(resumed.status, "resumed");
    assert.deepEqual(strip(resumed.log), strip(fresh.log));
    for (const f of ["predictions.csv", "predictions-raw.csv"]) {
      assert.equal(
        await Deno.readTextFile(join(resumed.dir, f)),
        await Deno.readTextFile(join(fresh.dir, f)),
        f,
      );
    }
    assert.deepEqual(resumed.metrics.raw, fresh.metrics.raw);
  });
});

Deno.test("adoption is refused when anything but the stopping rule differs", async () => {
  await withTmp(async (tmp) => {
    const old = await trainRun(cfg(tmp, { epochs: 1 }), toyData(), quiet);
    await assert.rejects(
      () => adoptRun(old.dir, cfg(tmp, { epochs: 2, lr: 0.02 })),
      adoptError(/another computation.*train\.lr/),
    );
    assert.deepEqual(trajectoryDifferences(cfg(tmp), cfg(tmp, { epochs: 9 })), []);
    // A cap below the epochs already trained is refused.
    const two = await trainRun(cfg(join(tmp, "b"), { epochs: 2 }), toyData(), quiet);
    await assert.rejects(
      () => adoptRun(two.dir, cfg(join(tmp, "b"), { epochs: 1 })),
      adoptError(/more than the new cap/),
    );
  });
});

Deno.test("adoption is refused when the new rule would have stopped before the last epoch", async () => {
  await withTmp(async (tmp) => {
    const old = await trainRun(cfg(tmp, { epochs: 4 }), toyData(), quiet);
    const log = await readLog(old.dir);
    const vals = log.map((e) => e.valAccuracy!);
    // The earliest epoch after which patience 1 (window 1) would stop this run, if any.
    let stopAt = 0;
    for (let e = 2; e <= 4 && !stopAt; e++) {
      const best = Math.max(...vals.slice(0, e - 1));
      if (vals[e - 1] <= best) stopAt = e;
    }
    const strict = cfg(tmp, { epochs: 4, earlyStop: { enabled: true, patience: 1 } });
    if (stopAt && stopAt < 4) {
      await assert.rejects(() => adoptRun(old.dir, strict), adoptError(/would have stopped/));
    } else {
      const r = await adoptRun(old.dir, strict);
      assert.equal(r.stopped?.epoch, 4);
    }
  });
});

Deno.test("stoppedAfter: the loop's decision, from a log", () => {
  const entry = (epoch: number, v: number) => ({ epoch, valAccuracy: v }) as EpochLog;
  const log = [entry(1, 0.5), entry(2, 0.7), entry(3, 0.6), entry(4, 0.65)];
  const c = (train: Record<string, unknown>) => cfg("unused", { epochs: 10, ...train });
  assert.equal(stoppedAfter(log, c({})), null);
  const s = stoppedAfter(log, c({ earlyStop: { enabled: true, patience: 2 } }))!;
  assert.equal(s.reason, "early-stop");
  assert.equal(s.bestEpoch, 2);
  // Mean of two: 0.5, 0.6, 0.65, 0.625 → best at epoch 3, one evaluation since: goes on.
  assert.equal(
    stoppedAfter(log, c({ earlyStop: { enabled: true, patience: 2, window: 2 } })),
    null,
  );
  const w = stoppedAfter(log, c({ earlyStop: { enabled: true, patience: 1, window: 2 } }))!;
  assert.equal(w.smoothedBestEpoch, 3);
  assert.equal(w.bestEpoch, 2);
  assert.equal(stoppedAfter(log, c({ epochs: 4 }))!.reason, "epoch-cap");
});

Deno.test("a finished run that the new rule stops at the same epoch is adopted whole, without checkpoints", async () => {
  await withTmp(async (tmp) => {
    // Early stopping with a patience longer than the run: the new rule also stops at the cap.
    const capped = { earlyStop: { enabled: true, patience: 10 } };
    const old = await trainRun(cfg(tmp), toyData(), quiet);
    const fresh = await trainRun(cfg(join(tmp, "fresh"), capped), toyData(), quiet);
    await Deno.remove(join(old.dir, "checkpoints"), { recursive: true });
    const config = cfg(tmp, capped);
    const r = await adoptRun(old.dir, config);
    assert.equal(r.finished, true);
    assert.equal(r.stopped?.reason, "epoch-cap");
    const again = await trainRun(config, toyData(), quiet);
    assert.equal(again.status, "skipped", "nothing is left to train or test");
    const metrics = JSON.parse(await Deno.readTextFile(join(r.to, "metrics.json")));
    assert.equal(metrics.runId, runId(config));
    assert.deepEqual(metrics.stopped, fresh.metrics.stopped);
    assert.equal(metrics.accuracy, fresh.metrics.accuracy);
    assert.equal(
      await Deno.readTextFile(join(r.to, "predictions.csv")),
      await Deno.readTextFile(join(fresh.dir, "predictions.csv")),
    );
    const record = JSON.parse(await Deno.readTextFile(join(r.to, "config.json")));
    assert.equal(record.adoptedFrom.testedWeightsKept, true);
    // A rule that stops earlier, or a best epoch whose weights are gone, cannot be adopted.
    const other = cfg(join(tmp, "b"), {
      earlyStop: { enabled: true, patience: 10, startEpoch: 3 },
    });
    if (bestEpoch(old.metrics) !== 3) {
      await assert.rejects(() => adoptRun(old.dir, other), adoptError(/no checkpoints\/last/));
    }
  });
});

Deno.test("startEpoch: the best checkpoint is chosen from that epoch on, and an adopted run tests what that rule's run tests", async () => {
  await withTmp(async (tmp) => {
    const warm = { earlyStop: { startEpoch: 3 } };
    const old = await trainRun(cfg(tmp), toyData(), quiet);
    const fresh = await trainRun(cfg(join(tmp, "fresh"), warm), toyData(), quiet);
    assert.equal(bestEpoch(fresh.metrics), 3, "epochs 1 and 2 are not candidates");
    const config = cfg(tmp, warm);
    const r = await adoptRun(old.dir, config);
    // The old best epoch may be 3 already (then the test results are copied), else the run is
    // tested again with the last epoch's weights.
    assert.equal(r.finished, bestEpoch(old.metrics) === 3);
    const adopted = await trainRun(config, toyData(), quiet);
    assert.equal(adopted.status, r.finished ? "skipped" : "resumed");
    assert.equal(
      await Deno.readTextFile(join(adopted.dir, "predictions.csv")),
      await Deno.readTextFile(join(fresh.dir, "predictions.csv")),
    );
    assert.deepEqual(
      (await loadCheckpoint(join(r.to, "checkpoints", "best")))?.state.epoch ?? 3,
      3,
    );
    assert.throws(
      () => cfg(tmp, { earlyStop: { startEpoch: 4 } }),
      /train\.earlyStop\.startEpoch.*after the last epoch/s,
    );
  });
});

Deno.test("adoptIntoPlan: the nearest stopping rule is adopted first, a refused match gives way to the next", async () => {
  await withTmp(async (tmp) => {
    // Two recorded runs of the same computation: A differs from the new rule in the patience only,
    // B (no early stopping) in two leaves; both stop at the 3-epoch cap under the new rule.
    const nearRule = { earlyStop: { enabled: true, patience: 10 } };
    const a = await trainRun(cfg(join(tmp, "near"), nearRule), toyData(), quiet);
    const b = await trainRun(cfg(join(tmp, "far")), toyData(), quiet);
    const from = join(tmp, "recorded");
    await Deno.mkdir(from);
    await Deno.rename(a.dir, join(from, "z-near"));
    await Deno.rename(b.dir, join(from, "a-far"));
    const config = cfg(tmp, { earlyStop: { enabled: true, patience: 9 } });
    const recorded = [
      { dir: join(from, "a-far"), config: cfg(tmp) },
      { dir: join(from, "z-near"), config: cfg(tmp, nearRule) },
    ];
    assert.deepEqual(
      rankMatches(recorded, config).map((m) => m.dir),
      [join(from, "z-near"), join(from, "a-far")],
      "fewest differing stopping-rule leaves first, whatever the folder order",
    );
    const plan = [{ variant: "v", seed: 0, config, dir: runDir(config), status: "new" }];
    const dry = await adoptIntoPlan(plan, { fromDir: from, dryRun: true });
    assert.equal(dry[0].from, join(from, "z-near"));
    // The nearest one is locked (another process holds it): the next match is adopted instead.
    const lock = await acquireLock(runLockPath(join(from, "z-near")), { purpose: "test" });
    try {
      const [o] = await adoptIntoPlan(plan, { fromDir: from });
      assert.equal(o.error, undefined);
      assert.equal(o.from, join(from, "a-far"));
      assert.equal(o.result?.from, join(from, "a-far"));
      assert.equal(o.result?.finished, true);
      const record = JSON.parse(await Deno.readTextFile(join(runDir(config), "config.json")));
      assert.equal(record.adoptedFrom.runId, runId(cfg(join(tmp, "far"))));
    } finally {
      await lock.release();
    }
  });
});
