/**
 * The trainable GReFEL model (SPEC §2–4): configuration, weights, forward pass, reliability
 * balancing, losses and the analytic size count.
 * @module
 */
export type { GrefelInputs, GrefelLosses, GrefelOutputs, ParamTree } from "./types.ts";
export {
  anchorsOn,
  type CrossAttentionConfig,
  FINETUNE_BLOCKS,
  type FinetuneBlock,
  type FusionConfig,
  type HeadConfig,
  type InputConvConfig,
  landmarkStreamShape,
  type LossConfig,
  type ModelConfig,
  parseModelConfig,
  type RbConfig,
  rbOn,
} from "./config.ts";
export {
  type AnchorInitReport,
  type ForwardOptions,
  grefelEmbedding,
  grefelForward,
  grefelFromEmbedding,
  grefelHead,
  initAnchorsFromEmbeddings,
  initGrefel,
  planGrefel,
  tidyForward,
} from "./grefel.ts";
export {
  assignParams,
  disposeParams,
  flattenParams,
  readParams,
  trainableVariables,
} from "./params.ts";
export {
  FINETUNE_ROOT,
  finetuneForward,
  loadFinetuneWeights,
  pretrainedFinetuneWeights,
} from "./finetune.ts";
export { recalibrateHeadBatchNorm, type RecalibrationReport } from "./recalibrate.ts";
export { anchorLoss, centerLoss, classLoss, grefelLoss, smoothLabels } from "./losses.ts";
export {
  anchorDistances,
  anchorSimilarity,
  attentiveCorrection,
  confidence,
  confidenceMix,
  geometricCorrection,
  normalizedEntropy,
} from "./reliability.ts";
export {
  type ModelSummary,
  type SizeCount,
  summarizeModel,
  withoutReliabilityBalancing,
} from "./summary.ts";
export type { ModelBase } from "./config.ts";
export type { StreamShape } from "../extractors/types.ts";
export type { Plan } from "./params.ts";
export type { LossOptions } from "./losses.ts";
export type { Init, MacSpec, ParamSpec } from "./params.ts";
export type * from "../tensor.ts";
