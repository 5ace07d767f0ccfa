/**
 * Early stopping as a pure function of the validation history, so that a resumed run, a finished
 * run read back from its log and a run in progress all reach the same decision.
 *
 * @module
 */
import type { EarlyStopConfig } from "./config.ts";
import type { GrefelConfig } from "../config.ts";
import type { EpochLog, StopInfo } from "../run/log.ts";

/** Where early stopping stands after a sequence of validation evaluations. */
export interface EarlyStopStatus {
  /** The compared value after each evaluation: the mean of the last `window` values. */
  smoothed: number[];
  /** Index (into the evaluations) of the best compared value, or -1 before any evaluation. */
  best: number;
  /** Evaluations since the best compared value. */
  since: number;
}

/**
 * The moving mean of the last `window` values at each position (over fewer values at the start).
 * @throws RangeError when `window` is not an integer ≥ 1.
 */
export function movingMean(values: readonly number[], window: number): number[] {
  if (!Number.isInteger(window) || window < 1) {
    throw new RangeError(`window ${window}: expected an integer ≥ 1`);
  }
  return values.map((_, i) => {
    const from = Math.max(0, i - window + 1);
    let s = 0;
    for (let j = from; j <= i; j++) s += values[j];
    return s / (i - from + 1);
  });
}

/**
 * Early-stopping state after the validation values `values` (one per evaluation, in order; the
 * i-th after epoch `epochs[i]`, by default i + 1): a compared value improves on the best when it
 * exceeds it by more than `minDelta`. Evaluations before epoch `startEpoch` (default 1) enter the
 * moving means of later ones but are never the best; before the first evaluation at or after it,
 * `best` is -1 and `since` 0.
 * @throws RangeError when `epochs` is given with another length than `values`.
 */
export function earlyStopStatus(
  values: readonly number[],
  es: Pick<EarlyStopConfig, "window" | "minDelta"> & { startEpoch?: number },
  epochs?: readonly number[],
): EarlyStopStatus {
  if (epochs && epochs.length !== values.length) {
    throw new RangeError(`${values.length} validation values but ${epochs.length} epochs`);
  }
  const smoothed = movingMean(values, es.window);
  const start = es.startEpoch ?? 1;
  let best = -1;
  for (let i = 0; i < smoothed.length; i++) {
    if ((epochs ? epochs[i] : i + 1) < start) continue;
    if (best < 0 || smoothed[i] > smoothed[best] + es.minDelta) best = i;
  }
  return { smoothed, best, since: best < 0 ? 0 : smoothed.length - 1 - best };
}

/**
 * Whether training stops after `epoch`, given the validation values so far (after the epochs
 * `epochs`, by default 1, 2, …): early stopping is on, the run has trained at least `minEpochs` and
 * the compared value has not improved for `patience` evaluations since its best at or after
 * `startEpoch`.
 */
export function shouldStopEarly(
  values: readonly number[],
  epoch: number,
  es: EarlyStopConfig,
  epochs?: readonly number[],
): boolean {
  return es.enabled && epoch >= es.minEpochs &&
    earlyStopStatus(values, es, epochs).since >= es.patience;
}

/**
 * The selection metric's value (`valAccuracy` or `valPrimaryAccuracy`) after each validated epoch
 * of `log`, with its epoch, in order: the history the best epoch is read from, and early stopping's
 * with `watch` `"selected"`. With `watch` `"raw"`, the raw weights' values of an averaged run
 * (`valRawAccuracy`, `valRawPrimaryAccuracy`), the history early stopping then reads.
 * @throws RangeError when `watch` is `"raw"` and a validated epoch has no raw value.
 */
export function validatedEpochs(
  log: readonly EpochLog[],
  metric: string,
  watch: EarlyStopConfig["watch"] = "selected",
): { epoch: number; value: number }[] {
  return log.flatMap((e) => {
    const v = metric === "valAccuracy" ? e.valAccuracy : e.valPrimaryAccuracy;
    if (v === null || v === undefined) return [];
    if (watch === "selected") return [{ epoch: e.epoch, value: v }];
    const raw = metric === "valAccuracy" ? e.valRawAccuracy : e.valRawPrimaryAccuracy;
    if (typeof raw !== "number") {
      throw new RangeError(
        `epoch ${e.epoch} has no raw validation value to stop on (earlyStop.watch "raw" needs ` +
          `train.emaDecay > 0)`,
      );
    }
    return [{ epoch: e.epoch, value: raw }];
  });
}

/**
 * The best checkpoint's epoch and value among validated epochs (in order), as the trainer keeps it:
 * epochs before `startEpoch` (default 1) do not count, and a value replaces the best when it exceeds
 * it by more than `minDelta`; null without any.
 */
export function bestValidated(
  values: readonly { epoch: number; value: number }[],
  minDelta: number,
  startEpoch = 1,
): { epoch: number; value: number } | null {
  let best: { epoch: number; value: number } | null = null;
  for (const v of values) {
    if (v.epoch >= startEpoch && (!best || v.value > best.value + minDelta)) best = v;
  }
  return best;
}

/**
 * Why training ends after `epoch`, given the watched validation values so far (after the epochs
 * `watchedEpochs`, by default 1, 2, …): `early-stop`
 * ({@linkcode shouldStopEarly}), `epoch-cap` (the run reached `epochs`), or null when it goes on.
 */
export function stopReason(
  watched: readonly number[],
  epoch: number,
  es: EarlyStopConfig,
  epochs: number,
  watchedEpochs?: readonly number[],
): "early-stop" | "epoch-cap" | null {
  if (shouldStopEarly(watched, epoch, es, watchedEpochs)) return "early-stop";
  return epoch >= epochs ? "epoch-cap" : null;
}

/** Where another stopping rule would have ended a logged run ({@linkcode replayStop}). */
export interface ReplayedStop {
  /**
   * The epoch the rule stops after (early stopping or `epochs`, the cap), or null when the log
   * ends before the rule decides (the run needed more epochs than were logged).
   */
  epoch: number | null;
  /** Why: `early-stop`, `epoch-cap`, or `undecided` (the log ends first). */
  reason: "early-stop" | "epoch-cap" | "undecided";
  /** The best checkpoint's epoch up to the stop (or up to the log's end when undecided). */
  bestEpoch: number | null;
  /** Its selection-metric value. */
  bestValue: number | null;
}

/**
 * Replays the trainer's best-checkpoint and stopping rules (lib/train/train.ts `recordEpoch`) on a
 * logged run under another early-stopping configuration `es` and epoch cap `epochs`. The training
 * path does not depend on when a run stops (stopping only ends it, and an average only reads the
 * raw weights), so while the rule stops within the logged epochs, a run with it would have trained
 * the same epochs and selected the returned epoch's checkpoint: the same weights, hence the same
 * test result, at the cost of `epoch` epochs. `metric` is the selection metric (`valAccuracy` or
 * `valPrimaryAccuracy`); every logged epoch must be validated (`train.evalEvery` 1).
 * @throws RangeError when an epoch has no validation value, or `es.watch` is `"raw"` and one has
 *   no raw value.
 */
export function replayStop(
  log: readonly EpochLog[],
  es: EarlyStopConfig,
  epochs: number,
  metric = "valAccuracy",
): ReplayedStop {
  const selected = validatedEpochs(log, metric);
  if (selected.length !== log.length) {
    throw new RangeError(`${log.length - selected.length} logged epoch(s) have no ${metric}`);
  }
  const watched = validatedEpochs(log, metric, es.watch).map((v) => v.value);
  const at = selected.map((v) => v.epoch);
  for (let i = 0; i < log.length; i++) {
    const reason = stopReason(watched.slice(0, i + 1), at[i], es, epochs, at.slice(0, i + 1));
    if (reason) {
      const best = bestValidated(selected.slice(0, i + 1), es.minDelta, es.startEpoch);
      return {
        epoch: at[i],
        reason,
        bestEpoch: best?.epoch ?? null,
        bestValue: best?.value ?? null,
      };
    }
  }
  const best = bestValidated(selected, es.minDelta, es.startEpoch);
  return {
    epoch: null,
    reason: "undecided",
    bestEpoch: best?.epoch ?? null,
    bestValue: best?.value ?? null,
  };
}

/**
 * Why a run with `config` stops after the last epoch of `log`, or null when it goes on; the
 * decision the epoch loop takes (lib/train/train.ts `recordEpoch` records this).
 */
export function stoppedAfter(log: readonly EpochLog[], config: GrefelConfig): StopInfo | null {
  const tc = config.train;
  const epoch = log.at(-1)?.epoch ?? 0;
  const vals = validatedEpochs(log, tc.selectMetric);
  const watched = validatedEpochs(log, tc.selectMetric, tc.earlyStop.watch);
  const values = watched.map((v) => v.value);
  const at = watched.map((v) => v.epoch);
  const reason = stopReason(values, epoch, tc.earlyStop, tc.epochs, at);
  if (!reason) return null;
  const es = earlyStopStatus(values, tc.earlyStop, at);
  return {
    reason,
    epoch,
    bestEpoch: bestValidated(vals, tc.earlyStop.minDelta, tc.earlyStop.startEpoch)?.epoch ?? null,
    patience: tc.earlyStop.enabled ? tc.earlyStop.patience : null,
    ...(tc.earlyStop.window > 1 && es.best >= 0
      ? { window: tc.earlyStop.window, smoothedBestEpoch: watched[es.best].epoch }
      : {}),
    ...(tc.earlyStop.watch === "raw" ? { watched: "raw" as const } : {}),
  };
}
