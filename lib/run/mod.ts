/**
 * The run folder `<resultsDir>/<experiment>/<run-id>/` as one typed format, writer and reader:
 *
 * ```
 * config.json        the run record: resolved config, seed, backend, versions, data set
 * log.jsonl          one JSON object per epoch (each loss term, train/val accuracy, lr, seconds)
 * metrics.json       test-split metrics; its presence marks a finished run
 * predictions.csv    test split: id, label, primary, final, both distributions
 * embeddings.csv     test split: id, label, embedding
 * checkpoints/last/  checkpoint.json + weights-e<epoch>-<token>.bin (weights, Adam state, log)
 * checkpoints/best/  the same for the best validation epoch
 * log-unresumable-<n>.jsonl   the log of epochs that had no checkpoint to resume from, kept when
 *                    the run trained again from epoch 1 (keepUnresumableLog)
 * ```
 *
 * Every file is written atomically (temporary file, fsync, rename), so a crash never leaves a
 * half-written file, and a failed write leaves no temporary file behind. Also the hashing the
 * run id and the data set fingerprint are made of. The mapping from a config to its run id lives
 * in `lib/train/run.ts`, beside the config fields it leaves out.
 *
 * @module
 */
export * from "./atomic.ts";
export * from "./hash.ts";
export * from "./log.ts";
export * from "./checkpoint.ts";
export * from "./files.ts";
export * from "./csv.ts";
export * from "./code_version.ts";
export * from "./machine.ts";
export type { BackendInfo } from "../backend.ts";
export {
  type Branch,
  BRANCHES,
  type BranchReport,
  type MeanMedian,
  type RbChanges,
} from "../eval/branches.ts";
export type { McNemarResult } from "../eval/stats.ts";
export { type BackendName, BACKENDS } from "../backend.ts";
