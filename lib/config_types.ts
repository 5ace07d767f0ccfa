/**
 * The configuration's section types in one place, for the `mod.ts` files that re-export them
 * (lib/mod.ts, lib/train/mod.ts, lib/notebook/mod.ts). Each is defined beside its schema.
 * @module
 */
export type { GrefelConfig } from "./config.ts";
export type {
  CrossAttentionConfig,
  FusionConfig,
  HeadConfig,
  InputConvConfig,
  LossConfig,
  ModelConfig,
  RbConfig,
} from "./model/config.ts";
export type { AugmentConfig, DataConfig, SamplerConfig, SyntheticConfig } from "./data/config.ts";
export type { DatasetKind } from "./data/datasets.ts";
export type { EarlyStopConfig, TrainConfig } from "./train/config.ts";
export type { StreamShape } from "./extractors/types.ts";
