/**
 * Sweeps: an experiment (lib/train/experiments.ts) expanded into runs × seeds. Each run's
 * directory is derived from its config (run id), so a sweep started again skips finished runs
 * (`metrics.json` present) and resumes interrupted ones from `checkpoints/last`. Runs execute as
 * child processes (lib/train/main.ts, the `train` flags), `parallel` at a time: the wasm backend is single-threaded,
 * so N processes use N cores. A child's output goes to `<run dir>/train.log`.
 *
 * @module
 */
import { join } from "node:path";
import type { GrefelConfig } from "../config.ts";
import { type Experiment, variantConfig } from "./experiments.ts";
import { finishedElsewhere, runDir, runId } from "./run.ts";
import { canonicalJson, readJsonIfExists, type RunStatus, runStatus } from "../run/mod.ts";
import { configForData, MODEL_CLASSES_DEFAULT } from "./prepare.ts";
import { resolveDataRoot } from "../data/datasets.ts";
import { TRAIN_ENTRY } from "./main.ts";
import { runLockPath } from "./session.ts";
import { lockStatus } from "../lock.ts";
import { LOCK_HELD_EXIT } from "../args.ts";

/** One run of a sweep. */
export interface SweepRun {
  /** Variant name. */
  variant: string;
  /** Seed. */
  seed: number;
  /** Resolved config. */
  config: GrefelConfig;
  /** Run id. */
  runId: string;
  /** Run directory. */
  dir: string;
  /** Status when planned. */
  status: RunStatus;
  /**
   * Set when an earlier run of the plan has the same config (e.g. two variants that both equal the
   * default): this run is not launched, the earlier one's results serve both.
   */
  sameAs?: string;
  /**
   * Set when the same run (same run id) has finished under another experiment folder of the
   * results directory: it is not launched again; that folder's results serve this plan.
   */
  finishedIn?: string;
  /**
   * Set when the run directory holds a run of other data (its recorded data root is not the one
   * this config reads; `data.root` is not part of the run id): the run is neither skipped nor
   * resumed, and launching it fails with this message.
   */
  conflict?: string;
}

/**
 * Why the recorded run in `dir` is not the run of `config`'s data, or undefined: its config.json
 * records another data root than `config` resolves to. Nothing to say when either is unknown (no
 * run yet, a run recorded before roots were, a root that does not resolve here).
 */
export async function dataConflict(
  config: GrefelConfig,
  dir: string,
): Promise<string | undefined> {
  const rec = await readJsonIfExists<{ dataset?: { root?: string } }>(join(dir, "config.json"));
  const recorded = rec?.dataset?.root;
  if (!recorded) return undefined;
  let root: string | null;
  try {
    root = await resolveDataRoot(config.data.dataset, config.data.root);
  } catch {
    return undefined;
  }
  if (!root || root === recorded) return undefined;
  return `${dir} holds a run of the data at ${recorded}, this config reads ${root} (data.root)`;
}

/** Options of {@linkcode planSweep}. */
export interface PlanOptions {
  /** Seeds per variant (default: the experiment's `seeds`). Seeds are base, base+1, … */
  seeds?: number;
  /** Preset instead of the experiment's. */
  preset?: string;
  /** Overrides after each variant (from `--set`). */
  overrides?: Record<string, unknown>;
  /** Only these variants (default all). */
  variants?: readonly string[];
  /**
   * Resolves what a run's config becomes once `model.classes` follows its data (default
   * {@linkcode configForData}, which lists the data set once per distinct data section).
   */
  forData?: (config: GrefelConfig) => Promise<GrefelConfig>;
}

/**
 * Expands an experiment into runs (variants × seeds, variant-major) with their current status.
 * @throws ConfigError naming an unknown variant or an invalid key.
 */
export async function planSweep(exp: Experiment, opts: PlanOptions = {}): Promise<SweepRun[]> {
  const seeds = opts.seeds ?? exp.seeds;
  const names = opts.variants ?? [...exp.variants.keys()];
  const runs: SweepRun[] = [];
  // The directory a run trains is known once model.classes follows the data (a 7-class set
  // trains under another run id than the config's default of 8).
  const resolved = new Map<string, Promise<number>>();
  const forData = async (config: GrefelConfig): Promise<GrefelConfig> => {
    if (config.model.classes !== MODEL_CLASSES_DEFAULT) return config;
    const key = canonicalJson(config.data);
    if (!resolved.has(key)) {
      // Data that cannot be listed here (not on this machine, a bad root) keeps the config's
      // classes: the run itself reports the data's problem when it starts.
      resolved.set(
        key,
        (opts.forData ?? configForData)(config).then(
          (c) => c.model.classes,
          () => config.model.classes,
        ),
      );
    }
    const classes = await resolved.get(key)!;
    return classes === config.model.classes
      ? config
      : { ...config, model: { ...config.model, classes } };
  };
  for (const variant of names) {
    const base = variantConfig(exp, variant, { preset: opts.preset, overrides: opts.overrides });
    for (let k = 0; k < seeds; k++) {
      const config = await forData(variantConfig(exp, variant, {
        preset: opts.preset,
        overrides: opts.overrides,
        seed: base.seed + k,
      }));
      const dir = runDir(config);
      const first = runs.find((r) => r.dir === dir);
      const status = await runStatus(dir);
      const conflict = status === "new" ? undefined : await dataConflict(config, dir);
      const elsewhere = status === "finished" || first ? null : await finishedElsewhere(config);
      const usable = elsewhere && !(await dataConflict(config, elsewhere)) ? elsewhere : null;
      runs.push({
        ...(first ? { sameAs: `${first.variant} seed ${first.seed}` } : {}),
        ...(usable ? { finishedIn: usable } : {}),
        ...(conflict ? { conflict } : {}),
        variant,
        seed: config.seed,
        config,
        runId: runId(config),
        dir,
        status,
      });
    }
  }
  return runs;
}

/** Launches one run and resolves to its exit code. */
export type Launcher = (run: SweepRun) => Promise<number>;

/** Outcome of {@linkcode runSweep}. */
export interface SweepSummary {
  /** Runs already finished before the sweep started. */
  skipped: SweepRun[];
  /** Runs that finished now. */
  finished: SweepRun[];
  /** Runs whose process failed, with the exit code. */
  failed: { run: SweepRun; code: number }[];
  /**
   * Runs not trained here because another live process held a lock they need when their turn
   * came: the run's own (it trains elsewhere; not launched) or, from the child, one that exited
   * with {@linkcode LOCK_HELD_EXIT} (e.g. a feature cache being built). A later sweep takes them up.
   */
  refused: { run: SweepRun; reason: string }[];
}

/**
 * Runs the unfinished runs of a plan, at most `parallel` at a time, in plan order.
 * A failed run does not stop the others; it is reported in the summary. A run that another live
 * process trains when its turn comes (its run lock is held) is not launched, and a child refused
 * by a lock is not a failure: both are `refused`, so that two sweeps over the same runs share
 * them instead of failing each other's.
 */
export async function runSweep(
  plan: readonly SweepRun[],
  opts: { parallel: number; launch: Launcher; print?: (line: string) => void },
): Promise<SweepSummary> {
  const print = opts.print ?? ((l: string) => console.error(l));
  const summary: SweepSummary = { skipped: [], finished: [], failed: [], refused: [] };
  for (const r of plan) {
    if (r.conflict && !r.sameAs && !r.finishedIn) {
      print(`${r.variant} seed ${r.seed} (${r.runId}): ${r.conflict}`);
      summary.failed.push({ run: r, code: -1 });
    }
  }
  const todo = plan.filter((r) => {
    if (r.conflict && !r.finishedIn) return false;
    const skip = r.status === "finished" || !!r.sameAs || !!r.finishedIn;
    if (skip) summary.skipped.push(r);
    return !skip;
  });
  let next = 0, done = 0;
  const label = (r: SweepRun) => `${r.variant} seed ${r.seed} (${r.runId})`;
  const worker = async () => {
    while (next < todo.length) {
      const run = todo[next++];
      const lock = await lockStatus(runLockPath(run.dir));
      if (lock.state === "held") {
        done++;
        const who = lock.owner ? `pid ${lock.owner.pid} on ${lock.owner.host}` : "another process";
        const reason = `trains elsewhere (${who})`;
        summary.refused.push({ run, reason });
        print(`[${done}/${todo.length}] refused ${label(run)}: ${reason}`);
        continue;
      }
      print(
        `[${done}/${todo.length}] ${run.status === "partial" ? "resume" : "start"} ${label(run)}`,
      );
      let code: number;
      try {
        code = await opts.launch(run);
      } catch (e) {
        print(`  ${label(run)}: ${e instanceof Error ? e.message : e}`);
        code = -1;
      }
      done++;
      if (code === LOCK_HELD_EXIT) {
        const reason = `a lock it needs is held by another process; see ${
          join(run.dir, "train.log")
        }`;
        summary.refused.push({ run, reason });
        print(`[${done}/${todo.length}] refused ${label(run)}: ${reason}`);
        continue;
      }
      if (code === 0) summary.finished.push(run);
      else summary.failed.push({ run, code });
      print(
        `[${done}/${todo.length}] ${code === 0 ? "done" : `FAILED (exit ${code})`} ${label(run)}` +
          (code === 0 ? "" : `; see ${join(run.dir, "train.log")}`),
      );
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(opts.parallel, todo.length)) }, worker),
  );
  return summary;
}

/**
 * The command line of a run's child process: `deno run -A lib/train/main.ts --experiment E
 * --variant V --seed S --progress lines [extra]` (the `train` flags; lib/train/main.ts).
 */
export function childArgs(experiment: string, run: SweepRun, extra: readonly string[]): string[] {
  return [
    "run",
    "-A",
    TRAIN_ENTRY,
    "--experiment",
    experiment,
    "--variant",
    run.variant,
    "--seed",
    String(run.seed),
    "--progress",
    "lines",
    ...extra,
  ];
}

/**
 * A launcher that runs one run as a child process ({@linkcode childArgs}), writing its output to
 * `<run dir>/train.log`.
 */
export function childLauncher(
  experiment: string,
  extra: readonly string[] = [],
): Launcher {
  return async (run) => {
    await Deno.mkdir(run.dir, { recursive: true });
    const log = await Deno.open(join(run.dir, "train.log"), {
      write: true,
      create: true,
      append: true,
    });
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: childArgs(experiment, run, extra),
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).spawn();
      const pipe = async (s: ReadableStream<Uint8Array>) => {
        for await (const chunk of s) await log.write(chunk);
      };
      await Promise.all([pipe(child.stdout), pipe(child.stderr)]);
      return (await child.status).code;
    } finally {
      log.close();
    }
  };
}
