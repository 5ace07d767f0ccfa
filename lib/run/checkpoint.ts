/**
 * Checkpoints of a run folder, `checkpoints/last/` and `checkpoints/best/`: `checkpoint.json`
 * (training state, the tensor table and the SHA-256 of the weights file) and
 * `weights-e<epoch>-<token>.bin` (model weights and optimiser slots, concatenated).
 *
 * A checkpoint is committed by renaming its `checkpoint.json`, which names its weights file; the
 * weights file is written first under a fresh name, so a failure at any point leaves the previous
 * checkpoint readable. Loading checks the weights file against the recorded checksum (checkpoints
 * written before checksums were recorded load without the check).
 *
 * @module
 */
import { join } from "node:path";
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from "../run/atomic.ts";
import { sha256 } from "./hash.ts";
import type { EpochLog, StopInfo } from "./log.ts";

/** Version tag of the checkpoint format. */
export const CHECKPOINT_FORMAT = "grefel-checkpoint/1";

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
  /**
   * With a weight average (`train.emaDecay`): the best validation epoch of the raw weights, whose
   * raw weights are `checkpoints/best-raw` (absent otherwise and in older checkpoints).
   */
  bestRaw?: { metric: string; value: number; epoch: number } | null;
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
  /** SHA-256 of the weights file (absent in checkpoints written before it was recorded). */
  weightsSha256?: string;
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
    weightsSha256: sha256(blob),
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
  if (manifest.weightsSha256 !== undefined) {
    const actual = sha256(blob);
    if (actual !== manifest.weightsSha256) {
      throw new Error(
        `${path} is corrupt: its SHA-256 is ${actual.slice(0, 16)}…, checkpoint.json records ` +
          `${manifest.weightsSha256.slice(0, 16)}…`,
      );
    }
  }
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
  const {
    format: _f,
    weightsFile: _w,
    weightsSha256: _s,
    weights,
    optimizer,
    writtenAt: _t,
    ...state
  } = manifest;
  return { dir, state, weights: unpack(weights), optimizer: unpack(optimizer) };
}

/**
 * Reads only the training state of the checkpoint in `dir` (no weights), or null when `dir` holds
 * none. @throws Error naming a corrupt checkpoint.json.
 */
export async function readCheckpointState(dir: string): Promise<CheckpointState | null> {
  const manifest = await readJsonIfExists<CheckpointManifest>(join(dir, "checkpoint.json"));
  if (!manifest) return null;
  const {
    format: _f,
    weightsFile: _w,
    weightsSha256: _s,
    weights: _ws,
    optimizer: _o,
    writtenAt: _t,
    ...state
  } = manifest;
  return state;
}

/** An error raised when a checkpoint does not belong to the run that tries to load it. */
export class CheckpointMismatchError extends Error {
  /** An error with `message`. */
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
