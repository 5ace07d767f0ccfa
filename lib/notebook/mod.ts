/**
 * Notebook helpers (no model logic): profiles and result paths, plotly and danfojs display bundles,
 * and figure export to HTML/SVG/PNG. Notebooks import this module:
 * `import { showTable, showFigure, notebookProfile } from "../lib/notebook/mod.ts";`
 *
 * @module
 */
export * from "./profile.ts";
export * from "./display.ts";
export * from "./export.ts";
export * from "./runs.ts";
export * from "./sweeps.ts";
export * from "./tables.ts";
export * from "./paper_numbers.ts";
export * from "./rb_study.ts";
export * from "./ablation.ts";
export * from "./extractor_study.ts";
export * from "./averaging.ts";
export * from "./size_study.ts";
export type * from "../config_types.ts";
export { DATASET_KINDS } from "../data/datasets.ts";
export {
  type Branch,
  BRANCHES,
  type BranchReport,
  type MeanMedian,
  type RbChanges,
} from "../eval/branches.ts";
export type { McNemarResult } from "../eval/stats.ts";
export type {
  CalibrationBin,
  ClassReport,
  EvaluationReport,
  PredictionChanges,
  PredictionReport,
  Summary,
} from "../eval/metrics.ts";
export type { PairedDifference, Verdict } from "../eval/paired.ts";
export { type EpochLog, GRAD_GROUPS, type GradGroup, type StopInfo } from "../run/log.ts";
