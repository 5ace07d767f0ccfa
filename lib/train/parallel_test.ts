import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert } from "../testing.ts";
import { presetConfig } from "../config.ts";
import type { ModelConfig } from "../model/config.ts";
import { MODEL_FNS } from "./model_fns.ts";
import { randomFeatureData, TOY_MODEL, trainUntilCrash } from "./test_helpers.ts";
import { type StepResult, type StepState, trainStep } from "./step.ts";
import { DataParallel, liveWorkers, shardRows } from "./parallel.ts";
import { type FeatureSplit, predictSplit, trainRun } from "./train.ts";
import { decodeRecords, recordLayout } from "../data/cache.ts";
import type { GrefelInputs } from "../model/types.ts";
import { mulberry32 } from "./schedule.ts";
import { runId } from "./run.ts";
import { type EpochLog, loadCheckpoint } from "../run/mod.ts";
import type { BranchReport } from "../eval/branches.ts";
import { MICRO_MODEL } from "./testdata/resume_child.ts";
import { FAILING_MODEL } from "./testdata/failing_model.ts";

await tf.setBackend("cpu");

function micro(over: Record<string, unknown> = {}): ModelConfig {
  return presetConfig("tiny", { model: { ...MICRO_MODEL, ...over } }).model;
}

function state(cfg: ModelConfig, seed = 3): StepState {
  const params = MODEL_FNS.initGrefel(cfg, seed);
  // SGD with lr 1: the weight change of a step is minus its gradient.
  return { model: MODEL_FNS, params, optimizer: tf.train.sgd(1), cfg, smoothing: 11 };
}

function values(s: StepState): Map<string, Float32Array> {
  return new Map(
    [...MODEL_FNS.flattenParams(s.params)].map((
      [p, v],
    ) => [p, (v.dataSync() as Float32Array).slice()]),
  );
}

function close(a: number, b: number, rel: number, what: string) {
  assert.ok(
    Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-30),
    `${what}: ${a} ${b}`,
  );
}

/** Compares two step results: loss terms, trust, gradient norms and distributions. */
function sameResult(a: StepResult, b: StepResult, rel: number) {
  assert.equal(a.finite, b.finite);
  assert.equal(a.trust, b.trust);
  for (const k of Object.keys(a.losses) as (keyof StepResult["losses"])[]) {
    close(a.losses[k], b.losses[k], rel, `loss ${k}`);
  }
  for (const g of Object.keys(a.gradSq) as (keyof StepResult["gradSq"])[]) {
    close(a.gradSq[g], b.gradSq[g], 10 * rel, `gradient norm² ${g}`);
  }
  for (const k of Object.keys(a.dists) as (keyof StepResult["dists"])[]) {
    const x = a.dists[k], y = b.dists[k];
    assert.equal(x === null, y === null, k);
    x?.forEach((v, i) => assert.ok(Math.abs(v - y![i]) <= rel, `${k}[${i}]: ${v} ${y![i]}`));
  }
}

/**
 * Runs `steps` steps of the single-thread and the 2-worker path from the same weights on the same
 * batches (of `rows` samples) and compares results, gradients, batch-norm statistics and leaks.
 */
async function compareSteps(dp: DataParallel, cfg: ModelConfig, rows: number, steps = 2) {
  const data = randomFeatureData(cfg, cfg.classes, { train: 32, val: 8, test: 8 });
  const a = state(cfg), b = state(cfg);
  try {
    const counts: number[] = [], workerCounts: number[][] = [];
    for (let k = 0; k < steps; k++) {
      // Same starting weights for both paths at every step.
      MODEL_FNS.assignParams(b.params, values(a));
      const w0 = values(a);
      const idx = Array.from({ length: rows }, (_, i) => (i * 5 + k) % 32);
      const inputs = await data.train.readBatch(idx, 0);
      const labels = Int32Array.from(idx, (i) => data.train.labels[i]);
      const opts = { dropoutSeed: 11 + k, progress: 0.25 * k };
      const before = tf.memory().numTensors;
      const ra = await trainStep(a, { inputs, labels }, opts);
      const rb = await dp.step(b, { inputs, labels }, opts);
      counts.push(tf.memory().numTensors - before);
      workerCounts.push(dp.workerTensors());
      tf.dispose([...inputs.landmark, ...inputs.image]);
      sameResult(ra, rb, 1e-5);
      const wa = values(a), wb = values(b);
      let total = 0;
      for (const [p, w] of w0) {
        for (let i = 0; i < w.length; i++) total += (w[i] - wa.get(p)![i]) ** 2;
      }
      for (const [p, w] of w0) {
        const x = wa.get(p)!, y = wb.get(p)!;
        let diff = 0, norm = 0;
        for (let i = 0; i < w.length; i++) diff += (x[i] - y[i]) ** 2, norm += (w[i] - x[i]) ** 2;
        // Relative to the weight's gradient; gradients that are float noise (≈ 0) are compared
        // against the whole gradient instead.
        assert.ok(
          Math.sqrt(diff) <= 1e-5 * Math.sqrt(norm) + 1e-7 * Math.sqrt(total),
          `${p}: ‖Δ‖ ${Math.sqrt(diff)} vs ‖g‖ ${Math.sqrt(norm)}`,
        );
      }
    }
    assert.deepEqual(counts, counts.map(() => 0), "tensors leaked in the main thread");
    assert.deepEqual(workerCounts[steps - 1], workerCounts[0], "tensors leaked in a worker");
  } finally {
    MODEL_FNS.disposeParams(a.params);
    MODEL_FNS.disposeParams(b.params);
  }
}

/**
 * A split of `n` samples stored as float16 feature-cache records (seeded values): `readRecords`
 * returns them undecoded, `readBatch` decodes them, as a feature cache does.
 */
function recordSplit(cfg: ModelConfig, n: number): FeatureSplit {
  const grid = cfg.landmarkShape.map(([g]) => g) as [number, number, number];
  const layout = recordLayout(cfg.landmarkShape, cfg.imageShape, grid, "float16");
  const all = new Uint8Array(n * layout.bytes);
  const rand = mulberry32(21);
  for (let r = 0; r < n; r++) {
    for (let m = 0; m < 6; m++) {
      const at = r * layout.bytes + layout.offsets[m];
      const v = new Float16Array(all.buffer, at, layout.sizes[m]);
      for (let k = 0; k < v.length; k++) {
        v[k] = rand() - 0.5 + (k % cfg.classes === r % 4 ? 0.8 : 0);
      }
    }
  }
  const readRecords = (idx: number[]) => {
    const out = new Uint8Array(idx.length * layout.bytes);
    idx.forEach((i, b) =>
      out.set(all.subarray(i * layout.bytes, (i + 1) * layout.bytes), b * layout.bytes)
    );
    return out;
  };
  return {
    ids: Array.from({ length: n }, (_, i) => `r${i}`),
    labels: Int32Array.from({ length: n }, (_, i) => i % 4),
    views: 1,
    readRecords,
    recordLayout: layout,
    readBatch: (idx) => {
      const bufs = decodeRecords(readRecords(idx), layout, idx.length);
      const t = bufs.map((b, m) => {
        const g = layout.grid[m % 3];
        return tf.tensor4d(b, [idx.length, g, g, layout.channels[m]]);
      });
      return { landmark: [t[0], t[1], t[2]], image: [t[3], t[4], t[5]] };
    },
  };
}

Deno.test("shardRows: contiguous shares differing by at most one, empty ones left out", () => {
  assert.deepEqual(shardRows(8, 2), [[0, 4], [4, 8]]);
  assert.deepEqual(shardRows(9, 2), [[0, 5], [5, 9]]);
  assert.deepEqual(shardRows(7, 3), [[0, 3], [3, 5], [5, 7]]);
  assert.deepEqual(shardRows(1, 3), [[0, 1]]);
});

Deno.test("2-worker step = single-thread step: gradients, losses, statistics, no leaks", async (t) => {
  // Starting workers is slow under `deno test` (it type-checks their modules), so the cases share
  // one pool. The workers hold only the backbone, which the cases share; their heads differ.
  const dp = await DataParallel.start(MODEL_FNS, micro(), 2, 9);
  try {
    await t.step(
      "no dropout",
      () => compareSteps(dp, micro({ head: { hidden: [8], dropout: 0 } }), 8),
    );
    // The head runs on the whole batch in the main thread: same masks and batch statistics.
    await t.step(
      "dropout and batch norm, odd batch",
      () => compareSteps(dp, micro({ head: { hidden: [8, 8], dropout: 0.5 } }), 9),
    );
    const rb = { ...MICRO_MODEL.rb, training: "trust-ramp+aux-branches+detach-confidence" };
    await t.step(
      "trust ramp, auxiliary losses of every branch, detached confidences",
      () => compareSteps(dp, micro({ rb }), 8, 1),
    );
    await t.step(
      "bn-dropout order",
      () => compareSteps(dp, micro({ head: { hidden: [8], order: "bn-dropout" } }), 7, 1),
    );
    await t.step("records decoded by the workers = the same maps sent decoded", async () => {
      const cfg = micro({ head: { hidden: [8], dropout: 0 } });
      const split = recordSplit(cfg, 13);
      const a = state(cfg), b = state(cfg);
      try {
        MODEL_FNS.assignParams(b.params, values(a));
        const idx = [3, 0, 7, 12, 5, 9, 1];
        const labels = Int32Array.from(idx, (i) => split.labels[i]);
        const before = tf.memory().numTensors;
        const inputs = split.readBatch(idx, 0) as GrefelInputs;
        const opts = { dropoutSeed: 4, progress: 0 };
        const ra = await dp.step(a, { inputs, labels }, opts);
        const rb = await dp.step(
          b,
          { inputs: { records: split.readRecords!(idx), layout: split.recordLayout! }, labels },
          opts,
        );
        tf.dispose([...inputs.landmark, ...inputs.image]);
        assert.equal(tf.memory().numTensors, before, "tensors leaked by the record steps");
        sameResult(ra, rb, 0);
        const wa = values(a), wb = values(b);
        for (const [p, w] of wa) assert.deepEqual(wb.get(p), w, p);
        const one = await predictSplit(MODEL_FNS, a.params, split, cfg, 4);
        const two = await predictSplit(MODEL_FNS, a.params, split, cfg, 4, undefined, dp);
        one.final.forEach((v, i) => close(v, two.final[i], 1e-5, `final[${i}]`));
      } finally {
        MODEL_FNS.disposeParams(a.params);
        MODEL_FNS.disposeParams(b.params);
      }
    });
    await t.step("the next step's records posted during a step: the same steps", async () => {
      const cfg = micro({ head: { hidden: [8], dropout: 0.5 } });
      const split = recordSplit(cfg, 13);
      const a = state(cfg), b = state(cfg);
      try {
        MODEL_FNS.assignParams(b.params, values(a));
        const batches = [[3, 0, 7, 12, 5, 9, 1], [2, 4, 6, 8, 10, 11], [1, 3, 5, 7, 9, 12, 2]];
        const inputsAt = (k: number) => ({
          records: split.readRecords!(batches[k]),
          layout: split.recordLayout!,
        });
        const labelsAt = (k: number) => Int32Array.from(batches[k], (i) => split.labels[i]);
        const optsAt = (k: number) => ({ dropoutSeed: k, progress: k / 3 });
        const before = tf.memory().numTensors;
        const plain: StepResult[] = [];
        for (let k = 0; k < 3; k++) {
          plain.push(await dp.step(a, { inputs: inputsAt(k), labels: labelsAt(k) }, optsAt(k)));
        }
        const used = dp.stagedSteps;
        let inputs = inputsAt(0);
        for (let k = 0; k < 3; k++) {
          let upcoming: ReturnType<typeof inputsAt> | null = null;
          const r = await dp.step(
            b,
            { inputs, labels: labelsAt(k) },
            optsAt(k),
            () => upcoming = k + 1 < 3 ? inputsAt(k + 1) : null,
          );
          sameResult(plain[k], r, 0);
          inputs = upcoming!;
        }
        assert.equal(dp.stagedSteps - used, 2, "steps 2 and 3 used the posted shares");
        const wa = values(a), wb = values(b);
        for (const [p, w] of wa) assert.deepEqual(wb.get(p), w, p);
        // Posted shares that the next call does not use are dropped: it sends its own in full.
        let posted: ReturnType<typeof inputsAt> | null = null;
        const r1 = await dp.step(
          b,
          { inputs: inputsAt(0), labels: labelsAt(0) },
          optsAt(0),
          () => posted = inputsAt(1),
        );
        const r2 = await dp.step(b, { inputs: inputsAt(2), labels: labelsAt(2) }, optsAt(2));
        const s1 = await dp.step(a, { inputs: inputsAt(0), labels: labelsAt(0) }, optsAt(0));
        const s2 = await dp.step(a, { inputs: inputsAt(2), labels: labelsAt(2) }, optsAt(2));
        assert.ok(posted);
        sameResult(s1, r1, 0);
        sameResult(s2, r2, 0);
        assert.equal(dp.stagedSteps - used, 2);
        assert.equal(tf.memory().numTensors, before, "tensors leaked in the main thread");
        const counts = dp.workerTensors();
        await dp.step(a, { inputs: inputsAt(1), labels: labelsAt(1) }, optsAt(1));
        assert.deepEqual(dp.workerTensors(), counts, "tensors leaked in a worker");
      } finally {
        MODEL_FNS.disposeParams(a.params);
        MODEL_FNS.disposeParams(b.params);
      }
    });
    await t.step("evaluation on the workers = single-thread evaluation", async () => {
      const cfg = micro({ head: { hidden: [8], dropout: 0.5 } });
      const data = randomFeatureData(cfg, cfg.classes, { train: 32, val: 11, test: 8 });
      const params = MODEL_FNS.initGrefel(cfg, 5);
      try {
        const before = tf.memory().numTensors;
        // Batches of 4 over 11 samples: two full batches and a last one of 3 (shares 2 + 1).
        const one = await predictSplit(MODEL_FNS, params, data.val!, cfg, 4);
        const two = await predictSplit(MODEL_FNS, params, data.val!, cfg, 4, undefined, dp);
        assert.equal(tf.memory().numTensors, before, "tensors leaked by evaluation");
        assert.equal(two.dim, one.dim);
        for (const k of ["embedding", "primary", "geometric", "attentive", "final"] as const) {
          const x = one[k]!, y = two[k]!;
          assert.equal(y.length, x.length, k);
          x.forEach((v, i) => close(v, y[i], 1e-5, `${k}[${i}]`));
        }
        // The workers take the weights of the pass: after an update, evaluation follows it.
        MODEL_FNS.assignParams(
          params,
          new Map([...values({ params } as StepState)].map(
            ([p, w]) => [p, w.map((x) => x * 0.5)],
          )),
        );
        const a = await predictSplit(MODEL_FNS, params, data.val!, cfg, 4);
        const b = await predictSplit(MODEL_FNS, params, data.val!, cfg, 4, undefined, dp);
        a.final.forEach((v, i) => close(v, b.final[i], 1e-5, `final[${i}] after an update`));
        assert.ok(a.final.some((v, i) => Math.abs(v - one.final[i]) > 1e-4), "weights unchanged");
      } finally {
        MODEL_FNS.disposeParams(params);
      }
    });
  } finally {
    dp.close();
  }
  assert.equal(liveWorkers(), 0);
});

Deno.test("2-worker step = single-thread step with a fine-tuned extractor block in the backbone", async () => {
  // The block (lib/model/finetune.ts) is part of the workers' backbone: its weights go to them and
  // its gradients come back with the rest.
  const cfg = micro({
    finetune: "landmark-dense3",
    landmarkShape: [[4, 4], [2, 4], [2, 128]],
    head: { hidden: [8], dropout: 0 },
  });
  const dp = await DataParallel.start(MODEL_FNS, cfg, 2, 8);
  try {
    await compareSteps(dp, cfg, 8, 1);
  } finally {
    dp.close();
  }
  assert.equal(liveWorkers(), 0);
});

Deno.test("an error in a worker surfaces in the main thread and ends every worker", async () => {
  const cfg = micro();
  const data = randomFeatureData(cfg, cfg.classes, { train: 16, val: 4, test: 4 });
  const s = { ...state(cfg), model: FAILING_MODEL };
  const dp = await DataParallel.start(FAILING_MODEL, cfg, 2, 8);
  const inputs = await data.train.readBatch([0, 1, 2, 3, 4, 5], 0);
  const labels = data.train.labels.slice(0, 6);
  try {
    await dp.step(s, { inputs, labels }, { dropoutSeed: 1, progress: 0 });
    await assert.rejects(
      () => dp.step(s, { inputs, labels }, { dropoutSeed: 2, progress: 0 }),
      /data-parallel worker [12]\/2 failed: embedding failed on purpose/,
    );
    assert.equal(liveWorkers(), 0);
  } finally {
    dp.close();
    tf.dispose([...inputs.landmark, ...inputs.image]);
    MODEL_FNS.disposeParams(s.params);
  }
});

Deno.test("an error in the main thread mid-step ends the workers waiting for it", async () => {
  const cfg = micro();
  const data = randomFeatureData(cfg, cfg.classes, { train: 16, val: 4, test: 4 });
  const s = state(cfg);
  const failing = {
    ...s,
    model: {
      ...MODEL_FNS,
      grefelFromEmbedding: () => {
        throw new Error("head failed on purpose");
      },
    },
  };
  const dp = await DataParallel.start(MODEL_FNS, cfg, 2, 8);
  const inputs = await data.train.readBatch([0, 1, 2, 3], 0);
  const labels = data.train.labels.slice(0, 4);
  try {
    // The workers are blocked waiting for ∂L/∂e when the head throws.
    await assert.rejects(
      () => dp.step(failing, { inputs, labels }, { dropoutSeed: 1, progress: 0 }),
      /head failed on purpose/,
    );
    assert.equal(liveWorkers(), 0);
    await assert.rejects(
      () => dp.step(s, { inputs, labels }, { dropoutSeed: 1, progress: 0 }),
      /terminated/,
    );
  } finally {
    dp.close();
    tf.dispose([...inputs.landmark, ...inputs.image]);
    MODEL_FNS.disposeParams(s.params);
  }
});

Deno.test("data-parallel refuses models it cannot split or load, and leaves no worker", async () => {
  const cfg = micro();
  await assert.rejects(() => DataParallel.start(TOY_MODEL, cfg, 2, 8), /workerModule/);
  const missing = {
    ...MODEL_FNS,
    workerModule: { url: MODEL_FNS.workerModule!.url, name: "NOPE" },
  };
  await assert.rejects(() => DataParallel.start(missing, cfg, 2, 8), /exports no model functions/);
  assert.equal(liveWorkers(), 0);
});

function runConfig(resultsDir: string, workers: number) {
  return presetConfig("tiny", {
    model: MICRO_MODEL,
    train: { epochs: 3, batchSize: 7, progress: "off", resultsDir, workers },
  });
}

Deno.test("train.workers: 1 keeps the run id; other values are part of it", () => {
  const one = runConfig("r", 1);
  const { workers: _w, ...train } = one.train;
  assert.equal(runId(one), runId({ ...one, train: { ...train } as typeof one.train }));
  assert.notEqual(runId(runConfig("r", 2)), runId(one));
  assert.throws(() => runConfig("r", 0), /workers/);
});

Deno.test("a 2-worker run resumes exactly as it runs uninterrupted; workers end with it", async () => {
  const tmp = await Deno.makeTempDir();
  const data = () => randomFeatureData(micro(), 4, { train: 24, val: 8, test: 8 });
  const quiet = { model: MODEL_FNS, print: () => {} };
  try {
    const before = tf.memory().numTensors;
    const full = await trainRun(runConfig(join(tmp, "a"), 2), data(), quiet);
    assert.equal(liveWorkers(), 0);
    assert.equal(tf.memory().numTensors, before, "tensors leaked by a 2-worker run");
    const config = runConfig(join(tmp, "b"), 2);
    await trainUntilCrash(config, data(), quiet, 2);
    assert.equal(liveWorkers(), 0, "workers outlived a failed run");
    const ck = await loadCheckpoint(
      join(tmp, "b", "default", runId(config), "checkpoints", "last"),
    );
    assert.equal(ck!.state.epoch, 2);
    const resumed = await trainRun(config, data(), quiet);
    assert.equal(resumed.status, "resumed");
    const strip = (l: typeof full.log) => l.map(({ seconds: _s, ...rest }) => rest);
    assert.deepEqual(strip(resumed.log), strip(full.log));
    assert.equal(
      await Deno.readTextFile(join(resumed.dir, "predictions.csv")),
      await Deno.readTextFile(join(full.dir, "predictions.csv")),
    );
    // The first epoch of a 1-worker run matches up to float rounding.
    const single = await trainRun(runConfig(join(tmp, "c"), 1), data(), quiet);
    close(single.log[0].loss, full.log[0].loss, 1e-4, "epoch 1 loss, 1 vs 2 workers");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a 2-worker run from cache records (each next batch posted early) = a 1-worker run", async () => {
  const tmp = await Deno.makeTempDir();
  // The training split hands out undecoded records, as a feature cache does.
  const data = () => ({
    ...randomFeatureData(micro(), 4, { train: 24, val: 8, test: 8 }),
    train: recordSplit(micro(), 24),
  });
  const quiet = { model: MODEL_FNS, print: () => {} };
  try {
    const before = tf.memory().numTensors;
    const two = await trainRun(runConfig(join(tmp, "a"), 2), data(), quiet);
    const one = await trainRun(runConfig(join(tmp, "b"), 1), data(), quiet);
    assert.equal(liveWorkers(), 0);
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    assert.equal(two.log.length, 3);
    for (let i = 0; i < two.log.length; i++) {
      close(two.log[i].loss, one.log[i].loss, 1e-4, `epoch ${i + 1} loss, 2 vs 1 workers`);
      assert.equal(two.log[i].steps, one.log[i].steps);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a 2-worker run with a weight average validates the averages on its workers", async () => {
  const tmp = await Deno.makeTempDir();
  const data = () => randomFeatureData(micro(), 4, { train: 24, val: 8, test: 8 });
  const quiet = { model: MODEL_FNS, print: () => {} };
  const config = (dir: string, workers: number) => {
    const c = runConfig(join(tmp, dir), workers);
    return { ...c, train: { ...c.train, emaDecay: 0.8 } };
  };
  try {
    const two = await trainRun(config("a", 2), data(), quiet);
    const one = await trainRun(config("b", 1), data(), quiet);
    assert.equal(liveWorkers(), 0);
    // The averaged and the raw weights are validated apart (they differ), and the workers embed
    // with whichever the main thread holds: both agree with the single-thread run.
    const conf = (e: EpochLog, k: "val") => e[k]!.distributionStd.final;
    for (let i = 0; i < two.log.length; i++) {
      close(conf(two.log[i], "val"), conf(one.log[i], "val"), 1e-4, `epoch ${i + 1} val std`);
      assert.equal(two.log[i].valRawAccuracy, one.log[i].valRawAccuracy);
    }
    const std = (r: typeof one) => (r.metrics.rb as BranchReport).distributionStd.final;
    close(std(two), std(one), 1e-4, "test split");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
