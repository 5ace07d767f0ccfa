/**
 * The worker side of data-parallel training (lib/train/parallel.ts). It holds a copy of the
 * model's backbone weights; per step it takes the main thread's current backbone weights and its
 * share of the batch, computes the embedding e of that share, sends e, blocks on shared memory
 * until the main thread has written ∂L/∂e (the loss is computed there, on the whole batch), and
 * sends back the backbone gradients of Σ e ⊙ ∂L/∂e. A step is synchronous from start to end, so
 * messages are handled one at a time; the share of the next step may arrive during one (a stage
 * message), and is decoded as soon as the step is done.
 *
 * Started by `DataParallel.start`; nothing imports this module.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../backend.ts";
import type { ModelConfig } from "../model/config.ts";
import type { ParamTree } from "../model/types.ts";
import type { ModelFns } from "./train.ts";
import { beforeEmbedding } from "./step.ts";
import { decodeRecords, mapSide } from "../data/cache.ts";
import {
  type EmbedMessage,
  type FromWorker,
  type InitMessage,
  type ShapedArray,
  type ShareInputs,
  type StageMessage,
  type StepMessage,
  type ToWorker,
  UPSTREAM_WAIT_MS,
} from "./parallel.ts";

interface Replica {
  model: ModelFns;
  cfg: ModelConfig;
  params: ParamTree;
  /** Backbone leaves by path (the weights the main thread sends each step). */
  backbone: Map<string, tf.Variable>;
  /** Trainable backbone leaves, in the model's variable order. */
  vars: tf.Variable[];
  /** Path of each trainable backbone variable, by tfjs variable name. */
  pathOf: Map<string, string>;
  /** `[0]`: id of the step whose upstream gradient is ready; `[1]`: non-zero = abort. */
  header: Int32Array;
  /** Upstream gradient ∂L/∂e of this worker's rows, row-major. */
  upstream: Float32Array;
}

let replica: Replica | null = null;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  (self as unknown as Worker).postMessage(msg, transfer);
}

async function init(msg: InitMessage): Promise<void> {
  await selectBackend(msg.backend);
  const mod = await import(msg.model.url) as Record<string, ModelFns | undefined>;
  const model = mod[msg.model.name];
  if (!model?.grefelEmbedding) {
    throw new Error(
      `${msg.model.url} exports no model functions "${msg.model.name}" with ` +
        `grefelEmbedding`,
    );
  }
  // The values do not matter: the main thread sends the backbone weights with every step.
  const params = model.initGrefel(msg.cfg, 0);
  const backbone = new Map<string, tf.Variable>();
  const pathOf = new Map<string, string>();
  for (const [path, v] of model.flattenParams(params)) {
    if (!beforeEmbedding(path)) continue;
    backbone.set(path, v);
    if (v.trainable) pathOf.set(v.name, path);
  }
  const vars = model.trainableVariables(params).filter((v) => pathOf.has(v.name));
  const header = new Int32Array(msg.shared, 0, 2);
  const upstream = new Float32Array(msg.shared, 8);
  replica = { model, cfg: msg.cfg, params, backbone, vars, pathOf, header, upstream };
  post({ type: "ready", backbone: [...backbone.keys()] });
}

/** Blocks until the main thread has written the upstream gradient of step `id`; returns a copy. */
function awaitUpstream(r: Replica, id: number, size: number): Float32Array {
  for (;;) {
    if (Atomics.load(r.header, 1) !== 0) throw new Error("step aborted by the main thread");
    const seen = Atomics.load(r.header, 0);
    if (seen === id) break;
    if (Atomics.wait(r.header, 0, seen, UPSTREAM_WAIT_MS) === "timed-out") {
      throw new Error(`no upstream gradient for step ${id} within ${UPSTREAM_WAIT_MS / 1000} s`);
    }
  }
  // Copied out of shared memory: the cpu backend keeps the array a tensor is made from.
  return new Float32Array(r.upstream.subarray(0, size));
}

function tensorOf(a: ShapedArray): tf.Tensor4D {
  return tf.tensor4d(a.data, a.shape as [number, number, number, number]);
}

/** Decode buffers reused from share to share on wasm, whose tensors copy their values. */
let staging: Float32Array[] | undefined;

/** A share's model inputs: its feature maps, or its records decoded here. */
function inputsOf(share: ShareInputs): Parameters<NonNullable<ModelFns["grefelEmbedding"]>>[1] {
  if (!("records" in share)) {
    return {
      landmark: share.landmark.map(tensorOf),
      image: share.image.map(tensorOf),
    } as Parameters<NonNullable<ModelFns["grefelEmbedding"]>>[1];
  }
  const { layout: L, rows } = share;
  const bufs = decodeRecords(share.records, L, rows, staging);
  if (tf.getBackend() === "wasm") staging = bufs;
  const t = bufs.map((b, m) => {
    const g = mapSide(L.grid, m);
    return tf.tensor4d(b, [rows, g, g, L.channels[m]]);
  });
  return { landmark: [t[0], t[1], t[2]], image: [t[3], t[4], t[5]] };
}

/** Model inputs of the share the last stage message posted (decoded on arrival), if any. */
let staged: ReturnType<typeof inputsOf> | null = null;

/** Decodes the share of the next step now (the main thread is busy with the update). */
function stage(msg: StageMessage): void {
  dropStaged();
  staged = inputsOf(msg.inputs);
}

function dropStaged(): void {
  if (staged) tf.dispose([...staged.landmark, ...staged.image]);
  staged = null;
}

/** Assigns the backbone weights of a message. */
function assignWeights(r: Replica, weights: [string, Float32Array][]): void {
  for (const [path, data] of weights) {
    const v = r.backbone.get(path);
    if (!v) throw new Error(`unknown backbone weight ${path}`);
    tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
  }
}

/** The embedding of an evaluation share (inference), sent back as `embedding`. */
function embed(r: Replica, msg: EmbedMessage): void {
  assignWeights(r, msg.weights);
  const inputs = inputsOf(msg.inputs);
  try {
    const e = tf.tidy(() => r.model.grefelEmbedding!(r.params, inputs, r.cfg));
    const dim = e.shape[1];
    const data = (e.dataSync() as Float32Array).slice();
    e.dispose();
    post({ type: "embedding", id: msg.id, data, dim }, [data.buffer]);
  } finally {
    tf.dispose([...inputs.landmark, ...inputs.image]);
  }
}

function step(r: Replica, msg: StepMessage): void {
  let t = performance.now();
  const lap = () => {
    const now = performance.now(), dt = (now - t) / 1000;
    t = now;
    return dt;
  };
  assignWeights(r, msg.weights);
  if (!msg.inputs && !staged) {
    throw new Error(`step ${msg.id} refers to staged inputs; none arrived`);
  }
  const inputs = msg.inputs ? inputsOf(msg.inputs) : staged!;
  if (msg.inputs) dropStaged();
  staged = null;
  try {
    const rows = inputs.landmark[0].shape[0];
    const seconds = { assign: lap(), embed: 0, wait: 0, backward: 0 };
    const { value, grads } = tf.variableGrads(() => {
      const e = r.model.grefelEmbedding!(r.params, inputs, r.cfg);
      const dim = e.shape[1];
      if (rows * dim > r.upstream.length) throw new Error(`${rows} rows exceed the shared buffer`);
      // A copy (the cpu backend's dataSync returns the tensor's own storage).
      const data = (e.dataSync() as Float32Array).slice();
      post({ type: "embedding", id: msg.id, data, dim }, [data.buffer]);
      seconds.embed = lap();
      const g = tf.tensor2d(awaitUpstream(r, msg.id, rows * dim), [rows, dim]);
      seconds.wait = lap();
      return tf.sum(tf.mul(e, g)) as tf.Scalar;
    }, r.vars);
    const out: [string, Float32Array][] = [];
    for (const v of r.vars) {
      const g = grads[v.name];
      if (g) out.push([r.pathOf.get(v.name)!, (g.dataSync() as Float32Array).slice()]);
    }
    tf.dispose([value, ...Object.values(grads)]);
    tf.dispose([...inputs.landmark, ...inputs.image]);
    seconds.backward = lap();
    post(
      { type: "grads", id: msg.id, grads: out, numTensors: tf.memory().numTensors, seconds },
      out.map(([, d]) => d.buffer),
    );
  } finally {
    tf.dispose([...inputs.landmark, ...inputs.image]);
  }
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  try {
    if (msg.type === "init") await init(msg);
    else if (!replica) throw new Error("step before init");
    else if (msg.type === "embed") embed(replica, msg);
    else if (msg.type === "stage") stage(msg);
    else step(replica, msg);
  } catch (err) {
    const x = err instanceof Error ? err : new Error(String(err));
    post({ type: "error", message: x.message, stack: x.stack ?? "" });
  }
};
