/**
 * Training: the configuration's `train` section, one training step, the epoch loop that writes a
 * run folder (config, per-epoch log, checkpoints, metrics, predictions), data preparation through
 * the feature cache, experiments as partial configs, and sweeps over variants × seeds.
 *
 * @module
 */
// The zod schemas (`*Schema`) stay internal to the config modules: zod's types are not part of the
// documented API. Validate through resolveConfig / presetConfig / parseModelConfig.
export { RUN_ID_EXCLUDED, RUN_ID_LEGACY_VALUES } from "./config.ts";
export {
  GRAD_GROUPS,
  type GradGroup,
  gradGroupOf,
  type StepBatch,
  type StepOptions,
  type StepResult,
  type StepState,
  trainStep,
} from "./step.ts";
export {
  DataParallel,
  liveWorkers,
  type ParallelBatch,
  type ParallelInputs,
  type RecordInputs,
  shardRows,
  type StepPhases,
  type WorkerPhases,
} from "./parallel.ts";
export * from "./early_stop.ts";
export * from "./ema.ts";
export * from "./train.ts";
export * from "./run.ts";
export * from "../run/mod.ts";
export * from "./schedule.ts";
export * from "./prepare.ts";
export * from "./session.ts";
export * from "./experiments.ts";
export * from "./sweep.ts";
export * from "./main.ts";
export * from "./report.ts";
export { MODEL_FNS } from "./model_fns.ts";
export * from "./random_features.ts";
export type * from "../config_types.ts";
export { DATASET_KINDS } from "../data/datasets.ts";
export type { GrefelInputs, ParamTree } from "../model/types.ts";
export type { BranchDistributions } from "../eval/branches.ts";
export type {
  CalibrationBin,
  ClassReport,
  EvaluationReport,
  PredictionChanges,
  PredictionReport,
  Summary,
} from "../eval/metrics.ts";
export type { ClusterScores } from "../eval/cluster.ts";
export type { FeatureExtractor, FeatureMaps } from "../extractors/types.ts";
export type { DetectOptions, FaceDetection, FaceDetector } from "../extractors/blazeface.ts";
export type { DatasetSample, LoadedDataset, RawImage, SkippedItem } from "../data/types.ts";
export type { DataReport } from "../data/report.ts";
export type { GrefelLosses, GrefelOutputs } from "../model/types.ts";
export type { ViewPipeline } from "../data/cache.ts";
export type { ScanStats } from "../data/scan.ts";
export type { RecalibrationReport } from "../model/recalibrate.ts";
export type * from "../tensor.ts";
