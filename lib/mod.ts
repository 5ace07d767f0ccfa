/**
 * The library's top-level modules: the one typed configuration (sections model / data / train,
 * presets, validation), backend selection and recording, seeded random primitives, advisory lock
 * files and command-line argument parsing. Each sub-folder has its own `mod.ts` (lib/model,
 * lib/data, lib/train, lib/run, lib/eval, lib/extractors, lib/baselines, lib/notebook).
 * @module
 */
// The zod schemas (`*Schema`) stay internal to the config modules: zod's types are not part of the
// documented API. Validate through resolveConfig / presetConfig / parseModelConfig.
export {
  ConfigError,
  type DeepPartial,
  mergeConfig,
  type PartialConfig,
  presetConfig,
  PRESETS,
  resolveConfig,
} from "./config.ts";
export type * from "./config_types.ts";
export { DATASET_KINDS } from "./data/datasets.ts";
export * from "./backend.ts";
export * from "./random.ts";
export * from "./lock.ts";
export * from "./args.ts";
export * from "./tensor.ts";
