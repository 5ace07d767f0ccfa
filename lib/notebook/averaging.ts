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
import { adjustPrior } from "../eval/prior.ts";
import { argmax, balancedAccuracy } from "../eval/metrics.ts";
import { join } from "node:path";
import { formatMeanStd, meanStd } from "./tables.ts";
import { replayStop } from "../train/early_stop.ts";
import type { EarlyStopConfig } from "../train/config.ts";
import { correctnessOf, pairedAgainst, type StudyRun } from "./rb_study.ts";

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

/** One arm of a within-run comparison: a predictions file of the run and what it holds. */
export interface RunArm {
  /** File in the run folder (`predictions.csv`, `predictions-raw.csv`, `predictions-tta.csv`). */
  file: string;
  /** What the arm is, for the column names. */
  label: string;
}

/** Accuracy per seed (from 0/1 correctness per image) as "mean ± std%" over the seeds. */
function meanAccuracy(perSeed: readonly Uint8Array[]): string {
  const accs = perSeed.map((c) => c.reduce((t, x) => t + x, 0) / c.length);
  return `${formatMeanStd(meanStd(accs), { scale: 100, digits: 2 })}%`;
}

/** Whether `path` is a file. */
function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Two predictions files of the same runs against each other: per variant, over its finished runs
 * that have both files, test accuracy of L_final of each arm (mean ± std over seeds) and the paired
 * difference a − b on the same test images (two-level bootstrap of lib/eval/paired.ts). Both arms
 * come from the same training, so its seed-to-seed spread cancels and the interval is about what
 * differs between the files (the weights evaluated, the views averaged). Variants with no such run
 * are left out.
 */
export function withinRunPairs(
  runs: readonly StudyRun[],
  a: RunArm,
  b: RunArm,
): Record<string, string>[] {
  const both = runs.filter((r) =>
    r.metrics && isFile(join(r.dir, a.file)) && isFile(join(r.dir, b.file))
  );
  const variants = [...new Set(both.map((r) => r.variant))];
  return variants.map((variant) => {
    const rs = both.filter((r) => r.variant === variant).sort((x, y) => x.seed - y.seed);
    const ca = rs.map((r) => correctnessOf(r.dir, "final", a.file));
    const cb = rs.map((r) => correctnessOf(r.dir, "final", b.file));
    const d = pairedDifference(ca, cb);
    return {
      variant,
      seeds: rs.map((r) => r.seed).join(", "),
      [`${a.label}: test L_final`]: meanAccuracy(ca),
      [`${b.label}: test L_final`]: meanAccuracy(cb),
      [`${a.label} − ${b.label} (95% CI)`]: formatDifference(d, verdict(d)),
    };
  });
}

/**
 * The within-run comparison of runs with a weight average: the averaged weights (predictions.csv)
 * against the raw weights of their own best validation epoch (predictions-raw.csv, `metrics.raw`),
 * {@linkcode withinRunPairs}. Both arms share the training path; what differs is which weights are
 * validated, selected and tested.
 */
export function withinRunRows(runs: readonly StudyRun[]): Record<string, string>[] {
  return withinRunPairs(
    runs,
    { file: "predictions.csv", label: "averaged" },
    { file: "predictions-raw.csv", label: "raw weights, own best epoch" },
  );
}

/**
 * Test-time flip (`grefel eval --tta flip`) against the plain evaluation of the same runs and
 * weights: {@linkcode withinRunPairs} of predictions-tta.csv against predictions.csv, with the
 * validation accuracies of both (from `eval-best-tta.json`, mean over the seeds), where a choice
 * of the option is made.
 */
export function ttaRows(runs: readonly StudyRun[]): Record<string, string>[] {
  const rows = withinRunPairs(
    runs,
    { file: "predictions-tta.csv", label: "flip-averaged" },
    { file: "predictions.csv", label: "centre view" },
  );
  return rows.map((row) => {
    const seeds = new Set(row.seeds.split(", ").map(Number));
    const valid = runs.filter((r) => r.variant === row.variant && seeds.has(r.seed))
      .flatMap((r) => {
        const path = join(r.dir, "eval-best-tta.json");
        if (!isFile(path)) return [];
        const t = JSON.parse(Deno.readTextFileSync(path)).tta?.valid;
        return t ? [[t.centre.final, t.averaged.final] as [number, number]] : [];
      });
    const mean = (k: 0 | 1) =>
      valid.length
        ? `${(100 * valid.reduce((s, v) => s + v[k], 0) / valid.length).toFixed(2)}%`
        : "—";
    return { ...row, "valid: centre → flip-averaged": `${mean(0)} → ${mean(1)}` };
  });
}

/** The two priors of a class-prior correction (the `prior` section of `eval-best-prior.json`). */
export interface CorrectionPriors {
  /** π_s: the class prior of the training epochs (what the model learnt under). */
  samplerPrior: readonly number[];
  /** π_t: the class prior the predictions are moved to (the training split's). */
  targetPrior: readonly number[];
}

/**
 * The class-prior correction (lib/eval/prior.ts, `grefel eval --prior train`) against the plain
 * prediction of the same runs and weights. It is computed from each finished run's
 * predictions.csv with `priors`, which are the same for every run of one data set and sampler, so
 * runs whose checkpoints are gone are scored too. Per variant: test accuracy of L_final both ways
 * (mean ± std over seeds), the paired difference corrected − plain (same images, two-level
 * bootstrap), balanced accuracy both ways (mean over seeds), and the validation accuracy both ways
 * where runs have an `eval-best-prior.json` (mean over those runs; where the option is chosen).
 */
export function priorRows(
  runs: readonly StudyRun[],
  priors: CorrectionPriors,
): Record<string, string>[] {
  const done = runs.filter((r) => r.metrics && isFile(join(r.dir, "predictions.csv")));
  const variants = [...new Set(done.map((r) => r.variant))];
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  return variants.map((variant) => {
    const rs = done.filter((r) => r.variant === variant).sort((x, y) => x.seed - y.seed);
    const scored = rs.map((r) => {
      const p = readPredictions(r.dir);
      const C = p.classNames.length;
      const plain = Int32Array.from(p.final, (d) => d.indexOf(Math.max(...d)));
      const moved = adjustPrior(
        Float32Array.from(p.final.flat()),
        C,
        priors.samplerPrior,
        priors.targetPrior,
      );
      const corrected = argmax(moved, C);
      const right = (pred: Int32Array) =>
        Uint8Array.from(pred, (k, i) => (k === p.labels[i] ? 1 : 0));
      return {
        plain: right(plain),
        corrected: right(corrected),
        balanced: [
          balancedAccuracy(p.labels, plain, { numClasses: C }),
          balancedAccuracy(p.labels, corrected, { numClasses: C }),
        ],
      };
    });
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const valid = rs.flatMap((r) => {
      const path = join(r.dir, "eval-best-prior.json");
      if (!isFile(path)) return [];
      const v = JSON.parse(Deno.readTextFileSync(path)).prior?.valid;
      return v ? [[v.plain.final, v.corrected.final] as [number, number]] : [];
    });
    const d = pairedDifference(scored.map((s) => s.corrected), scored.map((s) => s.plain));
    return {
      variant,
      seeds: rs.map((r) => r.seed).join(", "),
      "plain: test L_final": meanAccuracy(scored.map((s) => s.plain)),
      "prior-corrected: test L_final": meanAccuracy(scored.map((s) => s.corrected)),
      "corrected − plain (95% CI)": formatDifference(d, verdict(d)),
      "test balanced accuracy: plain → corrected": `${
        pct(mean(scored.map((s) => s.balanced[0])))
      } → ${pct(mean(scored.map((s) => s.balanced[1])))}`,
      "valid: plain → corrected": valid.length
        ? `${pct(mean(valid.map((v) => v[0])))} → ${
          pct(mean(valid.map((v) => v[1])))
        } (${valid.length} run${valid.length > 1 ? "s" : ""})`
        : "—",
    };
  });
}

/** A stopping rule to replay on finished runs: a label and what it changes in `train.earlyStop`. */
export interface StopRule {
  /** Column label. */
  label: string;
  /** Fields of the run's own `train.earlyStop` that the rule replaces. */
  earlyStop: Partial<EarlyStopConfig>;
}

/**
 * What other stopping rules would have done with each finished run ({@linkcode replayStop} on its
 * log, with the rule's fields over the run's own `train.earlyStop` and its epoch cap). The training
 * path does not depend on the rule, so a rule that stops within the logged epochs and selects the
 * run's own best epoch would have produced the same weights, hence the same test accuracy, in the
 * epochs it names; one that selects another epoch gives weights this run did not test. One row per
 * finished run, in variant then seed order.
 */
export function stopRuleRows(
  runs: readonly StudyRun[],
  rules: readonly StopRule[],
): Record<string, string>[] {
  const done = runs.filter((r) => r.metrics?.stopped && r.metrics.best)
    .sort((a, b) => a.variant.localeCompare(b.variant) || a.seed - b.seed);
  return done.map((r) => {
    const m = r.metrics!;
    // config.json is the run record: the resolved config sits under `config`.
    const train = JSON.parse(Deno.readTextFileSync(join(r.dir, "config.json"))).config.train as {
      epochs: number;
      selectMetric: string;
      earlyStop: EarlyStopConfig;
    };
    const row: Record<string, string> = {
      variant: r.variant,
      seed: String(r.seed),
      "as trained": `${m.stopped!.epoch} epochs (${m.stopped!.reason}), best ${m.best!.epoch}`,
      "test L_final": `${(100 * m.accuracy).toFixed(2)}%`,
    };
    for (const rule of rules) {
      const es = { ...train.earlyStop, ...rule.earlyStop };
      const s = replayStop(r.log, es, train.epochs, train.selectMetric);
      row[rule.label] = s.reason === "undecided"
        ? `needs > ${r.log.length} epochs`
        : `${s.epoch} epochs, best ${s.bestEpoch}: ` +
          (s.bestEpoch === m.best!.epoch
            ? `same weights`
            : `other weights (val ${(100 * s.bestValue!).toFixed(2)}%)`);
    }
    return row;
  });
}
