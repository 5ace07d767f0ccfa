/**
 * The trainable GReFEL model: window-based cross-attention between the landmark (query) and image
 * (key/value) streams at three scales (eqs. 1–5), per-scale embedding to tokens, multi-scale ViT
 * fusion (eqs. 6–8) giving the embedding e, the MLP head (eq. 9) and reliability balancing
 * (eqs. 10–19). Pure functions on a named weight tree.
 *
 * Parameter paths (see {@linkcode planGrefel}):
 * - `cross/s{i}/{lmConv?, imgConv?, lmNorm, imgNorm, wq, wk, wv, wo, relBias, mlpNorm, mlp}`
 * - `embed/s{i}/conv{j}` (3×3 stride-2 convs down to the token grid; one 1×1 conv if none)
 * - `fusion/{clsToken, posEmbed, block{j}/{norm1, attn, norm2, mlp}, norm, se?}`
 * - `head/{fc{j}, bn{j}, out}`; `rb/anchors` `[C, K, D]`; `rb/{attention, out}`
 * - `finetune/dense3/conv{j}/…` when `model.finetune` is on (lib/model/finetune.ts)
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor2D, Tensor3D, Tensor4D } from "../tensor.ts";
import type { GrefelInputs, GrefelOutputs, ParamTree } from "./types.ts";
import {
  anchorsOn,
  FINETUNE_GEOMETRY,
  landmarkStreamShape,
  type ModelConfig,
  rbOn,
  rbTrainingSwitches,
  scaleGeometry,
  tokenSide,
} from "./config.ts";
import {
  batchNorm,
  conv2dMatmul,
  convOut,
  dropout,
  keyLinear,
  layerNorm,
  linear,
  mlp,
  multiHeadAttention,
  planBatchNorm,
  planConv,
  planLayerNorm,
  planLinear,
  planMlp,
  planRelativePositionBias,
  planSelfAttention,
  relativePositionBias,
  selfAttention,
  windowPartition,
  windowReverse,
} from "./layers.ts";
import { buildParams, leaf, normalSampler, Plan, streamRng, sub } from "./params.ts";
import { finetuneForward, planFinetune } from "./finetune.ts";
import {
  anchorDistances,
  attentiveCorrection,
  confidenceMix,
  geometricCorrection,
  planAttentiveCorrection,
} from "./reliability.ts";

/** Breakdown groups of the plan. */
export const GROUPS = [
  "crossAttention",
  "embed",
  "fusion",
  "head",
  "rb.anchors",
  "rb.attentive",
  "finetune",
] as const;

/** Declares every parameter and multiply-accumulate of the trainable model for `cfg`. */
export function planGrefel(cfg: ModelConfig): Plan {
  const plan = new Plan();
  const geo = scaleGeometry(cfg);
  const d = cfg.embedDim;
  const ts = tokenSide(cfg);
  planFinetune(plan, cfg);
  for (let i = 0; i < 3; i++) {
    const g = geo[i];
    const p = `cross/s${i}`;
    const n = g.side * g.side; // tokens per image at this scale
    const m = g.window * g.window; // tokens per window
    plan.group = "crossAttention";
    const lc = cfg.landmarkConv[i];
    if (lc) {
      planConv(
        plan,
        `${p}/lmConv`,
        landmarkStreamShape(cfg, i)[0],
        landmarkStreamShape(cfg, i)[1],
        lc.channels,
        lc.kernel,
        lc.stride,
      );
    }
    const ic = cfg.imageConv[i];
    if (ic) {
      planConv(
        plan,
        `${p}/imgConv`,
        cfg.imageShape[i][0],
        cfg.imageShape[i][1],
        ic.channels,
        ic.kernel,
        ic.stride,
      );
    }
    planLayerNorm(plan, `${p}/lmNorm`, g.landmarkChannels);
    planLayerNorm(plan, `${p}/imgNorm`, g.imageChannels);
    planLinear(plan, `${p}/wq`, g.landmarkChannels, g.attnDim, n);
    planLinear(plan, `${p}/wk`, g.imageChannels, g.attnDim, n);
    planLinear(plan, `${p}/wv`, g.imageChannels, g.attnDim, n);
    plan.mac(`${p}/qk`, n * m * g.attnDim, true);
    plan.mac(`${p}/av`, n * m * g.attnDim, true);
    planRelativePositionBias(plan, `${p}/relBias`, g.window, g.heads);
    planLinear(plan, `${p}/wo`, g.attnDim, g.imageChannels, n);
    planLayerNorm(plan, `${p}/mlpNorm`, g.imageChannels);
    planMlp(
      plan,
      `${p}/mlp`,
      g.imageChannels,
      Math.round(g.imageChannels * cfg.crossAttention.mlpRatio),
      n,
    );
    plan.group = "embed";
    let side = g.side;
    let ch = g.imageChannels;
    const convs = Math.max(g.embedDownsamples, 1);
    for (let j = 0; j < convs; j++) {
      const stride = g.embedDownsamples === 0 ? 1 : 2;
      planConv(plan, `embed/s${i}/conv${j}`, side, ch, d, stride === 1 ? 1 : 3, stride);
      side = convOut(side, stride);
      ch = d;
    }
    if (side !== ts) throw new Error(`internal: scale ${i} embeds to ${side}, not ${ts}`);
  }
  plan.group = "fusion";
  const seq = 3 * cfg.tokens + 1;
  plan.param("fusion/clsToken", [1, d], { kind: "trunc", std: 0.02 });
  plan.param("fusion/posEmbed", [seq, d], { kind: "trunc", std: 0.02 });
  for (let j = 0; j < cfg.fusion.depth; j++) {
    const p = `fusion/block${j}`;
    planLayerNorm(plan, `${p}/norm1`, d);
    planSelfAttention(plan, `${p}/attn`, d, seq, seq);
    planLayerNorm(plan, `${p}/norm2`, d);
    planMlp(plan, `${p}/mlp`, d, Math.round(d * cfg.fusion.mlpRatio), seq);
  }
  planLayerNorm(plan, "fusion/norm", d);
  if (cfg.fusion.seBlock) {
    planLinear(plan, "fusion/se/fc1", d, d, 1);
    planLinear(plan, "fusion/se/fc2", d, d, 1);
  }
  plan.group = "head";
  let w = d;
  cfg.head.hidden.forEach((h, j) => {
    planLinear(plan, `head/fc${j}`, w, h, 1, "torch");
    planBatchNorm(plan, `head/bn${j}`, h);
    w = h;
  });
  planLinear(plan, "head/out", w, cfg.classes, 1, "torch");
  if (anchorsOn(cfg)) {
    plan.group = "rb.anchors";
    // Seeded N(0, 1): the scale of the LayerNorm-ed embedding. `class-means` overwrites it.
    plan.param("rb/anchors", [cfg.classes, cfg.rb.anchorsPerClass, d], { kind: "normal", std: 1 });
    plan.mac("rb/anchorDistances", cfg.classes * cfg.rb.anchorsPerClass * d);
  }
  if (cfg.rb.attentive) {
    plan.group = "rb.attentive";
    planAttentiveCorrection(plan, d, cfg.rb.attentionTokens, cfg.classes);
  }
  return plan;
}

/**
 * Creates the weights of a model for `cfg`, seeded. Anchors start seeded-random; with
 * `rb.anchorInit = "class-means"` the trainer then calls {@linkcode initAnchorsFromEmbeddings}.
 */
export function initGrefel(cfg: ModelConfig, seed: number): ParamTree {
  return buildParams(planGrefel(cfg), seed);
}

/** Options of {@linkcode grefelForward}. */
export interface ForwardOptions {
  /** Training mode: dropout on, batch norm uses (and updates) batch statistics. */
  training: boolean;
  /** Seed of the dropout masks (vary it per step); unseeded when absent. */
  seed?: number;
  /** Update the batch-norm running statistics in training mode (default true). */
  updateStats?: boolean;
}

function checkInputs(inputs: GrefelInputs, cfg: ModelConfig): number {
  const b = inputs.landmark[0]?.shape[0];
  for (const stream of ["landmark", "image"] as const) {
    const shapes = stream === "landmark" ? cfg.landmarkShape : cfg.imageShape;
    const maps = inputs[stream];
    if (!maps || maps.length !== 3) throw new Error(`model input: ${stream} needs 3 maps`);
    maps.forEach((t, i) => {
      const [side, ch] = shapes[i];
      const s = t.shape;
      if (s.length !== 4 || s[0] !== b || s[1] !== side || s[2] !== side || s[3] !== ch) {
        throw new Error(
          `model input: ${stream}[${i}] has shape [${s}], expected [${b}, ${side}, ${side}, ${ch}] ` +
            `(model.${stream}Shape)`,
        );
      }
    });
  }
  return b;
}

/**
 * Embedding e `[B, D]` (eqs. 1–8): per scale, optional input convs, LayerNorm of both streams,
 * window cross-attention with relative-position bias (eqs. 1–3), residual onto the image stream
 * (eq. 4), MLP (eq. 5), embedding to `tokens` tokens; then the fusion ViT over
 * [cls, tokens₁, tokens₂, tokens₃] + position embedding (eqs. 6–8) and e = Norm(cls) (times the
 * squeeze-excitation gate when `fusion.seBlock`).
 */
export function grefelEmbedding(
  params: ParamTree,
  inputs: GrefelInputs,
  cfg: ModelConfig,
): Tensor2D {
  const b = checkInputs(inputs, cfg);
  const geo = scaleGeometry(cfg);
  const d = cfg.embedDim;
  const cross = sub(params, "cross");
  const embed = sub(params, "embed");
  const scaleTokens: Tensor3D[] = [];
  for (let i = 0; i < 3; i++) {
    const g = geo[i];
    const p = sub(cross, `s${i}`);
    const lc = cfg.landmarkConv[i];
    const ic = cfg.imageConv[i];
    const lm = FINETUNE_GEOMETRY[cfg.finetune]?.scale === i
      ? finetuneForward(params, inputs.landmark[i], cfg) // the fine-tuned extractor block
      : inputs.landmark[i];
    const xl = lc ? conv2dMatmul(sub(p, "lmConv"), lm, lc.stride) : lm;
    const xi = ic ? conv2dMatmul(sub(p, "imgConv"), inputs.image[i], ic.stride) : inputs.image[i];
    const zl = windowPartition(layerNorm(sub(p, "lmNorm"), xl), g.window); // [B·nW, M, c_lm]
    const zi = windowPartition(layerNorm(sub(p, "imgNorm"), xi), g.window); // [B·nW, M, c_img]
    const q = linear(sub(p, "wq"), zl); // eq. 1
    const k = keyLinear(sub(p, "wk"), zi); // b_k gets an exact zero gradient (see keyLinear)
    const v = linear(sub(p, "wv"), zi);
    const bias = relativePositionBias(leaf(p, "relBias") as Tensor2D, g.window); // [I, M, M]
    const o = linear(sub(p, "wo"), multiHeadAttention(q, k, v, g.heads, bias)); // eqs. 2–3
    const x1 = tf.add(windowReverse(o, g.window, g.side), xi) as Tensor4D; // eq. 4
    const xo = tf.add(mlp(sub(p, "mlp"), layerNorm(sub(p, "mlpNorm"), x1)), x1) as Tensor4D; // eq. 5
    let t = xo;
    const e = sub(embed, `s${i}`);
    const convs = Math.max(g.embedDownsamples, 1);
    for (let j = 0; j < convs; j++) {
      t = conv2dMatmul(sub(e, `conv${j}`), t, g.embedDownsamples === 0 ? 1 : 2);
    }
    scaleTokens.push(t.reshape([b, cfg.tokens, d])); // [B, tokens, D]
  }
  const fusion = sub(params, "fusion");
  const cls = tf.add(tf.zeros([b, 1, d]), leaf(fusion, "clsToken").reshape([1, 1, d])); // [B, 1, D]
  let x = tf.add(tf.concat([cls, ...scaleTokens], 1), leaf(fusion, "posEmbed")) as Tensor3D; // eq. 6
  for (let j = 0; j < cfg.fusion.depth; j++) {
    const blk = sub(fusion, `block${j}`);
    x = tf.add(
      x,
      selfAttention(sub(blk, "attn"), layerNorm(sub(blk, "norm1"), x), cfg.fusion.heads),
    ); // eq. 7
    x = tf.add(x, mlp(sub(blk, "mlp"), layerNorm(sub(blk, "norm2"), x))); // eq. 8
  }
  const cls1 = layerNorm(
    sub(fusion, "norm"),
    x.slice([0, 0, 0], [b, 1, d]).reshape([b, d]) as Tensor2D,
  );
  if (!cfg.fusion.seBlock) return cls1;
  const se = sub(fusion, "se");
  const gate = tf.sigmoid(linear(sub(se, "fc2"), tf.relu(linear(sub(se, "fc1"), cls1))));
  return tf.mul(cls1, gate); // POSTER++'s se_block
}

/**
 * Primary distribution l = softmax(f(e)) (eq. 9); f = [Linear → ReLU → Dropout → BatchNorm] per
 * hidden layer (`head.order = "dropout-bn"`, the paper) or [Linear → ReLU → BatchNorm → Dropout]
 * (`"bn-dropout"`, ARBEx), then Linear.
 */
export function grefelHead(
  params: ParamTree,
  e: Tensor2D,
  cfg: ModelConfig,
  opts: ForwardOptions,
): Tensor2D {
  const head = sub(params, "head");
  let h = e;
  cfg.head.hidden.forEach((_, j) => {
    h = tf.relu(linear(sub(head, `fc${j}`), h));
    const drop = (x: Tensor2D) =>
      dropout(
        x,
        cfg.head.dropout,
        opts.training,
        opts.seed === undefined ? undefined : opts.seed * 7919 + j,
      );
    const norm = (x: Tensor2D) =>
      batchNorm(
        sub(head, `bn${j}`),
        x,
        opts.training,
        cfg.head.bnMomentum,
        cfg.head.bnEpsilon,
        opts.updateStats ?? true,
      );
    h = cfg.head.order === "dropout-bn" ? norm(drop(h)) : drop(norm(h));
  });
  return tf.softmax(linear(sub(head, "out"), h));
}

/**
 * The forward pass: embedding, primary distribution, and the reliability-balancing corrections
 * t_g (eq. 15), t_a (eq. 17), t (eq. 18) and L_final (eq. 19). Synchronous; wrap in `tf.tidy`.
 * With only one correction on, t is that correction; with none, L_final = l.
 * In training mode the head's batch norms update their running statistics (see `batchNorm`).
 */
export function grefelForward(
  params: ParamTree,
  inputs: GrefelInputs,
  cfg: ModelConfig,
  opts: ForwardOptions,
): GrefelOutputs {
  return grefelFromEmbedding(params, grefelEmbedding(params, inputs, cfg), cfg, opts);
}

/**
 * Everything after the embedding e `[B, D]`: the primary distribution l (eq. 9) and reliability
 * balancing (eqs. 10–19). {@linkcode grefelForward} is `grefelFromEmbedding(grefelEmbedding(…))`;
 * on its own it trains the head and RB on given embeddings (controlled experiments).
 * Synchronous; wrap in `tf.tidy`.
 */
export function grefelFromEmbedding(
  params: ParamTree,
  embedding: Tensor2D,
  cfg: ModelConfig,
  opts: ForwardOptions,
): GrefelOutputs {
  const primary = grefelHead(params, embedding, cfg, opts);
  const eps = cfg.rb.entropyEpsilon;
  let geometric: Tensor2D | null = null;
  let attentive: Tensor2D | null = null;
  if (anchorsOn(cfg)) {
    const anchors = leaf(sub(params, "rb"), "anchors") as Tensor3D;
    geometric = geometricCorrection(anchorDistances(embedding, anchors), cfg.rb.delta);
  }
  if (cfg.rb.attentive) {
    attentive = attentiveCorrection(
      sub(params, "rb"),
      embedding,
      cfg.rb.attentionTokens,
      cfg.rb.attentionHeads,
    );
  }
  // `detach-confidence`: the mixing weights of eqs. 18–19 carry no gradient.
  const detach = rbTrainingSwitches(cfg.rb.training).has("detach-confidence");
  let correction: Tensor2D | null = null;
  if (geometric && attentive) correction = confidenceMix(geometric, attentive, eps, detach);
  else correction = geometric ?? attentive;
  const final = correction && rbOn(cfg) ? confidenceMix(primary, correction, eps, detach) : primary;
  return { embedding, primary, geometric, attentive, correction, final };
}

/** What {@linkcode initAnchorsFromEmbeddings} did, to record in the run. */
export interface AnchorInitReport {
  /** `class-means`. */
  method: "class-means";
  /** Samples seen per class. */
  counts: number[];
  /** Classes without samples (their anchors stay as they were). */
  missing: number[];
  /** Noise standard deviation used. */
  noise: number;
  /** Seed of the noise. */
  seed: number;
}

/**
 * Decision (SPEC §4): sets anchor a_ij = mean of the embeddings of class i + N(0, noise²) noise
 * (seeded), so the K anchors of a class start near that class and apart from each other (and L_a
 * has a gradient at step 0, unlike ARBEx's zeros). Classes absent from `labels` keep their anchors.
 * @throws Error if the model has no anchors or the sizes disagree.
 */
export async function initAnchorsFromEmbeddings(
  params: ParamTree,
  embeddings: Tensor2D | Float32Array,
  labels: Int32Array | number[],
  seed: number,
  noise = 0.1,
): Promise<AnchorInitReport> {
  const rb = params.rb;
  const anchors = rb && !(rb instanceof tf.Variable) ? rb.anchors : undefined;
  if (!(anchors instanceof tf.Variable)) {
    throw new Error("initAnchorsFromEmbeddings: model has no anchors");
  }
  const [c, k, d] = anchors.shape;
  const e = embeddings instanceof Float32Array
    ? embeddings
    : (await embeddings.data()) as Float32Array;
  const n = labels.length;
  if (e.length !== n * d) {
    throw new Error(
      `initAnchorsFromEmbeddings: ${e.length / d} embeddings of width ${d} for ${n} labels`,
    );
  }
  const sums = new Float64Array(c * d);
  const counts = new Array<number>(c).fill(0);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= c) {
      throw new Error(`initAnchorsFromEmbeddings: label ${y} at ${i} not in 0..${c - 1}`);
    }
    counts[y]++;
    for (let j = 0; j < d; j++) sums[y * d + j] += e[i * d + j];
  }
  const current = (await anchors.data()) as Float32Array;
  const out = new Float32Array(current);
  const normal = normalSampler(streamRng(seed, "rb/anchors/class-means"));
  for (let ci = 0; ci < c; ci++) {
    if (counts[ci] === 0) continue;
    for (let a = 0; a < k; a++) {
      for (let j = 0; j < d; j++) {
        out[(ci * k + a) * d + j] = sums[ci * d + j] / counts[ci] + noise * normal();
      }
    }
  }
  tf.tidy(() => anchors.assign(tf.tensor3d(out, [c, k, d])));
  const missing = counts.flatMap((x, i) => (x === 0 ? [i] : []));
  return { method: "class-means", counts, missing, noise, seed };
}

/**
 * {@linkcode grefelForward} inside `tf.tidy`: only the returned tensors survive (the caller
 * disposes them). `GrefelOutputs` holds nulls, which `tf.tidy`'s types do not admit; at run time
 * tidy skips them.
 */
export function tidyForward(
  params: ParamTree,
  inputs: GrefelInputs,
  cfg: ModelConfig,
  opts: ForwardOptions,
): GrefelOutputs {
  return tf.tidy(() =>
    grefelForward(params, inputs, cfg, opts) as unknown as tf.TensorContainer
  ) as unknown as GrefelOutputs;
}
