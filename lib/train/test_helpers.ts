/**
 * Test helpers for the trainer: a small stand-in model that honours the model contract
 * (lib/model/types.ts) and synthetic feature splits with class-dependent means, so trainer tests
 * run in a second without the real model or extractors.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../model/config.ts";
import type { GrefelInputs, GrefelOutputs, ParamTree } from "../model/types.ts";
import {
  type FeatureSplit,
  type ModelFns,
  type TrainData,
  type TrainOptions,
  trainRun,
} from "./train.ts";
import type { GrefelConfig } from "../config.ts";
import { assert } from "../testing.ts";
import { mulberry32 } from "./schedule.ts";
import { datasetFingerprint } from "../run/hash.ts";

/** Map shapes `[side, channels]` of the stand-in inputs (both streams). */
export const TOY_SHAPE: [number, number][] = [[4, 3], [2, 3], [1, 3]];

let counter = 0;

function flatten(params: ParamTree): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  const walk = (n: ParamTree, pre: string) => {
    for (const [k, v] of Object.entries(n)) {
      const p = pre ? `${pre}/${k}` : k;
      if (v instanceof tf.Variable) out.set(p, v);
      else walk(v, p);
    }
  };
  walk(params, "");
  return out;
}

/**
 * A stand-in model: global average pooling of the six maps → linear → embedding e (D = 8) →
 * linear head → primary l; anchors give t_g as in eqs. 13–15 and L_final is their mean. Losses
 * follow eqs. 20–22 in spirit. A non-trainable `stats/count` leaf mimics batch-norm state.
 */
export const TOY_MODEL: ModelFns = {
  initGrefel(cfg: ModelConfig, seed: number): ParamTree {
    const rand = mulberry32(seed);
    const n = counter++;
    const v = (path: string, shape: number[], scale = 0.3, trainable = true) =>
      tf.tidy(() =>
        tf.variable(
          tf.tensor(
            Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () =>
              (rand() - 0.5) * scale),
            shape,
          ),
          trainable,
          `${path}#toy${n}`,
        )
      );
    const D = 8, C = cfg.classes, K = Math.max(1, cfg.rb.anchorsPerClass);
    return {
      embed: { w: v("embed/w", [18, D]), b: v("embed/b", [D], 0) },
      head: { w: v("head/w", [D, C]), b: v("head/b", [C], 0) },
      rb: { anchors: v("rb/anchors", [C, K, D], 1) },
      stats: { count: v("stats/count", [1], 0, false) },
    };
  },
  grefelForward(params, inputs, cfg, opts): GrefelOutputs {
    // Not tidied: callers run it inside tf.tidy / tf.variableGrads.
    {
      const p = params as Record<string, Record<string, tf.Variable>>;
      const pooled = [...inputs.landmark, ...inputs.image].map((m) => tf.mean(m, [1, 2]));
      let x = tf.concat(pooled, 1) as tf.Tensor2D; // [B, 18]
      if (opts.training) x = tf.dropout(x, 0.1, undefined, opts.seed) as tf.Tensor2D;
      const e = tf.tanh(tf.add(tf.matMul(x, p.embed.w), p.embed.b)) as tf.Tensor2D; // [B, D]
      const primary = tf.softmax(tf.add(tf.matMul(e, p.head.w), p.head.b)) as tf.Tensor2D;
      let geometric: tf.Tensor2D | null = null;
      let final = primary;
      if (cfg.rb.anchors && cfg.rb.anchorsPerClass > 0) {
        const a = p.rb.anchors; // [C, K, D]
        const [C, K, D] = a.shape;
        const d = tf.sqrt(tf.add(
          tf.sum(
            tf.square(tf.sub(
              e.reshape([-1, 1, D]), // [B, 1, D]
              a.reshape([1, C * K, D]), // [1, CK, D]
            )),
            2,
          ),
          1e-9,
        )); // [B, CK]
        const s = tf.softmax(tf.neg(d)); // [B, CK]
        geometric = tf.sum(s.reshape([-1, C, K]), 2) as tf.Tensor2D; // [B, C]
        final = tf.div(tf.add(primary, geometric), 2) as tf.Tensor2D;
      }
      if (opts.training) {
        const stats = p.stats.count;
        stats.assign(tf.add(stats, 1));
      }
      return {
        embedding: e,
        primary,
        geometric,
        attentive: null,
        correction: geometric,
        final,
      };
    }
  },
  grefelLoss(params, out, target, cfg) {
    return tf.tidy(() => {
      const p = params as Record<string, Record<string, tf.Variable>>;
      const cls = tf.neg(
        tf.mean(tf.sum(tf.mul(target, tf.log(tf.clipByValue(out.final, 1e-7, 1))), 1)),
      ) as tf.Scalar;
      const on = cfg.rb.anchors && cfg.rb.anchorsPerClass > 0;
      const zero = tf.scalar(0);
      const anchor = on
        ? tf.neg(tf.mul(tf.mean(tf.square(p.rb.anchors)), 0.01)) as tf.Scalar
        : zero;
      const center = on
        ? tf.mean(
          tf.square(tf.sub(out.embedding, tf.matMul(target, tf.mean(p.rb.anchors, 1)))),
        ) as tf.Scalar
        : zero.clone();
      const l = cfg.loss;
      const total = tf.addN([
        tf.mul(cls, l.cls),
        tf.mul(anchor, l.anchor),
        tf.mul(center, l.center),
      ]) as tf.Scalar;
      return { total, cls, anchor, center, aux: tf.scalar(0), trust: 1 };
    });
  },
  smoothLabels(labels, classes, s) {
    return tf.tidy(() => {
      const eps = s / 100;
      const oh = tf.oneHot(tf.tensor1d(labels, "int32"), classes).toFloat();
      return tf.add(tf.mul(oh, 1 - eps), eps / classes) as tf.Tensor2D;
    });
  },
  flattenParams: flatten,
  trainableVariables: (params) => [...flatten(params).values()].filter((v) => v.trainable),
  assignParams(params, named) {
    const leaves = flatten(params);
    const missing = [...leaves.keys()].filter((k) => !named.has(k));
    if (missing.length) throw new Error(`missing weights: ${missing.join(", ")}`);
    for (const [k, v] of leaves) tf.tidy(() => v.assign(tf.tensor(named.get(k)!, v.shape)));
  },
  disposeParams(params) {
    for (const v of flatten(params).values()) v.dispose();
  },
  initAnchorsFromEmbeddings(params, embeddings, labels, cfg) {
    const p = params as Record<string, Record<string, tf.Variable>>;
    const a = p.rb.anchors;
    const [C, K] = a.shape;
    tf.tidy(() => {
      const oh = tf.oneHot(tf.tensor1d(labels, "int32"), cfg.classes).toFloat(); // [N, C]
      const means = tf.div(
        tf.matMul(oh, embeddings, true),
        tf.add(tf.sum(oh, 0).expandDims(1), 1e-6),
      ); // [C, D]
      a.assign(tf.tile(means.expandDims(1), [1, K, 1]) as tf.Tensor3D);
    });
    return { classes: C };
  },
  anchorsOn: (cfg) => cfg.rb.anchors && cfg.rb.anchorsPerClass > 0,
};

/** A synthetic feature split: `n` samples, labels cycling over `classes`, maps shifted by class. */
export function toySplit(n: number, classes: number, seed: number, prefix: string): FeatureSplit {
  const rand = mulberry32(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const maps = TOY_SHAPE.map(([s, c]) =>
    Array.from(
      { length: n },
      (_, i) =>
        Float32Array.from({ length: s * s * c }, (_, j) =>
          (rand() - 0.5) + (j % c === labels[i] % c ? labels[i] * 0.6 : 0)),
    )
  );
  const read = (indices: number[], view: number | number[] = 0) => {
    const make = (k: number) => {
      const [s, c] = TOY_SHAPE[k];
      const buf = new Float32Array(indices.length * s * s * c);
      indices.forEach((i, r) => buf.set(maps[k][i], r * s * s * c));
      indices.forEach((_, r) => {
        const v = Array.isArray(view) ? view[r] : view;
        for (let j = r * s * s * c; j < (r + 1) * s * s * c; j++) buf[j] += 0.01 * v;
      });
      return tf.tensor4d(buf, [indices.length, s, s, c]);
    };
    const l = [make(0), make(1), make(2)] as GrefelInputs["landmark"];
    const im = [make(0), make(1), make(2)] as GrefelInputs["image"];
    return { landmark: l, image: im };
  };
  return {
    ids: Array.from({ length: n }, (_, i) => `${prefix}${i}`),
    labels,
    views: 2,
    readBatch: read,
  };
}

/** Synthetic train/val/test data for trainer tests. */
export function toyData(
  classes = 3,
  sizes = { train: 48, val: 12, test: 12 },
  seed = 1,
): TrainData {
  const train = toySplit(sizes.train, classes, seed, "train/");
  const val = toySplit(sizes.val, classes, seed + 1, "val/");
  const test = toySplit(sizes.test, classes, seed + 2, "test/");
  const all = [
    ...train.ids.map((id, i) => ({ id, split: "train", label: train.labels[i] })),
    ...val.ids.map((id, i) => ({ id, split: "val", label: val.labels[i] })),
    ...test.ids.map((id, i) => ({ id, split: "test", label: test.labels[i] })),
  ];
  return {
    name: "toy",
    classNames: Array.from({ length: classes }, (_, i) => `class${i}`),
    fingerprint: datasetFingerprint(all),
    train,
    val,
    test,
  };
}

/**
 * Trains `config` with a crash (a thrown error) at the end of epoch `epoch`, after its checkpoint
 * is written, and checks that the run failed with it: what an interrupted run leaves behind.
 */
export async function trainUntilCrash(
  config: GrefelConfig,
  data: TrainData,
  opts: TrainOptions,
  epoch: number,
): Promise<void> {
  await assert.rejects(() =>
    trainRun(config, data, {
      ...opts,
      hooks: {
        onEpochEnd: (e) => {
          if (e.epoch === epoch) throw new Error("simulated crash");
        },
      },
    }), /simulated crash/);
}

export { randomFeatureData, randomFeatureSplit } from "./random_features.ts";
