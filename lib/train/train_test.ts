import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert } from "../testing.ts";
import { type GrefelConfig, presetConfig } from "../config.ts";
import { setWriteHook, WriteError } from "../run/atomic.ts";
import { runDir } from "./run.ts";
import { CheckpointMismatchError, loadCheckpoint, readLog } from "../run/mod.ts";
import { deriveSeed, learningRateAt, SEED_PURPOSE } from "./schedule.ts";
import { balancedSampler, NonFiniteLossError, trainRun } from "./train.ts";
import { TOY_MODEL, toyData, trainUntilCrash } from "./test_helpers.ts";

await tf.setBackend("cpu");

function cfg(resultsDir: string, over: Record<string, unknown> = {}): GrefelConfig {
  return presetConfig("tiny", {
    model: { classes: 3 },
    train: { epochs: 3, batchSize: 8, progress: "off", resultsDir, lrDecay: 0.9, lr: 0.01 },
    ...over,
  });
}

const quiet = { model: TOY_MODEL, print: () => {} };

async function withTmp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    setWriteHook(null);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("balanced sampler: equal class counts, seeded, differs per epoch", () => {
  const labels = Int32Array.from([0, 0, 0, 0, 0, 1, 2, 2]);
  const s = balancedSampler(labels, 3);
  const e0 = s(0, 1);
  assert.equal(e0.length, 15);
  const counts = [0, 0, 0];
  for (const i of e0) counts[labels[i]]++;
  assert.deepEqual(counts, [5, 5, 5]);
  assert.deepEqual(s(0, 1), e0);
  assert.notDeepEqual(s(1, 1), e0);
});

Deno.test("balanced sampler and the anchor-initialisation draw: the values every recorded run drew", () => {
  // Pinned from the sampler runs were trained with: the class-means anchor initialisation of
  // every run (seed s) embeds the first train.anchorInitSamples indices of epoch 0 of this
  // sampler under deriveSeed(s, SEED_PURPOSE.anchors), so any change here changes their anchors.
  const labels = Int32Array.from([0, 0, 0, 0, 0, 1, 2, 2, 1, 0, 2, 0]);
  const s = balancedSampler(labels, 3);
  assert.deepEqual(
    s(0, 7),
    [4, 8, 3, 10, 8, 6, 5, 1, 5, 9, 5, 7, 10, 8, 7, 2, 6, 8, 7, 0, 11],
  );
  assert.deepEqual(
    s(1, 7),
    [1, 6, 6, 9, 5, 8, 7, 7, 0, 5, 5, 11, 4, 8, 10, 10, 8, 2, 6, 8, 3],
  );
  const anchorSeed = deriveSeed(0, SEED_PURPOSE.anchors);
  assert.equal(anchorSeed, 563858533);
  assert.deepEqual(s(0, anchorSeed).slice(0, 8), [5, 8, 1, 10, 7, 10, 4, 7]);
});

Deno.test("a run writes its directory; lr decays per epoch; no tensor growth; rerun skips", async () => {
  await withTmp(async (tmp) => {
    const config = cfg(tmp);
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    const r = await trainRun(config, toyData(), {
      ...quiet,
      evaluate: ({ labels }) => ({ n: labels.length }),
      hooks: { onEpochEnd: (_e, n) => void counts.push(n) },
    });
    assert.equal(tf.memory().numTensors, before, "tensors leaked by trainRun");
    assert.equal(r.status, "trained");
    assert.equal(r.dir, runDir(config));
    // Tensor count is flat from the second epoch on (the first creates Adam's slots).
    assert.equal(counts.length, 3);
    assert.equal(counts[2], counts[1], `live tensors per epoch: ${counts}`);
    const log = await readLog(r.dir);
    assert.deepEqual(log.map((e) => e.epoch), [1, 2, 3]);
    log.forEach((e, i) => assert.ok(Math.abs(e.lr - learningRateAt(config.train, i)) < 1e-12));
    for (const e of log) {
      // A model without a fine-tuned block logs the four parts it has, as before.
      assert.deepEqual(Object.keys(e.gradNorm ?? {}), ["head", "anchors", "attentive", "backbone"]);
      for (
        const k of ["loss", "cls", "anchor", "center", "trainAccuracy", "valAccuracy"] as const
      ) {
        assert.ok(Number.isFinite(e[k]), `${k} at epoch ${e.epoch}`);
      }
    }
    const files = ["config.json", "log.jsonl", "metrics.json", "predictions.csv", "embeddings.csv"];
    for (const f of files) assert.ok((await Deno.stat(join(r.dir, f))).size > 0, f);
    const saved = JSON.parse(await Deno.readTextFile(join(r.dir, "config.json")));
    assert.equal(saved.runId, r.runId);
    assert.equal(saved.dataset.fingerprint, toyData().fingerprint);
    assert.equal(saved.config.seed, config.seed);
    assert.ok(saved.versions.tfjs && saved.versions.deno && saved.versions.grefel);
    const pred = (await Deno.readTextFile(join(r.dir, "predictions.csv"))).trim().split("\n");
    assert.equal(pred.length, 1 + 12);
    assert.match(pred[0], /^id,label,primary,final,primary_class0,.*final_class2$/);
    assert.equal(pred[1].split(",").length, 4 + 2 * 3);
    const metrics = JSON.parse(await Deno.readTextFile(join(r.dir, "metrics.json")));
    assert.deepEqual(metrics.evaluation, { n: 12 });
    const last = await loadCheckpoint(join(r.dir, "checkpoints", "last"));
    assert.equal(last!.state.epoch, 3);
    assert.ok(last!.optimizer.some((o) => o.name === "head/w/m"), "Adam moments saved by path");
    assert.ok(await loadCheckpoint(join(r.dir, "checkpoints", "best")));
    const again = await trainRun(config, toyData(), quiet);
    assert.equal(again.status, "skipped");
  });
});

Deno.test("resume after an interruption reproduces the uninterrupted run exactly", async () => {
  await withTmp(async (tmp) => {
    const full = await trainRun(cfg(join(tmp, "a")), toyData(), quiet);
    const config = cfg(join(tmp, "b"));
    await trainUntilCrash(config, toyData(), quiet, 2);
    assert.equal(
      (await loadCheckpoint(join(runDir(config), "checkpoints", "last")))!.state.epoch,
      2,
    );
    const resumed = await trainRun(config, toyData(), quiet);
    assert.equal(resumed.status, "resumed");
    const strip = (l: typeof full.log) => l.map(({ seconds: _s, ...rest }) => rest);
    assert.deepEqual(strip(resumed.log), strip(full.log));
    assert.equal(resumed.metrics.accuracy, full.metrics.accuracy);
    const a = await Deno.readTextFile(join(full.dir, "predictions.csv"));
    const b = await Deno.readTextFile(join(resumed.dir, "predictions.csv"));
    assert.equal(b, a);
  });
});

Deno.test("a logged run without a checkpoint trains from epoch 1 and keeps its old log", async () => {
  await withTmp(async (tmp) => {
    const config = cfg(tmp);
    const dir = runDir(config);
    // Two epochs logged, checkpoints lost (as with a machine that did not come back).
    await Deno.mkdir(dir, { recursive: true });
    const old = '{"epoch":1,"loss":9}\n{"epoch":2,"loss":8}\n';
    await Deno.writeTextFile(join(dir, "log.jsonl"), old);
    const said: string[] = [];
    const r = await trainRun(config, toyData(), { ...quiet, print: (s) => void said.push(s) });
    assert.equal(r.status, "trained");
    assert.deepEqual((await readLog(dir)).map((e) => e.epoch), [1, 2, 3]);
    assert.equal(await Deno.readTextFile(join(dir, "log-unresumable-1.jsonl")), old);
    assert.ok(
      said.some((s) => /2 logged epoch\(s\) but no checkpoint.*log-unresumable-1\.jsonl/.test(s)),
      said.join("\n"),
    );
    // A finished run is skipped, and a second restart never overwrites the first kept log.
    assert.equal((await trainRun(config, toyData(), quiet)).status, "skipped");
    await Deno.remove(join(dir, "metrics.json"));
    await Deno.remove(join(dir, "checkpoints"), { recursive: true });
    await trainRun(config, toyData(), quiet);
    assert.equal(await Deno.readTextFile(join(dir, "log-unresumable-1.jsonl")), old);
    assert.equal((await readLog(dir)).length, 3);
    const second = await Deno.readTextFile(join(dir, "log-unresumable-2.jsonl"));
    assert.equal(second.trim().split("\n").length, 3);
  });
});

Deno.test("a NaN loss stops training naming epoch and step, keeping the last good checkpoint", async () => {
  await withTmp(async (tmp) => {
    const config = cfg(tmp);
    await assert.rejects(
      () =>
        trainRun(config, toyData(), {
          ...quiet,
          hooks: { injectNan: (e, s) => e === 2 && s === 3 },
        }),
      (e: Error) => {
        assert.ok(e instanceof NonFiniteLossError);
        assert.match(e.message, /non-finite at epoch 2, step 3\//);
        assert.match(e.message, /last good checkpoint \(epoch 1\) is kept/);
        return true;
      },
    );
    const dir = runDir(config);
    const last = await loadCheckpoint(join(dir, "checkpoints", "last"));
    assert.equal(last!.state.epoch, 1);
    for (const w of last!.weights) assert.ok(w.data.every(Number.isFinite), w.name);
    assert.equal((await readLog(dir)).length, 1);
    await assert.rejects(() => Deno.stat(join(dir, "metrics.json")), Deno.errors.NotFound);
  });
});

Deno.test("a full disk while checkpointing fails clearly, keeps the previous checkpoint, and resumes", async () => {
  await withTmp(async (tmp) => {
    const config = cfg(tmp);
    let lastWrites = 0;
    setWriteHook((path) => {
      if (path.includes("checkpoints/last") && path.includes("weights-") && ++lastWrites === 2) {
        throw Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
      }
    });
    const data = toyData();
    await assert.rejects(() => trainRun(config, data, quiet), (e: Error) => {
      assert.ok(e instanceof WriteError && e.diskFull, String(e));
      assert.match(e.message, /disk full while writing .*checkpoints\/last/);
      return true;
    });
    setWriteHook(null);
    const dir = runDir(config);
    assert.deepEqual(await tempFiles(dir), [], "a failed write left temporary files");
    assert.equal((await loadCheckpoint(join(dir, "checkpoints", "last")))!.state.epoch, 1);
    const r = await trainRun(config, toyData(), quiet);
    assert.equal(r.status, "resumed");
    assert.deepEqual(r.log.map((e) => e.epoch), [1, 2, 3]);
  });
});

/** Temporary files (`.<name>.tmp-<pid>-<n>`) anywhere under `dir`. */
async function tempFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await tempFiles(p));
    else if (e.name.includes(".tmp")) out.push(p);
  }
  return out;
}

Deno.test("a full disk on any run file fails with WriteError and leaves no temporary file", async () => {
  for (const target of ["log.jsonl", "checkpoint.json", "metrics.json", "predictions.csv"]) {
    await withTmp(async (tmp) => {
      const config = cfg(tmp);
      setWriteHook((path) => {
        if (path.endsWith(target)) {
          throw Object.assign(new Error("No space left on device (os error 28)"), {
            code: "ENOSPC",
          });
        }
      });
      await assert.rejects(() => trainRun(config, toyData(), quiet), (e: Error) => {
        assert.ok(e instanceof WriteError && e.diskFull, String(e));
        assert.ok(e.message.includes(target), e.message);
        return true;
      });
      setWriteHook(null);
      assert.deepEqual(await tempFiles(runDir(config)), [], `after a full disk on ${target}`);
    });
  }
});

Deno.test("a checkpoint from another config is rejected naming hashes and weights", async () => {
  await withTmp(async (tmp) => {
    const a = cfg(tmp, { train: { epochs: 1, batchSize: 8, progress: "off", resultsDir: tmp } });
    const ra = await trainRun(a, toyData(), quiet);
    const k = a.model.rb.anchorsPerClass;
    const b = cfg(tmp, { model: { classes: 3, rb: { anchorsPerClass: k + 1 } } });
    const dirB = runDir(b);
    await Deno.mkdir(join(dirB, "checkpoints"), { recursive: true });
    await Deno.rename(join(ra.dir, "checkpoints", "last"), join(dirB, "checkpoints", "last"));
    await assert.rejects(() => trainRun(b, toyData(), quiet), (e: Error) => {
      assert.ok(e instanceof CheckpointMismatchError, String(e));
      assert.match(e.message, /is from another config/);
      assert.match(e.message, new RegExp(`run ${ra.runId}`));
      assert.match(e.message, new RegExp(`rb/anchors \\[3,${k},8\\] vs model \\[3,${k + 1},8\\]`));
      return true;
    });
  });
});

Deno.test("a finished run is not reused for other data: the error names both fingerprints", async () => {
  await withTmp(async (tmp) => {
    const config = cfg(tmp, {
      train: { epochs: 1, batchSize: 8, progress: "off", resultsDir: tmp },
    });
    const first = toyData();
    await trainRun(config, first, quiet);
    const other = { ...toyData(), fingerprint: "0123456789abcdef" }; // another folder's data
    await assert.rejects(
      () => trainRun(config, other, quiet),
      Error,
      `trained on other data (fingerprint ${first.fingerprint}, this data set toy ${other.fingerprint})`,
    );
    // The same data is still reused.
    assert.equal((await trainRun(config, first, quiet)).status, "skipped");
  });
});

Deno.test("weights that turn non-finite are never checkpointed, and nothing is reported from them", async () => {
  await withTmp(async (tmp) => {
    // A weight turns NaN at the last step of epoch 2: epoch 1's checkpoints must stay the last.
    const config = cfg(tmp);
    const err = await trainRun(config, toyData(), {
      ...quiet,
      hooks: { poisonWeights: (e, s) => e === 2 && s === 6 },
    }).then(() => null, (e) => e as Error);
    assert.ok(err, "training with a NaN weight must fail");
    assert.equal(err.name, "NonFiniteModelError", err.message);
    assert.match(
      err.message,
      /validation after epoch 2: the primary distribution of sample 0 is NaN/,
    );
    const dir = runDir(config);
    assert.equal(await Deno.stat(join(dir, "metrics.json")).then(() => true, () => false), false);
    for (const which of ["best", "last"]) {
      const ck = await loadCheckpoint(join(dir, "checkpoints", which));
      assert.equal(ck?.state.epoch, 1, `${which} checkpoint is epoch 1's`);
      for (const w of ck!.weights) {
        assert.ok(
          w.data.every(Number.isFinite),
          `${which} checkpoint holds a non-finite ${w.name}`,
        );
      }
    }
  });
});

Deno.test("the test split is never evaluated with other weights than the best epoch's", async () => {
  await withTmp(async (tmp) => {
    const config = cfg(tmp);
    const r = await trainRun(config, toyData(), quiet);
    // As if the run had been stopped before its test split and its best checkpoint were lost
    // (or were of another epoch): the last checkpoint names epoch 1 as the best.
    await Deno.remove(join(r.dir, "metrics.json"));
    const last = join(r.dir, "checkpoints", "last", "checkpoint.json");
    const m = JSON.parse(await Deno.readTextFile(last));
    m.best = { ...m.best, epoch: 1 };
    await Deno.writeTextFile(last, JSON.stringify(m));
    await Deno.remove(join(r.dir, "checkpoints", "best"), { recursive: true });
    await assert.rejects(
      () => trainRun(config, toyData(), quiet),
      (e: unknown) =>
        e instanceof Error &&
        /best.* is missing, but the best validation epoch is 1/.test(e.message),
    );
    await assert.rejects(() => Deno.stat(join(r.dir, "metrics.json")), Deno.errors.NotFound);
  });
});

Deno.test("pretrained weights are loaded into a fresh run only; a resumed run keeps its own", async () => {
  await withTmp(async (tmp) => {
    const calls: string[] = [];
    const model = {
      ...TOY_MODEL,
      loadPretrained: (_p: unknown, cfg: GrefelConfig["model"]) => {
        calls.push(cfg.extractor);
        return Promise.resolve();
      },
    };
    const config = cfg(tmp);
    await trainUntilCrash(config, toyData(), { ...quiet, model }, 1);
    assert.equal(calls.length, 1, "loaded once at the fresh start");
    const resumed = await trainRun(config, toyData(), { ...quiet, model });
    assert.equal(resumed.status, "resumed");
    assert.equal(calls.length, 1, "a resumed run reads its checkpoint, not the pretrained weights");
  });
});
