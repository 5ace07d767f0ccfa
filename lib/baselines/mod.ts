/**
 * Reference models to compare GReFEL with: the pretrained expression network shipped with
 * `@vladmandic/face-api`.
 *
 * @module
 */
export * from "./faceapi_expression.ts";
export type { FerPlusLabelMode } from "../data/ferplus.ts";
export type {
  CalibrationBin,
  ClassReport,
  EvaluationReport,
  PredictionChanges,
  PredictionReport,
  Summary,
} from "../eval/metrics.ts";
export type { DatasetSample, LoadedDataset, RawImage, SkippedItem } from "../data/types.ts";
export type * from "../tensor.ts";
