/**
 * The library's top-level modules: the one typed configuration (sections model / data / train,
 * presets, validation), backend selection and recording, seeded random primitives, advisory lock
 * files and command-line argument parsing. Each sub-folder has its own `mod.ts` (lib/model,
 * lib/data, lib/train, lib/run, lib/eval, lib/extractors, lib/baselines, lib/notebook).
 * @module
 */
export * from "./config.ts";
export * from "./backend.ts";
export * from "./random.ts";
export * from "./lock.ts";
export * from "./args.ts";
export * from "./tensor.ts";
