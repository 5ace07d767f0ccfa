/**
 * A run's epoch log, `log.jsonl`: one JSON object per epoch (each loss term, train and validation
 * accuracy, learning rate, seconds, branch reports, gradient norms), and why training stopped.
 *
 * @module
 */
import { join } from "node:path";
import type { BranchReport } from "../eval/branches.ts";
import { exists, writeFileAtomic } from "../run/atomic.ts";

/** File name of the epoch log inside a run folder. */
export const LOG_FILE = "log.jsonl";

/**
 * Parts of the model whose gradient norm is logged: the head, the anchors, the attentive
 * correction, the backbone (everything before the embedding e), and the fine-tuned extractor
 * block (`model.finetune`; logged only for models that have one).
 */
export const GRAD_GROUPS = ["head", "anchors", "attentive", "backbone", "finetune"] as const;

/** One part of {@linkcode GRAD_GROUPS}. */
export type GradGroup = typeof GRAD_GROUPS[number];

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
  /** Training accuracy of the final prediction (argmax L_final), in training mode. */
  trainAccuracy: number;
  /** Validation accuracy, final prediction (null when not evaluated this epoch). */
  valAccuracy: number | null;
  /** Validation accuracy, primary prediction. */
  valPrimaryAccuracy: number | null;
  /**
   * With a weight average (`train.emaDecay`), the validation accuracy of the raw weights, final
   * prediction (`valAccuracy` is then the averaged weights'). Absent otherwise.
   */
  valRawAccuracy?: number | null;
  /** The same, primary prediction. */
  valRawPrimaryAccuracy?: number | null;
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
  gradNorm?: Partial<Record<GradGroup, number>>;
  /**
   * The code that trained the epoch (lib/run/code_version.ts `codeLabel`: commit, `+dirty` for
   * uncommitted changes; null outside git). Absent in older runs.
   */
  code?: string | null;
  /**
   * The machine that trained the epoch (lib/run/machine.ts `machineLabel`: CPU model and cores),
   * for reading `seconds`. Absent in older runs.
   */
  machine?: string;
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
  /**
   * `raw` when early stopping read the raw weights' curve of an averaged run
   * (`train.earlyStop.watch`); absent when it read the selected weights' curve.
   */
  watched?: "raw";
}

/** Serialises epoch logs as JSON lines. */
export function formatLog(entries: readonly EpochLog[]): string {
  return entries.map((e) => JSON.stringify(e)).join("\n") + (entries.length ? "\n" : "");
}

/** Parses `log.jsonl` (a missing file is an empty log). @throws Error naming a corrupt line. */
export async function readLog(dir: string): Promise<EpochLog[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, LOG_FILE));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return text.split("\n").filter((l) => l.trim()).map((l, i) => {
    try {
      return JSON.parse(l) as EpochLog;
    } catch {
      throw new Error(`${join(dir, LOG_FILE)} line ${i + 1} is not valid JSON`);
    }
  });
}

/** Writes `log.jsonl` of the run folder `dir` atomically. */
export function writeLog(dir: string, entries: readonly EpochLog[]): Promise<void> {
  return writeFileAtomic(join(dir, LOG_FILE), formatLog(entries));
}

/**
 * Keeps the log of a run that cannot be resumed: a run folder whose `log.jsonl` holds epochs but
 * which has no checkpoint to resume from (its checkpoints were lost with a machine, say) trains
 * again from epoch 1, and its old log — the only record of what those epochs measured — is renamed
 * to `log-unresumable-<n>.jsonl` (the first free n) instead of being overwritten. Returns that path
 * and the number of epochs it holds, or null when there is no log or it is empty.
 */
export async function keepUnresumableLog(
  dir: string,
): Promise<{ path: string; epochs: number } | null> {
  const from = join(dir, LOG_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(from);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const epochs = text.split("\n").filter((l) => l.trim()).length;
  if (!epochs) return null;
  let n = 1; // the first number no earlier restart has taken
  while (await exists(join(dir, `log-unresumable-${n}.jsonl`))) n++;
  const path = join(dir, `log-unresumable-${n}.jsonl`);
  await Deno.rename(from, path);
  return { path, epochs };
}
