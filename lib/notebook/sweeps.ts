/**
 * A table's runs for a notebook: every (variant, seed) cell of an experiment, read from the
 * results directory when finished (also when an identical config finished under another
 * experiment: run ids ignore the experiment name, so Table 3's `all` reuses Table 2's `both`),
 * and trained only when missing — in this process, or as `grefel train` children through the
 * sweep machinery (lib/train/sweep.ts) when `parallel` > 1. The readers of a run's
 * predictions.csv and embeddings.csv (lib/run/csv.ts) are re-exported here. No model logic.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { type GrefelConfig, mergeConfig } from "../config.ts";
import type { EvaluationReport } from "../eval/metrics.ts";
import { readMetrics } from "../run/mod.ts";
import { finishedElsewhere, runDir, runId } from "../train/run.ts";
import { childLauncher, runSweep, type SweepRun } from "../train/sweep.ts";
import { prepareCaches } from "../train/caches.ts";
import { byProfile, notebookProfile, type Profile, resultsDir } from "./profile.ts";
import {
  ensureRun,
  experimentConfig,
  notebookCacheDir,
  type NotebookRun,
  notebookTrainMode,
  PROFILE_OVERRIDES,
  type TrainMode,
} from "./runs.ts";

/** Reads an environment variable, or undefined without permission or when unset. */
function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The finished run of `config` under the results directory: its own
 * `<results>/<experiment>/<run-id>/`, else the same run id under any other experiment folder
 * (identical config, so identical results). Null when none has a metrics.json.
 */
export async function findFinishedRun(
  config: GrefelConfig,
  root = resultsDir(),
): Promise<{ dir: string; metrics: Record<string, unknown> } | null> {
  const cfg = { ...config, train: { ...config.train, resultsDir: root } };
  for (const dir of [runDir(cfg), await finishedElsewhere(cfg)]) {
    const metrics = dir ? await readMetrics<Record<string, unknown>>(dir) : null;
    if (dir && metrics) return { dir, metrics };
  }
  return null;
}

/**
 * `--set path=value` flags that reproduce `overrides` (leaves only; arrays and null as JSON
 * leaves), in key order: `{train: {epochs: 2}}` → `["--set", "train.epochs=2"]`.
 */
export function setFlags(overrides: Record<string, unknown>, prefix = ""): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(overrides)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      out.push(...setFlags(v as Record<string, unknown>, path));
    } else {
      out.push("--set", `${path}=${JSON.stringify(v)}`);
    }
  }
  return out;
}

/**
 * The `grefel train` / `grefel sweep` flags that give a run the profile's config: `--config` for a
 * profile preset, then the profile's defaults, overrides and `extra` as `--set` flags (over the
 * variant: the same config as {@linkcode experimentConfig} for every variant that does not set what
 * the defaults set, which holds for the paper's tables).
 */
export function profileFlags(profile: Profile, extra: Record<string, unknown> = {}): string[] {
  const p = PROFILE_OVERRIDES[profile];
  const overrides = mergeConfig(
    mergeConfig(mergeConfig({}, p.defaults ?? {}), p.overrides),
    extra,
  );
  return [...(p.preset ? ["--config", p.preset] : []), ...setFlags(overrides)];
}

/** Options of {@linkcode ensureRuns}. */
export interface EnsureRunsOptions {
  /**
   * Seeds per variant: 0, 1, …, seeds − 1 (default 1), or a function of the variant giving its own
   * count (an ablation plan's required seeds: 5 for headline cells, 3 for the rest).
   */
  seeds?: number | ((variant: string) => number);
  /** Profile (default `GREFEL_PROFILE`). */
  profile?: Profile;
  /** Extra config overrides after the profile's. */
  extra?: Record<string, unknown>;
  /**
   * Missing runs trained at once as child processes (default `GREFEL_NB_PARALLEL`, else 1 in
   * smoke and 2 in quick/full: wasm is single-threaded, so 2 children use both cores). With 1, or
   * when the children's feature cache (`<results>/cache`) is not {@linkcode notebookCacheDir}, the
   * runs train in this process, one after the other.
   */
  parallel?: number;
  /** Progress messages (default none). */
  print?: (line: string) => void;
  /**
   * Train the missing runs (`missing`) or only read the finished ones (`none`); default
   * {@linkcode notebookTrainMode} (`GREFEL_NB_TRAIN`, else by profile).
   */
  train?: TrainMode;
}

/** A run {@linkcode ensureRuns} did not find finished and, in run mode `none`, did not train. */
export interface MissingRun {
  /** Variant. */
  variant: string;
  /** Seed. */
  seed: number;
  /** Run id (the same under every experiment folder). */
  runId: string;
}

/**
 * The runs of {@linkcode ensureRuns}: finished runs per variant in seed order (every seed after
 * training; in run mode `none` only the seeds that had finished), and the runs still missing.
 */
export interface RunsByVariant extends Map<string, NotebookRun[]> {
  /** Runs not finished (always empty after training in run mode `missing`). */
  readonly missing: readonly MissingRun[];
}

/**
 * Every run of `variants × seeds` of `experiment` (experiments/<name>.json) under the profile,
 * trained only where missing (run mode `missing`), or only read (run mode `none`: the missing runs
 * are printed and returned in `missing`). Returns the runs per variant, in seed order.
 * @throws Error naming the run and its train.log when a child process fails.
 */
export async function ensureRuns(
  experiment: string,
  variants: readonly string[],
  opts: EnsureRunsOptions = {},
): Promise<RunsByVariant> {
  const profile = opts.profile ?? notebookProfile();
  const seedsOf = (v: string) => typeof opts.seeds === "function" ? opts.seeds(v) : opts.seeds ?? 1;
  const print = opts.print ?? (() => {});
  const mode = opts.train ?? notebookTrainMode(profile);
  const parallel = opts.parallel ??
    (Number(env("GREFEL_NB_PARALLEL")) || byProfile({ smoke: 1, quick: 2, full: 2 }, profile));
  const root = resultsDir();
  const cells = variants.flatMap((variant) =>
    Array.from({ length: seedsOf(variant) }, (_, seed) => {
      const c = experimentConfig(experiment, variant, { seed, profile, extra: opts.extra });
      const config = { ...c, train: { ...c.train, resultsDir: root, progress: "off" as const } };
      return { variant, seed, config, runId: runId(config), dir: runDir(config) };
    })
  );
  // Train the missing runs (each distinct run once) as children, when asked to.
  const missing: SweepRun[] = [];
  for (const c of cells) {
    if (missing.some((m) => m.runId === c.runId)) continue;
    if (!(await findFinishedRun(c.config, root))) missing.push({ ...c, status: "new" });
  }
  if (mode === "none") {
    const out = new Map<string, NotebookRun[]>(variants.map((v) => [v, []]));
    const absent: MissingRun[] = [];
    for (const c of cells) {
      const found = await findFinishedRun(c.config, root);
      if (!found) {
        absent.push({ variant: c.variant, seed: c.seed, runId: c.runId });
        continue;
      }
      const evaluation = found.metrics.evaluation as EvaluationReport | undefined;
      if (!evaluation) throw new Error(`${found.dir}/metrics.json has no "evaluation" section`);
      out.get(c.variant)!.push({
        dir: found.dir,
        status: "skipped",
        config: c.config,
        metrics: found.metrics,
        evaluation,
      });
    }
    print(
      `${cells.length - absent.length} of ${cells.length} run(s) of ${experiment} finished; ` +
        (absent.length
          ? `not training the ${absent.length} missing (GREFEL_NB_TRAIN=none): ` +
            absent.map((m) => `${m.variant} seed ${m.seed} (${m.runId})`).join(", ")
          : "none missing"),
    );
    return Object.assign(out, { missing: absent });
  }
  // Children (`grefel train`) keep their feature cache in `<results>/cache`; use them only when
  // that is the notebooks' cache too, else they would extract every feature again.
  const childrenShareCache = resolve(notebookCacheDir()) === resolve(root, "cache");
  if (parallel > 1 && missing.length > 1 && !childrenShareCache) {
    print(
      `training in this process: children would not share the feature cache ${notebookCacheDir()}`,
    );
  }
  // Children apply the profile's defaults as `--set` flags, i.e. over the variant: use them only
  // when that gives every missing run its own config (no variant sets what the defaults set).
  const p = PROFILE_OVERRIDES[profile];
  const childOverrides = mergeConfig(
    mergeConfig(mergeConfig({}, p.defaults ?? {}), p.overrides),
    opts.extra ?? {},
  );
  const flags = profileFlags(profile, opts.extra);
  const childrenSameConfig = missing.every((m) =>
    runId(experimentConfig(experiment, m.variant, {
      seed: m.seed,
      profile,
      extra: childOverrides,
    })) === m.runId
  );
  if (parallel > 1 && missing.length > 1 && !childrenSameConfig) {
    print("training in this process: a variant sets what the profile's defaults set");
  }
  if (parallel > 1 && missing.length > 1 && childrenShareCache && childrenSameConfig) {
    const args = [
      ...flags,
      "--results",
      root,
      "--no-figures", // the notebooks draw their own figures; a run's t-SNE costs ~15 s
    ];
    // The shared feature caches first, here: a cache has one writer at a time.
    await prepareCaches(missing.map((m) => m.config), { cacheDir: notebookCacheDir(), print });
    print(`training ${missing.length} missing run(s), ${parallel} at a time`);
    const s = await runSweep(missing, { parallel, launch: childLauncher(experiment, args), print });
    if (s.failed.length) {
      const f = s.failed[0].run;
      throw new Error(
        `${s.failed.length} run(s) failed, e.g. ${experiment} ${f.variant} seed ${f.seed}: ` +
          `see ${join(f.dir, "train.log")}`,
      );
    }
  }
  const out = new Map<string, NotebookRun[]>(variants.map((v) => [v, []]));
  for (const c of cells) {
    const found = await findFinishedRun(c.config, root);
    let run: NotebookRun;
    if (found) {
      const evaluation = found.metrics.evaluation as EvaluationReport | undefined;
      if (!evaluation) throw new Error(`${found.dir}/metrics.json has no "evaluation" section`);
      const trainedNow = missing.some((m) => m.runId === c.runId);
      run = {
        dir: found.dir,
        status: trainedNow ? "trained" : "skipped",
        config: c.config,
        metrics: found.metrics,
        evaluation,
      };
    } else {
      print(`training ${experiment} ${c.variant} seed ${c.seed}`);
      run = await ensureRun(c.config, {
        print,
        meta: { experiment, variant: c.variant },
      });
    }
    out.get(c.variant)!.push(run);
  }
  return Object.assign(out, { missing: [] });
}

export {
  readEmbeddings,
  readPredictions,
  type RunEmbeddings,
  type RunPredictions,
} from "../run/csv.ts";
