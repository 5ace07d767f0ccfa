/**
 * Partial fine-tuning (`model.finetune`): a trainable copy of an extractor's last block inside the
 * model, initialised from the extractor's pretrained weights. The feature cache then holds the
 * block's *input* (the frozen part of the extractor runs once, at cache build), and every step
 * runs the block forward and backward on it.
 *
 * `landmark-dense3` is face-api.js's `denseBlock4` named `dense3` (the landmark trunk's last
 * block; lib/extractors/face_landmark68.ts `denseBlock4`): four depthwise-separable 3×3
 * convolutions with dense connections, the first with stride 2,
 *
 *     o1 = relu(sep0(x)), o2 = sep1(o1), o3 = sep2(relu(o1 + o2)), o4 = sep3(relu(o1 + o2 + o3)),
 *     y = relu(o1 + o2 + o3 + o4),
 *
 * where sep(x) = pointwise(depthwise(x)) + bias, 'same' padding. Weights live at
 * `finetune/dense3/conv{0..3}/{depthwise_filter, pointwise_filter, bias}`, the names of face-api's
 * weight file, so {@linkcode loadFinetuneWeights} copies them one to one.
 *
 * The pointwise convolution is a matrix product over the B·H·W positions (the same sums as a 1×1
 * `conv2d`), and the depthwise convolution is `tf.depthwiseConv2d`, whose filter gradient on wasm
 * comes from lib/wasm_conv_grad.ts.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor4D } from "../tensor.ts";
import type { ParamTree } from "./types.ts";
import { FINETUNE_GEOMETRY, type ModelBase } from "./config.ts";
import { convOut } from "./layers.ts";
import { flattenParams, leaf, type Plan, sub } from "./params.ts";

/** Root of the fine-tuned blocks in the weight tree. */
export const FINETUNE_ROOT = "finetune";

/** Name of face-api.js's last landmark-trunk block (its weight-file prefix). */
const DENSE3 = "dense3";

/** Declares the fine-tuned block's weights and multiply-accumulates (nothing for `none`). */
export function planFinetune(plan: Plan, cfg: ModelBase): void {
  const g = FINETUNE_GEOMETRY[cfg.finetune];
  if (!g) return;
  plan.group = "finetune";
  let side = cfg.landmarkShape[g.scale][0];
  let inCh = g.inChannels;
  for (let j = 0; j < 4; j++) {
    const p = `${FINETUNE_ROOT}/${DENSE3}/conv${j}`;
    const stride = j === 0 ? g.stride : 1;
    const out = g.outChannels;
    // Placeholders until loadFinetuneWeights copies the pretrained values (PyTorch-style bounds).
    plan.param(`${p}/depthwise_filter`, [3, 3, inCh, 1], { kind: "uniform", bound: 1 / 3 });
    plan.param(`${p}/pointwise_filter`, [1, 1, inCh, out], {
      kind: "uniform",
      bound: 1 / Math.sqrt(inCh),
    });
    plan.param(`${p}/bias`, [out], { kind: "zeros" });
    side = convOut(side, stride);
    plan.mac(`${p}/depthwise`, side * side * 9 * inCh);
    plan.mac(`${p}/pointwise`, side * side * inCh * out);
    inCh = out;
  }
}

/** One depthwise-separable convolution with bias, 'same' padding (face-api's `sepConv`). */
function sepConv(p: ParamTree, x: Tensor4D, stride: 1 | 2): Tensor4D {
  const dw = tf.depthwiseConv2d(x, leaf(p, "depthwise_filter") as tf.Tensor4D, stride, "same");
  const [b, h, w, c] = dw.shape;
  const pw = leaf(p, "pointwise_filter");
  const out = pw.shape[3]!;
  const y = tf.matMul(dw.reshape([b * h * w, c]), pw.reshape([c, out]) as tf.Tensor2D); // [BHW, out]
  return tf.add(y, leaf(p, "bias")).reshape([b, h, w, out]) as Tensor4D;
}

/**
 * Runs the fine-tuned block on its input map (`[B, 14, 14, 128]` → `[B, 7, 7, 256]` for
 * `landmark-dense3`). Call inside `tf.tidy` (or `variableGrads`).
 */
export function finetuneForward(params: ParamTree, x: Tensor4D, cfg: ModelBase): Tensor4D {
  const g = FINETUNE_GEOMETRY[cfg.finetune];
  if (!g) throw new Error(`model.finetune is "none": there is no block to run`);
  const p = sub(sub(params, FINETUNE_ROOT), DENSE3);
  const o1 = tf.relu(sepConv(sub(p, "conv0"), x, g.stride as 1 | 2)) as Tensor4D;
  const o2 = sepConv(sub(p, "conv1"), o1, 1);
  const o3 = sepConv(sub(p, "conv2"), tf.relu(tf.add(o1, o2)) as Tensor4D, 1);
  const o4 = sepConv(sub(p, "conv3"), tf.relu(tf.add(tf.add(o1, o2), o3)) as Tensor4D, 1);
  return tf.relu(tf.add(tf.add(tf.add(o1, o2), o3), o4)) as Tensor4D;
}

/**
 * The pretrained weights of the fine-tuned block, by tree path (`finetune/dense3/conv0/bias`…),
 * read from the installed npm package; `{}` for `none`.
 */
export async function pretrainedFinetuneWeights(
  cfg: ModelBase,
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  if (cfg.finetune === "none") return out;
  const { loadWeightMap, npmFile } = await import("../extractors/weights.ts");
  const w = await loadWeightMap(
    await npmFile("@vladmandic/face-api", "model/face_landmark_68_model-weights_manifest.json"),
  );
  try {
    for (const [name, t] of Object.entries(w)) {
      if (name.startsWith(`${DENSE3}/`)) {
        out.set(`${FINETUNE_ROOT}/${name}`, (await t.data()) as Float32Array);
      }
    }
  } finally {
    tf.dispose(Object.values(w));
  }
  return out;
}

/**
 * Copies the pretrained weights into the model's fine-tuned block (a fresh run's start; a resumed
 * run reads them from its checkpoint). No-op for `none`.
 * @throws Error when the weight file lacks a block weight or a shape differs.
 */
export async function loadFinetuneWeights(params: ParamTree, cfg: ModelBase): Promise<void> {
  if (cfg.finetune === "none") return;
  const values = await pretrainedFinetuneWeights(cfg);
  const leaves = [...flattenParams(params)].filter(([p]) => p.startsWith(`${FINETUNE_ROOT}/`));
  for (const [path, v] of leaves) {
    const data = values.get(path);
    if (!data) throw new Error(`pretrained weights of "${cfg.finetune}" lack ${path}`);
    if (data.length !== v.size) {
      throw new Error(`pretrained ${path} has ${data.length} values, the model's [${v.shape}]`);
    }
    tf.tidy(() => v.assign(tf.tensor(data, v.shape, "float32")));
  }
}
