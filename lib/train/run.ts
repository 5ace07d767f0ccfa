/**
 * Runs as data: every training run lives in `<resultsDir>/<experiment>/<run-id>/`:
 *
 * ```
 * config.json        resolved config + seed, backend/adapter, versions, data set and fingerprint
 * log.jsonl          one JSON object per epoch (each loss term, train/val accuracy, lr, seconds)
 * metrics.json       test-split metrics (lib/eval/metrics.ts); its presence marks a finished run
 * predictions.csv    test split: id, label, primary, final, both distributions
 * embeddings.csv     test split: id, label, embedding
 * checkpoints/last/  checkpoint.json + weights-<token>.bin (weights, Adam state, epoch, log)
 * checkpoints/best/  the same for the best validation epoch
 * ```
 *
 * The run id is a short hash of the canonical resolved config minus the fields that do not change
 * results ({@linkcode RUN_ID_EXCLUDED}), so a restarted sweep finds its runs again. Every file is
 * written atomically (`lib/train/atomic.ts`). A checkpoint is committed by renaming its
 * `checkpoint.json`, which names its weights file; the weights file is written first under a
 * fresh name, so a failure at any point leaves the previous checkpoint readable.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { GrefelConfig } from "../config.ts";
import { RUN_ID_EXCLUDED, RUN_ID_LEGACY_VALUES } from "./config.ts";
import type { BranchReport } from "../eval/branches.ts";
import type { GradGroup } from "./step.ts";
import { exists, readJsonIfExists, writeFileAtomic, writeJsonAtomic } from "./atomic.ts";

/** Version tag of the checkpoint format. */
export const CHECKPOINT_FORMAT = "grefel-checkpoint/1";

/** JSON with object keys sorted recursively (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = norm(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(norm(value));
}

/** Hex SHA-256 of a string. */
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A deep copy of `config` without the dotted paths in `excluded`. */
export function withoutPaths(config: unknown, excluded: readonly string[]): unknown {
  const copy = structuredClone(config) as Record<string, unknown>;
  for (const path of excluded) {
    const parts = path.split(".");
    let node: Record<string, unknown> | undefined = copy;
    for (let i = 0; i < parts.length - 1 && node; i++) {
      const next: unknown = node[parts[i]];
      node = next && typeof next === "object" ? next as Record<string, unknown> : undefined;
    }
    if (node) delete node[parts[parts.length - 1]];
  }
  return copy;
}

/** The paths of {@linkcode RUN_ID_LEGACY_VALUES} whose value in `config` is the legacy one. */
function atLegacyValues(config: GrefelConfig): string[] {
  return Object.entries(RUN_ID_LEGACY_VALUES).filter(([path, legacy]) => {
    let node: unknown = config;
    for (const part of path.split(".")) {
      node = node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined;
    }
    return node === legacy;
  }).map(([path]) => path);
}

/**
 * Full hash of the result-relevant part of a resolved config (checkpoints record it): without
 * {@linkcode RUN_ID_EXCLUDED} and without the fields at their {@linkcode RUN_ID_LEGACY_VALUES}.
 */
export function configHash(config: GrefelConfig): string {
  return sha256(
    canonicalJson(withoutPaths(config, [...RUN_ID_EXCLUDED, ...atLegacyValues(config)])),
  );
}

/**
 * The run id: the first 10 hex digits of {@linkcode configHash}. Stable across key order, and
 * unchanged by fields that do not change results (progress display, parallelism, backend
 * preference, results directory, experiment name, preset label, checkpoint cadence).
 */
export function runId(config: GrefelConfig): string {
  return configHash(config).slice(0, 10);
}

/** The directory of a run: `<resultsDir>/<experiment>/<run-id>`. */
export function runDir(config: GrefelConfig): string {
  return join(config.train.resultsDir, config.train.experiment, runId(config));
}

/** A sample as far as the fingerprint is concerned. */
export interface FingerprintSample {
  /** Sample id. */
  id: string;
  /** Split. */
  split?: string;
  /** Class index. */
  label: number;
}

/**
 * Data set fingerprint: SHA-256 (first 16 hex digits) of the sorted `split \t id \t label` lines,
 * so it changes when a sample, a label (e.g. injected label noise) or a split assignment changes,
 * and not when the loader lists samples in another order.
 */
export function datasetFingerprint(samples: readonly FingerprintSample[]): string {
  const lines = samples.map((s) => `${s.split ?? ""}\t${s.id}\t${s.label}`).sort();
  return sha256(lines.join("\n")).slice(0, 16);
}

/** One line of `log.jsonl`. */
export interface EpochLog {
  /** Epoch, counted from 1. */
  epoch: number;
  /** Learning rate used during the epoch. */
  lr: number;
  /** Mean total loss (eq. 23) over the epoch's steps. */
  loss: number;
  /** Mean L_cls. */
  cls: number;
  /** Mean L_a. */
  anchor: number;
  /** Mean L_c. */
  center: number;
  /** Training accuracy of the corrected prediction (argmax L_final), in training mode. */
  trainAccuracy: number;
  /** Validation accuracy, corrected prediction (null when not evaluated this epoch). */
  valAccuracy: number | null;
  /** Validation accuracy, primary prediction. */
  valPrimaryAccuracy: number | null;
  /** Steps in the epoch. */
  steps: number;
  /** Wall seconds of the epoch (training + validation). */
  seconds: number;
  /** Mean auxiliary L_cls (`aux-primary`, `aux-branches`; 0 otherwise). Absent in older runs. */
  aux?: number;
  /** Trust τ at the epoch's last step (`trust-ramp`; 1 otherwise). Absent in older runs. */
  trust?: number;
  /**
   * Every branch on the epoch's training batches, in training mode (dropout on, batch statistics):
   * accuracies, confidences, l's weight, predictions changed / fixed / broken. Absent in older runs.
   */
  train?: BranchReport;
  /** The same on the validation split, in evaluation mode (null when not evaluated). */
  val?: BranchReport | null;
  /** Mean over the epoch's steps of the gradient norm reaching each part of the model. */
  gradNorm?: Record<GradGroup, number>;
}

/** Why a run stopped training. */
export interface StopInfo {
  /**
   * `early-stop`: validation did not improve for `patience` evaluations; `epoch-cap`: it reached
   * `train.epochs` first.
   */
  reason: "early-stop" | "epoch-cap";
  /** Last epoch trained. */
  epoch: number;
  /** Epoch of the best validation metric (null without validation). */
  bestEpoch: number | null;
  /** Early-stopping patience in evaluations (null when early stopping is off). */
  patience: number | null;
  /** Moving-mean window of early stopping, when it is above 1. */
  window?: number;
  /** Epoch of the best moving mean, when `window` is above 1. */
  smoothedBestEpoch?: number;
}

/** Serialises epoch logs as JSON lines. */
export function formatLog(entries: readonly EpochLog[]): string {
  return entries.map((e) => JSON.stringify(e)).join("\n") + (entries.length ? "\n" : "");
}

/** Parses `log.jsonl` (a missing file is an empty log). @throws Error naming a corrupt line. */
export async function readLog(dir: string): Promise<EpochLog[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, "log.jsonl"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return text.split("\n").filter((l) => l.trim()).map((l, i) => {
    try {
      return JSON.parse(l) as EpochLog;
    } catch {
      throw new Error(`${join(dir, "log.jsonl")} line ${i + 1} is not valid JSON`);
    }
  });
}

/** A named tensor's values, as a checkpoint stores them. */
export interface NamedArray {
  /** Weight name (its path in the ParamTree, or an optimiser slot name). */
  name: string;
  /** Shape. */
  shape: number[];
  /** Data type. */
  dtype: "float32" | "int32";
  /** Values. */
  data: Float32Array | Int32Array;
}

/** Training state stored beside the weights. */
export interface CheckpointState {
  /** Run id of the run that wrote it. */
  runId: string;
  /** {@linkcode configHash} of that run's config. */
  configHash: string;
  /** Data set fingerprint the run trained on. */
  datasetFingerprint: string;
  /** Epochs completed (1-based count). */
  epoch: number;
  /** Optimiser steps completed. */
  step: number;
  /** RNG state: every random draw derives from (seed, epoch, step), so these three suffice. */
  rng: { seed: number; epoch: number; step: number };
  /** Best validation metric so far and its epoch. */
  best: { metric: string; value: number; epoch: number } | null;
  /** Evaluations since the best one (early stopping). */
  sinceBest: number;
  /** How anchors were initialised. */
  anchorInit: Record<string, unknown> | null;
  /** Epoch log up to `epoch` (rewritten into log.jsonl on resume). */
  log: EpochLog[];
  /** Set when training has stopped (then only the test split is left to do). */
  stopped?: StopInfo | null;
}

interface TensorEntry {
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  offset: number;
  length: number;
}

interface CheckpointManifest extends CheckpointState {
  format: string;
  weightsFile: string;
  weights: TensorEntry[];
  optimizer: TensorEntry[];
  writtenAt: string;
}

/** A checkpoint read back from disk. */
export interface Checkpoint {
  /** Its directory. */
  dir: string;
  /** Training state. */
  state: CheckpointState;
  /** Model weights by name. */
  weights: NamedArray[];
  /** Optimiser slots (Adam: `iter`, then first and second moments), in the optimiser's order. */
  optimizer: NamedArray[];
}

function pack(arrays: readonly NamedArray[], offset: number, parts: Uint8Array[]): TensorEntry[] {
  return arrays.map((a) => {
    const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    parts.push(bytes);
    const e = { name: a.name, shape: a.shape, dtype: a.dtype, offset, length: a.data.length };
    offset += bytes.byteLength;
    return e;
  });
}

/**
 * Writes a checkpoint into `dir` (e.g. `checkpoints/last`): first the weights under a fresh file
 * name, then `checkpoint.json` (the commit point), then removes weights files no longer named.
 * @throws WriteError on a failed write; the previous checkpoint in `dir` stays readable.
 */
export async function saveCheckpoint(
  dir: string,
  state: CheckpointState,
  weights: readonly NamedArray[],
  optimizer: readonly NamedArray[],
): Promise<void> {
  const parts: Uint8Array[] = [];
  const w = pack(weights, 0, parts);
  const wBytes = parts.reduce((s, p) => s + p.byteLength, 0);
  const o = pack(optimizer, wBytes, parts);
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const blob = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    blob.set(p, off);
    off += p.byteLength;
  }
  const token = sha256(`${Date.now()}-${Math.random()}-${state.epoch}`).slice(0, 8);
  const weightsFile = `weights-e${state.epoch}-${token}.bin`;
  await writeFileAtomic(join(dir, weightsFile), blob);
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    ...state,
    weightsFile,
    weights: w,
    optimizer: o,
    writtenAt: new Date().toISOString(),
  };
  try {
    await writeJsonAtomic(join(dir, "checkpoint.json"), manifest);
  } catch (e) {
    await Deno.remove(join(dir, weightsFile)).catch(() => {});
    throw e;
  }
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.startsWith("weights-") && entry.name !== weightsFile) {
      await Deno.remove(join(dir, entry.name)).catch(() => {});
    }
  }
}

/** Reads a checkpoint, or returns `null` when `dir` holds none. @throws Error naming a corrupt file. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint | null> {
  const manifest = await readJsonIfExists<CheckpointManifest>(join(dir, "checkpoint.json"));
  if (!manifest) return null;
  if (manifest.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${dir}: unsupported checkpoint format "${manifest.format}" (expected ${CHECKPOINT_FORMAT})`,
    );
  }
  const path = join(dir, manifest.weightsFile);
  const blob = await Deno.readFile(path);
  const buf = blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength);
  const unpack = (entries: TensorEntry[]): NamedArray[] =>
    entries.map((e) => {
      if (e.offset + e.length * 4 > buf.byteLength) {
        throw new Error(`${path} is truncated (weight ${e.name} extends past its end)`);
      }
      const data = e.dtype === "int32"
        ? new Int32Array(buf, e.offset, e.length)
        : new Float32Array(buf, e.offset, e.length);
      return { name: e.name, shape: e.shape, dtype: e.dtype, data };
    });
  const { format: _f, weightsFile: _w, weights, optimizer, writtenAt: _t, ...state } = manifest;
  return { dir, state, weights: unpack(weights), optimizer: unpack(optimizer) };
}

/** An error raised when a checkpoint does not belong to the run that tries to load it. */
export class CheckpointMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointMismatchError";
  }
}

/**
 * Checks that a checkpoint belongs to this run: the same config hash and data fingerprint, and
 * exactly the model's weight names and shapes.
 * @throws CheckpointMismatchError naming the mismatched hashes and weights.
 */
export function checkCheckpointCompatible(
  ckpt: Checkpoint,
  expected: { configHash: string; datasetFingerprint: string },
  modelShapes: ReadonlyMap<string, readonly number[]>,
): void {
  const problems: string[] = [];
  if (ckpt.state.configHash !== expected.configHash) {
    problems.push(
      `config hash ${ckpt.state.configHash.slice(0, 10)} (run ${ckpt.state.runId}) != this ` +
        `run's ${expected.configHash.slice(0, 10)}`,
    );
  }
  if (ckpt.state.datasetFingerprint !== expected.datasetFingerprint) {
    problems.push(
      `data set fingerprint ${ckpt.state.datasetFingerprint} != this run's ` +
        expected.datasetFingerprint,
    );
  }
  const have = new Map(ckpt.weights.map((w) => [w.name, w.shape]));
  const extra = [...have.keys()].filter((n) => !modelShapes.has(n));
  const missing = [...modelShapes.keys()].filter((n) => !have.has(n));
  const shape = [...modelShapes.entries()].filter(([n, s]) =>
    have.has(n) && have.get(n)!.join("x") !== s.join("x")
  ).map(([n, s]) => `${n} [${have.get(n)}] vs model [${s}]`);
  const list = (xs: string[]) => xs.slice(0, 8).join(", ") + (xs.length > 8 ? ", …" : "");
  if (extra.length) problems.push(`weights not in the model: ${list(extra)}`);
  if (missing.length) problems.push(`model weights missing from the checkpoint: ${list(missing)}`);
  if (shape.length) problems.push(`weights with other shapes: ${list(shape)}`);
  if (problems.length) {
    throw new CheckpointMismatchError(
      `checkpoint ${ckpt.dir} is from another config:\n  ${problems.join("\n  ")}`,
    );
  }
}

/** State of a run directory, as a sweep sees it. */
export type RunStatus = "finished" | "partial" | "new";

/** `finished` when metrics.json exists, `partial` when a last checkpoint exists, else `new`. */
export async function runStatus(dir: string): Promise<RunStatus> {
  if (await exists(join(dir, "metrics.json"))) return "finished";
  if (await exists(join(dir, "checkpoints", "last", "checkpoint.json"))) return "partial";
  return "new";
}
