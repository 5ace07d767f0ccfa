/**
 * Data-parallel training steps (`train.workers` > 1): one run's step split over worker threads,
 * so that one run uses several cores (tfjs-wasm is single-threaded in Deno).
 *
 * The split is at the embedding e. The model up to e (cross-attention, embedding convolutions,
 * fusion ViT: the `backbone` gradient group) is per sample and holds most of the compute; the
 * rest (MLP head with batch norm and dropout, reliability balancing, the losses of eq. 23) is
 * small but needs the whole batch. A step:
 *
 * 1. The main thread sends each worker the current backbone weights and a contiguous share of the
 *    batch ({@linkcode shardRows}: shares differ by at most one sample).
 * 2. Each worker computes e for its share and sends it (lib/train/parallel_worker.ts).
 * 3. The main thread concatenates the shares to E `[B, D]` and runs the head, reliability
 *    balancing and the loss on the whole batch, with the gradients of the head-side weights and
 *    of E. It writes each worker's rows of ∂L/∂E into shared memory.
 * 4. Each worker back-propagates its rows of ∂L/∂E through its backbone (the gradient of
 *    Σ e ⊙ ∂L/∂e) and sends the backbone gradients; the main thread sums them.
 * 5. The main thread checks the loss terms, computes the gradient norms and applies Adam, as in
 *    the single-thread step (`finishStep`).
 *
 * While the workers run step 4, the main thread may post them the next step's shares (`step`'s
 * `next`); each decodes its share when its backward pass is done, while the main thread is in
 * step 5, so the next step sends only the weights.
 *
 * So the loss terms, branch distributions, batch-norm batch statistics and running statistics,
 * dropout masks (same seed, same full-batch shape) and the head-side gradients are exactly those
 * of the single-thread step; the backbone gradients are the same sum taken in another order (float
 * rounding only). The main thread holds the only optimiser and the authoritative weights
 * (checkpoints, validation and tests read them); workers hold no state between steps beyond a
 * copy of the weights they are sent, so a resumed run continues exactly as an uninterrupted one.
 *
 * Evaluation ({@linkcode DataParallel.beginEmbed}, used by `predictSplit`) splits the same way:
 * the workers embed their shares of a batch in inference mode while the main thread reads the next
 * batch and runs the head on the previous one, so both cores work during validation and testing.
 *
 * Needs the wasm or cpu backend: a worker reads e back synchronously inside its gradient closure.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../model/config.ts";
import type { RecordLayout } from "../data/cache.ts";
import type { GrefelInputs, ParamTree } from "../model/types.ts";
import type { ModelFns } from "./train.ts";
import {
  beforeEmbedding,
  finishStep,
  type StepBatch,
  type StepKept,
  stepLoss,
  type StepOptions,
  type StepResult,
  type StepState,
} from "./step.ts";

/** How long a worker waits for the upstream gradient of a step before giving up (ms). */
export const UPSTREAM_WAIT_MS = 600_000;

/** A float array with its shape (a feature map of one share of the batch). */
export interface ShapedArray {
  /** Values, row-major. */
  data: Float32Array;
  /** Shape. */
  shape: number[];
}

/**
 * A batch as undecoded feature-cache records (`FeatureSplit.readRecords`): the workers decode their
 * own shares, so the main thread neither decodes nor copies float maps.
 */
export interface RecordInputs {
  /** `B × layout.bytes` bytes, records in batch order. */
  records: Uint8Array;
  /** Their layout. */
  layout: RecordLayout;
}

/** A batch as the data-parallel step and evaluation take it. */
export type ParallelInputs = GrefelInputs | RecordInputs;

/** One worker's share of a batch: float maps, or records that it decodes. */
export type ShareInputs =
  | { landmark: ShapedArray[]; image: ShapedArray[] }
  | { records: Uint8Array; layout: RecordLayout; rows: number };

/** Main → worker: load the backend and the model functions. */
export interface InitMessage {
  /** Message kind. */
  type: "init";
  /** tfjs backend (the main thread's). */
  backend: string;
  /** Where to import the model functions from (`ModelFns.workerModule`). */
  model: { url: string; name: string };
  /** Model section of the config. */
  cfg: ModelConfig;
  /** Header (2 × int32: ready step id, abort flag) then room for the upstream gradient. */
  shared: SharedArrayBuffer;
}

/** Main → worker: one step on a share of the batch. */
export interface StepMessage {
  /** Message kind. */
  type: "step";
  /** Step id (1, 2, …), the value the header announces when ∂L/∂e is ready. */
  id: number;
  /** Current backbone weights by path. */
  weights: [string, Float32Array][];
  /** The share's feature maps; null: the share of the last {@linkcode StageMessage}. */
  inputs: ShareInputs | null;
}

/**
 * Main → worker: the share of the next step, posted while the worker computes this step's
 * backward pass. The worker decodes it when that pass is done (while the main thread applies the
 * update), and the next step message, sent with the updated weights, carries no inputs.
 */
export interface StageMessage {
  /** Message kind. */
  type: "stage";
  /** The share's feature maps or records. */
  inputs: ShareInputs;
}

/**
 * Main → worker: the embedding of a share of an evaluation batch (inference; the backbone has no
 * dropout and no state). `weights` are assigned first when not empty; a pass sends them with its
 * first batch only, and the worker keeps them for the batches after it.
 */
export interface EmbedMessage {
  /** Message kind. */
  type: "embed";
  /** Request id, echoed in the worker's `embedding` reply. */
  id: number;
  /** Backbone weights by path, or none (keep the last ones). */
  weights: [string, Float32Array][];
  /** The share's feature maps. */
  inputs: ShareInputs;
}

/** A message to a worker. */
export type ToWorker = InitMessage | StepMessage | StageMessage | EmbedMessage;

/** A message from a worker. */
export type FromWorker =
  | { type: "ready"; backbone: string[] }
  | { type: "embedding"; id: number; data: Float32Array; dim: number }
  | {
    type: "grads";
    id: number;
    grads: [string, Float32Array][];
    numTensors: number;
    seconds: WorkerPhases;
  }
  | { type: "error"; message: string; stack: string };

let live = 0;

/** Workers started and not yet terminated (tests check that training leaves none behind). */
export function liveWorkers(): number {
  return live;
}

/**
 * Contiguous shares of a batch of `rows` over `workers`: the first `rows mod workers` shares have
 * one row more; empty shares (fewer rows than workers) are left out. Returns `[start, end)` pairs.
 */
export function shardRows(rows: number, workers: number): [number, number][] {
  const base = Math.floor(rows / workers), extra = rows % workers;
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < workers; i++) {
    const n = base + (i < extra ? 1 : 0);
    if (n > 0) out.push([start, start + n]);
    start += n;
  }
  return out;
}

/** One worker: its messages in arrival order, its shared memory, and its failure if it failed. */
class WorkerLink {
  readonly worker: Worker;
  readonly header: Int32Array;
  readonly upstream: Float32Array;
  /** Live tensors in the worker after its last step. */
  numTensors = -1;
  /** Phases of the worker's last step. */
  seconds: WorkerPhases | null = null;
  private queue: FromWorker[] = [];
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private closed = false;

  constructor(readonly label: string, readonly shared: SharedArrayBuffer) {
    this.header = new Int32Array(shared, 0, 2);
    this.upstream = new Float32Array(shared, 8);
    this.worker = new Worker(new URL("./parallel_worker.ts", import.meta.url), { type: "module" });
    live++;
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (m.type === "error") {
        const err = new Error(`${this.label} failed: ${m.message}`);
        err.stack = `${err.message}\n  in the worker: ${m.stack}`;
        this.fail(err);
      } else if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w.resolve(m);
      } else this.queue.push(m);
    };
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`${this.label} failed: ${e.message}`));
    };
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(this.failure);
  }

  /** The next message, which must be of kind `type`. @throws the worker's failure. */
  async next<T extends FromWorker["type"]>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    const m = this.queue.shift() ?? await new Promise<FromWorker>((resolve, reject) => {
      if (this.failure) reject(this.failure);
      else if (this.closed) reject(new Error(`${this.label} was terminated`));
      else this.waiting = { resolve, reject };
    });
    if (m.type !== type) throw new Error(`${this.label}: expected ${type}, got ${m.type}`);
    return m as Extract<FromWorker, { type: T }>;
  }

  post(msg: ToWorker, transfer: Transferable[] = []): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(msg, transfer);
  }

  /** Hands the upstream gradient of step `id` to the worker (it is blocked waiting for it). */
  release(id: number, grad: Float32Array): void {
    if (grad.length > this.upstream.length) throw new Error(`${this.label}: share too large`);
    this.upstream.set(grad);
    Atomics.store(this.header, 0, id);
    Atomics.notify(this.header, 0);
  }

  /** Wakes a blocked worker with the abort flag and terminates it. Idempotent. */
  terminate(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.header, 1, 1);
    Atomics.notify(this.header, 0);
    this.worker.terminate();
    live--;
    this.fail(new Error(`${this.label} was terminated`));
  }
}

/** Seconds spent in each phase of the last data-parallel step (benchmarks). */
export interface StepPhases {
  /** Reading the backbone weights and the batch, and posting the shares. */
  send: number;
  /** Of `send`: reading the backbone weights. */
  weights: number;
  /** Waiting for the workers' embeddings. */
  embed: number;
  /** Head, reliability balancing and loss with their gradients on the main thread. */
  head: number;
  /** Waiting for the workers' backbone gradients. */
  backward: number;
  /** Summing the backbone gradients, gradient norms, read-back and the Adam update. */
  update: number;
}

/** Seconds a worker spent in each phase of its last step (benchmarks). */
export interface WorkerPhases {
  /** Assigning the backbone weights it was sent. */
  assign: number;
  /** Embedding of its share (forward), read back and sent. */
  embed: number;
  /** Blocked until the main thread wrote ∂L/∂e. */
  wait: number;
  /** Back-propagation through the backbone and reading the gradients back. */
  backward: number;
}

/** Backbone leaves of a weight tree, by path. */
function backboneLeaves(model: ModelFns, params: ParamTree): Map<string, tf.Variable> {
  return new Map([...model.flattenParams(params)].filter(([p]) => beforeEmbedding(p)));
}

/**
 * Checks that data-parallel steps can run with `model` on the current backend.
 * @throws Error naming what is missing.
 */
function checkSupported(model: ModelFns, workers: number): { url: string; name: string } {
  const why = `train.workers = ${workers} (data-parallel steps)`;
  const backend = tf.getBackend();
  if (backend !== "wasm" && backend !== "cpu") {
    throw new Error(
      `${why} needs the wasm or cpu backend (a worker reads the embedding back synchronously), ` +
        `not ${backend}; set train.workers to 1 or select --backend wasm`,
    );
  }
  if (!model.workerModule || !model.grefelEmbedding || !model.grefelFromEmbedding) {
    throw new Error(
      `${why} needs model functions that split at the embedding (grefelEmbedding, ` +
        `grefelFromEmbedding) and that a worker can import (workerModule); these lack them`,
    );
  }
  return model.workerModule;
}

/**
 * Runs training steps split over worker threads; see the module doc. {@linkcode DataParallel.step}
 * takes the arguments of `trainStep` and returns the same result.
 */
export class DataParallel {
  private stepId = 0;
  /** Inputs of the next step, already posted to the workers (see `step`'s `next`). */
  private staged: ParallelInputs | null = null;
  /** Steps so far whose shares were posted during the step before (see `step`'s `next`). */
  stagedSteps = 0;
  /** Phases of the last step, in seconds. */
  phases: StepPhases = { send: 0, weights: 0, embed: 0, head: 0, backward: 0, update: 0 };

  private constructor(private readonly links: WorkerLink[], readonly maxRows: number) {}

  /**
   * Starts `workers` workers for batches of up to `batchSize` samples of a model with `cfg`, and
   * waits until each has loaded the backend and the model.
   * @throws Error when the backend or the model functions do not support it, or a worker fails
   *   to start (the others are terminated).
   */
  static async start(
    model: ModelFns,
    cfg: ModelConfig,
    workers: number,
    batchSize: number,
  ): Promise<DataParallel> {
    const spec = checkSupported(model, workers);
    const maxRows = Math.ceil(batchSize / workers);
    const links = Array.from({ length: workers }, (_, i) =>
      new WorkerLink(
        `data-parallel worker ${i + 1}/${workers}`,
        new SharedArrayBuffer(8 + 4 * maxRows * cfg.embedDim),
      ));
    const dp = new DataParallel(links, maxRows);
    try {
      for (const l of links) {
        l.post({ type: "init", backend: tf.getBackend(), model: spec, cfg, shared: l.shared });
      }
      await Promise.all(links.map((l) => l.next("ready")));
    } catch (e) {
      dp.close();
      throw e;
    }
    return dp;
  }

  /** Number of workers. */
  get workers(): number {
    return this.links.length;
  }

  /** Live tensors in each worker after its last step (−1 before its first). */
  workerTensors(): number[] {
    return this.links.map((l) => l.numTensors);
  }

  /** Phases of each worker's last step (null before its first). */
  workerPhases(): (WorkerPhases | null)[] {
    return this.links.map((l) => l.seconds);
  }

  /** Terminates every worker (also one blocked mid-step). Idempotent. */
  close(): void {
    for (const l of this.links) l.terminate();
  }

  /**
   * One training step over the workers; the same contract as `trainStep`. On any failure (in a
   * worker or here) every worker is terminated and the error is thrown.
   *
   * `next`, when given, returns the inputs of the following step (or null). It is called while the
   * workers compute this step's backward pass, and its shares are posted to them then, so that
   * reading, posting and decoding the next batch overlap with this step instead of adding to the
   * next one. The following `step` call must pass that same inputs object as `batch.inputs` to
   * use what was posted (any other inputs are sent in full, and the posted shares are dropped).
   * The result is the same either way.
   */
  async step(
    s: StepState,
    batch: ParallelBatch,
    opts: StepOptions,
    next?: () => ParallelInputs | null,
  ): Promise<StepResult> {
    try {
      return await this.run(s, batch, opts, next);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** {@linkcode DataParallel.step} without the clean-up on failure. */
  private async run(
    s: StepState,
    batch: ParallelBatch,
    opts: StepOptions,
    next?: () => ParallelInputs | null,
  ): Promise<StepResult> {
    const rows = batch.labels.length;
    if (rowsOf(batch.inputs) !== rows) {
      throw new Error(`batch of ${rows} labels has ${rowsOf(batch.inputs)} input rows`);
    }
    const shards = shardRows(rows, this.links.length);
    if (shards[0][1] - shards[0][0] > this.maxRows) {
      throw new Error(`batch of ${rows} exceeds the ${this.maxRows * this.workers} it was set for`);
    }
    const id = ++this.stepId;
    const links = shards.map((_, i) => this.links[i]);
    let t = performance.now();
    const lap = () => {
      const now = performance.now(), dt = (now - t) / 1000;
      t = now;
      return dt;
    };
    const staged = this.staged === batch.inputs;
    this.staged = null;
    if (staged) this.stagedSteps++;
    const weightSeconds = await this.send(s, batch, shards, id, staged);
    const phases = { ...this.phases, send: lap(), weights: weightSeconds };
    const parts = await Promise.all(links.map((l) => l.next("embedding")));
    phases.embed = lap();
    const dim = parts[0].dim;
    const embedding = tf.tensor2d(concat(parts.map((p) => p.data)), [rows, dim]);
    const head = await this.headStep(s, batch, opts, embedding);
    shards.forEach(([a, b], i) => links[i].release(id, head.dE.subarray(a * dim, b * dim)));
    phases.head = lap();
    const upcoming = next?.() ?? null;
    if (upcoming) await this.stage(upcoming);
    const back = await Promise.all(links.map((l) => l.next("grads"))).catch((e) => {
      tf.dispose([...Object.values(head.grads), head.kept.losses, ...head.kept.branches]);
      throw e;
    });
    phases.backward = lap();
    back.forEach((m, i) => (links[i].numTensors = m.numTensors, links[i].seconds = m.seconds));
    const grads = mergeGrads(s, head.grads, back.map((m) => m.grads));
    const r = await finishStep(s, grads, head.kept);
    phases.update = lap();
    this.phases = phases;
    return r;
  }

  /**
   * Posts the shares of an evaluation batch to the workers, with the current backbone weights of
   * `params` when `withWeights` (the first batch of a pass: the workers' copies are otherwise from
   * the start of the last training step). Returns a function that waits for the embeddings and
   * returns them, `[rows, dim]` row-major, in batch order. Requests are answered in order, so a
   * caller may post the next batch before collecting this one. The caller disposes `inputs` (their
   * values are copied before this resolves). On failure every worker is terminated.
   */
  async beginEmbed(
    model: ModelFns,
    params: ParamTree,
    inputs: ParallelInputs,
    withWeights: boolean,
  ): Promise<() => Promise<{ data: Float32Array; dim: number }>> {
    try {
      const rows = rowsOf(inputs);
      const shards = shardRows(rows, this.links.length);
      const id = ++this.stepId;
      const weights = withWeights ? await readBackbone(model, params) : [];
      const shares = await shareInputs(inputs, shards);
      shares.forEach((share, i) => {
        this.links[i].post({ type: "embed", id, weights, inputs: share }, transferOf(share));
      });
      const links = shards.map((_, i) => this.links[i]);
      return async () => {
        try {
          const parts = await Promise.all(links.map((l) => l.next("embedding")));
          for (const p of parts) {
            if (p.id !== id) throw new Error(`embedding ${p.id} arrived for request ${id}`);
          }
          return { data: concat(parts.map((p) => p.data)), dim: parts[0].dim };
        } catch (e) {
          this.close();
          throw e;
        }
      };
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /**
   * Posts each share with the current backbone weights, or the weights alone when the workers hold
   * the shares already (`staged`); returns the seconds reading the weights took.
   */
  private async send(
    s: StepState,
    batch: ParallelBatch,
    shards: [number, number][],
    id: number,
    staged: boolean,
  ): Promise<number> {
    const t0 = performance.now();
    const weights = await readBackbone(s.model, s.params);
    const weightSeconds = (performance.now() - t0) / 1000;
    const shares = staged ? shards.map(() => null) : await shareInputs(batch.inputs, shards);
    shares.forEach((inputs, i) => {
      // The weights are cloned per worker (not transferred: they may be a tensor's own storage).
      this.links[i].post({ type: "step", id, weights, inputs }, inputs ? transferOf(inputs) : []);
    });
    return weightSeconds;
  }

  /** Posts the shares of the next step's inputs (see `step`'s `next`). */
  private async stage(inputs: ParallelInputs): Promise<void> {
    const rows = rowsOf(inputs);
    const shards = shardRows(rows, this.links.length);
    if (shards[0][1] - shards[0][0] > this.maxRows) {
      throw new Error(`batch of ${rows} exceeds the ${this.maxRows * this.workers} it was set for`);
    }
    const shares = await shareInputs(inputs, shards);
    shares.forEach((share, i) =>
      this.links[i].post({ type: "stage", inputs: share }, transferOf(share))
    );
    this.staged = inputs;
  }

  /**
   * Head, reliability balancing and loss on the whole batch from `embedding` (disposed here):
   * the head-side gradients by variable name, ∂L/∂E, and what the step reads back.
   */
  private async headStep(
    s: StepState,
    batch: ParallelBatch,
    opts: StepOptions,
    embedding: tf.Tensor2D,
  ): Promise<{ grads: tf.NamedTensorMap; dE: Float32Array; kept: StepKept }> {
    const { model, params, cfg } = s;
    const bbNames = new Set([...backboneLeaves(model, params).values()].map((v) => v.name));
    const vars = model.trainableVariables(params).filter((v) => !bbNames.has(v.name));
    const target = model.smoothLabels(batch.labels, cfg.classes, s.smoothing);
    try {
      return await this.headGrads(s, opts, embedding, target, vars);
    } finally {
      tf.dispose([target, embedding]);
    }
  }

  /** {@linkcode headStep}'s gradient pass over `vars` and the embedding. */
  private async headGrads(
    s: StepState,
    opts: StepOptions,
    embedding: tf.Tensor2D,
    target: tf.Tensor2D,
    vars: tf.Variable[],
  ): Promise<{ grads: tf.NamedTensorMap; dE: Float32Array; kept: StepKept }> {
    const { model, params, cfg } = s;
    let kept: StepKept | null = null;
    const { value, grads } = tf.engine().gradients(
      () => {
        const out = model.grefelFromEmbedding!(params, embedding, cfg, {
          training: true,
          seed: opts.dropoutSeed,
        });
        const r = stepLoss(s, out, target, opts);
        kept = r.kept;
        return r.total;
      },
      [...vars, embedding],
      undefined,
      true,
    );
    const gE = grads.pop()!;
    const dE = ((await gE.data()) as Float32Array).slice();
    tf.dispose([value, gE]);
    const named: tf.NamedTensorMap = {};
    vars.forEach((v, i) => {
      if (grads[i]) named[v.name] = grads[i];
    });
    return { grads: named, dE, kept: kept! };
  }
}

/** The current backbone weights by path (the values a worker assigns). */
async function readBackbone(model: ModelFns, params: ParamTree): Promise<[string, Float32Array][]> {
  const weights: [string, Float32Array][] = [];
  for (const [path, v] of backboneLeaves(model, params)) {
    weights.push([path, (await v.data()) as Float32Array]);
  }
  return weights;
}

/** A step's batch for {@linkcode DataParallel.step}: `StepBatch` whose inputs may be records. */
export type ParallelBatch = Omit<StepBatch, "inputs"> & { inputs: ParallelInputs };

function isRecords(x: ParallelInputs): x is RecordInputs {
  return "records" in x;
}

/** Samples in a batch. */
function rowsOf(x: ParallelInputs): number {
  return isRecords(x) ? x.records.length / x.layout.bytes : x.landmark[0].shape[0];
}

/** The buffers a share's message transfers (its own fresh arrays). */
function transferOf(share: ShareInputs): Transferable[] {
  return "records" in share
    ? [share.records.buffer]
    : [...share.landmark, ...share.image].map((x) => x.data.buffer);
}

/**
 * Each shard's rows of the batch, as fresh arrays (transferable): its records, or its rows of
 * every feature map.
 */
async function shareInputs(
  inputs: ParallelInputs,
  shards: [number, number][],
): Promise<ShareInputs[]> {
  if (isRecords(inputs)) {
    const n = inputs.layout.bytes;
    return shards.map(([a, b]) => ({
      records: inputs.records.slice(a * n, b * n),
      layout: inputs.layout,
      rows: b - a,
    }));
  }
  const read = async (maps: readonly tf.Tensor[]) =>
    await Promise.all(maps.map(async (m) => ({ data: (await m.data()) as Float32Array, m })));
  const landmark = await read(inputs.landmark);
  const image = await read(inputs.image);
  return shards.map(([a, b]) => {
    const slice = (x: { data: Float32Array; m: tf.Tensor }): ShapedArray => {
      const row = x.m.size / x.m.shape[0];
      return { data: x.data.slice(a * row, b * row), shape: [b - a, ...x.m.shape.slice(1)] };
    };
    return { landmark: landmark.map(slice), image: image.map(slice) };
  });
}

/**
 * Gradients of every trainable variable, in the model's variable order: the head side's as
 * computed, each backbone weight's the sum of the workers' (in worker order).
 */
function mergeGrads(
  s: StepState,
  head: tf.NamedTensorMap,
  parts: [string, Float32Array][][],
): tf.NamedTensorMap {
  const sums = new Map<string, Float32Array>();
  for (const part of parts) {
    for (const [path, g] of part) {
      const acc = sums.get(path);
      if (!acc) sums.set(path, g);
      else for (let k = 0; k < g.length; k++) acc[k] += g[k];
    }
  }
  const pathOf = new Map([...s.model.flattenParams(s.params)].map(([p, v]) => [v.name, p]));
  const out: tf.NamedTensorMap = {};
  for (const v of s.model.trainableVariables(s.params)) {
    const h = head[v.name];
    const sum = sums.get(pathOf.get(v.name)!);
    if (h) out[v.name] = h;
    else if (sum) out[v.name] = tf.tensor(sum, v.shape);
  }
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}
