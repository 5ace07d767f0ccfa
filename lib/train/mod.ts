/**
 * Training: the configuration's `train` section, one training step, the epoch loop that writes a
 * run folder (config, per-epoch log, checkpoints, metrics, predictions), data preparation through
 * the feature cache, experiments as partial configs, and sweeps over variants × seeds.
 *
 * @module
 */
export * from "./config.ts";
export * from "./step.ts";
export * from "./early_stop.ts";
export * from "./train.ts";
export * from "./run.ts";
export * from "../run/mod.ts";
export * from "./schedule.ts";
export * from "./prepare.ts";
export * from "./session.ts";
export * from "./experiments.ts";
export * from "./sweep.ts";
export * from "./report.ts";
export { MODEL_FNS } from "./model_fns.ts";
