/**
 * Configuration section `model`: the window-based cross-attention ViT (paper §3.1, eqs. 1–8), the
 * MLP head (eq. 9), reliability balancing (`rb`, eqs. 10–19) and the losses (`loss`, eqs. 20–23).
 *
 * Every field has a documented default. The defaults describe the `compact` model; the `paper`
 * and `tiny` presets in `lib/config.ts` override them. Cross-field constraints (shapes that must
 * agree between the two streams, widths divisible by head counts, ...) are checked in
 * {@linkcode modelConfigSchema}'s refinement and reported naming the key (`model.embedDim: ...`).
 *
 * @module
 */
import { z } from "zod";
import type { StreamShape } from "../extractors/types.ts";
import type { Assert, Equals } from "../type_check.ts";

/** `[side, channels]` of one feature map. */
const mapShape = z.tuple([z.number().int().min(1), z.number().int().min(1)]);

/** Shapes of the three maps of one stream, finest first. */
const streamShape = z.tuple([mapShape, mapShape, mapShape]);

/**
 * An optional input convolution applied to one map of one stream before cross-attention (paper:
 * landmark 7×7×512 → 256 by a 3×3 conv; image 56/28/14 maps → 28/14/7 by 3×3 stride-2 convs).
 * "Same" padding (`(kernel-1)/2`), with bias. `null` = no convolution.
 */
export const inputConvSchema = z.strictObject({
  /** Output channels. */
  channels: z.number().int().min(1),
  /** Kernel side: 1 (a per-token linear map) or 3. */
  kernel: z.union([z.literal(1), z.literal(3)]).default(3),
  /** Stride: 1 or 2 (2 halves the side, rounding up). */
  stride: z.union([z.literal(1), z.literal(2)]).default(1),
});

/** One optional input convolution per scale. */
const streamConvs = z.tuple([
  inputConvSchema.nullable(),
  inputConvSchema.nullable(),
  inputConvSchema.nullable(),
]);

/** Schema of the window-based cross-attention (eqs. 1–5), one block per scale. */
export const crossAttentionSchema = z.strictObject({
  /** Heads I per scale, finest first (POSTER++ and `paper`: 2, 4, 8). */
  heads: z.tuple([
    z.number().int().min(1),
    z.number().int().min(1),
    z.number().int().min(1),
  ]).default([1, 2, 4]),
  /** Width of one head d (POSTER++: 32, so the attention widths are 64/128/256). */
  headDim: z.number().int().min(1).default(32),
  /**
   * Window side per scale; `null` = one window covering the whole map (POSTER++). A window side
   * must divide the map's side. Windows split both streams identically.
   */
  windowSize: z.tuple([
    z.number().int().min(1).nullable(),
    z.number().int().min(1).nullable(),
    z.number().int().min(1).nullable(),
  ]).default([7, 7, null]),
  /** Hidden width of the feed-forward MLP of eq. 5 as a multiple of the image width (POSTER++: 4). */
  mlpRatio: z.number().positive().default(2),
});

/** Schema of the multi-scale ViT fusion (eqs. 6–8). */
export const fusionSchema = z.strictObject({
  /** Transformer blocks (paper: 2). */
  depth: z.number().int().min(1).default(1),
  /** Self-attention heads; must divide `embedDim` (paper: 8). */
  heads: z.number().int().min(1).default(4),
  /** MLP hidden width as a multiple of `embedDim` (paper: 4, i.e. 3072 for D = 768). */
  mlpRatio: z.number().positive().default(2),
  /**
   * Squeeze-excitation gate on the class token, e = x ⊙ σ(W₂ ReLU(W₁ x)) with W₁, W₂ D×D: POSTER++'s
   * ViT applies it before its head (`se_block`); the GReFEL paper does not mention it. On in the
   * `paper` preset (it is part of the POSTER++ network whose size Table 2 reports), off by default.
   */
  seBlock: z.boolean().default(false),
});

/** Schema of the MLP classification head f (eq. 9). */
export const headSchema = z.strictObject({
  /** Hidden widths; each hidden layer is Linear → ReLU, then dropout and batch norm in `order`. */
  hidden: z.array(z.number().int().min(1)).default([64, 64]),
  /**
   * Order of dropout and batch norm after each hidden Linear → ReLU. `dropout-bn`: the paper's
   * text (eq. 9, "Linear → ReLU → Dropout → BatchNorm"); `bn-dropout`: the authors' ARBEx code
   * (`models/head.py`: Linear → ReLU → BatchNorm → Dropout), where batch norm sees the same
   * activations in training and evaluation.
   */
  order: z.enum(["dropout-bn", "bn-dropout"]).default("dropout-bn"),
  /** Dropout probability of the hidden layers (paper: 0.5). */
  dropout: z.number().min(0).lt(1).default(0.5),
  /**
   * Batch-norm momentum m: in training mode running = (1 − m)·running + m·batch statistic
   * (PyTorch convention; the running variance uses the unbiased batch variance).
   */
  bnMomentum: z.number().gt(0).max(1).default(0.1),
  /** Batch-norm ε added to the variance. */
  bnEpsilon: z.number().positive().default(1e-5),
});

/**
 * The named ways of training reliability balancing, each an independent switch (combine with `+`).
 * - `paper`: the paper's text, eq. 20: L_cls on L_final only, with differentiable confidences
 *   (eqs. 18–19). Alone; combines with nothing.
 * - `trust-ramp`: the authors' ARBEx code (`train.py`): the classification target is
 *   (1 − τ)·l + τ·L_final and λ_a, λ_c are multiplied by τ, with τ rising from 0 to 1 over
 *   `rb.trustRampEpochs` epochs.
 * - `aux-primary`: adds λ_aux·L_cls(l) (`rb.auxWeight`), so the primary head is always trained on
 *   the labels directly (deep supervision; not in the paper or ARBEx).
 * - `aux-branches`: adds λ_aux·(L_cls(l) + L_cls(t_g) + L_cls(t_a)) (the branches that are on), so
 *   every branch is itself a classifier of the labels and the confidences compare classifiers that
 *   all learn; the corrections then cannot collapse to uniform when l leads, the mirror image of
 *   the primary head being switched off (deep supervision of every branch; not in the paper or
 *   ARBEx). Includes `aux-primary`'s term, so the two do not combine.
 * - `detach-confidence`: the confidence weights of eqs. 18–19 are stop-gradient constants, so
 *   L_cls cannot lower a branch's confidence to favour another (the mixture-of-experts remedy of
 *   not back-propagating through the gate; not in the paper or ARBEx).
 */
export const RB_TRAINING_VARIANTS = [
  "paper",
  "trust-ramp",
  "aux-primary",
  "aux-branches",
  "detach-confidence",
] as const;

/** One named switch of {@linkcode RB_TRAINING_VARIANTS}. */
export type RbTrainingVariant = typeof RB_TRAINING_VARIANTS[number];

/** Why `value` is not a valid `rb.training`, or null when it is. */
export function rbTrainingProblem(value: string): string | null {
  const parts = value.split("+").map((p) => p.trim());
  const known = RB_TRAINING_VARIANTS.join(", ");
  for (const p of parts) {
    if (!(RB_TRAINING_VARIANTS as readonly string[]).includes(p)) {
      return `unknown training variant "${p}" in "${value}" (known: ${known}; combine with +)`;
    }
  }
  if (new Set(parts).size !== parts.length) return `"${value}" names a variant twice`;
  if (parts.includes("aux-primary") && parts.includes("aux-branches")) {
    return `"aux-branches" already trains l on the labels; it does not combine with "aux-primary"`;
  }
  if (parts.includes("paper") && parts.length > 1) {
    return `"paper" is the literal variant and combines with nothing (got "${value}")`;
  }
  return null;
}

/** The switches of a valid `rb.training` value (`paper` → none). */
export function rbTrainingSwitches(value: string): Set<Exclude<RbTrainingVariant, "paper">> {
  const parts = value.split("+").map((p) => p.trim()).filter((p) => p !== "paper");
  return new Set(parts as Exclude<RbTrainingVariant, "paper">[]);
}

/** Schema of reliability balancing (eqs. 10–19). */
export const rbSchema = z.strictObject({
  /** Geometric (anchor) correction t_g (eqs. 12–15). Also off when `anchorsPerClass` is 0. */
  anchors: z.boolean().default(true),
  /** Attentive correction t_a (eqs. 16–17). */
  attentive: z.boolean().default(true),
  /** Trainable anchors per class K (paper: 10; K = 0 switches the anchors off, Tables 6–7). */
  anchorsPerClass: z.number().int().min(0).default(10),
  /** Temperature δ of the anchor similarity softmax (eq. 14; paper: 1.0). */
  delta: z.number().positive().default(1.0),
  /**
   * Tokens the embedding e is split into for the per-sample self-attention of eq. 16 (each token
   * is `embedDim / attentionTokens` wide; attention never mixes samples of a batch).
   */
  attentionTokens: z.number().int().min(1).default(4),
  /** Heads of that self-attention (paper: d_Q = d_model / n_heads = 64 for D = 768 → 3 heads). */
  attentionHeads: z.number().int().min(1).default(2),
  /**
   * Anchor initialisation: `class-means` = class means of early embeddings plus noise (the
   * trainer calls `initAnchorsFromEmbeddings`; until then the anchors are seeded random), or
   * `random` = seeded N(0, 1) (the scale of the LayerNorm-ed embedding).
   */
  anchorInit: z.enum(["class-means", "random"]).default("class-means"),
  /** Standard deviation of the noise added to class means by `class-means` initialisation. */
  anchorInitNoise: z.number().min(0).default(0.1),
  /** ε inside the log of the normalised entropy (eq. 11). */
  entropyEpsilon: z.number().positive().max(1e-3).default(1e-8),
  /**
   * How reliability balancing is trained: `paper`, or one or more of `trust-ramp`, `aux-primary`,
   * `detach-confidence` joined by `+` (e.g. `aux-primary+detach-confidence`). See
   * {@linkcode RB_TRAINING_VARIANTS} for what each does and where it comes from.
   */
  training: z.string().default("paper").superRefine((v, ctx) => {
    const problem = rbTrainingProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  /**
   * λ_aux of the `aux-primary` and `aux-branches` variants: weight of the auxiliary L_cls on the
   * primary l (and, for `aux-branches`, on each correction).
   */
  auxWeight: z.number().min(0).default(1.0),
  /**
   * Epochs over which the `trust-ramp` variant's trust τ rises linearly from 0 to 1 (ARBEx:
   * τ = iteration / total iterations). Decision: a number of epochs instead of the whole run,
   * because with early stopping the run's length is not known in advance.
   */
  trustRampEpochs: z.number().positive().default(10),
});

/** Schema of the loss (eqs. 20–23). */
export const lossSchema = z.strictObject({
  /** λ_cls (eq. 23); 0 switches L_cls off. */
  cls: z.number().min(0).default(1.0),
  /** λ_a (eq. 23); 0 switches L_a off. */
  anchor: z.number().min(0).default(1.0),
  /** λ_c (eq. 23); 0 switches L_c off. */
  center: z.number().min(0).default(1.0),
  /** Label-smoothing term s of Table 8: ε = s / 100 (paper's choice: 11). */
  labelSmoothing: z.number().min(0).max(100).default(11),
  /**
   * `paper`: L_a = −mean ‖a_ij − a_kl‖²/D over pairs of different classes (unbounded below, the
   * paper's "anchor-loss dominance"); `bounded`: −mean min(‖a_ij − a_kl‖²/D, anchorMargin).
   */
  anchorLossVariant: z.enum(["paper", "bounded"]).default("paper"),
  /** Cap of the squared, D-normalised pair distance for the `bounded` variant. */
  anchorMargin: z.number().positive().default(2.0),
  /** Lower clamp of L_final inside the log of L_cls (eq. 20). */
  logClamp: z.number().positive().max(1e-2).default(1e-7),
});

/**
 * Extractor blocks that can be fine-tuned (`model.finetune`):
 *
 * - `none`: every extractor weight frozen (the feature cache holds the final maps).
 * - `landmark-dense3`: the last dense block of face-api.js's 68-point landmark trunk
 *   (`dense3`: four depthwise-separable 3×3 convolutions, the first with stride 2, 128 → 256
 *   channels; lib/extractors/face_landmark68.ts) trained with the model. The cache then holds
 *   the block's input (`dense2`'s output at 14×14×128) as the landmark stream's third map, and
 *   the block turns it into the 7×7×256 map the frozen trunk would give. Needs an extractor whose
 *   third landmark map is that input (`npm-face-fast-pre3`) and `landmarkShape[2]` with 128
 *   channels.
 */
export const FINETUNE_BLOCKS = ["none", "landmark-dense3"] as const;

/** One of {@linkcode FINETUNE_BLOCKS}. */
export type FinetuneBlock = typeof FINETUNE_BLOCKS[number];

/** Where a fine-tuned block sits and what it maps: landmark scale, stride, channels in and out. */
export const FINETUNE_GEOMETRY: Readonly<
  Record<
    FinetuneBlock,
    { scale: number; stride: number; inChannels: number; outChannels: number } | null
  >
> = {
  none: null,
  "landmark-dense3": { scale: 2, stride: 2, inChannels: 128, outChannels: 256 },
};

const modelBase = z.strictObject({
  /** Number of classes C (N_cls; FER+ and AffectNet: 8). */
  classes: z.number().int().min(2).default(8),
  /**
   * Name of the extractor pair whose maps feed the model: `npm-face` (face-api.js landmark68 +
   * Human faceres, shipped in npm packages) or `paper` (IR-50 + MobileFaceNet, as POSTER++).
   */
  extractor: z.string().min(1).default("npm-face"),
  /** Landmark-stream map shapes `[side, channels]`, finest first (npm-face: 28/14/7 × 64/128/256). */
  landmarkShape: streamShape.default([[28, 64], [14, 128], [7, 256]]),
  /** Image-stream map shapes `[side, channels]`, finest first (npm-face: 28/14/7 × 256/512/1024). */
  imageShape: streamShape.default([[28, 256], [14, 512], [7, 1024]]),
  /**
   * Partial fine-tuning: a trainable copy of an extractor's last block, initialised from its
   * pretrained weights (see {@linkcode FinetuneBlock}).
   */
  finetune: z.enum(FINETUNE_BLOCKS).default("none"),
  /** Optional input convolution per landmark map (paper: `[null, null, 3×3 → 256]`). */
  landmarkConv: streamConvs.default([null, null, null]),
  /**
   * Optional input convolution per image map; its output width is the stream width at that scale
   * (paper: 3×3 stride 2 keeping 64/128/256). Default: 1×1 projections to the attention widths.
   */
  imageConv: streamConvs.default([
    { channels: 32, kernel: 1, stride: 1 },
    { channels: 64, kernel: 1, stride: 1 },
    { channels: 128, kernel: 1, stride: 1 },
  ]),
  /** Window-based cross-attention (eqs. 1–5). */
  crossAttention: crossAttentionSchema.prefault({}),
  /** Tokens per scale after embedding (a square: 49 = 7×7 in POSTER++). */
  tokens: z.number().int().min(1).default(49),
  /** Embedding width D of the fusion ViT and of e (paper: 768). */
  embedDim: z.number().int().min(8).default(64),
  /** Multi-scale ViT fusion (eqs. 6–8). */
  fusion: fusionSchema.prefault({}),
  /** MLP head (eq. 9). */
  head: headSchema.prefault({}),
  /** Reliability balancing (eqs. 10–19). */
  rb: rbSchema.prefault({}),
  /** Loss weights and variants (eqs. 20–23). */
  loss: lossSchema.prefault({}),
});

/**
 * The model config before the cross-field checks of {@linkcode modelConfigSchema}: the same shape
 * as {@linkcode ModelConfig}, for helpers that also run on configs not yet checked.
 */
export type ModelBase = ModelConfig;

/**
 * The landmark map shape `[side, channels]` the cross-attention of scale `i` reads before its
 * optional input convolution: `landmarkShape[i]`, or, at the scale a fine-tuned block feeds
 * (`finetune`), that block's output.
 */
export function landmarkStreamShape(cfg: ModelBase, i: number): [number, number] {
  const [side, channels] = cfg.landmarkShape[i];
  const block = FINETUNE_GEOMETRY[cfg.finetune];
  if (!block || block.scale !== i) return [side, channels];
  return [Math.ceil(side / block.stride), block.outChannels];
}

/** Side of a map after an optional input convolution. */
export function convOutSide(side: number, conv: { stride: number } | null): number {
  return conv ? Math.ceil(side / conv.stride) : side;
}

/** Per-scale derived sizes (after input convolutions). */
export interface ScaleGeometry {
  /** Map side S after the input convolutions (equal for both streams). */
  side: number;
  /** Landmark width after its input convolution. */
  landmarkChannels: number;
  /** Image (stream) width after its input convolution. */
  imageChannels: number;
  /** Attention width I·d. */
  attnDim: number;
  /** Heads I. */
  heads: number;
  /** Window side w (S when the window covers the whole map). */
  window: number;
  /**
   * Stride-2 3×3 convolutions that embed this scale to `tokenSide`² tokens (0: one 1×1 conv, as
   * POSTER++'s `PatchEmbed` for its 7×7 scale).
   */
  embedDownsamples: number;
}

/** Side of the token grid (√tokens). */
export function tokenSide(cfg: Pick<ModelBase, "tokens">): number {
  return Math.round(Math.sqrt(cfg.tokens));
}

/** Derived per-scale geometry of a (valid) model config. */
export function scaleGeometry(cfg: ModelBase): ScaleGeometry[] {
  const ts = tokenSide(cfg);
  return [0, 1, 2].map((i) => {
    const lc = cfg.landmarkConv[i];
    const ic = cfg.imageConv[i];
    const side = convOutSide(cfg.imageShape[i][0], ic);
    const lm = landmarkStreamShape(cfg, i);
    const heads = cfg.crossAttention.heads[i];
    const ratio = side / ts;
    return {
      side,
      landmarkChannels: lc ? lc.channels : lm[1],
      imageChannels: ic ? ic.channels : cfg.imageShape[i][1],
      attnDim: heads * cfg.crossAttention.headDim,
      heads,
      window: cfg.crossAttention.windowSize[i] ?? side,
      embedDownsamples: Number.isInteger(ratio) ? Math.round(Math.log2(ratio)) : -1,
    };
  });
}

/** Whether the geometric correction is on (needs `rb.anchors` and K ≥ 1). */
export function anchorsOn(cfg: ModelBase): boolean {
  return cfg.rb.anchors && cfg.rb.anchorsPerClass > 0;
}

/** Whether any reliability balancing is on. */
export function rbOn(cfg: ModelBase): boolean {
  return anchorsOn(cfg) || cfg.rb.attentive;
}

/**
 * Schema of the `model` section; every field has a documented default. The refinement checks
 * constraints between fields and names the offending key.
 */
export const modelConfigSchema = modelBase.superRefine((cfg, ctx) => {
  const bad = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  const ts = tokenSide(cfg);
  if (ts * ts !== cfg.tokens) bad(["tokens"], `must be a square number, got ${cfg.tokens}`);
  const block = FINETUNE_GEOMETRY[cfg.finetune];
  if (block && cfg.landmarkShape[block.scale][1] !== block.inChannels) {
    bad(
      ["landmarkShape", block.scale],
      `finetune "${cfg.finetune}" reads a ${block.inChannels}-channel map at scale ` +
        `${block.scale} (the block's input), got ${cfg.landmarkShape[block.scale][1]} channels`,
    );
  }
  for (let i = 0; i < 3; i++) {
    const lSide = convOutSide(landmarkStreamShape(cfg, i)[0], cfg.landmarkConv[i]);
    const iSide = convOutSide(cfg.imageShape[i][0], cfg.imageConv[i]);
    if (lSide !== iSide) {
      bad(
        ["landmarkShape", i],
        `scale ${i}: landmark side ${lSide} (after landmarkConv) differs from image side ` +
          `${iSide} (after imageConv)`,
      );
      continue;
    }
    const w = cfg.crossAttention.windowSize[i];
    if (w !== null && iSide % w !== 0) {
      bad(["crossAttention", "windowSize", i], `window ${w} does not divide the map side ${iSide}`);
    }
    const ratio = iSide / ts;
    if (ts * ts === cfg.tokens && (!Number.isInteger(ratio) || (ratio & (ratio - 1)) !== 0)) {
      bad(
        ["tokens"],
        `scale ${i}: map side ${iSide} must be the token side ${ts} times a power of 2`,
      );
    }
  }
  if (cfg.embedDim % cfg.fusion.heads !== 0) {
    bad(["embedDim"], `${cfg.embedDim} is not divisible by fusion.heads ${cfg.fusion.heads}`);
  }
  if (cfg.rb.attentive) {
    if (cfg.embedDim % cfg.rb.attentionTokens !== 0) {
      bad(
        ["rb", "attentionTokens"],
        `embedDim ${cfg.embedDim} is not divisible by ${cfg.rb.attentionTokens} tokens`,
      );
    } else if ((cfg.embedDim / cfg.rb.attentionTokens) % cfg.rb.attentionHeads !== 0) {
      bad(
        ["rb", "attentionHeads"],
        `token width ${cfg.embedDim / cfg.rb.attentionTokens} is not divisible by ` +
          `${cfg.rb.attentionHeads} heads`,
      );
    }
  }
  if (cfg.head.hidden.length === 0) bad(["head", "hidden"], "needs at least one hidden layer");
});

/**
 * An input convolution applied to one map of one stream before cross-attention (validated by
 * {@linkcode inputConvSchema}). "Same" padding (`(kernel-1)/2`), with bias.
 */
export interface InputConvConfig {
  /** Output channels; integer ≥ 1. Required (no default). */
  channels: number;
  /** Kernel side: 1 (a per-token linear map) or 3. Default: `3`. */
  kernel: 1 | 3;
  /** Stride: 1 or 2 (2 halves the side, rounding up). Default: `1`. */
  stride: 1 | 2;
}

/**
 * The window-based cross-attention (eqs. 1–5), one block per scale, with defaults applied
 * (validated by {@linkcode crossAttentionSchema}).
 */
export interface CrossAttentionConfig {
  /** Heads I per scale, finest first (POSTER++ and `paper`: 2, 4, 8). Default: `[1, 2, 4]`. */
  heads: [number, number, number];
  /**
   * Width of one head d (POSTER++: 32, so the attention widths are 64/128/256); integer ≥ 1.
   * Default: `32`.
   */
  headDim: number;
  /**
   * Window side per scale; `null` = one window covering the whole map (POSTER++). A window side
   * must divide the map's side. Windows split both streams identically. Default: `[7, 7, null]`.
   */
  windowSize: [number | null, number | null, number | null];
  /**
   * Hidden width of the feed-forward MLP of eq. 5 as a multiple of the image width (POSTER++: 4);
   * > 0. Default: `2`.
   */
  mlpRatio: number;
}

/**
 * The multi-scale ViT fusion (eqs. 6–8), with defaults applied (validated by
 * {@linkcode fusionSchema}).
 */
export interface FusionConfig {
  /** Transformer blocks (paper: 2); integer ≥ 1. Default: `1`. */
  depth: number;
  /** Self-attention heads; must divide `embedDim` (paper: 8). Integer ≥ 1. Default: `4`. */
  heads: number;
  /**
   * MLP hidden width as a multiple of `embedDim` (paper: 4, i.e. 3072 for D = 768); > 0.
   * Default: `2`.
   */
  mlpRatio: number;
  /**
   * Squeeze-excitation gate on the class token, e = x ⊙ σ(W₂ ReLU(W₁ x)) with W₁, W₂ D×D: POSTER++'s
   * ViT applies it before its head (`se_block`); the GReFEL paper does not mention it. On in the
   * `paper` preset (it is part of the POSTER++ network whose size Table 2 reports), off by default.
   * Default: `false`.
   */
  seBlock: boolean;
}

/**
 * The MLP classification head f (eq. 9), with defaults applied (validated by
 * {@linkcode headSchema}).
 */
export interface HeadConfig {
  /**
   * Hidden widths; each hidden layer is Linear → ReLU, then dropout and batch norm in `order`.
   * Integers ≥ 1; at least one (checked by {@linkcode modelConfigSchema}). Default: `[64, 64]`.
   */
  hidden: number[];
  /**
   * Order of dropout and batch norm after each hidden Linear → ReLU. `dropout-bn`: the paper's
   * text (eq. 9, "Linear → ReLU → Dropout → BatchNorm"); `bn-dropout`: the authors' ARBEx code
   * (`models/head.py`: Linear → ReLU → BatchNorm → Dropout), where batch norm sees the same
   * activations in training and evaluation. Default: `"dropout-bn"`.
   */
  order: "dropout-bn" | "bn-dropout";
  /** Dropout probability of the hidden layers (paper: 0.5); in [0, 1). Default: `0.5`. */
  dropout: number;
  /**
   * Batch-norm momentum m: in training mode running = (1 − m)·running + m·batch statistic
   * (PyTorch convention; the running variance uses the unbiased batch variance); in (0, 1].
   * Default: `0.1`.
   */
  bnMomentum: number;
  /** Batch-norm ε added to the variance; > 0. Default: `1e-5`. */
  bnEpsilon: number;
}

/**
 * Reliability balancing (eqs. 10–19), with defaults applied (validated by
 * {@linkcode rbSchema}).
 */
export interface RbConfig {
  /**
   * Geometric (anchor) correction t_g (eqs. 12–15). Also off when `anchorsPerClass` is 0.
   * Default: `true`.
   */
  anchors: boolean;
  /** Attentive correction t_a (eqs. 16–17). Default: `true`. */
  attentive: boolean;
  /**
   * Trainable anchors per class K (paper: 10; K = 0 switches the anchors off, Tables 6–7); integer
   * ≥ 0. Default: `10`.
   */
  anchorsPerClass: number;
  /** Temperature δ of the anchor similarity softmax (eq. 14; paper: 1.0); > 0. Default: `1.0`. */
  delta: number;
  /**
   * Tokens the embedding e is split into for the per-sample self-attention of eq. 16 (each token
   * is `embedDim / attentionTokens` wide; attention never mixes samples of a batch). Integer ≥ 1.
   * Default: `4`.
   */
  attentionTokens: number;
  /**
   * Heads of that self-attention (paper: d_Q = d_model / n_heads = 64 for D = 768 → 3 heads);
   * integer ≥ 1. Default: `2`.
   */
  attentionHeads: number;
  /**
   * Anchor initialisation: `class-means` = class means of early embeddings plus noise (the
   * trainer calls `initAnchorsFromEmbeddings`; until then the anchors are seeded random), or
   * `random` = seeded N(0, 1) (the scale of the LayerNorm-ed embedding). Default: `"class-means"`.
   */
  anchorInit: "class-means" | "random";
  /**
   * Standard deviation of the noise added to class means by `class-means` initialisation; ≥ 0.
   * Default: `0.1`.
   */
  anchorInitNoise: number;
  /** ε inside the log of the normalised entropy (eq. 11); in (0, 1e-3]. Default: `1e-8`. */
  entropyEpsilon: number;
  /**
   * How reliability balancing is trained: `paper`, or one or more of `trust-ramp`, `aux-primary`,
   * `detach-confidence` joined by `+` (e.g. `aux-primary+detach-confidence`). See
   * {@linkcode RB_TRAINING_VARIANTS} for what each does and where it comes from; checked by
   * {@linkcode rbTrainingProblem}. Default: `"paper"`.
   */
  training: string;
  /**
   * λ_aux of the `aux-primary` and `aux-branches` variants: weight of the auxiliary L_cls on the
   * primary l (and, for `aux-branches`, on each correction); ≥ 0. Default: `1.0`.
   */
  auxWeight: number;
  /**
   * Epochs over which the `trust-ramp` variant's trust τ rises linearly from 0 to 1 (ARBEx:
   * τ = iteration / total iterations). Decision: a number of epochs instead of the whole run,
   * because with early stopping the run's length is not known in advance. > 0. Default: `10`.
   */
  trustRampEpochs: number;
}

/** The loss (eqs. 20–23), with defaults applied (validated by {@linkcode lossSchema}). */
export interface LossConfig {
  /** λ_cls (eq. 23); 0 switches L_cls off. ≥ 0. Default: `1.0`. */
  cls: number;
  /** λ_a (eq. 23); 0 switches L_a off. ≥ 0. Default: `1.0`. */
  anchor: number;
  /** λ_c (eq. 23); 0 switches L_c off. ≥ 0. Default: `1.0`. */
  center: number;
  /**
   * Label-smoothing term s of Table 8: ε = s / 100 (paper's choice: 11); in [0, 100].
   * Default: `11`.
   */
  labelSmoothing: number;
  /**
   * `paper`: L_a = −mean ‖a_ij − a_kl‖²/D over pairs of different classes (unbounded below, the
   * paper's "anchor-loss dominance"); `bounded`: −mean min(‖a_ij − a_kl‖²/D, anchorMargin).
   * Default: `"paper"`.
   */
  anchorLossVariant: "paper" | "bounded";
  /** Cap of the squared, D-normalised pair distance for the `bounded` variant; > 0. Default: `2.0`. */
  anchorMargin: number;
  /** Lower clamp of L_final inside the log of L_cls (eq. 20); in (0, 1e-2]. Default: `1e-7`. */
  logClamp: number;
}

/** The resolved `model` section (validated by {@linkcode modelConfigSchema}). */
export interface ModelConfig {
  /** Number of classes C (N_cls; FER+ and AffectNet: 8); integer ≥ 2. Default: `8`. */
  classes: number;
  /**
   * Name of the extractor pair whose maps feed the model: `npm-face` (face-api.js landmark68 +
   * Human faceres, shipped in npm packages) or `paper` (IR-50 + MobileFaceNet, as POSTER++).
   * Default: `"npm-face"`.
   */
  extractor: string;
  /**
   * Landmark-stream map shapes `[side, channels]`, finest first (npm-face: 28/14/7 × 64/128/256).
   * Default: `[[28, 64], [14, 128], [7, 256]]`.
   */
  landmarkShape: StreamShape;
  /**
   * Image-stream map shapes `[side, channels]`, finest first (npm-face: 28/14/7 × 256/512/1024).
   * Default: `[[28, 256], [14, 512], [7, 1024]]`.
   */
  imageShape: StreamShape;
  /**
   * Optional input convolution per landmark map (paper: `[null, null, 3×3 → 256]`); `null` = none.
   * Default: `[null, null, null]`.
   */
  landmarkConv: [InputConvConfig | null, InputConvConfig | null, InputConvConfig | null];
  /**
   * Partial fine-tuning: a trainable copy of an extractor's last block, initialised from its
   * pretrained weights ({@linkcode FinetuneBlock}). Default: `"none"`.
   */
  finetune: FinetuneBlock;
  /**
   * Optional input convolution per image map; its output width is the stream width at that scale
   * (paper: 3×3 stride 2 keeping 64/128/256). Default: 1×1 projections to the attention widths,
   * `[{ channels: 32, kernel: 1, stride: 1 }, { channels: 64, kernel: 1, stride: 1 },
   * { channels: 128, kernel: 1, stride: 1 }]`.
   */
  imageConv: [InputConvConfig | null, InputConvConfig | null, InputConvConfig | null];
  /**
   * Window-based cross-attention (eqs. 1–5). Default: every {@linkcode CrossAttentionConfig}
   * default.
   */
  crossAttention: CrossAttentionConfig;
  /**
   * Tokens per scale after embedding (a square: 49 = 7×7 in POSTER++); integer ≥ 1. Default:
   * `49`.
   */
  tokens: number;
  /** Embedding width D of the fusion ViT and of e (paper: 768); integer ≥ 8. Default: `64`. */
  embedDim: number;
  /** Multi-scale ViT fusion (eqs. 6–8). Default: every {@linkcode FusionConfig} default. */
  fusion: FusionConfig;
  /** MLP head (eq. 9). Default: every {@linkcode HeadConfig} default. */
  head: HeadConfig;
  /** Reliability balancing (eqs. 10–19). Default: every {@linkcode RbConfig} default. */
  rb: RbConfig;
  /** Loss weights and variants (eqs. 20–23). Default: every {@linkcode LossConfig} default. */
  loss: LossConfig;
}

// The interfaces above are the documented types; the schemas are the validators. These fail
// `deno check` if the two ever differ.
type _InputConvMatchesSchema = Assert<Equals<InputConvConfig, z.output<typeof inputConvSchema>>>;
type _CrossAttentionMatchesSchema = Assert<
  Equals<CrossAttentionConfig, z.output<typeof crossAttentionSchema>>
>;
type _FusionMatchesSchema = Assert<Equals<FusionConfig, z.output<typeof fusionSchema>>>;
type _HeadMatchesSchema = Assert<Equals<HeadConfig, z.output<typeof headSchema>>>;
type _RbMatchesSchema = Assert<Equals<RbConfig, z.output<typeof rbSchema>>>;
type _LossMatchesSchema = Assert<Equals<LossConfig, z.output<typeof lossSchema>>>;
type _ModelBaseMatchesSchema = Assert<Equals<ModelBase, z.output<typeof modelBase>>>;
type _ModelMatchesSchema = Assert<Equals<ModelConfig, z.output<typeof modelConfigSchema>>>;

/**
 * Validates a model section on its own (for library callers outside `resolveConfig`).
 * @throws Error listing each problem as `model.<key>: message`.
 */
export function parseModelConfig(partial: unknown): ModelConfig {
  const r = modelConfigSchema.safeParse(partial ?? {});
  if (!r.success) {
    throw new Error(
      "invalid model config:\n  " +
        r.error.issues.map((i) => `model.${i.path.join(".")}: ${i.message}`).join("\n  "),
    );
  }
  return r.data;
}
