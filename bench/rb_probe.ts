/**
 * Probe of the head and reliability-balancing dynamics (not a test): trains a configuration for a
 * number of steps and, every few steps, measures on a fixed class-balanced probe batch of training
 * samples what could make training stall:
 * - primary and L_final accuracy in training mode (dropout on, batch statistics) and in
 *   evaluation mode on the same batch;
 * - per hidden layer of the head: the between-sample variance of the post-ReLU activations
 *   against their squared mean (how much sample signal there is against the shared part), and
 *   the batch-norm input variance in training mode (after dropout) and in evaluation mode;
 * - the embedding's between-sample spread against its mean, and against the anchors;
 * - the median primary confidence c_l and weight w_l.
 *
 * Usage:
 *   deno run -A bench/rb_probe.ts [--data ferplus] [--steps 200] [--every 20] [--probe 256]
 *     [--out results/bench/rb_probe/NAME.json] [--set key=value ...]
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { presetConfig } from "../lib/config.ts";
import { selectBackend } from "../lib/backend.ts";
import { prepareData } from "../lib/train/prepare.ts";
import { MODEL_FNS } from "../lib/train/model_fns.ts";
import { trainStep } from "../lib/train/step.ts";
import { disposeInputs } from "../lib/train/train.ts";
import { deriveSeed, SEED_PURPOSE } from "../lib/train/schedule.ts";
import { grefelEmbedding, grefelForward } from "../lib/model/mod.ts";
import { batchNorm, dropout, linear } from "../lib/model/layers.ts";
import { leaf, sub } from "../lib/model/params.ts";
import { rowConfidence } from "../lib/eval/branches.ts";
import { argmax } from "../lib/eval/metrics.ts";

const { values } = parseArgs({
  options: {
    data: { type: "string", default: "ferplus" },
    preset: { type: "string", default: "compact" },
    steps: { type: "string", default: "200" },
    every: { type: "string", default: "20" },
    probe: { type: "string", default: "256" },
    out: { type: "string" },
    set: { type: "string", multiple: true, default: [] },
  },
});

function parseSet(items: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq < 0) throw new Error(`--set ${item}: expected key=value`);
    const keys = item.slice(0, eq).split(".");
    let raw: unknown = item.slice(eq + 1);
    try {
      raw = JSON.parse(raw as string);
    } catch { /* a plain string */ }
    let node = out;
    keys.slice(0, -1).forEach((k) => (node = (node[k] ??= {}) as Record<string, unknown>));
    node[keys[keys.length - 1]] = raw;
  }
  return out;
}

const overrides = parseSet(values.set as string[]);
const config = presetConfig(values.preset!, {
  data: { dataset: values.data },
  ...overrides,
  train: { progress: "off", ...(overrides.train as object ?? {}) },
});
await selectBackend("wasm");
const prepared = await prepareData(config, { progress: false });
const { data } = prepared;
const cfg = config.model;
const C = data.classNames.length;
const params = MODEL_FNS.initGrefel(cfg, deriveSeed(config.seed, SEED_PURPOSE.init));
const opt = tf.train.adam(config.train.lr, config.train.beta1, config.train.beta2);

// Fixed class-balanced probe batch.
const probeN = Number(values.probe);
const probeIdx = prepared.sampler(999, config.seed).slice(0, probeN);
const probeLabels = Int32Array.from(probeIdx, (i) => data.train.labels[i]);

function acc(d: Float32Array): number {
  const p = argmax(d, C);
  return p.reduce((n, x, i) => n + (x === probeLabels[i] ? 1 : 0), 0) / p.length;
}

/** Column means and between-sample variances of `[N, F]`, averaged over features. */
async function spread(x: tf.Tensor2D): Promise<{ meanSq: number; betweenVar: number }> {
  const [m, v] = tf.tidy(() => {
    const mo = tf.moments(x, 0);
    return [tf.mean(tf.square(mo.mean)), tf.mean(mo.variance)];
  });
  const out = { meanSq: (await m.data())[0], betweenVar: (await v.data())[0] };
  tf.dispose([m, v]);
  return out;
}

async function measure(step: number) {
  const inputs = await data.train.readBatch(probeIdx, 0);
  const seed = 12345;
  const [trainOut, evalOut] = tf.tidy(() => {
    const t = grefelForward(params, inputs, cfg, { training: true, seed, updateStats: false });
    const e = grefelForward(params, inputs, cfg, { training: false });
    return [[t.primary, t.final], [e.primary, e.final]].map((p) => p.map((x) => tf.keep(x)));
  });
  // The head's layers, step by step (training mode without updating statistics, and evaluation).
  const layers: Record<string, unknown>[] = [];
  const e = tf.tidy(() => grefelEmbedding(params, inputs, cfg));
  const head = sub(params, "head");
  let hTrain: tf.Tensor2D = e.clone(), hEval: tf.Tensor2D = e.clone();
  for (let j = 0; j < cfg.head.hidden.length; j++) {
    const reluT = tf.tidy(() => tf.relu(linear(sub(head, `fc${j}`), hTrain)));
    const reluE = tf.tidy(() => tf.relu(linear(sub(head, `fc${j}`), hEval)));
    const dropT = tf.tidy(() => dropout(reluT, cfg.head.dropout, true, seed * 7919 + j));
    const bnInT = cfg.head.order === "dropout-bn" ? dropT : reluT;
    const bnInE = reluE;
    const sE = await spread(reluE);
    const sInT = await spread(bnInT);
    const sInE = await spread(bnInE);
    const rv = leaf(sub(head, `bn${j}`), "runningVar");
    const rvMean = (await tf.tidy(() => tf.mean(rv)).data())[0];
    layers.push({
      layer: j,
      postReluMeanSq: sE.meanSq,
      postReluBetweenVar: sE.betweenVar,
      signalToShared: sE.betweenVar / Math.max(1e-12, sE.meanSq),
      bnInputVarTrain: sInT.betweenVar,
      bnInputVarEval: sInE.betweenVar,
      bnRunningVar: rvMean,
      deadUnits: (await tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.max(reluE, 0), 0), "float32")))
        .data())[0],
    });
    const nextT = tf.tidy(() => {
      const bn = (x: tf.Tensor2D) =>
        batchNorm(sub(head, `bn${j}`), x, true, cfg.head.bnMomentum, cfg.head.bnEpsilon, false);
      return cfg.head.order === "dropout-bn"
        ? bn(dropT)
        : dropout(bn(reluT), cfg.head.dropout, true, seed * 7919 + j);
    });
    const nextE = tf.tidy(() =>
      batchNorm(sub(head, `bn${j}`), reluE, false, cfg.head.bnMomentum, cfg.head.bnEpsilon, false)
    );
    tf.dispose([hTrain, hEval, reluT, reluE, dropT]);
    hTrain = nextT;
    hEval = nextE;
  }
  tf.dispose([hTrain, hEval]);
  const eSpread = await spread(e);
  let anchors: Record<string, number> | null = null;
  if (cfg.rb.anchors && cfg.rb.anchorsPerClass > 0) {
    const a = leaf(sub(params, "rb"), "anchors");
    const [near, pair] = tf.tidy(() => {
      const [cc, k, d] = a.shape;
      const flat = a.reshape([cc * k, d]) as tf.Tensor2D;
      const dist = tf.sqrt(
        tf.sum(tf.square(tf.sub(e.reshape([-1, 1, d]), flat.reshape([1, cc * k, d]))), 2),
      );
      const pd = tf.sqrt(
        tf.relu(tf.sum(tf.square(tf.sub(flat.reshape([-1, 1, d]), flat.reshape([1, -1, d]))), 2)),
      );
      return [tf.mean(tf.min(dist, 1)), tf.div(tf.sum(pd), cc * k * (cc * k - 1))];
    });
    anchors = { meanNearestAnchor: (await near.data())[0], meanAnchorPair: (await pair.data())[0] };
    tf.dispose([near, pair]);
  }
  e.dispose();
  const [tp, tfin] = await Promise.all(trainOut.map((t) => t.data() as Promise<Float32Array>));
  const [ep, efin] = await Promise.all(evalOut.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([...trainOut, ...evalOut]);
  disposeInputs(inputs);
  const cl = [...rowConfidence(ep, C)].sort((x, y) => x - y);
  return {
    step,
    train: { primary: acc(tp), final: acc(tfin) },
    eval: { primary: acc(ep), final: acc(efin) },
    evalPredictedClasses: new Set(argmax(ep, C)).size,
    medianPrimaryConfidence: cl[Math.floor(cl.length / 2)],
    embedding: { meanSq: eSpread.meanSq, betweenVar: eSpread.betweenVar },
    anchors,
    head: layers,
  };
}

const steps = Number(values.steps), every = Number(values.every);
const records = [await measure(0)];
console.log(JSON.stringify(records[0]));
const bs = config.train.batchSize;
let order: number[] = [];
let epoch = 0;
for (let s = 1; s <= steps; s++) {
  if (order.length < bs) order = order.concat(prepared.sampler(epoch++, config.seed));
  const batch = order.splice(0, bs);
  const inputs = await data.train.readBatch(batch, 0);
  const r = await trainStep(
    { model: MODEL_FNS, params, optimizer: opt, cfg, smoothing: cfg.loss.labelSmoothing },
    { inputs, labels: Int32Array.from(batch, (i) => data.train.labels[i]) },
    { dropoutSeed: deriveSeed(config.seed, SEED_PURPOSE.dropout, 0, s), progress: s / 63 },
  );
  disposeInputs(inputs);
  if (!r.finite) throw new Error(`non-finite loss at step ${s}`);
  if (s % every === 0) {
    const m = { ...(await measure(s)), loss: r.losses };
    records.push(m);
    console.log(JSON.stringify(m));
  }
}
if (values.out) {
  await Deno.mkdir(dirname(values.out), { recursive: true });
  await Deno.writeTextFile(
    values.out,
    JSON.stringify({ overrides, steps, every, probe: probeN, records }, null, 1) + "\n",
  );
}
