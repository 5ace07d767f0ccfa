/**
 * Benchmark (not a test): the single-thread training step (A, `trainStep`) against the
 * data-parallel step over worker threads (B, lib/train/parallel.ts `DataParallel`), interleaved
 * A B A B … in one process on the same batch, so both see the same machine load; the paired
 * ratio B/A is the result. Each variant has its own weights and Adam state. Also reports where
 * B's time goes (main-thread and per-worker phases) and, for the choice of how workers get their
 * weights, the time one Adam update of the backbone takes against the workers' weight
 * assignment it replaces.
 *
 * Usage (prints one JSON line):
 *   deno run -A bench/dp_step.ts [--config compact] [--batch 64] [--workers 2] [--backend wasm]
 *     [--warmup 2] [--rounds 6] [--records]
 *
 * `--records` hands the workers the batch as uint8 feature-cache records, which each decodes for
 * its share, as a run backed by a feature cache does (without it: float maps). It adds a third
 * variant, C: the same data-parallel step on its own pool of workers, each step posting the next
 * step's records while the workers compute its backward pass (`DataParallel.step`'s `next`, as the
 * trainer does), interleaved A B C A B C …; `stagedRatioMedian` is the paired ratio C/B.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import * as tf from "@tensorflow/tfjs";
import { createAdam } from "../lib/wasm_adam.ts";
import { selectBackend } from "../lib/backend.ts";
import { presetConfig } from "../lib/config.ts";
import { MODEL_FNS } from "../lib/train/model_fns.ts";
import { gradGroupOf, type StepState, trainStep } from "../lib/train/step.ts";
import {
  DataParallel,
  type RecordInputs,
  type StepPhases,
  type WorkerPhases,
} from "../lib/train/parallel.ts";
import { encodeRecords, recordLayout } from "../lib/data/cache.ts";
import type { ModelConfig } from "../lib/model/config.ts";
import type { GrefelInputs } from "../lib/model/types.ts";
import { median, randomInputs } from "./model_speed.ts";

/** Seconds of one step: wall clock, and CPU time of the process (all threads). */
interface StepTime {
  wall: number;
  cpu: number;
}

function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

async function timed(f: () => Promise<unknown>): Promise<StepTime> {
  const t = performance.now(), c = process.cpuUsage();
  await f();
  const cpu = process.cpuUsage(c);
  return { wall: (performance.now() - t) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

/** Seconds of one Adam update of the backbone weights alone (median of `n`). */
async function backboneAdamSeconds(s: StepState, n: number): Promise<number> {
  const opt = createAdam(1e-4);
  const vars = [...s.model.flattenParams(s.params)]
    .filter(([p, v]) => gradGroupOf(p) === "backbone" && v.trainable).map(([, v]) => v);
  const copies = vars.map((v) => tf.variable(v, true, `${v.name}/adam-bench`));
  const grads = copies.map((v) => tf.randomNormal(v.shape));
  const out: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t = performance.now();
    opt.applyGradients(copies.map((v, k) => ({ name: v.name, tensor: grads[k] })));
    await tf.tidy(() => tf.sum(copies[copies.length - 1])).data();
    if (i > 0) out.push((performance.now() - t) / 1000); // the first creates Adam's slots
  }
  tf.dispose([...copies, ...grads]);
  opt.dispose();
  return median(out);
}

/** `inputs` as the uint8 records a feature cache stores (lib/data/cache.ts). */
async function recordsOf(
  cfg: ModelConfig,
  inputs: GrefelInputs,
  rows: number,
): Promise<RecordInputs> {
  const maps = [...inputs.landmark, ...inputs.image];
  const sides = maps.map((m) => m.shape[1]!);
  const grid =
    (sides.slice(0, 3).every((g, i) => g === sides[i + 3])
      ? sides.slice(0, 3)
      : sides) as Parameters<typeof recordLayout>[2];
  const layout = recordLayout(cfg.landmarkShape, cfg.imageShape, grid, "uint8");
  const data = await Promise.all(maps.map(async (m) => (await m.data()) as Float32Array));
  return { records: encodeRecords(data, layout, rows), layout };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      config: { type: "string", default: "compact" },
      batch: { type: "string", default: "64" },
      workers: { type: "string", default: "2" },
      backend: { type: "string", default: "wasm" },
      warmup: { type: "string", default: "2" },
      rounds: { type: "string", default: "6" },
      records: { type: "boolean", default: false },
    },
  });
  await selectBackend(values.backend);
  const cfg = presetConfig(values.config!).model;
  const batch = Number(values.batch), workers = Number(values.workers);
  const inputs = randomInputs(cfg, batch);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % cfg.classes);
  const state = (): StepState => ({
    model: MODEL_FNS,
    params: MODEL_FNS.initGrefel(cfg, 0),
    optimizer: createAdam(3e-4),
    cfg,
    smoothing: cfg.loss.labelSmoothing,
  });
  const a = state(), b = state(), c = state();
  const t0 = performance.now();
  const dp = await DataParallel.start(MODEL_FNS, cfg, workers, batch);
  const startSeconds = (performance.now() - t0) / 1000;
  let it = 0;
  const opts = () => ({ dropoutSeed: it++, progress: 1 });
  const runA = () => timed(() => trainStep(a, { inputs, labels }, opts()));
  const records = values.records ? await recordsOf(cfg, inputs, batch) : null;
  const runB = () => timed(() => dp.step(b, { inputs: records ?? inputs, labels }, opts()));
  // Its own pool, so that B's steps do not drop the shares C posted.
  const dpC = records ? await DataParallel.start(MODEL_FNS, cfg, workers, batch) : null;
  const runC = () => timed(() => dpC!.step(c, { inputs: records!, labels }, opts(), () => records));
  try {
    for (let i = 0; i < Number(values.warmup); i++) {
      await runA(), await runB();
      if (dpC) await runC();
    }
    const ta: StepTime[] = [], tb: StepTime[] = [], tc: StepTime[] = [], loads: number[] = [];
    const phases: StepPhases[] = [], stagedPhases: StepPhases[] = [];
    const wphases: (WorkerPhases | null)[][] = [];
    for (let i = 0; i < Number(values.rounds); i++) {
      loads.push(loadAverage());
      ta.push(await runA());
      tb.push(await runB());
      if (dpC) tc.push(await runC());
      phases.push(dp.phases);
      if (dpC) stagedPhases.push(dpC.phases);
      wphases.push(dp.workerPhases());
    }
    const summary = (k: keyof StepTime) => ({
      single: ta.map((x) => +x[k].toFixed(3)),
      parallel: tb.map((x) => +x[k].toFixed(3)),
      singleMedian: +median(ta.map((x) => x[k])).toFixed(3),
      parallelMedian: +median(tb.map((x) => x[k])).toFixed(3),
      pairedRatioMedian: +median(ta.map((x, i) => tb[i][k] / x[k])).toFixed(3),
      ...(dpC
        ? {
          staged: tc.map((x) => +x[k].toFixed(3)),
          stagedMedian: +median(tc.map((x) => x[k])).toFixed(3),
          stagedRatioMedian: +median(tb.map((x, i) => tc[i][k] / x[k])).toFixed(3),
        }
        : {}),
    });
    const med = <T>(rows: T[], key: keyof T) =>
      +median(rows.map((r) => r[key] as number)).toFixed(4);
    const phaseKeys = Object.keys(phases[0]) as (keyof StepPhases)[];
    const workerKeys = ["assign", "embed", "wait", "backward"] as (keyof WorkerPhases)[];
    console.log(JSON.stringify({
      config: values.config,
      backend: tf.getBackend(),
      batch,
      workers,
      cores: navigator.hardwareConcurrency,
      workerStartSeconds: +startSeconds.toFixed(2),
      wallSeconds: summary("wall"),
      cpuSeconds: summary("cpu"),
      parallelPhasesMedian: Object.fromEntries(phaseKeys.map((k) => [k, med(phases, k)])),
      ...(dpC
        ? {
          stagedPhasesMedian: Object.fromEntries(phaseKeys.map((k) => [k, med(stagedPhases, k)])),
          stagedSteps: dpC.stagedSteps,
        }
        : {}),
      workerPhasesMedian: Array.from({ length: workers }, (_, w) =>
        Object.fromEntries(
          workerKeys.map((k) => [k, med(wphases.map((p) => p[w]!), k)]),
        )),
      backboneAdamSeconds: +(await backboneAdamSeconds(b, 3)).toFixed(4),
      load: loads,
    }));
  } finally {
    dp.close();
    dpC?.close();
  }
}
