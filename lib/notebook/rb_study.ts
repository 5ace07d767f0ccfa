/**
 * The reliability-balancing dynamics study (`experiments/rb-dynamics.json`) as data for the
 * notebooks and the README: every run's per-epoch branch curves, one table row per variant
 * (mean ± std over seeds), the paired difference of each variant against the literal `paper`
 * variant, and the rule that picks the project's default training variant. No model logic: it reads
 * run folders.
 *
 * @module
 */
import { join } from "node:path";
import type { BranchReport } from "../eval/branches.ts";
import {
  type Correctness,
  formatDifference,
  type PairedDifference,
  pairedDifference,
  verdict,
} from "../eval/paired.ts";
import { type EpochLog, readLog, readMetrics, readRunRecord, type StopInfo } from "../run/mod.ts";
import { formatMeanStd, type MeanStd, meanStd } from "./tables.ts";
import { readPredictions } from "./sweeps.ts";

/** One run of the study, finished or not. */
export interface StudyRun {
  /** Run directory. */
  dir: string;
  /** Run id. */
  runId: string;
  /** Variant name (from config.json). */
  variant: string;
  /** Seed. */
  seed: number;
  /** Per-epoch log (with branch reports where the run recorded them). */
  log: EpochLog[];
  /** metrics.json, or null while the run is training. */
  metrics: StudyMetrics | null;
}

/** The parts of metrics.json the study reads. */
export interface StudyMetrics {
  /** Test accuracy of L_final. */
  accuracy: number;
  /** Test accuracy of the primary head (arg-max l). */
  primaryAccuracy: number;
  /** Best validation metric and its epoch. */
  best: { metric: string; value: number; epoch: number } | null;
  /** Why training stopped. */
  stopped: StopInfo | null;
  /** Every branch on the test split. */
  rb: BranchReport;
  /** Epochs trained. */
  epochs: number;
}

/**
 * Reads every run folder under `dir` (`results/<experiment>`), finished or not, sorted by variant
 * then seed. Folders without config.json are ignored.
 */
export async function readStudy(dir: string): Promise<StudyRun[]> {
  const runs: StudyRun[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  for (const e of entries) {
    if (!e.isDirectory) continue;
    const d = join(dir, e.name);
    const config = await readRunRecord(d).catch(() => null);
    if (!config) continue;
    const metrics = await readMetrics<StudyMetrics>(d).catch(() => null); // null: still training
    runs.push({
      dir: d,
      runId: config.runId ?? e.name,
      variant: (config.variant as string | undefined) ?? "(none)",
      seed: config.seed ?? 0,
      log: await readLog(d),
      metrics,
    });
  }
  return runs.sort((a, b) => a.variant.localeCompare(b.variant) || a.seed - b.seed);
}

/** The validation branch report of a run's best epoch (or its last evaluated one). */
export function bestValReport(run: StudyRun): BranchReport | null {
  const epoch = run.metrics?.best?.epoch;
  const withVal = run.log.filter((e) => e.val);
  const at = epoch !== undefined ? withVal.find((e) => e.epoch === epoch) : undefined;
  return (at ?? withVal[withVal.length - 1])?.val ?? null;
}

/** One variant's row of the study table. */
export interface StudyRow {
  /** Variant name. */
  variant: string;
  /** Finished runs (seeds). */
  seeds: number;
  /** Runs still training. */
  running: number;
  /** Best validation accuracy of L_final. */
  valFinal: MeanStd;
  /** Test accuracy of L_final. */
  testFinal: MeanStd;
  /** Test accuracy of the primary head (arg-max l). */
  testPrimary: MeanStd;
  /** Share of test predictions RB changes. */
  changed: MeanStd;
  /** Test predictions fixed / broken (mean over seeds). */
  fixed: number;
  /** Test predictions broken by RB (mean over seeds). */
  broken: number;
  /** McNemar p of primary vs final, per seed. */
  mcnemarP: number[];
  /** Median primary confidence c_l on the test split. */
  medianCl: MeanStd;
  /** Mean per-sample std of l and of L_final (Fig. 9). */
  stdPrimary: MeanStd;
  /** Mean per-sample std of L_final. */
  stdFinal: MeanStd;
  /** Why each run stopped, as `reason@epoch (best epoch)`. */
  stops: string[];
  /** Whether RB is active on validation: it changes predictions and fixes more than it breaks. */
  rbActive: boolean;
  /**
   * Runs still training, as `s<seed> ep <epoch>: val <L_final>% (primary <l>%, RB +fixed/−broken)`
   * at their last evaluated epoch.
   */
  progress: string[];
}

/** The study table: one row per variant, over its finished runs. */
export function studyRows(runs: readonly StudyRun[]): StudyRow[] {
  const byVariant = new Map<string, StudyRun[]>();
  for (const r of runs) byVariant.set(r.variant, [...(byVariant.get(r.variant) ?? []), r]);
  return [...byVariant].map(([variant, rs]) => {
    const done = rs.filter((r) => r.metrics);
    const m = (f: (r: StudyRun) => number) => meanStd(done.map(f));
    const vals = done.map(bestValReport);
    const valFixed = vals.reduce((s, v) => s + (v?.changes.fixed ?? 0), 0);
    const valBroken = vals.reduce((s, v) => s + (v?.changes.broken ?? 0), 0);
    const valChanged = vals.reduce((s, v) => s + (v?.changes.changed ?? 0), 0);
    return {
      variant,
      seeds: done.length,
      running: rs.length - done.length,
      valFinal: meanStd(done.map((r) => r.metrics!.best?.value ?? NaN)),
      testFinal: m((r) => r.metrics!.accuracy),
      testPrimary: m((r) => r.metrics!.primaryAccuracy),
      changed: m((r) => r.metrics!.rb.changes.changedShare),
      fixed: mean(done.map((r) => r.metrics!.rb.changes.fixed)),
      broken: mean(done.map((r) => r.metrics!.rb.changes.broken)),
      mcnemarP: done.map((r) => r.metrics!.rb.changes.mcnemar.p),
      medianCl: m((r) => r.metrics!.rb.confidence.primary?.median ?? NaN),
      stdPrimary: m((r) => r.metrics!.rb.distributionStd.primary),
      stdFinal: m((r) => r.metrics!.rb.distributionStd.final),
      stops: done.map((r) => {
        const s = r.metrics!.stopped;
        return s ? `${s.reason}@${s.epoch} (best ${s.bestEpoch ?? "-"})` : "unrecorded";
      }),
      rbActive: done.length > 0 && valChanged > 0 && valFixed > valBroken,
      progress: rs.filter((r) => !r.metrics).map(progressOf),
    };
  });
}

/** Where a running run stands at its last evaluated epoch. */
function progressOf(r: StudyRun): string {
  const last = r.log.filter((e) => e.val).at(-1);
  if (!last?.val) return `s${r.seed} ep ${r.log.at(-1)?.epoch ?? 0}`;
  const v = last.val, pct = (x: number | null) => (x === null ? "-" : (100 * x).toFixed(1));
  return `s${r.seed} ep ${last.epoch}: val ${pct(v.accuracy.final)}% (primary ` +
    `${pct(v.accuracy.primary)}%, RB +${v.changes.fixed}/−${v.changes.broken})`;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** One criterion of what reliability balancing should do, checked on a variant's runs. */
export interface RbCriterion {
  /** What is checked, e.g. "primary head within 3 points of L_final". */
  name: string;
  /** Whether the variant meets it (mean over its finished runs). */
  met: boolean;
  /** The numbers behind it. */
  evidence: string;
}

/**
 * Thresholds of what reliability balancing should do (the study's acceptance numbers): the primary
 * head within 3 points of L_final, RB changing at least 2% of predictions, fixing more than it
 * breaks, and a median primary confidence c_l of at least 0.2.
 */
export const RB_CRITERIA = { maxPrimaryGap: 0.03, minChanged: 0.02, minMedianCl: 0.2 } as const;

/**
 * The criteria of {@linkcode RB_CRITERIA}, on each finished run's best validation epoch (averaged
 * over seeds): what the default-choice rule may look at without touching the test split.
 */
export function validationCriteria(runs: readonly StudyRun[]): RbCriterion[] {
  const reps = runs.filter((r) => r.metrics).map(bestValReport).filter((v): v is BranchReport =>
    v !== null
  );
  const avg = (f: (v: BranchReport) => number) => mean(reps.map(f));
  const final = avg((v) => v.accuracy.final ?? NaN),
    primary = avg((v) => v.accuracy.primary ?? NaN);
  const changed = avg((v) => v.changes.changedShare);
  const fixed = avg((v) => v.changes.fixed), broken = avg((v) => v.changes.broken);
  const cl = avg((v) => v.confidence.primary?.median ?? NaN);
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  return [
    {
      name: "primary head within 3 points of L_final",
      met: Math.abs(final - primary) <= RB_CRITERIA.maxPrimaryGap,
      evidence: `L_final ${pct(final)}, primary ${pct(primary)}`,
    },
    {
      name: "RB changes ≥ 2% of predictions",
      met: changed >= RB_CRITERIA.minChanged,
      evidence: pct(changed),
    },
    {
      name: "RB fixes more than it breaks",
      met: fixed > broken,
      evidence: `${fixed.toFixed(0)} fixed, ${broken.toFixed(0)} broken`,
    },
    {
      name: "median c_l ≥ 0.2",
      met: cl >= RB_CRITERIA.minMedianCl,
      evidence: cl.toFixed(3),
    },
  ];
}

/**
 * The criteria of {@linkcode RB_CRITERIA} on the test split (means over the row's seeds), plus
 * Fig. 9's claim that L_final's distributions are sharper than l's: what is reported for the
 * chosen variant once the choice is made on validation.
 */
export function testCriteria(row: StudyRow): RbCriterion[] {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  return [
    {
      name: "primary head within 3 points of L_final",
      met: Math.abs(row.testFinal.mean - row.testPrimary.mean) <= RB_CRITERIA.maxPrimaryGap,
      evidence: `L_final ${pct(row.testFinal.mean)}, primary ${pct(row.testPrimary.mean)}`,
    },
    {
      name: "RB changes ≥ 2% of predictions",
      met: row.changed.mean >= RB_CRITERIA.minChanged,
      evidence: pct(row.changed.mean),
    },
    {
      name: "RB fixes more than it breaks",
      met: row.fixed > row.broken,
      evidence: `${row.fixed.toFixed(0)} fixed, ${row.broken.toFixed(0)} broken; McNemar p ` +
        row.mcnemarP.map((p) => p.toPrecision(2)).join(", "),
    },
    {
      name: "median c_l ≥ 0.2",
      met: row.medianCl.mean >= RB_CRITERIA.minMedianCl,
      evidence: row.medianCl.mean.toFixed(3),
    },
    {
      name: "std of L_final below std of l (Fig. 9)",
      met: row.stdFinal.mean < row.stdPrimary.mean,
      evidence: `${row.stdPrimary.mean.toFixed(4)} → ${row.stdFinal.mean.toFixed(4)}; paper ` +
        "0.1316 → 0.0881",
    },
  ];
}

/** Which default-choice rule {@linkcode chooseDefault} applies. */
export type DefaultRule =
  /**
   * Among variants whose RB is active on validation (changes predictions, fixes more than it
   * breaks), the highest mean best validation accuracy of L_final.
   */
  | "rb-active"
  /**
   * Among variants that meet every criterion of {@linkcode validationCriteria} on validation, the
   * highest mean best validation accuracy of L_final. `rb-active` alone admits a variant whose
   * correction has replaced a dead primary head (it changes most predictions) and one whose RB
   * changes a handful; this rule admits only RB that corrects a working head.
   */
  | "criteria";

/**
 * The default-choice rule (see {@linkcode DefaultRule}; default `criteria`). Null when no variant
 * qualifies. `runs` is needed for the `criteria` rule.
 */
export function chooseDefault(
  rows: readonly StudyRow[],
  opts: { rule?: DefaultRule; runs?: readonly StudyRun[] } = {},
): StudyRow | null {
  const rule = opts.rule ?? "criteria";
  const qualifies = (r: StudyRow) => {
    if (!Number.isFinite(r.valFinal.mean)) return false;
    if (rule === "rb-active") return r.rbActive;
    if (!opts.runs) throw new Error("chooseDefault: the criteria rule needs the study's runs");
    return validationCriteria(opts.runs.filter((x) => x.variant === r.variant)).every((c) => c.met);
  };
  const ok = rows.filter(qualifies);
  if (!ok.length) return null;
  return ok.reduce((a, b) => (b.valFinal.mean > a.valFinal.mean ? b : a));
}

/**
 * The study's required grid (`experiments/rb-dynamics.json`): every training variant × head dropout
 * {0, 0.5 in the paper's order}, each cell at `seeds` seeds. The other cells of the experiment (the
 * other head order, `aux-branches`, the combinations) are extra.
 */
export const RB_STUDY_GRID = {
  trainings: ["paper", "trust-ramp", "aux-primary", "detach-confidence"],
  heads: ["dropout-0", "dropout-bn-0.5"],
  seeds: 3,
} as const;

/** How far the study's required grid has come ({@linkcode studyProgress}). */
export interface StudyProgress {
  /** Cells with every required seed finished. */
  cellsDone: number;
  /** Cells of the grid. */
  cellsTotal: number;
  /** Finished runs of the grid (seeds below the required count). */
  runsDone: number;
  /** Runs the grid needs. */
  runsRequired: number;
  /** Each unfinished cell with its finished seed count, in grid order. */
  missing: { variant: string; seeds: number }[];
  /** Finished runs of the experiment's other cells (any seed). */
  extraRuns: number;
}

/** The progress of {@linkcode RB_STUDY_GRID} among `runs` (one experiment's, as readStudy reads). */
export function studyProgress(
  runs: readonly StudyRun[],
  grid: { trainings: readonly string[]; heads: readonly string[]; seeds: number } = RB_STUDY_GRID,
): StudyProgress {
  const cells = grid.trainings.flatMap((t) => grid.heads.map((h) => `training=${t},head=${h}`));
  const seedsOf = (v: string) =>
    new Set(
      runs.flatMap((r) => (r.variant === v && r.metrics && r.seed < grid.seeds ? [r.seed] : [])),
    )
      .size;
  const missing = cells
    .map((variant) => ({ variant, seeds: seedsOf(variant) }))
    .filter((m) => m.seeds < grid.seeds);
  return {
    cellsDone: cells.length - missing.length,
    cellsTotal: cells.length,
    runsDone: cells.reduce((n, v) => n + seedsOf(v), 0),
    runsRequired: cells.length * grid.seeds,
    missing,
    extraRuns: runs.filter((r) => r.metrics && !cells.includes(r.variant)).length,
  };
}

/**
 * Per test image, 1 where the arg-max of `which` (L_final or the primary head) in the run's
 * predictions file `file` is the label, else 0.
 */
export function correctnessOf(
  dir: string,
  which: "final" | "primary" = "final",
  file = "predictions.csv",
): Uint8Array {
  const p = readPredictions(dir, file);
  const rows = which === "final" ? p.final : p.primary;
  return Uint8Array.from(rows, (d, i) => (d.indexOf(Math.max(...d)) === p.labels[i] ? 1 : 0));
}

/** Per-seed correctness of a variant's finished runs on the test split, keyed by seed. */
export function correctnessBySeed(
  runs: readonly StudyRun[],
  variant: string,
  which: "final" | "primary" = "final",
): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const r of runs) {
    if (r.variant !== variant || !r.metrics) continue;
    out.set(r.seed, correctnessOf(r.dir, which));
  }
  return out;
}

/** One class of {@linkcode rbByClass}: what reliability balancing did to its test images. */
export interface ClassRbEffect {
  /** Class name (predictions.csv's column order). */
  className: string;
  /** Test images of the class. */
  images: number;
  /** Accuracy of the primary head on them, mean over seeds. */
  primary: number;
  /** Accuracy of L_final on them, mean over seeds. */
  final: number;
  /** Images RB fixed (primary head wrong, L_final right), mean over seeds. */
  fixed: number;
  /** Images RB broke (primary head right, L_final wrong), mean over seeds. */
  broken: number;
  /** L_final − primary head on the class's images, paired over seeds and images. */
  effect: PairedDifference;
}

/**
 * Per true class, what reliability balancing did within `variant` on the test split: the primary
 * head's and L_final's accuracy on the class's images, the fixes and breaks, and the paired
 * difference (the two-level bootstrap of lib/eval/paired.ts over the finished seeds and the class's
 * images). Empty when the variant has no finished run.
 * @throws Error when the runs' test splits differ in labels or classes.
 */
export function rbByClass(runs: readonly StudyRun[], variant: string): ClassRbEffect[] {
  const done = runs.filter((r) => r.variant === variant && r.metrics);
  if (!done.length) return [];
  const preds = done.map((r) => readPredictions(r.dir));
  const [first] = preds;
  for (const [k, p] of preds.entries()) {
    if (
      p.classNames.join() !== first.classNames.join() || p.labels.join() !== first.labels.join()
    ) {
      throw new Error(`rbByClass: ${done[k].dir} was tested on other images or classes`);
    }
  }
  const right = (rows: number[][], labels: Int32Array) =>
    Uint8Array.from(rows, (d, i) => (d.indexOf(Math.max(...d)) === labels[i] ? 1 : 0));
  const primary = preds.map((p) => right(p.primary, p.labels));
  const final = preds.map((p) => right(p.final, p.labels));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return first.classNames.flatMap((className, c) => {
    const idx = [...first.labels.keys()].filter((i) => first.labels[i] === c);
    if (!idx.length) return [];
    const pick = (xs: Uint8Array[]) => xs.map((x) => Uint8Array.from(idx, (i) => x[i]));
    const pc = pick(primary), fc = pick(final);
    const count = (k: number, f: (p: number, q: number) => boolean) =>
      pc[k].reduce((n, p, j) => n + (f(p, fc[k][j]) ? 1 : 0), 0);
    return [{
      className,
      images: idx.length,
      primary: mean(pc.map((x) => mean([...x]))),
      final: mean(fc.map((x) => mean([...x]))),
      fixed: mean(pc.map((_, k) => count(k, (p, q) => !p && !!q))),
      broken: mean(pc.map((_, k) => count(k, (p, q) => !!p && !q))),
      effect: pairedDifference(fc, pc),
    }];
  });
}

/** Display rows of {@linkcode rbByClass}. */
export function rbByClassRows(
  effects: readonly ClassRbEffect[],
): Record<string, string | number>[] {
  const pct = (x: number) => (100 * x).toFixed(2);
  return effects.map((e) => ({
    class: e.className,
    "test images": e.images,
    "primary head %": pct(e.primary),
    "L_final %": pct(e.final),
    "fixed / broken (mean per seed)": `${e.fixed.toFixed(1)} / ${e.broken.toFixed(1)}`,
    "L_final − primary (95% CI)": formatDifference(e.effect, verdict(e.effect)),
  }));
}

/**
 * Paired test-accuracy difference of variant `a` against variant `b` over the seeds both have
 * finished (null when they share none).
 */
export function pairedAgainst(
  runs: readonly StudyRun[],
  a: string,
  b: string,
): PairedDifference | null {
  const ca = correctnessBySeed(runs, a), cb = correctnessBySeed(runs, b);
  const seeds = [...ca.keys()].filter((s) => cb.has(s)).sort((x, y) => x - y);
  if (!seeds.length) return null;
  const pick = (m: Map<number, Uint8Array>): Correctness => seeds.map((s) => m.get(s)!);
  return pairedDifference(pick(ca), pick(cb));
}

/**
 * What reliability balancing adds within one variant: the paired difference of test accuracy,
 * L_final minus the same model's primary head (arg-max l), over its finished seeds (both read from
 * each run's predictions.csv, so the same images), with the two-level bootstrap of
 * lib/eval/paired.ts. Null without a finished run. This is the claim "RB corrects the primary head":
 * it holds when the interval lies above zero.
 */
export function rbEffect(runs: readonly StudyRun[], variant: string): PairedDifference | null {
  const fin = correctnessBySeed(runs, variant, "final");
  const pri = correctnessBySeed(runs, variant, "primary");
  const seeds = [...fin.keys()].sort((x, y) => x - y);
  if (!seeds.length) return null;
  return pairedDifference(seeds.map((s) => fin.get(s)!), seeds.map((s) => pri.get(s)!));
}

/**
 * What reliability balancing does in one cell of the study, read off its test split (means over
 * seeds, thresholds of {@linkcode RB_CRITERIA}):
 * - `replaces`: the primary head is switched off (median c_l below 0.2 and the head more than 3
 *   points behind L_final), so L_final is the corrections' vote rather than a corrected head;
 * - `idle`: RB changes fewer than 2% of predictions, so L_final is the primary head;
 * - `corrects`: a working head, RB changing ≥ 2% of predictions, and L_final − primary (paired,
 *   {@linkcode rbEffect}) with a 95% interval above zero;
 * - `not resolved`: a working head and an active RB whose effect's interval includes zero;
 * - `harms`: that interval lies below zero.
 */
export type RbRole = "replaces" | "idle" | "corrects" | "not resolved" | "harms";

/** The {@linkcode RbRole} of a row with finished seeds (`effect` from {@linkcode rbEffect}). */
export function rbRole(row: StudyRow, effect: PairedDifference | null): RbRole {
  const switchedOff = row.medianCl.mean < RB_CRITERIA.minMedianCl &&
    row.testFinal.mean - row.testPrimary.mean > RB_CRITERIA.maxPrimaryGap;
  if (switchedOff) return "replaces";
  if (row.changed.mean < RB_CRITERIA.minChanged) return "idle";
  if (!effect) return "not resolved";
  const v = verdict(effect);
  return v === "holds" ? "corrects" : v === "is contradicted" ? "harms" : "not resolved";
}

/**
 * The required grid at a glance: one row per training variant of `grid`, one column per head, each
 * cell `test L_final (mean ± std) · primary head · RB changed · role (seeds)`; a cell without a
 * finished run reads `no finished run`. `runs` supplies the paired effect behind the role.
 */
export function studyGrid(
  rows: readonly StudyRow[],
  runs: readonly StudyRun[],
  grid: { trainings: readonly string[]; heads: readonly string[] } = RB_STUDY_GRID,
): Record<string, string>[] {
  const pct = (m: MeanStd) => formatMeanStd(m);
  return grid.trainings.map((t) => {
    const out: Record<string, string> = { training: t };
    for (const h of grid.heads) {
      const variant = `training=${t},head=${h}`;
      const r = rows.find((x) => x.variant === variant);
      out[h] = r?.seeds
        ? `${pct(r.testFinal)}% · primary ${pct(r.testPrimary)}% · changed ${pct(r.changed)}% · ` +
          `${rbRole(r, rbEffect(runs, variant))} (${r.seeds} seed${r.seeds === 1 ? "" : "s"})`
        : "no finished run";
    }
    return out;
  });
}

/** A study row as a display row (percentages, counts, verdict inputs). */
export function displayRow(r: StudyRow): Record<string, string | number> {
  const pct = (m: MeanStd) => formatMeanStd(m);
  const f3 = (m: MeanStd) => formatMeanStd(m, { scale: 1, digits: 3 });
  return {
    variant: r.variant,
    "seeds (running)": `${r.seeds}${r.running ? ` (+${r.running})` : ""}`,
    "val L_final %": pct(r.valFinal),
    "test L_final %": pct(r.testFinal),
    "test primary head %": pct(r.testPrimary),
    "RB changed %": pct(r.changed),
    "fixed / broken": r.seeds ? `${r.fixed.toFixed(0)} / ${r.broken.toFixed(0)}` : "",
    "McNemar p": r.mcnemarP.map((p) => p.toPrecision(2)).join(", "),
    "median c_l": f3(r.medianCl),
    "std l / L_final": r.seeds ? `${f3(r.stdPrimary)} / ${f3(r.stdFinal)}` : "",
    "RB active (val)": r.seeds ? (r.rbActive ? "yes" : "no") : "",
    stopped: r.stops.join("; "),
    "still training": r.progress.join("; "),
  };
}

/** One configuration of the controlled synthetic experiment (`bench/rb_synthetic.ts`). */
export interface SyntheticResult {
  /** `model.rb.training`. */
  variant: string;
  /** Head order and dropout, e.g. `bn-dropout-0.5`. */
  head: string;
  /** Seed. */
  seed: number;
  /** Held-out accuracy of each branch (null: off). */
  accuracy: Record<string, number | null>;
  /** Held-out predictions RB changes. */
  changed: number;
  /** … of which it fixes. */
  fixed: number;
  /** … and breaks. */
  broken: number;
  /** McNemar p of primary vs L_final. */
  mcnemarP: number;
  /** Median c_l. */
  medianPrimaryConfidence: number | null;
}

/** The synthetic experiment's results file, or null when it has not been run. */
export async function readSynthetic(
  path: string,
): Promise<{ args: Record<string, unknown>; results: SyntheticResult[] } | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** One display row per variant × head of the synthetic experiment: mean ± std over seeds. */
export function syntheticRows(results: readonly SyntheticResult[]): Record<string, string>[] {
  const groups = new Map<string, SyntheticResult[]>();
  for (const r of results) {
    const k = `${r.variant}\u0000${r.head}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const acc = (b: string) => {
      const xs = rs.map((r) => r.accuracy[b]).filter((x): x is number => x !== null);
      return xs.length ? formatMeanStd(meanStd(xs)) : "off";
    };
    const avg = (f: (r: SyntheticResult) => number) => mean(rs.map(f));
    return {
      variant: rs[0].variant,
      head: rs[0].head,
      seeds: String(rs.length),
      "l %": acc("primary"),
      "t_g %": acc("geometric"),
      "t_a %": acc("attentive"),
      "L_final %": acc("final"),
      "changed / fixed / broken": `${avg((r) => r.changed).toFixed(0)} / ${
        avg((r) => r.fixed).toFixed(0)
      } / ${avg((r) => r.broken).toFixed(0)}`,
      "McNemar p": rs.map((r) => r.mcnemarP.toPrecision(2)).join(", "),
      "median c_l": avg((r) => r.medianPrimaryConfidence ?? NaN).toFixed(2),
    };
  });
}
