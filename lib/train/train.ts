/**
 * Training (SPEC §5): Adam with an exponential learning-rate decay per epoch, class-balanced
 * epochs, every random draw seeded from (seed, epoch, step), on cached extractor features.
 *
 * A run writes its directory as described in `lib/train/run.ts` and can be interrupted at any
 * point: started again it resumes from `checkpoints/last` and loses at most the epoch in flight.
 * Parameters and optimiser state stay on the device between steps; only the step's loss terms
 * (five scalars) are read back, to detect a non-finite loss before the update is applied.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createAdam } from "../wasm_adam.ts";
import type { Optimizer, Tensor, Tensor2D, Variable } from "../tensor.ts";
import cliProgress from "cli-progress";
import { join } from "node:path";
import type { GrefelConfig } from "../config.ts";
import type { ModelConfig } from "../model/config.ts";
import { FINETUNE_ROOT } from "../model/finetune.ts";
import type { GrefelInputs, GrefelLosses, GrefelOutputs, ParamTree } from "../model/types.ts";
import type { BackendInfo } from "../backend.ts";
import type { RecordLayout } from "../data/cache.ts";
import { removeStaleTemps } from "../run/atomic.ts";
import { configHash, runDir, runId } from "./run.ts";
import {
  checkCheckpointCompatible,
  type Checkpoint,
  type CheckpointState,
  type EpochLog,
  keepUnresumableLog,
  loadCheckpoint,
  type NamedArray,
  readCheckpointState,
  readMetrics,
  readRunRecord,
  RUN_FILES,
  type RunMetrics,
  type RunRecord,
  saveCheckpoint,
  type StopInfo,
  writeEmbeddings,
  writeLog,
  writeMetrics,
  writePredictions,
  writeRunRecord,
} from "../run/mod.ts";
import { deriveSeed, learningRateAt, mulberry32, SEED_PURPOSE } from "./schedule.ts";
import {
  type Branch,
  type BranchDistributions,
  BRANCHES,
  type BranchReport,
  branchReport,
} from "../eval/branches.ts";
import { accuracy, argmax } from "../eval/metrics.ts";
import { GRAD_GROUPS, type GradGroup, type StepResult, trainStep } from "./step.ts";
import { earlyStopStatus, stoppedAfter, validatedEpochs } from "./early_stop.ts";
import { DataParallel, type RecordInputs } from "./parallel.ts";
import { codeLabel, codeVersion } from "../run/code_version.ts";
import { machineLabel } from "../run/machine.ts";
import { WeightAverage } from "./ema.ts";

/** Version of this library, recorded in every run's config.json. */
export const GREFEL_VERSION = "0.1.0";

/**
 * The model functions training uses (lib/model). Passed in rather than imported so the trainer
 * can be tested with a small stand-in model; `lib/train/model_fns.ts` provides the real ones.
 */
export interface ModelFns {
  /** Creates the weights, seeded. */
  initGrefel(cfg: ModelConfig, seed: number): ParamTree;
  /** Forward pass; `seed` drives dropout in training mode. */
  grefelForward(
    params: ParamTree,
    inputs: GrefelInputs,
    cfg: ModelConfig,
    opts: { training: boolean; seed?: number },
  ): GrefelOutputs;
  /** Loss terms of eqs. 20–23; `progress` (epochs) drives the trust ramp. */
  grefelLoss(
    params: ParamTree,
    outputs: GrefelOutputs,
    target: Tensor2D,
    cfg: ModelConfig,
    opts?: { progress?: number },
  ): GrefelLosses;
  /** Smoothed one-hot targets `[B, C]` (Table 8's term s: ε = s/100). */
  smoothLabels(labels: Int32Array, classes: number, s: number): Tensor2D;
  /** Leaves by path. */
  flattenParams(params: ParamTree): Map<string, Variable>;
  /** Variables the optimiser updates, in a fixed order. */
  trainableVariables(params: ParamTree): Variable[];
  /** Assigns named values. @throws Error naming mismatched weights. */
  assignParams(params: ParamTree, named: Map<string, Float32Array>): void;
  /** Frees the weights. */
  disposeParams(params: ParamTree): void;
  /**
   * Copies pretrained weights into the parts of a fresh model that start from them (the
   * fine-tuned extractor block, `model.finetune`); absent or a no-op when none do.
   */
  loadPretrained?(params: ParamTree, cfg: ModelConfig): Promise<void>;
  /** Sets anchors to class means of `embeddings` (+ noise); resolves to what it did. */
  initAnchorsFromEmbeddings(
    params: ParamTree,
    embeddings: Tensor2D,
    labels: Int32Array,
    cfg: ModelConfig,
    seed: number,
  ): unknown;
  /** Whether the config has anchors at all. */
  anchorsOn(cfg: ModelConfig): boolean;
  /**
   * The embedding e `[B, D]` alone (data-parallel training, lib/train/parallel.ts): per sample,
   * using only the weights of gradient group `backbone` (`gradGroupOf`), with no randomness and no
   * state. `grefelForward` must equal `grefelFromEmbedding(grefelEmbedding(…))`.
   */
  grefelEmbedding?(params: ParamTree, inputs: GrefelInputs, cfg: ModelConfig): Tensor2D;
  /** Everything after the embedding, using only the weights outside group `backbone`. */
  grefelFromEmbedding?(
    params: ParamTree,
    embedding: Tensor2D,
    cfg: ModelConfig,
    opts: { training: boolean; seed?: number },
  ): GrefelOutputs;
  /**
   * Where a worker thread imports these same functions from: a module URL and its export name.
   * Needed for `train.workers` > 1.
   */
  workerModule?: { url: string; name: string };
}

/** One split of feature-backed samples. */
export interface FeatureSplit {
  /** Sample ids, one per sample. */
  ids: readonly string[];
  /** Class index per sample (for the training split: after any injected label noise). */
  labels: Int32Array;
  /** Group per sample (video / subject) where the data set has groups. */
  groups?: readonly (string | undefined)[];
  /** Augmented views available per sample (cached features); 1 = no augmentation. */
  views: number;
  /**
   * Reads the model inputs of `indices`; `view` is one view for all or one per index (0 =
   * un-augmented). The caller disposes them.
   */
  readBatch(
    indices: number[],
    view?: number | number[],
  ): GrefelInputs | Promise<GrefelInputs>;
  /**
   * The stored records of `indices`, undecoded (feature caches: `FeatureCache.readRecords`), so
   * that data-parallel workers decode their own shares; absent for splits without records.
   */
  readRecords?(indices: number[], view?: number | number[]): Uint8Array;
  /** Layout of what `readRecords` returns (present with it). */
  recordLayout?: RecordLayout;
}

/** What a run trains and tests on. */
export interface TrainData {
  /** Data set name. */
  name: string;
  /** Class names. */
  classNames: string[];
  /** Fingerprint of the samples, labels and splits (`datasetFingerprint`). */
  fingerprint: string;
  /** Training split. */
  train: FeatureSplit;
  /** Validation split (null: no validation; best = last). */
  val: FeatureSplit | null;
  /** Test split (predictions, embeddings and metrics). */
  test: FeatureSplit;
  /** Anything else worth recording in config.json (sizes, skipped items, cache key...). */
  info?: Record<string, unknown>;
}

/** Returns the training indices of one epoch (class-balanced; seeded by `seed`). */
export type EpochSampler = (epochIndex: number, seed: number) => number[];

/** Test hooks. */
export interface TrainHooks {
  /** When it returns true, the step's total loss is made NaN (to test non-finite-loss handling). */
  injectNan?(epoch: number, step: number): boolean;
  /**
   * When it returns true, one weight is set to NaN after the step (to test that non-finite weights
   * are never checkpointed or reported).
   */
  poisonWeights?(epoch: number, step: number): boolean;
  /** Called after each epoch with its log entry and the live tensor count. */
  onEpochEnd?(entry: EpochLog, numTensors: number): void | Promise<void>;
}

/** Options of {@linkcode trainRun}. */
export interface TrainOptions {
  /** Model functions (lib/train/model_fns.ts `MODEL_FNS`). */
  model: ModelFns;
  /** Epoch sampler; default {@linkcode balancedSampler} over the training labels. */
  sampler?: EpochSampler;
  /** Run directory (default `<resultsDir>/<experiment>/<run-id>`). */
  dir?: string;
  /** Backend in use, recorded in config.json. */
  backend?: BackendInfo;
  /** Extra fields recorded in config.json (e.g. the variant name). */
  meta?: Record<string, unknown>;
  /** Retrain from scratch even if the run has finished or has a checkpoint. */
  force?: boolean;
  /** Test hooks. */
  hooks?: TrainHooks;
  /** Where progress lines go (default console.error). */
  print?: (line: string) => void;
  /**
   * Test-split evaluation (lib/eval/metrics.ts `evaluatePredictions`); its result is written to
   * metrics.json (with run fields added).
   */
  evaluate?: (input: {
    labels: Int32Array;
    primary: Float32Array;
    final: Float32Array;
    classNames: string[];
  }) => unknown;
}

/** Outcome of {@linkcode trainRun}. */
export interface TrainResult {
  /** Run directory. */
  dir: string;
  /** Run id. */
  runId: string;
  /** `trained` (now), `resumed` (from a checkpoint, then finished), or `skipped` (already finished). */
  status: "trained" | "resumed" | "skipped";
  /** Epochs completed. */
  epochs: number;
  /** Epoch log. */
  log: EpochLog[];
  /** metrics.json contents. */
  metrics: Record<string, unknown>;
  /** Test-split predictions (absent when skipped). */
  test?: SplitPredictions;
}

/** A loss that became NaN or infinite; training stopped without applying the step. */
export class NonFiniteLossError extends Error {
  /** The error for the step `step` of epoch `epoch`. */
  constructor(
    /** Epoch (1-based). */
    readonly epoch: number,
    /** Step within the epoch (1-based). */
    readonly step: number,
    message: string,
  ) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

/**
 * A model whose weights or outputs are not finite (NaN or ±∞): such weights are never saved as a
 * checkpoint, and their predictions are never reported.
 */
export class NonFiniteModelError extends Error {
  /** An error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteModelError";
  }
}

/** Index of the first non-finite value of `d`, or −1. */
export function firstNonFinite(d: ArrayLike<number>): number {
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
  return -1;
}

/**
 * Throws {@linkcode NonFiniteModelError} when a prediction of `pred` is not finite, naming `what`
 * (the split and the weights) and the first bad sample.
 */
export function assertFinitePredictions(pred: SplitPredictions, classes: number, what: string) {
  for (const b of BRANCHES) {
    const d = pred[b];
    const i = d ? firstNonFinite(d) : -1;
    if (i >= 0) {
      throw new NonFiniteModelError(
        `${what}: the ${b} distribution of sample ${Math.floor(i / classes)} is ${d![i]}; ` +
          `the weights are broken (non-finite), so nothing is reported from them`,
      );
    }
  }
}

/**
 * Class-balanced epoch sampler (data refinement, SPEC §5): each class contributes
 * `perClass` indices (default: the size of the largest class), drawn without replacement while
 * the class has samples left and cycling reshuffled copies otherwise, then the epoch is shuffled.
 * Seeded: the same (seed, epoch) gives the same epoch.
 *
 * Runs prepared from a config draw their epochs with `epochIndices` (lib/data/sampler.ts, the
 * `data.sampler` section); this sampler is {@linkcode trainRun}'s default and draws the sample
 * the class-means anchor initialisation embeds. The two draw different streams (this one seeded by
 * `deriveSeed`, cycling reshuffled copies of a small class; `epochIndices` by `seedOf`, repeating
 * random members), so neither can stand in for the other without changing recorded runs' anchors.
 */
export function balancedSampler(
  labels: Int32Array,
  classes: number,
  perClass?: number,
): EpochSampler {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((l, i) => byClass[l]?.push(i));
  const n = perClass ?? Math.max(...byClass.map((c) => c.length));
  return (epochIndex, seed) => {
    const rand = mulberry32(deriveSeed(seed, SEED_PURPOSE.sampler, epochIndex));
    const shuffle = <T>(a: T[]) => {
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    };
    const out: number[] = [];
    for (const members of byClass) {
      if (!members.length) continue;
      let pool: number[] = [];
      for (let k = 0; k < n; k++) {
        if (!pool.length) pool = shuffle([...members]);
        out.push(pool.pop()!);
      }
    }
    return shuffle(out);
  };
}

/**
 * A batch as undecoded records, for data-parallel workers to decode, where the split stores them
 * (feature caches); null otherwise.
 */
function recordsOf(
  split: FeatureSplit,
  indices: number[],
  view: number | number[],
): RecordInputs | null {
  if (!split.readRecords || !split.recordLayout) return null;
  return { records: split.readRecords(indices, view), layout: split.recordLayout };
}

/** Disposes every feature map of a model input. */
export function disposeInputs(x: GrefelInputs): void {
  tf.dispose([...x.landmark, ...x.image]);
}

function setLearningRate(opt: Optimizer, lr: number): void {
  // tfjs's AdamOptimizer reads its (protected) `learningRate` field on every applyGradients call.
  (opt as unknown as { learningRate: number }).learningRate = lr;
}

/** Predictions of a split: embeddings and every branch's distributions. */
export interface SplitPredictions extends BranchDistributions {
  /** `[N, D]` row-major. */
  embedding: Float32Array;
  /** Embedding width D. */
  dim: number;
}

/**
 * Runs the model in inference mode over a split, in batches. No tensors are left behind. With
 * `parallel` (data-parallel training's workers), the workers embed each batch and this thread runs
 * everything after the embedding, overlapped with reading the next batch.
 */
export async function predictSplit(
  model: ModelFns,
  params: ParamTree,
  split: FeatureSplit,
  cfg: ModelConfig,
  batchSize: number,
  indices?: number[],
  parallel?: DataParallel | null,
): Promise<SplitPredictions> {
  if (parallel && model.grefelFromEmbedding) {
    return await predictSplitParallel(model, params, split, cfg, batchSize, indices, parallel);
  }
  const idx = indices ?? split.ids.map((_, i) => i);
  const parts = emptyParts();
  let dim = 0;
  for (let s = 0; s < idx.length; s += batchSize) {
    const inputs = await split.readBatch(idx.slice(s, s + batchSize), 0);
    // Forward inside tidy; the present outputs are kept, absent branches stay null.
    const out: (Tensor | null)[] = [];
    tf.tidy(() => {
      const o = model.grefelForward(params, inputs, cfg, { training: false });
      for (const n of PREDICTED) out.push(o[n] ? tf.keep(o[n]!) : null);
    });
    disposeInputs(inputs);
    dim = await collectOutputs(out, parts);
  }
  return splitPredictions(parts, dim);
}

/** Branch outputs that {@linkcode predictSplit} collects, in its order. */
const PREDICTED = ["embedding", ...BRANCHES] as const;

/** Collected outputs of {@linkcode predictSplit}, per output name: one array per batch. */
type Parts = Record<(typeof PREDICTED)[number], Float32Array[]>;

/** No outputs collected yet. */
function emptyParts(): Parts {
  return Object.fromEntries(PREDICTED.map((n) => [n, []])) as unknown as Parts;
}

/** Reads one batch's outputs (kept tensors, disposed here) into `parts`; returns the width D. */
async function collectOutputs(out: (Tensor | null)[], parts: Parts): Promise<number> {
  for (let k = 0; k < PREDICTED.length; k++) {
    if (out[k]) parts[PREDICTED[k]].push((await out[k]!.data()) as Float32Array);
  }
  const dim = out[0]!.shape[1]!;
  tf.dispose(out.filter((t): t is Tensor => t !== null));
  return dim;
}

/**
 * {@linkcode predictSplit} with the backbone on the data-parallel workers: they embed the shares
 * of batch s while this thread reads batch s + 1 and runs the head on batch s − 1. Results equal
 * the single-thread pass to float rounding (the same per-sample products in other batch shapes).
 */
async function predictSplitParallel(
  model: ModelFns,
  params: ParamTree,
  split: FeatureSplit,
  cfg: ModelConfig,
  batchSize: number,
  indices: number[] | undefined,
  parallel: DataParallel,
): Promise<SplitPredictions> {
  const idx = indices ?? split.ids.map((_, i) => i);
  const parts = emptyParts();
  let dim = 0;
  const head = async (collect: () => Promise<{ data: Float32Array; dim: number }>) => {
    const e = await collect();
    const out: (Tensor | null)[] = [];
    tf.tidy(() => {
      const E = tf.tensor2d(e.data, [e.data.length / e.dim, e.dim]);
      const o = model.grefelFromEmbedding!(params, E, cfg, { training: false });
      for (const n of PREDICTED) out.push(o[n] ? tf.keep(o[n]!) : null);
    });
    dim = await collectOutputs(out, parts);
  };
  let pending: (() => Promise<{ data: Float32Array; dim: number }>) | null = null;
  for (let s = 0; s < idx.length; s += batchSize) {
    const part = idx.slice(s, s + batchSize);
    const records = recordsOf(split, part, 0);
    let collect;
    if (records) collect = await parallel.beginEmbed(model, params, records, s === 0);
    else {
      const inputs = await split.readBatch(part, 0);
      try {
        collect = await parallel.beginEmbed(model, params, inputs, s === 0);
      } finally {
        disposeInputs(inputs);
      }
    }
    if (pending) await head(pending);
    pending = collect;
  }
  if (pending) await head(pending);
  return splitPredictions(parts, dim);
}

/** The concatenated outputs of a split. */
function splitPredictions(parts: Parts, dim: number): SplitPredictions {
  const cat = (n: (typeof PREDICTED)[number]) => (parts[n].length ? concat(parts[n]) : null);
  return {
    embedding: cat("embedding") ?? new Float32Array(0),
    dim,
    primary: cat("primary") ?? new Float32Array(0),
    geometric: cat("geometric"),
    attentive: cat("attentive"),
    correction: cat("correction"),
    final: cat("final") ?? new Float32Array(0),
  };
}

/** Prefix of the raw weights' names in a checkpoint's optimiser state (runs with an average). */
const RAW_PREFIX = "raw/";

/** Reads named variables as checkpoint arrays. @throws NonFiniteModelError for a non-finite value. */
async function readNamed(
  vars: ReadonlyMap<string, Variable>,
  prefix = "",
  what = "weight",
): Promise<NamedArray[]> {
  const out: NamedArray[] = [];
  for (const [path, v] of vars) {
    const data = (await v.data()) as Float32Array;
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new NonFiniteModelError(
        `${what} ${path} holds ${data[bad]} at index ${bad}: not saved as a checkpoint (the last ` +
          `good checkpoint is kept). Lower train.lr or check the loss weights.`,
      );
    }
    out.push({ name: prefix + path, shape: v.shape, dtype: "float32", data });
  }
  return out;
}

/**
 * Reads model weights and Adam state as named arrays for a checkpoint. With a weight average the
 * checkpoint's weights are the averages (the model that is evaluated) and the raw weights go with
 * the optimiser state as `raw/<path>` (what resuming training needs).
 */
async function snapshot(
  model: ModelFns,
  params: ParamTree,
  opt: Optimizer,
  ema: WeightAverage | null = null,
): Promise<{ weights: NamedArray[]; optimizer: NamedArray[] }> {
  const vars = model.flattenParams(params);
  const pathOf = new Map([...vars].map(([path, v]) => [v.name, path]));
  const weights = ema
    ? await readNamed(ema.averages(), "", "averaged weight")
    : await readNamed(vars);
  const optimizer: NamedArray[] = ema ? await readNamed(vars, RAW_PREFIX) : [];
  for (const w of await opt.getWeights()) {
    // Adam slots are named `<variable name>/m|v`; store them by the weight's path, which is
    // stable across processes (tfjs variable names carry a per-process suffix).
    const m = w.name.match(/^(.*)\/(m|v)$/);
    const name = w.name === "iter"
      ? "iter"
      : m && pathOf.has(m[1])
      ? `${pathOf.get(m[1])}/${m[2]}`
      : w.name;
    const dtype = w.tensor.dtype === "int32" ? "int32" : "float32";
    const raw = await w.tensor.data();
    if (w.name === "iter") w.tensor.dispose(); // getWeights() makes a fresh scalar for it
    optimizer.push({
      name,
      shape: w.tensor.shape,
      dtype,
      data: dtype === "int32" ? Int32Array.from(raw) : Float32Array.from(raw),
    });
  }
  // Adam's bias-correction powers β^t: tfjs's setWeights recomputes them as pow(β, t + 1), which
  // differs in the last bits from the running product the optimiser keeps, so they are saved too
  // and a resumed run continues bit for bit.
  for (const [name, v] of adamPowers(opt)) {
    optimizer.push({ name, shape: [], dtype: "float32", data: Float32Array.from(await v.data()) });
  }
  return { weights, optimizer };
}

/** Adam's running bias-correction powers (`accBeta1`, `accBeta2`), where the optimiser has them. */
function adamPowers(opt: Optimizer): [string, Variable][] {
  const o = opt as unknown as Record<string, unknown>;
  return (["accBeta1", "accBeta2"] as const).flatMap((k) =>
    o[k] instanceof tf.Variable ? [[k, o[k] as Variable] as [string, Variable]] : []
  );
}

/** Restores Adam state saved by {@linkcode snapshot} into a fresh optimiser. */
async function restoreOptimizer(
  model: ModelFns,
  params: ParamTree,
  opt: Optimizer,
  slots: readonly NamedArray[],
  ckptDir: string,
): Promise<void> {
  if (!slots.length) return; // saved before the first step
  const byName = new Map(slots.map((s) => [s.name, s]));
  const pathOf = new Map<Variable, string>();
  for (const [path, v] of model.flattenParams(params)) pathOf.set(v, path);
  const vars = model.trainableVariables(params);
  const iter = byName.get("iter");
  if (!iter) throw new Error(`${ckptDir}: optimiser state has no iteration count`);
  const named: { name: string; tensor: Tensor }[] = [{
    name: "iter",
    tensor: tf.scalar(iter.data[0], "int32"),
  }];
  for (const kind of ["m", "v"]) {
    for (const v of vars) {
      const s = byName.get(`${pathOf.get(v)}/${kind}`);
      if (!s) {
        throw new Error(`${ckptDir}: optimiser state lacks ${pathOf.get(v)}/${kind}`);
      }
      named.push({ name: `${v.name}/${kind}`, tensor: tf.tensor(s.data, s.shape, "float32") });
    }
  }
  await opt.setWeights(named);
  tf.dispose(named.map((n) => n.tensor));
  // Checkpoints written before the powers were saved resume with tfjs's pow(β, t + 1).
  for (const [name, v] of adamPowers(opt)) {
    const saved = byName.get(name);
    if (saved) tf.tidy(() => v.assign(tf.scalar(saved.data[0], "float32")));
  }
}

function modelShapes(model: ModelFns, params: ParamTree): Map<string, number[]> {
  return new Map([...model.flattenParams(params)].map(([k, v]) => [k, v.shape]));
}

/**
 * Assigns the raw weights a checkpoint of a run with a weight average keeps in its optimiser state.
 * @throws Error when the checkpoint has none (it was not written with an average).
 */
function restoreRawWeights(model: ModelFns, params: ParamTree, ckpt: Checkpoint, dir: string) {
  const raw = new Map(
    ckpt.optimizer.filter((s) => s.name.startsWith(RAW_PREFIX))
      .map((s) => [s.name.slice(RAW_PREFIX.length), s.data as Float32Array]),
  );
  if (!raw.size) {
    throw new Error(`${dir}: train.emaDecay is on but the checkpoint holds no raw weights`);
  }
  model.assignParams(params, raw);
}

async function restoreWeights(model: ModelFns, params: ParamTree, ckpt: Checkpoint) {
  model.assignParams(
    params,
    new Map(ckpt.weights.map((w) => [w.name, w.data as Float32Array])),
  );
  await Promise.resolve();
}

type Bar = {
  update(v: number, p?: object): void;
  stop(): void;
  start(t: number, v: number, p?: object): void;
};

function makeBar(mode: GrefelConfig["train"]["progress"]): Bar | null {
  const tty = Deno.stderr.isTerminal();
  if (mode === "off" || mode === "lines" || (mode === "auto" && !tty)) return null;
  return new cliProgress.SingleBar({
    format:
      "epoch {epoch} |{bar}| {value}/{total} steps | loss {loss} | acc {acc} | lr {lr} | ETA {eta_formatted}",
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
  }, cliProgress.Presets.shades_classic) as unknown as Bar;
}

/**
 * Trains (or resumes, or skips) one run and writes its directory. See the module doc.
 * @throws NonFiniteLossError when a loss becomes NaN/∞ (the last good checkpoint is kept),
 *   CheckpointMismatchError for a checkpoint of another config, WriteError on a failed write.
 */
export async function trainRun(
  config: GrefelConfig,
  data: TrainData,
  opts: TrainOptions,
): Promise<TrainResult> {
  const model = opts.model;
  const print = opts.print ?? ((l: string) => console.error(l));
  const dir = opts.dir ?? runDir(config);
  const id = runId(config);
  const skipped = await openRun(config, data, opts, dir);
  if (skipped) return skipped;

  const params = model.initGrefel(config.model, deriveSeed(config.seed, SEED_PURPOSE.init));
  const tc = config.train;
  const opt = createAdam(tc.lr, tc.beta1, tc.beta2, tc.epsilon);
  if (tc.finetuneLrScale !== 1) {
    for (const [path, v] of model.flattenParams(params)) {
      if (path.startsWith(`${FINETUNE_ROOT}/`)) opt.lrScale.set(v.name, tc.finetuneLrScale);
    }
  }
  const sampler = opts.sampler ?? balancedSampler(data.train.labels, data.classNames.length);
  let parallel: DataParallel | null = null;
  let ema: WeightAverage | null = null;
  try {
    const restored = await restoreOrInit(config, data, opts, dir, params, opt);
    const { state, status } = restored;
    ema = restored.ema;
    if (tc.workers > 1 && !state.stopped) {
      parallel = await DataParallel.start(model, config.model, tc.workers, tc.batchSize);
    }
    const ctx: EpochContext = {
      ...{ model, params, opt, config, data, state, sampler, print, opts },
      parallel,
      ema,
    };
    const lines = tc.progress === "lines" || (tc.progress === "auto" && !Deno.stderr.isTerminal());
    const t00 = performance.now(), startEpoch = state.epoch;
    for (let e = state.epoch; e < tc.epochs && !state.stopped; e++) {
      const t0 = performance.now();
      const trained = await trainEpoch(ctx, e);
      const { val, raw } = await validate(ctx, e + 1);
      const entry: EpochLog = {
        ...trained,
        valAccuracy: val?.accuracy.final ?? null,
        valPrimaryAccuracy: val?.accuracy.primary ?? null,
        ...(raw
          ? { valRawAccuracy: raw.accuracy.final, valRawPrimaryAccuracy: raw.accuracy.primary }
          : {}),
        val,
        seconds: (performance.now() - t0) / 1000,
      };
      await recordEpoch(ctx, dir, entry);
      const perEpoch = (performance.now() - t00) / 1000 / (entry.epoch - startEpoch);
      if (lines) print(epochLine(entry, tc.epochs, perEpoch * (tc.epochs - entry.epoch)));
      await opts.hooks?.onEpochEnd?.(entry, tf.memory().numTensors);
      if ((state.stopped as StopInfo | null | undefined)?.reason === "early-stop") {
        const w = tc.earlyStop.window;
        print(
          `early stop after epoch ${entry.epoch}: no improvement ` +
            (w > 1 ? `of the mean of the last ${w} validation values ` : "") +
            `for ${state.sinceBest} evaluations`,
        );
      }
    }
    const { metrics, pred } = await testRun(ctx, dir, id);
    parallel?.close(); // the run is over: free the workers' cores and memory
    return { dir, runId: id, status, epochs: state.epoch, log: state.log, metrics, test: pred };
  } finally {
    parallel?.close();
    ema?.dispose();
    model.disposeParams(params);
    opt.dispose();
  }
}

/**
 * Checks that `dir` may hold this run and writes its config.json once. Returns the skipped result
 * when the run has already finished on the same data.
 * @throws Error when the classes disagree, or the folder holds another config or other data.
 */
async function openRun(
  config: GrefelConfig,
  data: TrainData,
  opts: TrainOptions,
  dir: string,
): Promise<TrainResult | null> {
  const C = data.classNames.length;
  if (config.model.classes !== C) {
    throw new Error(
      `model.classes is ${config.model.classes} but data set ${data.name} has ${C} classes ` +
        `(${data.classNames.join(", ")})`,
    );
  }
  if (opts.force) await Deno.remove(dir, { recursive: true }).catch(() => {});
  const cfgPath = join(dir, RUN_FILES.config);
  const existing = await readRunRecord(dir);
  const hash = configHash(config);
  if (existing && existing.configHash !== hash) {
    throw new Error(
      `${cfgPath} describes another config (hash ${String(existing.configHash).slice(0, 10)}, ` +
        `this run ${hash.slice(0, 10)}); use another directory or --force`,
    );
  }
  const recordedFp = existing?.dataset?.fingerprint;
  if (recordedFp && recordedFp !== data.fingerprint) {
    throw new Error(
      `${dir} was trained on other data (fingerprint ${recordedFp}, this data set ${data.name} ` +
        `${data.fingerprint}): its results are not this data's. Use another train.experiment or ` +
        `--results directory, or --force to retrain it here.`,
    );
  }
  const finished = await readMetrics<Record<string, unknown>>(dir);
  if (finished) {
    const log = (await readCheckpointState(join(dir, RUN_FILES.checkpoints, "last")))?.log ?? [];
    const id = runId(config);
    return { dir, runId: id, status: "skipped", epochs: log.length, log, metrics: finished };
  }
  // A process killed mid-write may have left temporary files behind (never a half-written file).
  for (const d of [dir, join(dir, "checkpoints", "last"), join(dir, "checkpoints", "best")]) {
    await removeStaleTemps(d);
  }
  if (!existing) await writeRunRecord(dir, runRecord(config, data, opts));
  return null;
}

/** config.json of a run: resolved config, backend, versions, data set and `meta`. */
function runRecord(config: GrefelConfig, data: TrainData, opts: TrainOptions): RunRecord {
  return {
    runId: runId(config),
    configHash: configHash(config),
    config,
    seed: config.seed,
    backend: opts.backend ?? { backend: tf.getBackend() },
    versions: {
      grefel: GREFEL_VERSION,
      tfjs: tf.version.tfjs,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      code: codeVersion(),
    },
    dataset: {
      name: data.name,
      fingerprint: data.fingerprint,
      classNames: data.classNames,
      sizes: {
        train: data.train.ids.length,
        val: data.val?.ids.length ?? 0,
        test: data.test.ids.length,
      },
      ...data.info,
    },
    ...opts.meta,
    createdAt: new Date().toISOString(),
  };
}

/**
 * Resumes from `checkpoints/last` (weights, Adam state, epoch log) when there is one, else
 * initialises the anchors and starts an empty log (an old log without a checkpoint is kept by
 * `keepUnresumableLog`, never overwritten).
 * @throws CheckpointMismatchError for a checkpoint of another config, data set or model.
 */
async function restoreOrInit(
  config: GrefelConfig,
  data: TrainData,
  opts: TrainOptions,
  dir: string,
  params: ParamTree,
  opt: Optimizer,
): Promise<
  { state: CheckpointState; status: TrainResult["status"]; ema: WeightAverage | null }
> {
  const model = opts.model;
  const hash = configHash(config);
  const decay = config.train.emaDecay;
  const lastDir = join(dir, "checkpoints", "last");
  const ckpt = await loadCheckpoint(lastDir);
  if (ckpt) {
    checkCheckpointCompatible(
      ckpt,
      { configHash: hash, datasetFingerprint: data.fingerprint },
      modelShapes(model, params),
    );
    await restoreWeights(model, params, ckpt);
    // With averaging, the checkpoint's weights are the averages and the raw ones are training state.
    const ema = decay > 0 ? WeightAverage.start(model.flattenParams(params), decay) : null;
    if (ema) restoreRawWeights(model, params, ckpt, lastDir);
    await restoreOptimizer(model, params, opt, ckpt.optimizer, lastDir);
    // The log on disk may hold epochs past the checkpoint: the checkpoint's log is the truth.
    await writeLog(dir, ckpt.state.log);
    (opts.print ?? console.error)(
      `resuming ${dir} from epoch ${ckpt.state.epoch}/${config.train.epochs}`,
    );
    return { state: ckpt.state, status: "resumed", ema };
  }
  const kept = await keepUnresumableLog(dir);
  if (kept) {
    (opts.print ?? console.error)(
      `${dir}: ${kept.epochs} logged epoch(s) but no checkpoint to resume from; training from ` +
        `epoch 1, the old log kept as ${kept.path}`,
    );
  }
  await model.loadPretrained?.(params, config.model);
  const state: CheckpointState = {
    runId: runId(config),
    configHash: hash,
    datasetFingerprint: data.fingerprint,
    epoch: 0,
    step: 0,
    rng: { seed: config.seed, epoch: 0, step: 0 },
    best: null,
    sinceBest: 0,
    anchorInit: await initAnchors(model, params, config, data),
    log: [],
  };
  await writeLog(dir, []);
  const ema = decay > 0 ? WeightAverage.start(model.flattenParams(params), decay) : null;
  return { state, status: "trained", ema };
}

/** What one run's epochs share. */
interface EpochContext {
  model: ModelFns;
  params: ParamTree;
  opt: Optimizer;
  config: GrefelConfig;
  data: TrainData;
  /** Mutated as epochs finish. */
  state: CheckpointState;
  sampler: EpochSampler;
  print: (line: string) => void;
  opts: TrainOptions;
  /** The workers of data-parallel steps (`train.workers` > 1); null: single-thread steps. */
  parallel: DataParallel | null;
  /** The moving average of the weights (`train.emaDecay` > 0); null: none. */
  ema: WeightAverage | null;
}

/** Concatenates equally typed parts. */
function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/** Running sums of one epoch's steps: loss terms, gradient norms and the batches' distributions. */
class EpochAccumulator {
  readonly sums = { total: 0, cls: 0, anchor: 0, center: 0, aux: 0 };
  readonly grad: Record<GradGroup, number> = {
    head: 0,
    anchors: 0,
    attentive: 0,
    backbone: 0,
    finetune: 0,
  };
  readonly parts: Record<Branch, Float32Array[]> = {
    primary: [],
    geometric: [],
    attentive: [],
    correction: [],
    final: [],
  };
  readonly labels: Int32Array[] = [];
  trust = 1;
  correct = 0;
  seen = 0;
  constructor(readonly classes: number, readonly steps: number) {}

  /** Adds one step's result on a batch with `labels`. */
  add(r: StepResult, labels: Int32Array): void {
    for (const k of Object.keys(this.sums) as (keyof typeof this.sums)[]) {
      this.sums[k] += r.losses[k];
    }
    for (const g of GRAD_GROUPS) this.grad[g] += Math.sqrt(r.gradSq[g]) / this.steps;
    for (const b of BRANCHES) if (r.dists[b]) this.parts[b].push(r.dists[b]!);
    this.labels.push(labels);
    this.trust = r.trust;
    const pred = argmax(r.dists.final, this.classes);
    this.correct += pred.reduce((n, p, i) => n + (p === labels[i] ? 1 : 0), 0);
    this.seen += labels.length;
  }

  /** The branch report over every batch of the epoch (training mode). */
  report(eps: number): BranchReport {
    const cat = (b: Branch) => (this.parts[b].length ? concat(this.parts[b]) : null);
    const labels = Int32Array.from(this.labels.flatMap((l) => [...l]));
    return branchReport(
      labels,
      {
        primary: cat("primary")!,
        geometric: cat("geometric"),
        attentive: cat("attentive"),
        correction: cat("correction"),
        final: cat("final")!,
      },
      this.classes,
      eps,
    );
  }
}

/**
 * One epoch of training steps (sample → read → step), with the epoch's loss means, branch
 * report on its training batches and mean gradient norms.
 * @throws NonFiniteLossError before applying a step whose loss is not finite.
 */
async function trainEpoch(
  ctx: EpochContext,
  e: number,
): Promise<Omit<EpochLog, "valAccuracy" | "valPrimaryAccuracy" | "val" | "seconds">> {
  const { config, data, state, opts } = ctx;
  const tc = config.train;
  const lr = learningRateAt(tc, e);
  setLearningRate(ctx.opt, lr);
  const order = ctx.sampler(e, config.seed);
  const steps = Math.ceil(order.length / tc.batchSize);
  const acc = new EpochAccumulator(data.classNames.length, steps);
  const viewRand = mulberry32(deriveSeed(config.seed, SEED_PURPOSE.view, e));
  const stepState = {
    model: ctx.model,
    params: ctx.params,
    optimizer: ctx.opt,
    cfg: config.model,
    smoothing: config.model.loss.labelSmoothing,
  };
  const bar = makeBar(tc.progress);
  bar?.start(steps, 0, {
    epoch: `${e + 1}/${tc.epochs}`,
    loss: "-",
    acc: "-",
    lr: lr.toExponential(2),
  });
  const batches = Array.from(
    { length: steps },
    (_, s) => order.slice(s * tc.batchSize, (s + 1) * tc.batchSize),
  );
  // One augmented view per sample, drawn from (seed, epoch) in batch order: the same on resume.
  const views = batches.map((batch) =>
    batch.map(() => data.train.views > 1 ? Math.floor(viewRand() * data.train.views) : 0)
  );
  // Data-parallel steps from a feature cache read the next batch's records during this step.
  const recordsAt = (s: number) =>
    ctx.parallel && s < steps ? recordsOf(data.train, batches[s], views[s]) : null;
  let records = recordsAt(0);
  for (let s = 0; s < steps; s++) {
    const batch = batches[s], view = views[s];
    const labels = Int32Array.from(batch, (i) => data.train.labels[i]);
    const stepOpts = {
      dropoutSeed: deriveSeed(config.seed, SEED_PURPOSE.dropout, e, s),
      progress: e + s / steps,
      injectNan: opts.hooks?.injectNan?.(e + 1, s + 1) ?? false,
    };
    let r: StepResult;
    if (records) {
      let upcoming: RecordInputs | null = null;
      r = await ctx.parallel!.step(
        stepState,
        { inputs: records, labels },
        stepOpts,
        () => upcoming = recordsAt(s + 1),
      );
      records = upcoming ?? recordsAt(s + 1);
    } else {
      const inputs = await data.train.readBatch(batch, view);
      r = await (ctx.parallel ?? { step: trainStep }).step(stepState, { inputs, labels }, stepOpts)
        .finally(() => disposeInputs(inputs));
    }
    if (opts.hooks?.poisonWeights?.(e + 1, s + 1)) {
      const v = ctx.model.trainableVariables(ctx.params)[0];
      tf.tidy(() => v.assign(tf.fill(v.shape, NaN)));
    }
    if (!r.finite) {
      bar?.stop();
      throw nonFiniteLoss(ctx, e, s, steps, r);
    }
    ctx.ema?.update(state.step);
    state.step++;
    acc.add(r, labels);
    bar?.update(s + 1, {
      loss: (acc.sums.total / (s + 1)).toFixed(4),
      acc: (acc.correct / acc.seen).toFixed(3),
    });
  }
  bar?.stop();
  const m = (k: keyof typeof acc.sums) => acc.sums[k] / steps;
  return {
    epoch: e + 1,
    lr,
    loss: m("total"),
    cls: m("cls"),
    anchor: m("anchor"),
    center: m("center"),
    aux: m("aux"),
    trust: acc.trust,
    trainAccuracy: acc.correct / Math.max(1, acc.seen),
    steps,
    train: acc.report(config.model.rb.entropyEpsilon),
    // The fine-tuned block's norm only for models that have one (older logs lack the key).
    gradNorm: config.model.finetune === "none"
      ? {
        head: acc.grad.head,
        anchors: acc.grad.anchors,
        attentive: acc.grad.attentive,
        backbone: acc.grad.backbone,
      }
      : acc.grad,
    code: codeLabel(),
    machine: machineLabel(),
  };
}

/** The error for a step whose loss is not finite (the step was not applied). */
function nonFiniteLoss(
  ctx: EpochContext,
  e: number,
  s: number,
  steps: number,
  r: StepResult,
): NonFiniteLossError {
  const v = r.losses, state = ctx.state;
  const lastDir = join(dirOf(ctx), "checkpoints", "last");
  return new NonFiniteLossError(
    e + 1,
    s + 1,
    `loss became non-finite at epoch ${e + 1}, step ${s + 1}/${steps} (global step ` +
      `${state.step + 1}): total=${v.total} L_cls=${v.cls} L_a=${v.anchor} L_c=${v.center}` +
      ` L_aux=${v.aux}; training stopped before applying the step. The last good checkpoint ` +
      (state.epoch > 0 ? `(epoch ${state.epoch}) is kept in ${lastDir}` : `(none yet)`) +
      `. Lower train.lr or check the loss weights.`,
  );
}

/** The run directory of a context (the trainer passes it explicitly where it writes). */
function dirOf(ctx: EpochContext): string {
  return ctx.opts.dir ?? runDir(ctx.config);
}

/**
 * Branch report on the validation split after `epoch` (null when not evaluated this epoch): of the
 * averaged weights when there is an average, which then also reports the raw weights (`raw`)
 * unless `train.validateRaw` is off.
 */
async function validate(
  ctx: EpochContext,
  epoch: number,
): Promise<{ val: BranchReport | null; raw: BranchReport | null }> {
  const { data, config } = ctx;
  const tc = config.train;
  if (!data.val || !(epoch % tc.evalEvery === 0 || epoch === tc.epochs)) {
    return { val: null, raw: null };
  }
  const report = async (what: string) => {
    const p = await predictSplit(
      ctx.model,
      ctx.params,
      data.val!,
      config.model,
      tc.batchSize,
      undefined,
      ctx.parallel,
    );
    assertFinitePredictions(p, data.classNames.length, `validation after epoch ${epoch}${what}`);
    const C = data.classNames.length;
    return branchReport(data.val!.labels, p, C, config.model.rb.entropyEpsilon);
  };
  if (!ctx.ema) return { val: await report(""), raw: null };
  const val = await ctx.ema.withAveraged(() => report(" (averaged weights)"));
  return { val, raw: tc.validateRaw ? await report(" (raw weights)") : null };
}

/**
 * Appends `entry` to the log, updates the best checkpoint and early stopping, and writes
 * checkpoints: `best` when the validation metric improved, `last` on the checkpoint cadence,
 * after the last epoch and when training stops.
 */
async function recordEpoch(ctx: EpochContext, dir: string, entry: EpochLog): Promise<void> {
  const { state, data, config } = ctx;
  const tc = config.train;
  const epoch = entry.epoch;
  state.log = [...state.log, entry];
  state.epoch = epoch;
  state.rng = { seed: config.seed, epoch, step: state.step };
  // Best checkpoint (by the validation metric, from epoch `earlyStop.startEpoch` on; without
  // validation every epoch is "best").
  const metric = tc.selectMetric;
  const value = metric === "valAccuracy" ? entry.valAccuracy : entry.valPrimaryAccuracy;
  const counts = epoch >= tc.earlyStop.startEpoch;
  let improved = false;
  if (!data.val) improved = true;
  else if (value !== null && counts) {
    improved = !state.best || value > state.best.value + tc.earlyStop.minDelta;
  }
  if (improved) state.best = { metric, value: value ?? entry.trainAccuracy, epoch };
  // Early stopping reads the whole validation history (a moving mean when window > 1): the
  // selected weights' or, with `watch` "raw", the raw weights' of an averaged run.
  const validated = validatedEpochs(state.log, metric, tc.earlyStop.watch);
  const values = validated.map((v) => v.value);
  const es = earlyStopStatus(values, tc.earlyStop, validated.map((v) => v.epoch));
  if (data.val) state.sinceBest = es.since;
  const stop = stoppedAfter(state.log, config);
  if (stop) state.stopped = stop;
  // The raw weights' own best epoch, the single-weight arm of the same training path.
  const rawValue = metric === "valAccuracy" ? entry.valRawAccuracy : entry.valRawPrimaryAccuracy;
  const improvedRaw = !!ctx.ema && typeof rawValue === "number" && counts &&
    (!state.bestRaw || rawValue > state.bestRaw.value + tc.earlyStop.minDelta);
  if (improvedRaw) state.bestRaw = { metric, value: rawValue as number, epoch };
  const writeLast = epoch % tc.checkpointEvery === 0 || !!state.stopped;
  const snap = improved || writeLast
    ? await snapshot(ctx.model, ctx.params, ctx.opt, ctx.ema)
    : null;
  if (improved) {
    await saveCheckpoint(join(dir, "checkpoints", "best"), state, snap!.weights, snap!.optimizer);
  }
  if (improvedRaw) {
    const raw = await readNamed(ctx.model.flattenParams(ctx.params));
    await saveCheckpoint(join(dir, "checkpoints", "best-raw"), state, raw, []);
  }
  await writeLog(dir, state.log);
  if (writeLast) {
    await saveCheckpoint(join(dir, "checkpoints", "last"), state, snap!.weights, snap!.optimizer);
  }
}

/** The progress line of one epoch. */
function epochLine(entry: EpochLog, epochs: number, eta: number): string {
  const f = (x: number, d = 3) => x.toFixed(d);
  const v = entry.val;
  return `epoch ${entry.epoch}/${epochs} loss ${f(entry.loss, 4)} (cls ${f(entry.cls)} ` +
    `a ${f(entry.anchor)} c ${f(entry.center)}${entry.aux ? ` aux ${f(entry.aux)}` : ""}) ` +
    `train acc ${f(entry.trainAccuracy)}` +
    (v
      ? ` val acc ${f(v.accuracy.final!)} (primary head ${f(v.accuracy.primary!)}, median c_l ` +
        `${f(v.confidence.primary!.median, 2)}, RB changed ${v.changes.changed} ` +
        `+${v.changes.fixed}/−${v.changes.broken})`
      : "") +
    ` lr ${entry.lr.toExponential(2)} ${entry.seconds.toFixed(1)}s ETA ${eta.toFixed(0)}s`;
}

/**
 * The test split with the best (or last) weights: predictions.csv, embeddings.csv and
 * metrics.json (accuracies, the evaluation report, the branch report and why training stopped).
 */
async function testRun(
  ctx: EpochContext,
  dir: string,
  id: string,
): Promise<{ metrics: RunMetrics; pred: SplitPredictions }> {
  const { model, params, config, data, state, opts } = ctx;
  const tc = config.train;
  const C = data.classNames.length;
  // Training is over: the averaged weights are the model (the best checkpoint's are averages too).
  ctx.ema?.commit();
  if (tc.testWith === "best" && state.best && state.best.epoch !== state.epoch) {
    const bestDir = join(dir, "checkpoints", "best");
    const best = await loadCheckpoint(bestDir);
    if (!best || best.state.epoch !== state.best.epoch) {
      // Testing the last weights under the best epoch's name would report the wrong model.
      throw new Error(
        `${bestDir} ${best ? `holds epoch ${best.state.epoch}` : "is missing"}, but the best ` +
          `validation epoch is ${state.best.epoch}: the test split is not evaluated with other ` +
          `weights. Restore the checkpoint, or retrain with --force.`,
      );
    }
    await restoreWeights(model, params, best);
  }
  const pred = await predictSplit(
    model,
    params,
    data.test,
    config.model,
    tc.batchSize,
    undefined,
    ctx.parallel,
  );
  // An empty test split scores 0 (metrics.json holds no NaN).
  const testAccuracy = (d: Float32Array) =>
    data.test.labels.length ? accuracy(data.test.labels, argmax(d, C)) : 0;
  assertFinitePredictions(pred, C, `test split (${dir}, ${state.best ? "best" : "last"} weights)`);
  await writePredictions(dir, data.test, pred, data.classNames);
  await writeEmbeddings(dir, data.test, pred);
  const evaluated = opts.evaluate
    ? opts.evaluate({
      labels: data.test.labels,
      primary: pred.primary,
      final: pred.final,
      classNames: data.classNames,
    })
    : {};
  // Without raw validation (`train.validateRaw` off) there is no raw arm, also in a run adopted
  // from one that validated its raw weights for a while.
  const raw = ctx.ema && ctx.config.train.validateRaw ? await testRawArm(ctx, dir) : null;
  const metrics: RunMetrics = {
    runId: id,
    dataset: data.name,
    testSamples: data.test.ids.length,
    epochs: state.epoch,
    weights: tc.testWith === "best" && state.best
      ? `best (epoch ${state.best.epoch})`
      : `last (epoch ${state.epoch})`,
    best: state.best,
    stopped: state.stopped ?? null,
    accuracy: testAccuracy(pred.final),
    primaryAccuracy: testAccuracy(pred.primary),
    rb: branchReport(data.test.labels, pred, C, config.model.rb.entropyEpsilon),
    evaluation: evaluated,
    finishedAt: new Date().toISOString(),
    ...(raw ? { raw } : {}),
  };
  await writeMetrics(dir, metrics);
  return { metrics, pred };
}

/**
 * The single-weight arm of a run with a weight average: the raw weights of their own best
 * validation epoch (`checkpoints/best-raw`) on the test split, written to predictions-raw.csv.
 * Leaves those weights in the model (call it last).
 * @throws Error when the checkpoint is missing or holds another epoch than the state names.
 */
async function testRawArm(
  ctx: EpochContext,
  dir: string,
): Promise<NonNullable<RunMetrics["raw"]> | null> {
  const { model, params, config, data, state } = ctx;
  if (!state.bestRaw) return null;
  const rawDir = join(dir, "checkpoints", "best-raw");
  const ckpt = await loadCheckpoint(rawDir);
  if (!ckpt || ckpt.state.bestRaw?.epoch !== state.bestRaw.epoch) {
    throw new Error(
      `${rawDir} ${
        ckpt ? `holds epoch ${ckpt.state.epoch}` : "is missing"
      }, but the raw weights' ` +
        `best validation epoch is ${state.bestRaw.epoch}: their test split is not evaluated with ` +
        `other weights. Restore the checkpoint, or retrain with --force.`,
    );
  }
  await restoreWeights(model, params, ckpt);
  const C = data.classNames.length;
  const pred = await predictSplit(
    model,
    params,
    data.test,
    config.model,
    config.train.batchSize,
    undefined,
    ctx.parallel,
  );
  assertFinitePredictions(pred, C, `test split (${dir}, best raw weights)`);
  await writePredictions(dir, data.test, pred, data.classNames, "predictions-raw.csv");
  const acc = (d: Float32Array) =>
    data.test.labels.length ? accuracy(data.test.labels, argmax(d, C)) : 0;
  return {
    weights: `best raw (epoch ${state.bestRaw.epoch})`,
    accuracy: acc(pred.final),
    primaryAccuracy: acc(pred.primary),
  };
}

/**
 * Anchor initialisation (SPEC §4 decision): with `model.rb.anchorInit = "class-means"` and anchors
 * on, the untrained model embeds up to `train.anchorInitSamples` training samples (seeded choice,
 * class-balanced order) in inference mode, and the anchors are set to the class means plus noise.
 * Otherwise the model's seeded random initialisation stays. Returns what was done (recorded in
 * every checkpoint).
 */
async function initAnchors(
  model: ModelFns,
  params: ParamTree,
  config: GrefelConfig,
  data: TrainData,
): Promise<Record<string, unknown>> {
  if (!model.anchorsOn(config.model)) return { method: "none (anchors off)" };
  if (config.model.rb.anchorInit !== "class-means") {
    return { method: "random", seed: deriveSeed(config.seed, SEED_PURPOSE.init) };
  }
  const seed = deriveSeed(config.seed, SEED_PURPOSE.anchors);
  const C = data.classNames.length;
  const sample = balancedSampler(data.train.labels, C)(0, seed)
    .slice(0, config.train.anchorInitSamples);
  const pred = await predictSplit(
    model,
    params,
    data.train,
    config.model,
    config.train.batchSize,
    sample,
  );
  const labels = Int32Array.from(sample, (i) => data.train.labels[i]);
  const emb = tf.tensor2d(pred.embedding, [sample.length, pred.dim]);
  try {
    const info = await model.initAnchorsFromEmbeddings(params, emb, labels, config.model, seed);
    return {
      method: "class-means",
      samples: sample.length,
      noise: config.model.rb.anchorInitNoise,
      seed,
      report: info ?? null,
    };
  } finally {
    emb.dispose();
  }
}
