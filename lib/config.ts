/**
 * The one typed configuration of a GReFEL run: model, reliability balancing, losses, data and
 * training, each section defined (with a documented default for every field) beside the code that
 * uses it, and composed and validated here.
 *
 * Validation is strict: unknown keys and out-of-range values are errors that name the key
 * (`model.embedDim: Too small: expected number to be >=8`). Presets ({@linkcode PRESETS}) are
 * partial configs over the defaults; experiments are partial configs over a preset.
 *
 * @module
 */
import { z } from "zod";
import { type ModelConfig, modelConfigSchema } from "./model/config.ts";
import { type DataConfig, dataConfigSchema } from "./data/config.ts";
import { type TrainConfig, trainConfigSchema } from "./train/config.ts";
import type { Assert, Equals } from "./type_check.ts";
import type { StreamShape } from "./extractors/types.ts";

/** Schema of the whole configuration. */
export const grefelConfigSchema = z.strictObject({
  /** Name of the preset this config started from (recorded, not used for computation). */
  preset: z.string().default("compact"),
  /** Global seed: weights, sampling, augmentation and label noise derive from it. */
  seed: z.number().int().min(0).default(0),
  /** Model, reliability balancing and loss settings. */
  model: modelConfigSchema.prefault({}),
  /** Data set, pre-processing, augmentation, sampling and label noise. */
  data: dataConfigSchema.prefault({}),
  /** Optimiser, schedule, epochs and checkpointing. */
  train: trainConfigSchema.prefault({}),
}).superRefine((cfg, ctx) => {
  if (cfg.train.finetuneLrScale !== 1 && cfg.model.finetune === "none") {
    ctx.addIssue({
      code: "custom",
      path: ["train", "finetuneLrScale"],
      message: `scales the fine-tuned block's learning rate, but model.finetune is "none"`,
    });
  }
  if (cfg.train.earlyStop.watch === "raw" && cfg.train.emaDecay === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["train", "earlyStop", "watch"],
      message:
        `"raw" reads the raw weights' curve beside the averaged one, but train.emaDecay is 0`,
    });
  }
  if (cfg.train.earlyStop.startEpoch > cfg.train.epochs) {
    ctx.addIssue({
      code: "custom",
      path: ["train", "earlyStop", "startEpoch"],
      message: `${cfg.train.earlyStop.startEpoch} is after the last epoch (train.epochs ` +
        `${cfg.train.epochs}): no epoch could be selected`,
    });
  }
  if (cfg.train.earlyStop.watch === "raw" && !cfg.train.validateRaw) {
    ctx.addIssue({
      code: "custom",
      path: ["train", "earlyStop", "watch"],
      message: `"raw" reads the raw weights' validation curve, but train.validateRaw is false`,
    });
  }
});

/** A fully resolved configuration (validated by {@linkcode grefelConfigSchema}). */
export interface GrefelConfig {
  /**
   * Name of the preset this config started from (recorded, not used for computation). Default:
   * `"compact"`.
   */
  preset: string;
  /**
   * Global seed: weights, sampling, augmentation and label noise derive from it. Integer ≥ 0.
   * Default: `0`.
   */
  seed: number;
  /** Model, reliability balancing and loss settings. Default: every {@linkcode ModelConfig} default. */
  model: ModelConfig;
  /**
   * Data set, pre-processing, augmentation, sampling and label noise. Default: every
   * {@linkcode DataConfig} default.
   */
  data: DataConfig;
  /** Optimiser, schedule, epochs and checkpointing. Default: every {@linkcode TrainConfig} default. */
  train: TrainConfig;
}

// The interface is the documented type; the schema is the validator. This fails `deno check` if
// the two ever differ.
type _GrefelMatchesSchema = Assert<Equals<GrefelConfig, z.output<typeof grefelConfigSchema>>>;

/** A partial configuration (nested), as presets and experiments write it. */
export type PartialConfig = DeepPartial<GrefelConfig>;

/** Recursively optional. */
export type DeepPartial<T> = T extends readonly unknown[] ? T
  : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> }
  : T;

/** Error raised for an invalid configuration; `issues` lists each problem as `path: message`. */
export class ConfigError extends Error {
  /** One line per problem, each naming the key. */
  readonly issues: string[];
  /** An error listing `issues`, for the configuration named `context`. */
  constructor(issues: string[], context = "config") {
    super(`invalid ${context}:\n  ${issues.join("\n  ")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Deep-merges `over` onto `base` (objects merge, arrays and scalars replace). Pure. */
export function mergeConfig<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = k in out ? mergeConfig(out[k], v) : v;
  }
  return out as T;
}

/**
 * Validates a (partial) config and fills in every default.
 * @throws ConfigError naming each unknown key and out-of-range value.
 */
export function resolveConfig(partial: unknown, context = "config"): GrefelConfig {
  const r = grefelConfigSchema.safeParse(partial ?? {});
  if (!r.success) {
    throw new ConfigError(
      r.error.issues.map((i) => {
        const path = i.path.join(".");
        // deno-lint-ignore no-explicit-any
        const keys = (i as any).keys as string[] | undefined;
        if (i.code === "unrecognized_keys" && keys) {
          return keys.map((k) => `${path ? path + "." : ""}${k}: unknown key`).join("\n  ");
        }
        return `${path || "(root)"}: ${i.message}`;
      }),
      context,
    );
  }
  return r.data;
}

/**
 * The cached `npm-face-fast` inputs of `compact` and the presets built on it: every map
 * adaptive-average-pooled to a 7×7 token grid, as the feature cache stores it (lib/data/cache.ts).
 */
const COMPACT_INPUTS: {
  extractor: string;
  landmarkShape: StreamShape;
  imageShape: StreamShape;
} = {
  extractor: "npm-face-fast",
  landmarkShape: [[7, 64], [7, 128], [7, 256]],
  imageShape: [[7, 256], [7, 512], [7, 1024]],
};

/**
 * Named presets. `paper` has the paper's sizes (Table 2: D = 768, 2 fusion blocks, 8 heads, K = 10,
 * IR-50 and MobileFaceNet extractors); `compact` trains at a useful speed on a 2-core CPU from
 * cached features of the npm-shipped extractors; `compact-averaged` is `compact` with the most
 * accurate training recipe measured on FER+ (weight averaging, no head dropout, the converged
 * early-stopping protocol); `compact-ft` is `compact` with the landmark trunk's last block
 * fine-tuned (lib/model/finetune.ts); `tiny` is for tests and smoke runs.
 */
export const PRESETS: Record<string, PartialConfig> = {
  paper: {
    preset: "paper",
    // POSTER++'s sizes (SPEC §2): IR-50 + MobileFaceNet maps, 3×3 input convs, whole-map windows
    // with 2/4/8 heads of 32, 49 tokens per scale, D = 768, 2 fusion blocks of 8 heads, MLP 3072.
    model: {
      extractor: "paper",
      landmarkShape: [[28, 64], [14, 128], [7, 512]],
      imageShape: [[56, 64], [28, 128], [14, 256]],
      landmarkConv: [null, null, { channels: 256, kernel: 3, stride: 1 }],
      imageConv: [
        { channels: 64, kernel: 3, stride: 2 },
        { channels: 128, kernel: 3, stride: 2 },
        { channels: 256, kernel: 3, stride: 2 },
      ],
      crossAttention: {
        heads: [2, 4, 8],
        headDim: 32,
        windowSize: [null, null, null],
        mlpRatio: 4,
      },
      tokens: 49,
      embedDim: 768,
      fusion: { depth: 2, heads: 8, mlpRatio: 4, seBlock: true },
      rb: { anchorsPerClass: 10, attentionTokens: 4, attentionHeads: 3 },
    },
  },
  // The model section's defaults are the compact model (see lib/model/config.ts).
  compact: {
    preset: "compact",
    model: {
      // Input shapes = what the feature cache stores (uint8, ≈ 119 kB per image; FER+ train ≈ 3 GB).
      ...COMPACT_INPUTS,
    },
  },
  // compact with the most accurate training recipe measured on FER+ (experiments/averaging.json and
  // the size study's D=64,depth=1 cell, 81.10 ± 0.44% over three seeds): the primary head trained on
  // the labels too, no dropout in the head, an exponential moving average of the weights (decay
  // 0.997) validated, stopped on and tested, and the converged protocol (lr 1e-3, at most 60 epochs,
  // early stopping on the mean of the last 3 validation accuracies, patience 8, none before epoch
  // 12). With `data.dataset` "ferplus" and seed s its run id is the size study's seed-s run.
  "compact-averaged": {
    preset: "compact-averaged",
    model: {
      ...COMPACT_INPUTS,
      rb: { training: "aux-primary" },
      head: { dropout: 0 },
    },
    train: {
      lr: 1e-3,
      epochs: 60,
      earlyStop: { enabled: true, patience: 8, minEpochs: 12, window: 3 },
      emaDecay: 0.997,
    },
  },
  // compact with the landmark trunk's last block (face-api.js `dense3`) fine-tuned: the cache holds
  // that block's input at 14×14×128 (npm-face-fast-pre3) and the model trains the block.
  "compact-ft": {
    preset: "compact-ft",
    model: {
      extractor: "npm-face-fast-pre3",
      landmarkShape: [[7, 64], [7, 128], [14, 128]],
      imageShape: [[7, 256], [7, 512], [7, 1024]],
      finetune: "landmark-dense3",
    },
  },
  tiny: {
    preset: "tiny",
    // Same input shapes as compact (so smoke runs can use its cached features), all else minimal.
    model: {
      ...COMPACT_INPUTS,
      imageConv: [
        { channels: 8, kernel: 1, stride: 1 },
        { channels: 8, kernel: 1, stride: 1 },
        { channels: 16, kernel: 1, stride: 1 },
      ],
      crossAttention: { heads: [1, 1, 2], headDim: 8, windowSize: [7, 7, null], mlpRatio: 1 },
      embedDim: 16,
      fusion: { depth: 1, heads: 2, mlpRatio: 2 },
      head: { hidden: [16, 16] },
      rb: { anchorsPerClass: 2, attentionTokens: 2, attentionHeads: 2 },
    },
  },
};

/** Resolves a preset by name, optionally with overrides. @throws ConfigError for an unknown name. */
export function presetConfig(name: string, overrides: unknown = {}): GrefelConfig {
  const p = PRESETS[name];
  if (!p) {
    throw new ConfigError(
      [`preset: unknown preset "${name}" (known: ${Object.keys(PRESETS).join(", ")})`],
    );
  }
  return resolveConfig(mergeConfig(mergeConfig({}, p), overrides), `config (preset ${name})`);
}
