/**
 * The paper's ablation tables as converged, seeded, paired comparisons: which cells each table
 * needs and with how many seeds ({@linkcode ABLATIONS}, the one place that records it), and the
 * reader that turns the finished runs of a table into rows (mean ± std over seeds, the paired
 * difference against the table's baseline cell with its 95% interval) and claim lines carrying a
 * verdict from the paired bootstrap of lib/eval/paired.ts. No model logic and no training: it reads
 * run folders (metrics.json and predictions.csv), wherever {@linkcode findFinishedRun} finds them.
 *
 * @module
 */
import {
  type Correctness,
  formatDifference,
  type PairedDifference,
  pairedDifference,
  type Verdict,
  verdict,
} from "../eval/paired.ts";
import { notebookProfile, type Profile, resultsDir } from "./profile.ts";
import { AVERAGED_RECIPE, experimentConfig } from "./runs.ts";
import { findFinishedRun, readPredictions } from "./sweeps.ts";
import { formatMeanStd, type MeanStd, meanStd } from "./tables.ts";

/** A claim of the paper as a paired comparison of two cells of one table. */
export interface AblationClaim {
  /** The claim in words, e.g. "RB (both) improves accuracy over no RB". */
  claim: string;
  /** Variant of arm A. */
  a: string;
  /** Variant of arm B. */
  b: string;
  /** 1: the paper claims A is more accurate than B; −1: less accurate. */
  direction: 1 | -1;
}

/** One paper table (or one half of Table 5) as cells of an experiment. */
export interface AblationTable {
  /** Short name, e.g. "Table 2". */
  table: string;
  /** Experiment (experiments/<name>.json). */
  experiment: string;
  /** The cells (variants), in display order; a table of a grid lists its documented sub-grid. */
  variants: readonly string[];
  /** The paper's baseline cell, against which every row's paired difference is taken. */
  baseline: string;
  /** Seeds every cell needs (seeds 0, 1, …, n − 1). */
  seeds: number;
  /** Cells that need more seeds (the headline comparisons): variant → seeds. */
  headline?: Readonly<Record<string, number>>;
  /** The claims checked on this table. */
  claims: readonly AblationClaim[];
  /** Config overrides after the profile's (default none). */
  extra?: Readonly<Record<string, unknown>>;
}

/** Seeds per cell of {@linkcode ABLATIONS}: 3, and 5 for the headline cells. */
export const ABLATION_SEEDS = { cell: 3, headline: 5 } as const;

const ks = (k: readonly number[], axis: string, values: readonly number[]) =>
  k.flatMap((x) => values.map((v) => `K=${x},${axis}=${v}`));

/**
 * The documented sub-grid of Tables 7 and 8: K ∈ {0, 4, 10} (no anchors, the paper's first gain,
 * the paper's choice) × 4 noise percentages {0, 10, 20, 30} (Table 7) or smoothing terms
 * {0, 11, 20, 30} (Table 8; 11 is the paper's setting). Noise 0 and smoothing 0 are the same runs
 * (both tables use label smoothing 0 there), and K = 0 / K = 10 at 0 are Table 6's runs.
 */
export const SUBGRID = {
  K: [0, 4, 10],
  noise: [0, 10, 20, 30],
  smoothing: [0, 11, 20, 30],
} as const;

/**
 * Every table the project reruns to convergence in the `quick` profile: cells, baseline, seeds and
 * claims. Seeds: {@linkcode ABLATION_SEEDS} (5 for the headline cells, Table 2 none vs both and
 * Table 6 K = 0 vs K = 10). The claims are the paper's, as paired comparisons. The headline cells
 * are also rerun under the low-variance {@linkcode AVERAGED_RECIPE} ("Table 2 (averaged recipe)",
 * "Table 6 (averaged recipe)", 5 seeds each): under the default training variant the seed spread
 * (5–20 points in these cells) leaves all but large effects unresolved.
 */
export const ABLATIONS: readonly AblationTable[] = [
  {
    table: "Table 2",
    experiment: "table2-rb",
    variants: ["none", "anchors", "mhsa", "both"],
    baseline: "none",
    seeds: ABLATION_SEEDS.cell,
    headline: { none: ABLATION_SEEDS.headline, both: ABLATION_SEEDS.headline },
    claims: [
      { claim: "RB (both) improves accuracy over no RB", a: "both", b: "none", direction: 1 },
      { claim: "Anchors alone improve over no RB", a: "anchors", b: "none", direction: 1 },
      { claim: "MHSA alone improves over no RB", a: "mhsa", b: "none", direction: 1 },
      { claim: "Both beats anchors alone", a: "both", b: "anchors", direction: 1 },
      { claim: "Both beats MHSA alone", a: "both", b: "mhsa", direction: 1 },
    ],
  },
  {
    table: "Table 3",
    experiment: "table3-loss",
    variants: ["cls", "a", "c", "cls+a", "all"],
    baseline: "cls",
    seeds: ABLATION_SEEDS.cell,
    claims: [
      { claim: "All three losses beat L_cls alone", a: "all", b: "cls", direction: 1 },
      { claim: "All three losses beat L_cls + L_a", a: "all", b: "cls+a", direction: 1 },
      { claim: "Adding L_a to L_cls helps", a: "cls+a", b: "cls", direction: 1 },
      { claim: "L_c alone is worse than L_cls alone", a: "c", b: "cls", direction: -1 },
    ],
  },
  {
    table: "Table 4",
    experiment: "table4-lambda",
    variants: [
      "default",
      "lambda_cls=0.1",
      "lambda_cls=0.5",
      "lambda_a=0.1",
      "lambda_a=0.5",
      "lambda_c=0.1",
      "lambda_c=0.5",
    ],
    baseline: "default",
    seeds: ABLATION_SEEDS.cell,
    claims: ["cls", "a", "c"].flatMap((l) =>
      [0.1, 0.5].map((v) => ({
        claim: `λ_${l} = 1.0 beats λ_${l} = ${v}`,
        a: "default",
        b: `lambda_${l}=${v}`,
        direction: 1 as const,
      }))
    ),
  },
  {
    table: "Table 5 (augmentation)",
    experiment: "table5-augment-noise",
    variants: ["augment", "no-augment"],
    baseline: "augment",
    seeds: ABLATION_SEEDS.cell,
    claims: [
      { claim: "Augmentation improves accuracy", a: "augment", b: "no-augment", direction: 1 },
    ],
  },
  {
    table: "Table 5 (label noise)",
    experiment: "table5-augment-noise",
    variants: ["noise=0", "noise=10"],
    baseline: "noise=0",
    seeds: ABLATION_SEEDS.cell,
    claims: [
      { claim: "10% label noise lowers accuracy", a: "noise=10", b: "noise=0", direction: -1 },
    ],
  },
  {
    table: "Table 6",
    experiment: "table6-anchors",
    variants: ["K=0", "K=1", "K=4", "K=6", "K=8", "K=10", "K=20"],
    baseline: "K=0",
    seeds: ABLATION_SEEDS.cell,
    headline: { "K=0": ABLATION_SEEDS.headline, "K=10": ABLATION_SEEDS.headline },
    claims: [
      { claim: "Anchors help: K = 10 beats K = 0", a: "K=10", b: "K=0", direction: 1 },
      { claim: "K = 1 beats K = 0", a: "K=1", b: "K=0", direction: 1 },
      { claim: "K = 4 beats K = 0", a: "K=4", b: "K=0", direction: 1 },
      { claim: "K = 8 beats K = 0", a: "K=8", b: "K=0", direction: 1 },
      { claim: "K = 20 is worse than K = 10", a: "K=20", b: "K=10", direction: -1 },
    ],
  },
  {
    table: "Table 2 (averaged recipe)",
    experiment: "table2-rb",
    variants: ["none", "both"],
    baseline: "none",
    seeds: ABLATION_SEEDS.headline,
    claims: [
      { claim: "RB (both) improves accuracy over no RB", a: "both", b: "none", direction: 1 },
    ],
    extra: AVERAGED_RECIPE,
  },
  {
    table: "Table 6 (averaged recipe)",
    experiment: "table6-anchors",
    variants: ["K=0", "K=10"],
    baseline: "K=0",
    seeds: ABLATION_SEEDS.headline,
    claims: [
      { claim: "Anchors help: K = 10 beats K = 0", a: "K=10", b: "K=0", direction: 1 },
    ],
    extra: AVERAGED_RECIPE,
  },
  {
    table: "Table 7",
    experiment: "table7-anchors-noise",
    variants: ks(SUBGRID.K, "noise", SUBGRID.noise),
    baseline: "K=0,noise=0",
    seeds: ABLATION_SEEDS.cell,
    claims: [
      ...SUBGRID.noise.filter((v) => v > 0).map((v) => ({
        claim: `Anchors soften ${v}% label noise: K = 10 beats K = 0`,
        a: `K=10,noise=${v}`,
        b: `K=0,noise=${v}`,
        direction: 1 as const,
      })),
      {
        claim: "30% label noise lowers accuracy at K = 10",
        a: "K=10,noise=30",
        b: "K=10,noise=0",
        direction: -1,
      },
    ],
  },
  {
    table: "Table 8",
    experiment: "table8-anchors-smoothing",
    variants: ks(SUBGRID.K, "smoothing", SUBGRID.smoothing),
    baseline: "K=0,smoothing=0",
    seeds: ABLATION_SEEDS.cell,
    claims: [
      {
        claim: "Anchors help at s = 11: K = 10 beats K = 0",
        a: "K=10,smoothing=11",
        b: "K=0,smoothing=11",
        direction: 1,
      },
      {
        claim: "s = 11 beats no smoothing at K = 10",
        a: "K=10,smoothing=11",
        b: "K=10,smoothing=0",
        direction: 1,
      },
      {
        claim: "Heavy smoothing (s = 30) is worse than s = 11 at K = 10",
        a: "K=10,smoothing=30",
        b: "K=10,smoothing=11",
        direction: -1,
      },
    ],
  },
];

/** The plan entry of `table` (e.g. "Table 2") in {@linkcode ABLATIONS}. */
export function ablationPlan(table: string): AblationTable {
  const t = ABLATIONS.find((x) => x.table === table);
  if (!t) {
    throw new Error(
      `unknown ablation table "${table}" (known: ${ABLATIONS.map((x) => x.table).join(", ")})`,
    );
  }
  return t;
}

/** Seeds the `variant` cell of `table` needs: its headline count, else the table's. */
export function requiredSeeds(table: AblationTable, variant: string): number {
  return table.headline?.[variant] ?? table.seeds;
}

/** One finished run of a cell, as the table reads it. */
export interface AblationRun {
  /** Seed. */
  seed: number;
  /** Run directory. */
  dir: string;
  /** Test accuracy of L_final (metrics.json `evaluation.final.accuracy`). */
  accuracy: number;
  /** Per test image: 1 when L_final's arg-max is the label (predictions.csv); null without it. */
  correct: Uint8Array | null;
  /** Test image ids, in predictions.csv order (null without it). */
  ids: readonly string[] | null;
  /** Why training stopped (metrics.json `stopped`), as `reason@epoch (best N)`, or null. */
  stopped: string | null;
}

/** One cell (row) of an ablation table. */
export interface AblationRow {
  /** Variant. */
  variant: string;
  /** Seeds finished, among 0 … required − 1. */
  seedsDone: number;
  /** Seeds required. */
  seedsRequired: number;
  /** Whether every required seed has finished. */
  complete: boolean;
  /** Test accuracy of L_final over the finished seeds. */
  accuracy: MeanStd;
  /**
   * Paired difference of this cell minus the baseline cell over the seeds both have finished
   * (null for the baseline row, or when they share no seed with predictions).
   */
  vsBaseline: PairedDifference | null;
  /** The finished runs, in seed order. */
  runs: AblationRun[];
}

/** A claim checked on a table. */
export interface ClaimResult extends AblationClaim {
  /** The verdict, or `pending` while either arm misses a required seed. */
  verdict: Verdict | "pending";
  /** The paired difference A − B over the seeds both arms have (null: none shared). */
  difference: PairedDifference | null;
  /** `claim: verdict (numbers)`. */
  line: string;
}

/** What {@linkcode readAblation} returns. */
export interface AblationResult {
  /** The table read. */
  table: AblationTable;
  /** One row per variant, in the table's order. */
  rows: AblationRow[];
  /** The claims, in the table's order. */
  claims: ClaimResult[];
  /** Cells with every required seed finished. */
  cellsDone: number;
  /** Cells in the table. */
  cellsTotal: number;
  /** Runs finished among the required seeds of the shown cells. */
  runsDone: number;
  /** Runs required. */
  runsRequired: number;
}

/** Options of {@linkcode readAblation}. */
export interface ReadAblationOptions {
  /** Profile the runs were trained under (default `GREFEL_PROFILE`). */
  profile?: Profile;
  /** Results directory (default {@linkcode resultsDir}). */
  root?: string;
  /** Only these cells, in this order (default the table's; the baseline is always read). */
  variants?: readonly string[];
  /** Seeds required per cell instead of the plan's (e.g. 1 in the smoke profile). */
  seeds?: number;
  /** Bootstrap replicates of each paired difference (default 2000). */
  replicates?: number;
  /** Config overrides instead of the table's `extra` (e.g. one cached view in smoke). */
  extra?: Record<string, unknown>;
}

function stopText(s: unknown): string | null {
  if (!s || typeof s !== "object") return null;
  const x = s as { reason?: string; epoch?: number; bestEpoch?: number | null };
  return `${x.reason ?? "?"}@${x.epoch ?? "?"} (best ${x.bestEpoch ?? "-"})`;
}

async function readCellRun(
  table: AblationTable,
  variant: string,
  seed: number,
  opts: { profile: Profile; root: string; extra?: Record<string, unknown> },
): Promise<AblationRun | null> {
  const { profile, root, extra } = opts;
  const config = experimentConfig(table.experiment, variant, { seed, profile, extra });
  const found = await findFinishedRun(config, root);
  if (!found) return null;
  const m = found.metrics as {
    accuracy?: number;
    evaluation?: { final?: { accuracy?: number } };
    stopped?: unknown;
  };
  let correct: Uint8Array | null = null, ids: readonly string[] | null = null;
  try {
    const p = readPredictions(found.dir);
    correct = Uint8Array.from(
      p.final,
      (d, i) => (d.indexOf(Math.max(...d)) === p.labels[i] ? 1 : 0),
    );
    ids = p.ids;
  } catch (e) {
    if (!/predictions\.csv is missing/.test((e as Error).message)) throw e;
  }
  const accuracy = m.evaluation?.final?.accuracy ?? m.accuracy ??
    (correct ? correct.reduce((a, b) => a + b, 0) / correct.length : NaN);
  return { seed, dir: found.dir, accuracy, correct, ids, stopped: stopText(m.stopped) };
}

/**
 * Paired difference of arm `a` minus arm `b` over the seeds both have with predictions (null when
 * they share none).
 * @throws Error when two paired runs were tested on different images.
 */
export function pairedRuns(
  a: readonly AblationRun[],
  b: readonly AblationRun[],
  opts: { replicates?: number } = {},
): PairedDifference | null {
  const bySeed = new Map(b.filter((r) => r.correct).map((r) => [r.seed, r]));
  const pairs = a.filter((r) => r.correct && bySeed.has(r.seed)).map((
    r,
  ) => [r, bySeed.get(r.seed)!]);
  if (!pairs.length) return null;
  for (const [x, y] of pairs) {
    const same = x.ids!.length === y.ids!.length && x.ids!.every((id, i) => id === y.ids![i]);
    if (!same) throw new Error(`${x.dir} and ${y.dir} were tested on different images`);
  }
  const pick = (i: 0 | 1): Correctness => pairs.map((p) => p[i].correct!);
  return pairedDifference(pick(0), pick(1), { replicates: opts.replicates });
}

/**
 * Reads the finished runs of `table` (seeds 0 … required − 1 of each cell) and returns its rows,
 * claims and progress. Incomplete cells still show the seeds they have; a claim whose arms miss a
 * required seed is `pending`.
 */
export async function readAblation(
  table: AblationTable,
  opts: ReadAblationOptions = {},
): Promise<AblationResult> {
  const profile = opts.profile ?? notebookProfile();
  const root = opts.root ?? resultsDir();
  const extra = opts.extra ?? (table.extra as Record<string, unknown> | undefined);
  const shown = opts.variants ?? table.variants;
  const needed = (v: string) => opts.seeds ?? requiredSeeds(table, v);
  const cells = [
    ...new Set([...shown, table.baseline, ...table.claims.flatMap((c) => [c.a, c.b])]),
  ];
  const runs = new Map<string, AblationRun[]>();
  for (const v of cells) {
    const rs: AblationRun[] = [];
    for (let seed = 0; seed < needed(v); seed++) {
      const r = await readCellRun(table, v, seed, { profile, root, extra });
      if (r) rs.push(r);
    }
    runs.set(v, rs);
  }
  const reps = { replicates: opts.replicates };
  const base = runs.get(table.baseline)!;
  const rows: AblationRow[] = shown.map((variant) => {
    const rs = runs.get(variant)!;
    return {
      variant,
      seedsDone: rs.length,
      seedsRequired: needed(variant),
      complete: rs.length === needed(variant),
      accuracy: meanStd(rs.map((r) => r.accuracy)),
      vsBaseline: variant === table.baseline ? null : pairedRuns(rs, base, reps),
      runs: rs,
    };
  });
  // Claims only among the shown cells (a smoke notebook shows a subset of the table).
  const claims = table.claims.filter((c) => shown.includes(c.a) && shown.includes(c.b)).map((c) => {
    const a = runs.get(c.a)!, b = runs.get(c.b)!;
    const difference = pairedRuns(a, b, reps);
    const complete = a.length === needed(c.a) && b.length === needed(c.b);
    const v: ClaimResult["verdict"] = complete && difference
      ? verdict(difference, c.direction)
      : "pending";
    const line = v === "pending"
      ? `${c.claim}: pending (${c.a} ${a.length} of ${needed(c.a)} seeds, ${c.b} ${b.length} of ${
        needed(c.b)
      } seeds` +
        `${difference ? `; so far ${formatDifference(difference)}` : ""})`
      : `${c.claim}: ${v} (${c.a} − ${c.b}: ${formatDifference(difference!)})`;
    return { ...c, verdict: v, difference, line };
  });
  const runsRequired = shown.reduce((t, v) => t + needed(v), 0);
  const runsDone = shown.reduce((t, v) => t + runs.get(v)!.length, 0);
  return {
    table,
    rows,
    claims,
    cellsDone: rows.filter((r) => r.complete).length,
    cellsTotal: rows.length,
    runsDone,
    runsRequired,
  };
}

/**
 * The rows of `result` for display: cell, seeds done / required, test accuracy of L_final as
 * mean ± std (%), the paired difference against the baseline cell with its 95% interval (or
 * `baseline`, or `pending (k of n seeds)` for an incomplete cell), and why the runs stopped.
 * `labels` renames cells (default the variant names).
 */
export function ablationRows(
  result: AblationResult,
  labels: Readonly<Record<string, string>> = {},
): Record<string, string>[] {
  const base = result.table.baseline;
  return result.rows.map((r) => ({
    cell: labels[r.variant] ?? r.variant,
    seeds: `${r.seedsDone} / ${r.seedsRequired}`,
    "test L_final %": formatMeanStd(r.accuracy),
    [`vs ${labels[base] ?? base}`]: r.variant === base
      ? "baseline"
      : !r.complete
      ? `pending (${r.seedsDone} of ${r.seedsRequired} seeds)`
      : r.vsBaseline
      ? formatDifference(r.vsBaseline)
      : "no predictions.csv",
    stopped: r.runs.map((x) => x.stopped ?? "unrecorded").join("; "),
  }));
}

/** The claim lines of `result`, one per line (a note when no claim is among its cells). */
export function claimLines(result: AblationResult): string {
  if (!result.claims.length) return `${result.table.table}: no claim among the cells shown`;
  return result.claims.map((c) => c.line).join("\n");
}
