/**
 * The model-size study (`experiments/size.json`) as data for the notebooks and the README: per
 * variant, the trainable model's size (parameters, multiply-accumulates per image), how long its
 * runs trained (epochs, gradient steps, the wall hours they recorded and the one-core hours the
 * variant's measured step and inference times give), test accuracy of L_final (mean ± std over seeds), the paired
 * difference against the baseline variant, and the rule that names `compact` and `compact-large`.
 * No model logic: it reads run folders and counts the model from its config.
 *
 * @module
 */
import type { ModelConfig } from "../model/config.ts";
import { summarizeModel } from "../model/summary.ts";
import { formatDifference, type PairedDifference, verdict } from "../eval/paired.ts";
import { readRunRecord } from "../run/mod.ts";
import { pairedAgainst, readStudy, type StudyRun } from "./rb_study.ts";
import { formatMeanStd, type MeanStd, meanStd } from "./tables.ts";

/** One run of the size study: a {@linkcode StudyRun} with its model config and balanced accuracy. */
export interface SizeRun extends StudyRun {
  /** The resolved model config of the run (config.json's `config.model`). */
  model: ModelConfig;
  /** Balanced accuracy of L_final on the test split (null while training). */
  balancedAccuracy: number | null;
  /** Validation images (config.json's `dataset.sizes.val`; 0 when unrecorded). */
  valImages: number;
  /** Training batch size, also the validation batch (config.json's `config.train.batchSize`). */
  batchSize: number;
}

/** Reads every run folder under `dir` (`results/size`), as {@linkcode readStudy} does. */
export async function readSizeStudy(dir: string): Promise<SizeRun[]> {
  const runs = await readStudy(dir);
  return await Promise.all(runs.map(async (r) => {
    const record = await readRunRecord(r.dir);
    const config = record?.config as
      | { model?: ModelConfig; train?: { batchSize?: number } }
      | undefined;
    if (!config?.model) {
      throw new Error(`${r.dir}/config.json: no config.model to size the run's model`);
    }
    const evaluation = (r.metrics as { evaluation?: { final?: { balancedAccuracy?: number } } })
      ?.evaluation;
    const sizes = (record as { dataset?: { sizes?: { val?: number } } } | null)?.dataset?.sizes;
    return {
      ...r,
      model: config.model,
      balancedAccuracy: evaluation?.final?.balancedAccuracy ?? null,
      valImages: sizes?.val ?? 0,
      batchSize: config.train?.batchSize ?? 64,
    };
  }));
}

/** One variant's row of the size table. */
export interface SizeRow {
  /** Variant name. */
  variant: string;
  /** Trainable parameters of the variant's model. */
  params: number;
  /** Multiply-accumulates per image forward, attention products included. */
  macs: number;
  /** Finished runs (seeds). */
  seeds: number;
  /** Runs still training. */
  running: number;
  /** Test accuracy of L_final. */
  test: MeanStd;
  /** Balanced test accuracy of L_final. */
  balanced: MeanStd;
  /** Epochs trained. */
  epochs: MeanStd;
  /** Gradient steps trained. */
  steps: MeanStd;
  /**
   * Wall hours the run's epochs recorded (training and validation, one process on one core). Runs
   * that moved between machines, or shared one with other runs, add up unlike hours: read it as
   * what it cost where it ran.
   */
  recordedHours: MeanStd;
  /**
   * The machines the finished runs' epochs recorded (`EpochLog.machine`), "unrecorded" for epochs
   * logged before the field existed.
   */
  machines: string[];
  /**
   * One-core hours of the run's gradient steps and of one validation pass per validated epoch, at
   * the variant's measured seconds per step and per inference batch (every variant timed on the
   * same machine), or null without times. One pass, whatever the run did: the cost of the recipe
   * as a preset would run it (`train.validateRaw` off), the same for every variant.
   */
  computeHours: MeanStd | null;
  /** Why each run stopped, as `reason@epoch (best epoch)`. */
  stops: string[];
  /** Paired test-accuracy difference against the baseline variant (null for the baseline). */
  vsBaseline: PairedDifference | null;
}

/** One variant's measured times (bench/variant_steps.ts `seconds` and `inferSeconds`). */
export interface VariantTiming {
  /** Seconds per training step. */
  step: number;
  /** Seconds per inference batch of the training batch size. */
  infer: number;
}

/**
 * One-core hours of a run's steps and one validation pass per validated epoch at `t`
 * (see {@linkcode SizeRow.computeHours}).
 */
export function runCostHours(run: SizeRun, t: VariantTiming): number {
  const steps = run.log.reduce((s, e) => s + (e.steps ?? 0), 0);
  const validated = run.log.filter((e) => e.valAccuracy !== null && e.valAccuracy !== undefined);
  const batches = Math.ceil(run.valImages / run.batchSize);
  return (steps * t.step + validated.length * batches * t.infer) / 3600;
}

/** Options of {@linkcode sizeRows}. */
export interface SizeOptions {
  /** The variant every other is paired against (the current `compact`). */
  baseline: string;
  /**
   * Seconds per training step and per inference batch of each variant, all measured on one machine
   * with one thread (bench/variant_steps.ts). Variants without times get no compute hours.
   */
  timing?: Readonly<Record<string, VariantTiming>>;
  /**
   * The model config of every variant the experiment plans (default: only the variants with a
   * run). A planned variant without runs gets a row with no seeds, so the table shows what is
   * still to train.
   */
  planned?: Readonly<Record<string, ModelConfig>>;
}

/** The size table: one row per variant, the baseline first, then by trainable parameters. */
export function sizeRows(runs: readonly SizeRun[], opts: SizeOptions): SizeRow[] {
  const byVariant = new Map<string, SizeRun[]>();
  for (const r of runs) byVariant.set(r.variant, [...(byVariant.get(r.variant) ?? []), r]);
  if (!byVariant.has(opts.baseline)) {
    throw new Error(`sizeRows: no run of the baseline variant "${opts.baseline}"`);
  }
  for (const v of Object.keys(opts.planned ?? {})) if (!byVariant.has(v)) byVariant.set(v, []);
  const rows = [...byVariant].map(([variant, rs]) => {
    const done = rs.filter((r) => r.metrics);
    const size = summarizeModel(rs[0]?.model ?? opts.planned![variant]);
    const steps = done.map((r) => r.log.reduce((s, e) => s + (e.steps ?? 0), 0));
    const timing = opts.timing?.[variant];
    return {
      variant,
      params: size.trainableParams,
      macs: size.flops + size.attentionFlops,
      seeds: done.length,
      running: rs.length - done.length,
      test: meanStd(done.map((r) => r.metrics!.accuracy)),
      balanced: meanStd(done.flatMap((r) => r.balancedAccuracy ?? [])),
      epochs: meanStd(done.map((r) => r.metrics!.epochs)),
      steps: meanStd(steps),
      recordedHours: meanStd(done.map((r) => r.log.reduce((s, e) => s + e.seconds, 0) / 3600)),
      machines: [...new Set(done.flatMap((r) => r.log.map((e) => e.machine ?? "unrecorded")))],
      computeHours: timing ? meanStd(done.map((r) => runCostHours(r, timing))) : null,
      stops: done.map((r) => {
        const s = r.metrics!.stopped;
        return s ? `${s.reason}@${s.epoch} (best ${s.bestEpoch ?? "-"})` : "unrecorded";
      }),
      vsBaseline: variant === opts.baseline ? null : pairedAgainst(runs, variant, opts.baseline),
    };
  });
  const key = (r: SizeRow) => (r.variant === opts.baseline ? -1 : r.params);
  return rows.sort((a, b) => key(a) - key(b) || a.variant.localeCompare(b.variant));
}

/** The training cost a choice compares: compute hours where measured, else the recorded hours. */
export function costHours(row: SizeRow): number {
  return (row.computeHours ?? row.recordedHours).mean;
}

/**
 * The default budget of `compact-large`, in one-core compute hours: about an hour of training on
 * both cores of the 2-core machine, where a data-parallel run (`train.workers` 2) steps and
 * validates about 1.6 times as fast as one core (bench/analysis.md, data-parallel rounds).
 */
export const SIZE_BUDGET_HOURS = 1.6;

/** Options of {@linkcode chooseSizes}. */
export interface ChooseSizesOptions {
  /** The current `compact` (the variant the others are paired against). */
  baseline: string;
  /** Finished seeds a variant needs to be chosen (default 3). */
  minSeeds?: number;
  /**
   * Most one-core training hours (see {@linkcode costHours}) of `compact-large`. Default
   * {@linkcode SIZE_BUDGET_HOURS}.
   */
  budgetHours?: number;
}

/** What {@linkcode chooseSizes} decided, with the sentences that say why. */
export interface SizeChoice {
  /** `compact`: best test accuracy per training hour (null while no variant has its seeds). */
  compact: string | null;
  /**
   * `compact-large`: the most accurate variant within the budget, when its paired difference over
   * `compact` holds; null otherwise (no larger configuration is resolved better).
   */
  compactLarge: string | null;
  /** One sentence per step of the rule, with its numbers. */
  reasons: string[];
  /** Whether some variant lacks seeds, so that the choice may still change. */
  provisional: boolean;
}

/**
 * The rule that names the presets, over the variants with at least `minSeeds` finished seeds:
 * 1. `compact` is the variant with the highest mean test accuracy per training hour
 *    ({@linkcode costHours}) among those within the budget;
 * 2. `compact-large` is the variant within the budget with the highest mean test accuracy, other
 *    than `compact`, and only if its paired difference against `compact` (same seeds, same images)
 *    holds; otherwise there is no distinct `compact-large` and the reason gives the interval and
 *    the smallest effect the design could detect.
 * Variants short of seeds are listed as undecided, never chosen, and make the choice provisional.
 */
export function chooseSizes(
  runs: readonly SizeRun[],
  rows: readonly SizeRow[],
  opts: ChooseSizesOptions,
): SizeChoice {
  const minSeeds = opts.minSeeds ?? 3, budget = opts.budgetHours ?? SIZE_BUDGET_HOURS;
  const reasons: string[] = [];
  const short = rows.filter((r) => r.seeds < minSeeds);
  const provisional = short.length > 0;
  if (short.length) {
    reasons.push(
      `undecided (fewer than ${minSeeds} finished seeds): ` +
        short.map((r) => `${r.variant} (${r.seeds})`).join(", "),
    );
  }
  const ready = rows.filter((r) => r.seeds >= minSeeds && Number.isFinite(costHours(r)));
  const within = ready.filter((r) => costHours(r) <= budget);
  for (const r of ready.filter((r) => costHours(r) > budget)) {
    reasons.push(`${r.variant}: ${costHours(r).toFixed(2)} h, over the ${budget} h budget`);
  }
  if (!within.length) {
    reasons.push("no variant with its seeds within the budget: nothing chosen");
    return { compact: null, compactLarge: null, reasons, provisional };
  }
  const perHour = (r: SizeRow) => 100 * r.test.mean / costHours(r);
  const per = (r: SizeRow) =>
    `${perHour(r).toFixed(1)} (${(100 * r.test.mean).toFixed(2)}% in ${costHours(r).toFixed(2)} h)`;
  const compact = within.reduce((a, b) => (perHour(b) > perHour(a) ? b : a));
  const others = within.filter((r) => r !== compact);
  reasons.push(
    `compact = ${compact.variant}: ${per(compact)} accuracy points per hour` +
      (others.length ? `; ${others.map((r) => `${r.variant} ${per(r)}`).join(", ")}` : ""),
  );
  if (!others.length) {
    reasons.push(
      `compact-large: no other variant ${short.length ? "with its seeds " : ""}within the budget`,
    );
    return { compact: compact.variant, compactLarge: null, reasons, provisional };
  }
  const best = others.reduce((a, b) => (b.test.mean > a.test.mean ? b : a));
  const d = pairedAgainst(runs, best.variant, compact.variant);
  if (!d) {
    reasons.push(`compact-large: ${best.variant} shares no seed with ${compact.variant}`);
    return { compact: compact.variant, compactLarge: null, reasons, provisional };
  }
  const v = verdict(d);
  const large = v === "holds" ? best.variant : null;
  reasons.push(
    `compact-large: the most accurate other variant within the budget is ${best.variant}; ` +
      `${best.variant} − ${compact.variant}: ${formatDifference(d, v)}` +
      (large ? ", so it is compact-large" : ", so no larger configuration is resolved better"),
  );
  return { compact: compact.variant, compactLarge: large, reasons, provisional };
}

/** A {@linkcode SizeRow} as strings for a table. */
export function sizeDisplayRow(r: SizeRow): Record<string, string> {
  const hours = (m: MeanStd | null) => (m ? formatMeanStd(m, { scale: 1 }) : "—");
  return {
    variant: r.variant,
    "params": r.params.toLocaleString("en-US"),
    "MMACs / image": (r.macs / 1e6).toFixed(1),
    seeds: r.running ? `${r.seeds} (+${r.running} running)` : String(r.seeds),
    "test L_final (%)": formatMeanStd(r.test),
    "balanced (%)": formatMeanStd(r.balanced),
    epochs: formatMeanStd(r.epochs, { scale: 1, digits: 1 }),
    "compute hours (1 core)": hours(r.computeHours),
    "recorded hours": hours(r.recordedHours),
    "recorded on": r.machines.join(", "),
    stopped: r.stops.join("; "),
    "− baseline (95% CI)": r.vsBaseline
      ? formatDifference(r.vsBaseline, verdict(r.vsBaseline))
      : "—",
  };
}
