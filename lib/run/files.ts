/**
 * The files of a run folder `<resultsDir>/<experiment>/<run-id>/` other than the log and the
 * checkpoints: `config.json` (the run record), `metrics.json` (test-split metrics; its presence
 * marks a finished run), `data.json` (what the loader saw) and `eval-*.json` (re-evaluations),
 * with the run's status as a sweep sees it.
 *
 * @module
 */
import type { CodeVersion } from "./code_version.ts";
import { join } from "node:path";
import type { BackendInfo } from "../backend.ts";
import type { BranchReport } from "../eval/branches.ts";
import { withFinalKey } from "../eval/metrics.ts";
import { exists, readJsonIfExists, writeJsonAtomic } from "../run/atomic.ts";
import type { StopInfo } from "./log.ts";

/** File names inside a run folder. */
export const RUN_FILES = {
  /** The run record ({@linkcode RunRecord}). */
  config: "config.json",
  /** The epoch log (`lib/run/log.ts`). */
  log: "log.jsonl",
  /** Test-split metrics ({@linkcode RunMetrics}). */
  metrics: "metrics.json",
  /** Test predictions (`lib/run/csv.ts`). */
  predictions: "predictions.csv",
  /** Test embeddings (`lib/run/csv.ts`). */
  embeddings: "embeddings.csv",
  /** What the loader saw (counts, skipped files and why). */
  data: "data.json",
  /** Checkpoints (`lib/run/checkpoint.ts`): `last/` and `best/`. */
  checkpoints: "checkpoints",
} as const;

/** The backend a run records: {@linkcode BackendInfo}, or at least the backend's name. */
export type RunBackend = Omit<Partial<BackendInfo>, "backend"> & { backend: string };

/** The versions a run records. */
export interface RunVersions {
  /** This library. */
  grefel: string;
  /** TensorFlow.js. */
  tfjs: string;
  /** Deno. */
  deno: string;
  /** V8. */
  v8: string;
  /** The checkout's git commit and whether lib/ or cli/ differed from it (absent in older runs). */
  code?: CodeVersion;
}

/** The data set a run records. */
export interface RunDataset {
  /** Data set name. */
  name: string;
  /** Fingerprint of samples, labels and splits (`datasetFingerprint`). */
  fingerprint: string;
  /** Class names in label order. */
  classNames: string[];
  /** Samples per split. */
  sizes?: { train: number; val: number; test: number };
  /** Anything else the data preparation recorded (cache key, skipped items...). */
  [key: string]: unknown;
}

/**
 * `config.json` of a run: the resolved config `C` and what else decides or explains its results.
 * Extra fields (the experiment's variant, `adoptedFrom`...) sit beside these.
 */
export interface RunRecord<C = unknown> {
  /** Run id (a prefix of `configHash`). */
  runId: string;
  /** Hash of the result-relevant part of `config`. */
  configHash: string;
  /** The resolved config. */
  config: C;
  /** The run's seed. */
  seed: number;
  /** The backend in use (name, adapter, why it was chosen). */
  backend: RunBackend;
  /** Library versions. */
  versions: RunVersions;
  /** The data set. */
  dataset: RunDataset;
  /** When the run folder was created (ISO time). */
  createdAt: string;
  /** Fields recorded beside these. */
  [key: string]: unknown;
}

/** The best validation metric of a run and its epoch. */
export interface BestEpoch {
  /** Name of the selection metric (`valAccuracy`, `valPrimaryAccuracy`). */
  metric: string;
  /** Its value. */
  value: number;
  /** Its epoch (1-based). */
  epoch: number;
}

/** `metrics.json` of a finished run. */
export interface RunMetrics {
  /** Run id. */
  runId: string;
  /** Data set name. */
  dataset: string;
  /** Test samples. */
  testSamples: number;
  /** Epochs trained. */
  epochs: number;
  /** Which weights were tested, e.g. `best (epoch 12)`. */
  weights: string;
  /** The best validation epoch (null without validation). */
  best: BestEpoch | null;
  /** Why training stopped (null in older runs). */
  stopped: StopInfo | null;
  /** Test accuracy of the final prediction (argmax L_final). */
  accuracy: number;
  /** Test accuracy of the primary head (argmax l). */
  primaryAccuracy: number;
  /** Every branch on the test split. */
  rb: BranchReport;
  /** The evaluation report (lib/eval/metrics.ts `evaluatePredictions`). */
  evaluation: unknown;
  /** When the test split was scored (ISO time). */
  finishedAt: string;
  /**
   * With a weight average (`train.emaDecay`): the raw weights of their own best validation epoch on
   * the same test split (predictions-raw.csv), the single-weight arm of the same training path.
   */
  raw?: { weights: string; accuracy: number; primaryAccuracy: number };
  /** Fields added later (`cluster` scores of the embeddings...). */
  [key: string]: unknown;
}

/** Reads `config.json` of the run folder `dir`, or null when there is none. @throws Error when corrupt. */
export function readRunRecord<C = unknown>(dir: string): Promise<RunRecord<C> | null> {
  return readJsonIfExists<RunRecord<C>>(join(dir, RUN_FILES.config));
}

/** Writes `config.json` of the run folder `dir` atomically. */
export function writeRunRecord(dir: string, record: RunRecord): Promise<void> {
  return writeJsonAtomic(join(dir, RUN_FILES.config), record);
}

/**
 * Reads `metrics.json` of the run folder `dir`, or null while the run is not finished. L_final's
 * evaluation is `evaluation.final` also in files that hold it under its older name `corrected`.
 */
export async function readMetrics<M = RunMetrics>(dir: string): Promise<M | null> {
  const m = await readJsonIfExists<Record<string, unknown>>(join(dir, RUN_FILES.metrics));
  if (m && typeof m === "object" && "evaluation" in m) m.evaluation = withFinalKey(m.evaluation);
  return m as M | null;
}

/** Writes `metrics.json` of the run folder `dir` atomically (the run is then finished). */
export function writeMetrics(dir: string, metrics: Record<string, unknown>): Promise<void> {
  return writeJsonAtomic(join(dir, RUN_FILES.metrics), metrics);
}

/** State of a run directory, as a sweep sees it. */
export type RunStatus = "finished" | "partial" | "new";

/** `finished` when metrics.json exists, `partial` when a last checkpoint exists, else `new`. */
export async function runStatus(dir: string): Promise<RunStatus> {
  if (await exists(join(dir, RUN_FILES.metrics))) return "finished";
  if (await exists(join(dir, RUN_FILES.checkpoints, "last", "checkpoint.json"))) return "partial";
  return "new";
}
