/**
 * Benchmark worker (not a test): training-step and inference throughput of the trainable GReFEL
 * model on one backend, from inputs shaped like cached features (seeded random tensors of the
 * model's input shapes), optionally with a per-kernel profile of one training step; and the
 * end-to-end forward pass from images (extractor → adaptive pool to the token grid → model).
 * One measurement per process, so its peak RSS is its own; `bench/run.ts` starts these.
 *
 * Usage (prints one JSON line):
 *   deno run -A bench/model_speed.ts --config compact --backend wasm --mode train
 *     [--batch 64] [--warmup 2] [--steps 10] [--max-seconds 60] [--profile] [--set PATH=VALUE]
 *   deno run -A bench/model_speed.ts --config compact --backend wasm --mode infer --from images
 *   deno run -A bench/model_speed.ts --config compact --backend wasm --batch 64 --warmup 2 --serve
 *     [--workers 2]
 *
 * With `--workers` > 1 the step is the trainer's data-parallel step (lib/train/parallel.ts); from
 * features it is fed the batch as uint8 cache records, which the workers decode, as in a run
 * backed by a feature cache.
 *
 * `--serve`: a long-lived step server (bench/step_protocol.ts) for bench/ab_torch.ts. It builds
 * the model once, runs the warm-up iterations, prints `{"ready": {...}}`, then answers each stdin
 * line `{"steps": k}` with the wall and CPU seconds of k iterations; it exits when stdin closes.
 *
 * A training step is exactly the trainer's (lib/train/train.ts): `tf.variableGrads` over
 * grefelForward (training mode, seeded dropout) + grefelLoss, a read-back of the five loss/accuracy
 * scalars, then Adam's `applyGradients`. Its time ends when the read-back resolves and the update
 * has been issued and (for webgpu) flushed by reading one updated weight.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import * as tf from "@tensorflow/tfjs";
import { createAdam } from "../lib/wasm_adam.ts";
import { selectBackend } from "../lib/backend.ts";
import { unpatchWasmBatchMatMul, wasmBatchMatMulPatched } from "../lib/wasm_matmul.ts";
import { presetConfig } from "../lib/config.ts";
import { parseSets } from "../lib/train/experiments.ts";
import {
  grefelForward,
  grefelLoss,
  initGrefel,
  smoothLabels,
  summarizeModel,
  trainableVariables,
} from "../lib/model/mod.ts";
import type { GrefelInputs } from "../lib/model/mod.ts";
import type { ModelConfig } from "../lib/model/config.ts";
import { serveSteps } from "./step_protocol.ts";

/** Median of a non-empty list. */
export function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Peak resident set size of this process in bytes (Linux VmHWM; current RSS elsewhere). */
export function peakRssBytes(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+)\s+kB/);
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss;
}

/** What {@linkcode timeIterations} measured. */
export interface IterationTimes {
  /** Seconds per timed iteration. */
  seconds: number[];
  /** Seconds of the first iteration: the first warm-up one, else the first timed one. */
  first: number;
  /** Whether the timing stopped at `maxSeconds` before `steps` iterations. */
  capped: boolean;
}

/**
 * Times an iteration the way every benchmark worker does: `warmup` untimed calls (only the first
 * one's time is kept, as {@linkcode IterationTimes.first}), then up to `steps` timed calls,
 * stopping once `maxSeconds` have passed (at least one timed call always runs).
 */
export async function timeIterations(
  run: () => Promise<void>,
  o: { warmup: number; steps: number; maxSeconds: number },
): Promise<IterationTimes> {
  let first = 0;
  for (let i = 0; i < o.warmup; i++) {
    const t = performance.now();
    await run();
    if (i === 0) first = (performance.now() - t) / 1000;
  }
  const seconds: number[] = [];
  const start = performance.now();
  let capped = false;
  for (let i = 0; i < o.steps; i++) {
    const t = performance.now();
    await run();
    seconds.push((performance.now() - t) / 1000);
    if (o.warmup === 0 && i === 0) first = seconds[0];
    if ((performance.now() - start) / 1000 > o.maxSeconds && i + 1 < o.steps) {
      capped = true;
      break;
    }
  }
  return { seconds, first, capped };
}

/** Seeded random inputs `[B, side, side, ch]` for both streams, values in [0, 1) like ReLU maps. */
export function randomInputs(cfg: ModelConfig, batch: number, seed = 1): GrefelInputs {
  const mk = (shapes: ModelConfig["landmarkShape"], k: number) =>
    shapes.map(([s, c], i) =>
      tf.randomUniform([batch, s, s, c], 0, 1, "float32", seed * 100 + k * 10 + i) as tf.Tensor4D
    ) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  return { landmark: mk(cfg.landmarkShape, 0), image: mk(cfg.imageShape, 1) };
}

/** The model config a measurement times: the preset with the options' overrides. */
function modelConfig(o: Pick<ModelSpeedOptions, "config" | "overrides">): ModelConfig {
  return presetConfig(o.config, o.overrides ?? {}).model;
}

/** Options of one model measurement. */
export interface ModelSpeedOptions {
  /** Preset name (`compact`, `paper`, `tiny`). */
  config: string;
  /**
   * Config overrides over the preset, as `--set PATH=VALUE` gives them (default none), e.g.
   * `{ model: { embedDim: 128 } }` to time a variant of an experiment.
   */
  overrides?: Record<string, unknown>;
  /** Backend name. */
  backend: string;
  /** `train` (training step) or `infer` (inference forward). */
  mode: "train" | "infer";
  /**
   * `features`: random tensors of the cached features' shapes (the trainer's normal input);
   * `images`: random images through the (frozen) extractor, pooled to the token grid, each step.
   */
  from: "features" | "images";
  /** Batch size. */
  batch: number;
  /** Untimed warm-up iterations. */
  warmup: number;
  /** Timed iterations (at most; see maxSeconds). */
  steps: number;
  /** Stop timing after this many seconds (at least one timed iteration always runs). */
  maxSeconds: number;
  /** Also profile one training step per kernel (tf.profile). */
  profile?: boolean;
  /** Extractor name when `from` is `images` (default: the preset's `model.extractor`). */
  extractor?: string;
  /** wasm: use tfjs' own BatchMatMul kernel instead of lib/wasm_matmul.ts's (for comparison). */
  stockMatMul?: boolean;
  /**
   * Training steps over this many data-parallel worker threads (lib/train/parallel.ts, the
   * trainer's `train.workers`); default 1, the single-thread step.
   */
  workers?: number;
}

/** Per-kernel summary of one profiled step. */
export interface KernelProfile {
  /** Kernels executed in the step. */
  kernels: number;
  /** Sum of the per-kernel times (ms). */
  kernelMs: number;
  /** Wall time of the profiled step (ms; profiling adds overhead). */
  wallMs: number;
  /** Peak bytes of tensors during the step. */
  peakBytes: number;
  /** Per kernel name: count and total ms, sorted by time. */
  byName: { name: string; count: number; ms: number }[];
}

/** Result of one measurement. */
export interface ModelSpeedResult {
  /** Options used. */
  options: ModelSpeedOptions;
  /** Backend info (adapter, versions). */
  backend: Awaited<ReturnType<typeof selectBackend>>;
  /** Trainable parameters of the model. */
  trainableParams: number;
  /** Seconds per timed iteration. */
  seconds: number[];
  /** Median seconds per iteration. */
  medianSeconds: number;
  /** batch / median seconds. */
  imagesPerSecond: number;
  /** Seconds of the first (warm-up) iteration, which includes kernel compilation on webgpu. */
  firstIterationSeconds: number;
  /** Peak RSS of the process (bytes). */
  peakRssBytes: number;
  /** tf.memory() after the timed iterations (tensors kept: weights, Adam state, inputs). */
  tfMemory: { numBytes: number; numTensors: number; numBytesInGPU?: number };
  /** Profile of one step when requested. */
  profile?: KernelProfile;
  /** Whether the timing stopped at maxSeconds before `steps` iterations. */
  capped: boolean;
  /** Whether lib/wasm_matmul.ts's BatchMatMul kernel was in use (wasm only). */
  patchedMatMul: boolean;
}

/** A measurement's iteration, ready to run: built once, run many times. */
export interface PreparedModel {
  /** Backend info (adapter, versions). */
  backend: Awaited<ReturnType<typeof selectBackend>>;
  /** One iteration: a training step or an inference forward, as {@linkcode ModelSpeedOptions.mode}. */
  run: () => Promise<void>;
  /** Disposes the inputs, labels and optimizer. */
  cleanup: () => void;
}

/**
 * Builds the model, inputs and optimizer of one measurement and returns its iteration. A training
 * step is exactly the trainer's (see the module doc).
 */
export async function prepareModel(
  o: Omit<ModelSpeedOptions, "warmup" | "steps" | "maxSeconds">,
): Promise<PreparedModel> {
  const backend = await selectBackend(o.backend);
  if (o.stockMatMul) unpatchWasmBatchMatMul();
  const cfg = modelConfig(o);
  const params = initGrefel(cfg, 0);
  const vars = trainableVariables(params);
  const b = o.batch;
  const opt = createAdam(3e-4);
  const probe = vars[vars.length - 1];
  let iteration = 0;

  let run: () => Promise<void>;
  let cleanup: () => void = () => {};
  // Model inputs: seeded random tensors of the cached features' shapes, or (from images) the
  // extractor's maps of random images pooled to the token grid as the feature cache does.
  let makeInputs: () => GrefelInputs;
  let disposeInputs = (_x: GrefelInputs) => {};
  if (o.from === "images") {
    const { loadExtractor } = await import("../lib/extractors/registry.ts");
    const { adaptivePool } = await import("../lib/data/cache.ts");
    const ex = await loadExtractor(o.extractor ?? cfg.extractor);
    const images = tf.randomUniform([b, ex.inputSize, ex.inputSize, 3], 0, 1, "float32", 7);
    makeInputs = () =>
      tf.tidy(() => {
        const m = ex.extract(images as tf.Tensor4D);
        const pool = (ts: tf.Tensor4D[], shapes: ModelConfig["landmarkShape"]) =>
          ts.map((t, i) => adaptivePool(t, shapes[i][0])) as [
            tf.Tensor4D,
            tf.Tensor4D,
            tf.Tensor4D,
          ];
        return {
          landmark: pool(m.landmark, cfg.landmarkShape),
          image: pool(m.image, cfg.imageShape),
        };
      }) as unknown as GrefelInputs;
    disposeInputs = (x) => tf.dispose([...x.landmark, ...x.image]);
    cleanup = () => {
      images.dispose();
      ex.dispose();
    };
  } else {
    const fixed = randomInputs(cfg, b);
    makeInputs = () => fixed;
    cleanup = () => tf.dispose([...fixed.landmark, ...fixed.image]);
  }
  const labels = Int32Array.from({ length: b }, (_, i) => i % cfg.classes);
  const target = smoothLabels(labels, cfg.classes, cfg.loss.labelSmoothing);
  const labelT = tf.tensor1d(labels, "int32");
  const workers = o.workers ?? 1;
  if (workers > 1 && o.mode === "train") {
    // The trainer's data-parallel step (lib/train/parallel.ts) on the same inputs and labels.
    const { DataParallel } = await import("../lib/train/parallel.ts");
    const { MODEL_FNS } = await import("../lib/train/model_fns.ts");
    const dp = await DataParallel.start(MODEL_FNS, cfg, workers, b);
    const state = {
      model: MODEL_FNS,
      params,
      optimizer: opt,
      cfg,
      smoothing: cfg.loss.labelSmoothing,
    };
    // From features, the batch goes to the workers as a cache-backed run sends it: the stored
    // uint8 records, which each worker decodes for its share (lib/data/cache.ts).
    const { encodeRecords, recordLayout } = await import("../lib/data/cache.ts");
    const records = o.from === "features"
      ? await (async () => {
        const fixed = makeInputs();
        const maps = [...fixed.landmark, ...fixed.image];
        const sides = maps.map((m) => m.shape[1]);
        const grid = (sides.slice(0, 3).every((g, i) => g === sides[i + 3])
          ? sides.slice(0, 3)
          : sides) as Parameters<typeof recordLayout>[2];
        const layout = recordLayout(cfg.landmarkShape, cfg.imageShape, grid, "uint8");
        const values = await Promise.all(maps.map(async (m) => (await m.data()) as Float32Array));
        return { records: encodeRecords(values, layout, b), layout };
      })()
      : null;
    run = async () => {
      if (records) {
        // As the trainer does, each step posts the next one's records during its backward pass.
        await dp.step(state, { inputs: records, labels }, {
          dropoutSeed: iteration++,
          progress: 0,
        }, () => records);
        return;
      }
      const inputs = makeInputs();
      await dp.step(state, { inputs, labels }, { dropoutSeed: iteration++, progress: 0 });
      disposeInputs(inputs);
    };
    const closeInputs = cleanup;
    cleanup = () => {
      dp.close();
      closeInputs();
    };
  } else if (o.mode === "infer") {
    run = async () => {
      const inputs = makeInputs();
      const out = tf.tidy(() => grefelForward(params, inputs, cfg, { training: false }).final);
      await out.data();
      out.dispose();
      disposeInputs(inputs);
    };
  } else {
    run = async () => {
      const inputs = makeInputs();
      let stats: tf.Tensor | null = null;
      const { grads, value } = tf.variableGrads(() => {
        const out = grefelForward(params, inputs, cfg, { training: true, seed: iteration++ });
        const l = grefelLoss(params, out, target, cfg);
        const hits = tf.sum(tf.cast(tf.equal(tf.argMax(out.final, 1), labelT), "float32"));
        stats = tf.keep(tf.stack([l.total, l.cls, l.anchor, l.center, hits]));
        return l.total;
      }, vars);
      await stats!.data();
      tf.dispose([stats!, value]);
      disposeInputs(inputs);
      opt.applyGradients(grads as unknown as Parameters<typeof opt.applyGradients>[0]);
      tf.dispose(Object.values(grads));
      // Flush the update (matters on webgpu, where kernels are queued): read one weight.
      const s = tf.tidy(() => tf.sum(probe));
      await s.data();
      s.dispose();
    };
  }
  const cleanupInputs = cleanup;
  return {
    backend,
    run,
    cleanup: () => {
      cleanupInputs();
      tf.dispose([target, labelT]);
      opt.dispose();
    },
  };
}

/** Runs one measurement in this process. */
export async function measureModel(o: ModelSpeedOptions): Promise<ModelSpeedResult> {
  const { backend, run, cleanup } = await prepareModel(o);
  const cfg = modelConfig(o);
  const b = o.batch;

  const { seconds, first, capped } = await timeIterations(run, o);
  let profile: KernelProfile | undefined;
  if (o.profile) {
    const t = performance.now();
    const info = await tf.profile(run);
    const wallMs = performance.now() - t;
    const by = new Map<string, { count: number; ms: number }>();
    let kernelMs = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
      kernelMs += ms;
      const e = by.get(k.name) ?? { count: 0, ms: 0 };
      e.count++;
      e.ms += ms;
      by.set(k.name, e);
    }
    profile = {
      kernels: info.kernels.length,
      kernelMs,
      wallMs,
      peakBytes: info.peakBytes,
      byName: [...by].map(([name, v]) => ({ name, ...v })).sort((x, y) => y.ms - x.ms),
    };
  }
  const mem = tf.memory() as ModelSpeedResult["tfMemory"];
  const tfMemory = {
    numBytes: mem.numBytes,
    numTensors: mem.numTensors,
    ...(mem.numBytesInGPU !== undefined ? { numBytesInGPU: mem.numBytesInGPU } : {}),
  };
  cleanup();
  const med = median(seconds);
  return {
    options: o,
    backend,
    trainableParams: summarizeModel(cfg).trainableParams,
    seconds,
    medianSeconds: med,
    imagesPerSecond: b / med,
    firstIterationSeconds: first,
    peakRssBytes: peakRssBytes(),
    tfMemory,
    profile,
    capped,
    patchedMatMul: backend.backend === "wasm" && wasmBatchMatMulPatched(),
  };
}

/** `--serve`: warm up, then answer step commands on stdin until it closes (see the module doc). */
async function serve(o: ModelSpeedOptions): Promise<void> {
  const p = await prepareModel(o);
  for (let i = 0; i < o.warmup; i++) await p.run();
  const cfg = modelConfig(o);
  const info = {
    kind: "tfjs",
    pid: Deno.pid,
    config: o.config,
    backend: p.backend.backend,
    mode: o.mode,
    batch: o.batch,
    warmup: o.warmup,
    trainableParams: summarizeModel(cfg).trainableParams,
    patchedMatMul: p.backend.backend === "wasm" && wasmBatchMatMulPatched(),
    deno: Deno.version.deno,
    tfjs: tf.version.tfjs,
    threads: o.workers ?? 1,
  };
  await serveSteps(info, async () => {
    const t = performance.now(), c = process.cpuUsage();
    await p.run();
    const cpu = process.cpuUsage(c);
    return { wall: (performance.now() - t) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
  });
  p.cleanup();
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      config: { type: "string", default: "compact" },
      backend: { type: "string", default: "wasm" },
      mode: { type: "string", default: "train" },
      from: { type: "string", default: "features" },
      batch: { type: "string", default: "64" },
      warmup: { type: "string", default: "2" },
      steps: { type: "string", default: "10" },
      "max-seconds": { type: "string", default: "60" },
      profile: { type: "boolean", default: false },
      extractor: { type: "string" },
      "stock-matmul": { type: "boolean", default: false },
      serve: { type: "boolean", default: false },
      workers: { type: "string", default: "1" },
      set: { type: "string", multiple: true },
    },
  });
  if (!["train", "infer"].includes(values.mode!)) {
    throw new Error(`--mode must be train or infer, got "${values.mode}"`);
  }
  if (!["features", "images"].includes(values.from!)) {
    throw new Error(`--from must be features or images, got "${values.from}"`);
  }
  const options: ModelSpeedOptions = {
    config: values.config!,
    overrides: parseSets(values.set ?? []),
    backend: values.backend!,
    mode: values.mode as ModelSpeedOptions["mode"],
    from: values.from as ModelSpeedOptions["from"],
    batch: Number(values.batch),
    warmup: Number(values.warmup),
    steps: Number(values.steps),
    maxSeconds: Number(values["max-seconds"]),
    profile: values.profile,
    extractor: values.extractor,
    stockMatMul: values["stock-matmul"],
    workers: Number(values.workers),
  };
  if (values.serve) {
    await serve(options);
    Deno.exit(0);
  }
  const r = await measureModel(options);
  console.log(JSON.stringify(r));
  // webgpu/wasm keep handles open; exit explicitly.
  Deno.exit(0);
}
