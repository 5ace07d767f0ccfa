/**
 * Rows for the weight-averaging notebook (notebook 12, `experiments/averaging.json`): how much the
 * validation accuracy of a run moves from one epoch to the next, with single weights and with the
 * moving average of `train.emaDecay`, how far the selected epoch's validation accuracy lies above
 * its test accuracy, and the paired test difference of averaged against single weights. Also the
 * generic control pairs that notebook 11's fine-tuning table uses.
 *
 * Rows only: the notebook displays them; the numbers come from the runs' logs and predictions.
 *
 * @module
 */
import {
  formatDifference,
  type PairedDifference,
  pairedDifference,
  verdict,
} from "../eval/paired.ts";
import type { EpochLog } from "../run/log.ts";
import { readPredictions } from "../run/csv.ts";
import { formatMeanStd, meanStd } from "./tables.ts";
import { pairedAgainst, type StudyRun } from "./rb_study.ts";

/** Two variants that differ in one factor: a treated value against the control value. */
export interface ControlPair {
  /** The value of the grouping key shared by both (e.g. the head `dropout-bn-0.5`). */
  group: string;
  /** Variant with the treated value. */
  treated: string;
  /** Variant with the control value. */
  control: string;
}

/**
 * The pairs among variant names `factor=value[,more=…],<groupKey>=group`: every variant of a group
 * against `factor=control,<groupKey>=group` where that variant exists (variants without a control
 * partner are left out), in the order of `variants`.
 */
export function controlPairs(
  variants: readonly string[],
  factor: string,
  control: string,
  groupKey = "head",
): ControlPair[] {
  const sep = `,${groupKey}=`;
  const groups = [...new Set(variants.map((v) => v.split(sep)[1]).filter(Boolean))];
  return groups.flatMap((group) => {
    const base = `${factor}=${control}${sep}${group}`;
    if (!variants.includes(base)) return [];
    return variants
      .filter((v) => v.startsWith(`${factor}=`) && v.endsWith(`${sep}${group}`) && v !== base)
      .map((treated) => ({ group, treated, control: base }));
  });
}

/** Column names of {@linkcode pairedRows}. */
export interface PairLabels {
  /** Name of the grouping column (e.g. `head`). */
  group: string;
  /** What the treated arm is (e.g. `fine-tuned`). */
  treated: string;
  /** What the control arm is (e.g. `frozen`). */
  control: string;
}

/**
 * One row per pair: test accuracy of L_final (mean ± std over finished seeds, their count) of both
 * arms, and the paired difference treated − control (same seeds, same test images; two-level
 * bootstrap of lib/eval/paired.ts) with its verdict, or why there is none yet.
 */
export function pairedRows(
  runs: readonly StudyRun[],
  pairs: readonly ControlPair[],
  labels: PairLabels,
  groupKey = "head",
): Record<string, string>[] {
  return pairs.map((p) => {
    const acc = (v: string) => {
      const xs = runs.flatMap((r) => (r.variant === v && r.metrics ? [r.metrics.accuracy] : []));
      return xs.length
        ? `${formatMeanStd(meanStd(xs), { scale: 100, digits: 2 })}% (${xs.length})`
        : "—";
    };
    const done = (v: string) =>
      new Set(runs.flatMap((r) => (r.variant === v && r.metrics ? [r.seed] : [])));
    const controlSeeds = done(p.control);
    const shared = [...done(p.treated)].some((s) => controlSeeds.has(s));
    const d: PairedDifference | null = shared ? pairedAgainst(runs, p.treated, p.control) : null;
    return {
      [labels.group]: p.group,
      [`${labels.treated} cell`]: p.treated.replace(new RegExp(`,${groupKey}=.*$`), ""),
      [`${labels.control}: test L_final (seeds)`]: acc(p.control),
      [`${labels.treated}: test L_final (seeds)`]: acc(p.treated),
      [`${labels.treated} − ${labels.control} (95% CI)`]: d
        ? formatDifference(d, verdict(d))
        : "no seed finished in both arms yet",
    };
  });
}

/** Mean absolute difference of successive values (null with fewer than two). */
export function meanSuccessiveChange(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  let t = 0;
  for (let i = 1; i < values.length; i++) t += Math.abs(values[i] - values[i - 1]);
  return t / (values.length - 1);
}

/** Which logged validation accuracy {@linkcode validationNoise} reads. */
export type ValidationKey = "valAccuracy" | "valRawAccuracy";

/**
 * How much a run's validation accuracy (of L_final) moves per epoch: the mean absolute change from
 * one evaluated epoch to the next, over the epochs after `afterEpoch` (the first epochs, while the
 * model is still learning fast, are left out). `valRawAccuracy` is the raw weights' accuracy of a
 * run with a weight average. Null with fewer than three such epochs.
 */
export function validationNoise(
  log: readonly EpochLog[],
  key: ValidationKey = "valAccuracy",
  afterEpoch = 10,
): number | null {
  const xs = log.flatMap((e) => {
    const v = e[key];
    return e.epoch > afterEpoch && typeof v === "number" ? [v] : [];
  });
  return xs.length >= 3 ? meanSuccessiveChange(xs) : null;
}

/**
 * One row per finished run: how it stopped, the selected epoch's validation accuracy against the
 * test accuracy of the same weights (selection on a noisy validation curve shows as a positive
 * gap), and the per-epoch change of the validation accuracy of the evaluated weights and, for
 * averaged runs, of the raw weights beside them. Percentages and points.
 */
export function noiseRows(runs: readonly StudyRun[], afterEpoch = 10): Record<string, string>[] {
  const pts = (x: number | null) => (x === null ? "—" : (100 * x).toFixed(2));
  return runs.filter((r) => r.metrics).map((r) => {
    const m = r.metrics!;
    const best = m.best?.value ?? null;
    return {
      variant: r.variant,
      seed: String(r.seed),
      stopped: m.stopped
        ? `${m.stopped.reason}@${m.stopped.epoch} (best ${m.stopped.bestEpoch ?? "—"})`
        : "—",
      "selected val %": pts(best),
      "test %": pts(m.accuracy),
      "val − test (points)": best === null ? "—" : pts(best - m.accuracy),
      [`|Δ val| per epoch after ${afterEpoch} (points)`]: pts(
        validationNoise(r.log, "valAccuracy", afterEpoch),
      ),
      "|Δ val| of the raw weights (points)": pts(
        validationNoise(r.log, "valRawAccuracy", afterEpoch),
      ),
    };
  });
}

/** Per image of a predictions file: 1 where arg-max L_final is the label. */
function correctFinal(dir: string, file: string): Uint8Array {
  const p = readPredictions(dir, file);
  return Uint8Array.from(p.final, (d, i) => (d.indexOf(Math.max(...d)) === p.labels[i] ? 1 : 0));
}

/**
 * The within-run comparison of runs with a weight average: per variant, the averaged weights
 * (predictions.csv) against the raw weights of their own best validation epoch
 * (predictions-raw.csv, `metrics.raw`) on the same test images, paired over the variant's finished
 * seeds (lib/eval/paired.ts). Both arms share the training path, so seed-to-seed differences in
 * training cancel; what differs is which weights are validated, selected and tested. Runs without
 * a raw arm are left out.
 */
export function withinRunRows(runs: readonly StudyRun[]): Record<string, string>[] {
  const withRaw = runs.filter((r) => (r.metrics as { raw?: unknown } | null)?.raw);
  const variants = [...new Set(withRaw.map((r) => r.variant))];
  return variants.map((variant) => {
    const rs = withRaw.filter((r) => r.variant === variant).sort((a, b) => a.seed - b.seed);
    const acc = (xs: number[]) => `${formatMeanStd(meanStd(xs), { scale: 100, digits: 2 })}%`;
    const raw = (r: StudyRun) => (r.metrics as unknown as { raw: { accuracy: number } }).raw;
    const d = pairedDifference(
      rs.map((r) => correctFinal(r.dir, "predictions.csv")),
      rs.map((r) => correctFinal(r.dir, "predictions-raw.csv")),
    );
    return {
      variant,
      seeds: rs.map((r) => r.seed).join(", "),
      "averaged: test L_final": acc(rs.map((r) => r.metrics!.accuracy)),
      "raw weights, own best epoch: test L_final": acc(rs.map((r) => raw(r).accuracy)),
      "averaged − raw (95% CI)": formatDifference(d, verdict(d)),
    };
  });
}
