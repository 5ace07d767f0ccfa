/**
 * Sweeps on a Slurm cluster: a planned sweep (lib/train/sweep.ts) written as a job array.
 *
 * `grefel sweep EXPERIMENT --slurm DIR` writes into DIR:
 *
 * ```
 * manifest.json   one entry per distinct run: index, variant, seed, run id, run dir, resolved config
 * cache.sbatch    one job: builds every feature cache the runs read (run-index --build-cache)
 * sweep.sbatch    the job array, #SBATCH --array=0-(N−1): task i trains entry i (run-index M i)
 * submit.sh       submits cache.sbatch, then sweep.sbatch with --dependency=afterok on it
 * logs/           task-<i>.log (each task index appends to its own log), cache.log
 * tasks/<i>.jsonl what each attempt at entry i did: start, done, skip, failed, refused
 * ```
 *
 * A task trains its run through {@linkcode runTraining} into the shared results directory: a
 * finished run is skipped, an interrupted one resumes from `checkpoints/last`, and the run's lock
 * keeps two tasks from training it at once. So resubmitting `sweep.sbatch` after a node failure or
 * pre-emption finishes only what is missing. Paths in the manifest are absolute (the results
 * directory is resolved against the directory the sweep was written from; it is not part of the
 * run id), so the runs are the ones a local sweep or a notebook finds.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { GrefelConfig } from "../config.ts";
import { LockHeldError, lockStatus } from "../lock.ts";
import { revalidate } from "./experiments.ts";
import { runDir, runId } from "./run.ts";
import {
  readCheckpointState,
  readJsonIfExists,
  readLog,
  readMetrics,
  RUN_FILES,
  runStatus,
  writeFileAtomic,
  writeJsonAtomic,
} from "../run/mod.ts";
import { runLockPath, runTraining, type RunTrainingOptions } from "./session.ts";
import type { SweepRun } from "./sweep.ts";
import type { TrainResult } from "./train.ts";
import { prepareCaches } from "./caches.ts";

/** Version tag of manifest.json. */
export const MANIFEST_FORMAT = "grefel-slurm-sweep/1";

/** The repository root (where cli/grefel.ts and node_modules/ are). */
export const REPO: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/** One run of a Slurm sweep (one array task). */
export interface ManifestRun {
  /** Array task index (0-based, the entry's position). */
  index: number;
  /** Variant name. */
  variant: string;
  /** Seed. */
  seed: number;
  /** Run id. */
  runId: string;
  /** Run directory (absolute). */
  dir: string;
  /** Other (variant, seed) cells of the plan with the same config, served by this run. */
  alsoAs?: string[];
  /** Resolved config. */
  config: GrefelConfig;
}

/** manifest.json. */
export interface SweepManifest {
  /** {@linkcode MANIFEST_FORMAT}. */
  format: string;
  /** Experiment name. */
  experiment: string;
  /** When it was written. */
  createdAt: string;
  /** Directory the tasks run in (`#SBATCH --chdir`). */
  workdir: string;
  /** Repository the tasks run (`<repo>/cli/grefel.ts`). */
  repo: string;
  /** Backend of the tasks (`--backend`), or null for each config's preference / automatic. */
  backend: string | null;
  /** Options added to both sbatch scripts, one per `#SBATCH` line. */
  sbatchOptions: string[];
  /** The runs, by array index. */
  runs: ManifestRun[];
}

/**
 * Splits a command line into words as a POSIX shell would for plain words, single and double
 * quotes and backslashes (no expansions).
 * @throws Error naming an unterminated quote.
 */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = "", inWord = false, quote: "'" | '"' | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in "${s}"`);
  if (inWord) out.push(cur);
  return out;
}

/**
 * sbatch options as `#SBATCH` lines: `--partition gpu` and `--partition=gpu` both give
 * `--partition=gpu`, `-p gpu` gives `-p gpu`; a flag without a value stays alone.
 * @throws Error naming a word that is not an option (sbatch scripts take no positional words).
 */
export function sbatchOptions(words: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (!w.startsWith("-")) throw new Error(`--sbatch-args: "${w}" is not an sbatch option`);
    const next = words[i + 1];
    const takesNext = next !== undefined && !next.startsWith("-") && !w.includes("=");
    if (!takesNext) out.push(w);
    else if (w.startsWith("--")) out.push(`${w}=${words[++i]}`);
    else out.push(`${w} ${words[++i]}`);
  }
  for (const o of out) {
    if (/^--array\b/.test(o)) {
      throw new Error("--sbatch-args: --array is set by the sweep (override it on sbatch's line)");
    }
  }
  return out;
}

/** Single-quotes a word for bash when it needs it. */
function sh(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`;
}

/** Options of {@linkcode writeSlurmSweep}. */
export interface SlurmSweepOptions {
  /** Output directory (created). */
  dir: string;
  /** Experiment name. */
  experiment: string;
  /** Backend of the tasks. */
  backend?: string;
  /** Extra sbatch options (words, e.g. from `--sbatch-args`). */
  sbatchArgs?: readonly string[];
  /** Directory the tasks run in (default the current one). */
  workdir?: string;
  /** Repository the tasks run (default this one). */
  repo?: string;
}

/** What {@linkcode writeSlurmSweep} wrote. */
export interface SlurmSweepFiles {
  /** The manifest. */
  manifest: SweepManifest;
  /** Paths of manifest.json, cache.sbatch, sweep.sbatch and submit.sh. */
  files: { manifest: string; cache: string; sweep: string; submit: string };
}

function header(m: SweepManifest, dir: string, jobName: string, output: string, cpus: number) {
  return [
    "#!/bin/bash",
    `#SBATCH --job-name=${jobName}`,
    `#SBATCH --cpus-per-task=${cpus}`,
    `#SBATCH --chdir=${m.workdir}`,
    `#SBATCH --output=${join(dir, "logs", output)}`,
    "#SBATCH --open-mode=append",
    ...m.sbatchOptions.map((o) => `#SBATCH ${o}`),
  ];
}

function runIndexLine(m: SweepManifest, dir: string, args: string[]): string[] {
  const deno = join(m.repo, "node_modules", "deno", "deno");
  return [
    "set -eu",
    "# Deno and node_modules of the repository; GREFEL_DENO overrides the binary.",
    `DENO="\${GREFEL_DENO:-${deno}}"`,
    `exec "$DENO" run --allow-all ${sh(join(m.repo, "cli", "grefel.ts"))} run-index ${
      sh(join(dir, "manifest.json"))
    } ${args.join(" ")}`,
    "",
  ];
}

/**
 * Writes a planned sweep as a Slurm job array into `opts.dir` (see the module doc). Duplicate runs
 * of the plan (`sameAs`) become one entry. Returns the manifest and the paths written.
 * @throws Error when the plan is empty.
 */
export async function writeSlurmSweep(
  plan: readonly SweepRun[],
  opts: SlurmSweepOptions,
): Promise<SlurmSweepFiles> {
  const workdir = resolve(opts.workdir ?? Deno.cwd());
  const dir = resolve(workdir, opts.dir);
  const runs = manifestRuns(plan, workdir);
  if (!runs.length) throw new Error("the sweep has no runs");
  const manifest: SweepManifest = {
    format: MANIFEST_FORMAT,
    experiment: opts.experiment,
    createdAt: new Date().toISOString(),
    workdir,
    repo: resolve(opts.repo ?? REPO),
    backend: opts.backend ?? null,
    sbatchOptions: sbatchOptions(opts.sbatchArgs ?? []),
    runs,
  };
  await Deno.mkdir(join(dir, "logs"), { recursive: true });
  await Deno.mkdir(join(dir, "tasks"), { recursive: true });
  const files = {
    manifest: join(dir, "manifest.json"),
    cache: join(dir, "cache.sbatch"),
    sweep: join(dir, "sweep.sbatch"),
    submit: join(dir, "submit.sh"),
  };
  const scripts = slurmScripts(manifest, dir, files);
  await writeJsonAtomic(files.manifest, manifest);
  await writeFileAtomic(files.cache, scripts.cache.join("\n"));
  await writeFileAtomic(files.sweep, scripts.sweep.join("\n"));
  await writeFileAtomic(files.submit, scripts.submit.join("\n"));
  for (const f of [files.cache, files.sweep, files.submit]) await Deno.chmod(f, 0o755);
  return { manifest, files };
}

/**
 * The manifest entries of a plan: one per distinct run id (later duplicates are listed in
 * `alsoAs`), with paths made absolute against `workdir` and `auto` progress as lines.
 */
function manifestRuns(plan: readonly SweepRun[], workdir: string): ManifestRun[] {
  const runs: ManifestRun[] = [];
  const byId = new Map<string, ManifestRun>();
  for (const r of plan) {
    const same = byId.get(r.runId);
    if (same) {
      (same.alsoAs ??= []).push(`${r.variant} seed ${r.seed}`);
      continue;
    }
    const t = r.config.train;
    const config: GrefelConfig = {
      ...r.config,
      data: r.config.data.root
        ? { ...r.config.data, root: resolve(workdir, r.config.data.root) }
        : r.config.data,
      train: {
        ...t,
        resultsDir: resolve(workdir, t.resultsDir),
        progress: t.progress === "auto" ? "lines" : t.progress,
      },
    };
    const entry: ManifestRun = {
      index: runs.length,
      variant: r.variant,
      seed: r.seed,
      runId: runId(config),
      dir: runDir(config),
      config,
    };
    runs.push(entry);
    byId.set(r.runId, entry);
  }
  return runs;
}

/** The lines of cache.sbatch, sweep.sbatch and submit.sh of `manifest`, written into `dir`. */
function slurmScripts(
  manifest: SweepManifest,
  dir: string,
  files: SlurmSweepFiles["files"],
): { cache: string[]; sweep: string[]; submit: string[] } {
  const runs = manifest.runs;
  const n = runs.length;
  const name = `grefel-${manifest.experiment}`;
  const cacheCpus = Math.max(1, runs[0].config.train.cacheWorkers);
  const cache = [
    ...header(manifest, dir, `${name}-cache`, "cache.log", cacheCpus),
    `# Builds the feature caches of the ${n} runs of ${files.manifest}, once, before the array.`,
    ...runIndexLine(manifest, dir, ["--build-cache"]),
  ];
  const sweep = [
    // One core per task, or one per data-parallel worker (`train.workers`).
    ...header(
      manifest,
      dir,
      name,
      "task-%a.log",
      Math.max(...runs.map((r) => r.config.train.workers)),
    ),
    `#SBATCH --array=0-${n - 1}`,
    `# ${manifest.experiment}: ${n} runs, task i trains entry i of ${files.manifest}.`,
    "# Needs the feature caches (cache.sbatch, or submit.sh which runs it first). Submitting it",
    "# again skips finished runs and resumes interrupted ones; `sbatch --array=3,7 sweep.sbatch`",
    "# reruns only those indices.",
    ...runIndexLine(manifest, dir, ['"$SLURM_ARRAY_TASK_ID"']),
  ];
  const submit = [
    "#!/bin/bash",
    "# Submits the feature-cache job, then the job array to start once it has succeeded.",
    "# Arguments go to the array's sbatch (e.g. --wait).",
    "set -euo pipefail",
    `cache=$(sbatch --parsable ${sh(files.cache)})`,
    "cache=${cache%%;*}",
    'echo "feature-cache job $cache" >&2',
    `sbatch --dependency=afterok:"$cache" --kill-on-invalid-dep=yes "$@" ${sh(files.sweep)}`,
    "",
  ];
  return { cache, sweep, submit };
}

/** Reads manifest.json. @throws Error naming a missing file or an unknown format. */
export async function readManifest(path: string): Promise<SweepManifest> {
  const m = await readJsonIfExists<SweepManifest>(path);
  if (!m) throw new Error(`${path} does not exist (write it with grefel sweep E --slurm DIR)`);
  if (m.format !== MANIFEST_FORMAT) {
    throw new Error(`${path}: unsupported format "${m.format}" (expected ${MANIFEST_FORMAT})`);
  }
  return m;
}

/**
 * An entry's config, validated again. @throws Error when this version of grefel gives the config
 * another run id than the manifest records (the code changed since: write the manifest again).
 */
export function entryConfig(run: ManifestRun, context: string): GrefelConfig {
  const config = revalidate(run.config, `${context} entry ${run.index}`);
  const id = runId(config);
  if (id !== run.runId) {
    throw new Error(
      `${context} entry ${run.index}: this grefel gives its config run id ${id}, the manifest ` +
        `says ${run.runId} (the code changed since it was written; write it again)`,
    );
  }
  return config;
}

/** One line of `tasks/<i>.jsonl`. */
export interface TaskEvent {
  /** `start`, then `done` or `failed`; `skip` for a run found finished; `refused` when locked. */
  event: "start" | "done" | "skip" | "failed" | "refused";
  /** ISO time. */
  time: string;
  /** Host. */
  host: string;
  /** Process id. */
  pid: number;
  /** `SLURM_JOB_ID`, `SLURM_ARRAY_JOB_ID`, `SLURM_ARRAY_TASK_ID` when under Slurm. */
  slurm?: { job?: string; arrayJob?: string; arrayTask?: string };
  /** Run status at start (`new` or `partial`). */
  status?: string;
  /** Epoch of the checkpoint a resumed run started from. */
  fromEpoch?: number;
  /** `trained` or `resumed` (done). */
  outcome?: string;
  /** Epochs completed (done). */
  epochs?: number;
  /** Test accuracy of the final prediction (done). */
  accuracy?: number;
  /** Error message (failed, refused). */
  error?: string;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** Path of the event log of entry `index`. */
export function taskLogPath(manifestPath: string, index: number): string {
  return join(dirname(manifestPath), "tasks", `${index}.jsonl`);
}

/** Reads the events of entry `index` (none when absent; unreadable lines are dropped). */
export async function readTaskEvents(manifestPath: string, index: number): Promise<TaskEvent[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(taskLogPath(manifestPath, index));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return text.split("\n").filter((l) => l.trim()).flatMap((l) => {
    try {
      return [JSON.parse(l) as TaskEvent];
    } catch {
      return [];
    }
  });
}

async function recordEvent(
  manifestPath: string,
  index: number,
  e: Omit<TaskEvent, "time" | "host" | "pid" | "slurm">,
): Promise<void> {
  const slurm = {
    job: env("SLURM_JOB_ID"),
    arrayJob: env("SLURM_ARRAY_JOB_ID"),
    arrayTask: env("SLURM_ARRAY_TASK_ID"),
  };
  const { event, ...rest } = e;
  const line: TaskEvent = {
    event,
    time: new Date().toISOString(),
    host: Deno.hostname(),
    pid: Deno.pid,
    ...(slurm.job ? { slurm } : {}),
    ...rest,
  };
  const path = taskLogPath(manifestPath, index);
  await Deno.mkdir(dirname(path), { recursive: true });
  // One small append per event: atomic on local file systems, and one task writes an index.
  await Deno.writeTextFile(path, JSON.stringify(line) + "\n", { append: true });
}

async function checkpointEpoch(dir: string): Promise<number | null> {
  const ck = await readCheckpointState(join(dir, RUN_FILES.checkpoints, "last"))
    .catch(() => null);
  return typeof ck?.epoch === "number" ? ck.epoch : null;
}

/** Options of {@linkcode runManifestEntry}. */
export interface RunEntryOptions {
  /** Backend (default the manifest's). */
  backend?: string;
  /** Where messages go. */
  print?: (line: string) => void;
  /** The training function (default {@linkcode runTraining}; tests inject a stand-in). */
  train?: (config: GrefelConfig, opts: RunTrainingOptions) => Promise<TrainResult>;
}

/** What one task did. */
export interface EntryOutcome {
  /** `skipped` (finished before), `trained`, `resumed`, `refused` (another process trains it). */
  outcome: "skipped" | "trained" | "resumed" | "refused";
  /** The entry. */
  run: ManifestRun;
}

/**
 * Runs entry `index` of a manifest: skips a finished run, else trains or resumes it, recording
 * each step in `tasks/<index>.jsonl`.
 * @throws RangeError for an index outside the manifest; rethrows a training error (recorded as
 *   `failed`).
 */
export async function runManifestEntry(
  manifestPath: string,
  index: number,
  opts: RunEntryOptions = {},
): Promise<EntryOutcome> {
  const print = opts.print ?? ((l: string) => console.error(l));
  const m = await readManifest(manifestPath);
  const run = m.runs[index];
  if (!Number.isInteger(index) || !run) {
    throw new RangeError(`${manifestPath}: no entry ${index} (0 … ${m.runs.length - 1})`);
  }
  const config = entryConfig(run, manifestPath);
  const label = `${m.experiment} [${index}] ${run.variant} seed ${run.seed} (${run.runId})`;
  const status = await runStatus(run.dir);
  if (status === "finished") {
    await recordEvent(manifestPath, index, { event: "skip", status });
    print(`${label}: finished before, skipped (${run.dir})`);
    return { outcome: "skipped", run };
  }
  const fromEpoch = status === "partial" ? await checkpointEpoch(run.dir) ?? 0 : 0;
  await recordEvent(manifestPath, index, { event: "start", status, fromEpoch });
  print(`${label}: ${status === "partial" ? `resuming from epoch ${fromEpoch}` : "starting"}`);
  const train = opts.train ?? runTraining;
  try {
    const r = await train(config, {
      backend: opts.backend ?? m.backend ?? undefined,
      figures: false,
      print,
      meta: {
        command: ["run-index", manifestPath, String(index)],
        experiment: m.experiment,
        variant: run.variant,
        ...(env("SLURM_JOB_ID") ? { slurmJob: env("SLURM_JOB_ID") } : {}),
      },
    });
    const acc = (r.metrics as { accuracy?: unknown }).accuracy;
    await recordEvent(manifestPath, index, {
      event: "done",
      outcome: r.status,
      epochs: r.epochs,
      ...(typeof acc === "number" ? { accuracy: acc } : {}),
    });
    print(`${label}: ${r.status}, ${r.epochs} epochs (${run.dir})`);
    return { outcome: r.status === "skipped" ? "skipped" : r.status, run };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    if (e instanceof LockHeldError) {
      await recordEvent(manifestPath, index, { event: "refused", error });
      print(`${label}: ${error}`);
      return { outcome: "refused", run };
    }
    await recordEvent(manifestPath, index, { event: "failed", error });
    throw e;
  }
}

/**
 * Builds the feature caches of a manifest's runs (all, or only entry `index`), each once.
 * Returns how many distinct data preparations there were.
 */
export async function buildManifestCaches(
  manifestPath: string,
  opts: { index?: number; backend?: string; print?: (line: string) => void } = {},
): Promise<number> {
  const m = await readManifest(manifestPath);
  const runs = opts.index === undefined ? m.runs : [m.runs[opts.index]].filter(Boolean);
  if (!runs.length) throw new RangeError(`${manifestPath}: no entry ${opts.index}`);
  return await prepareCaches(runs.map((r) => entryConfig(r, manifestPath)), {
    backend: opts.backend ?? m.backend ?? undefined,
    print: opts.print,
  });
}

/** State of one cell of a sweep. */
export type CellState = "done" | "running" | "failed" | "missing";

/** One cell's state and what backs it. */
export interface CellStatus {
  /** The entry. */
  run: ManifestRun;
  /** State. */
  state: CellState;
  /** Epochs in log.jsonl (done) or in the last checkpoint (otherwise). */
  epoch: number;
  /** Epochs configured. */
  epochs: number;
  /** Human-readable detail: accuracy, holder of the lock, error, what a resubmission does. */
  detail: string;
}

/**
 * The state of every cell of a manifest: `done` (metrics.json), `running` (a live process holds
 * the run's lock), `failed` (the last attempt failed or was killed: an error recorded, a stale
 * lock, or a checkpoint without a live trainer; a resubmission resumes it) or `missing` (never
 * started).
 */
export async function sweepStatus(manifestPath: string): Promise<CellStatus[]> {
  const m = await readManifest(manifestPath);
  const out: CellStatus[] = [];
  for (const run of m.runs) {
    const epochs = run.config.train.epochs;
    const status = await runStatus(run.dir);
    const events = await readTaskEvents(manifestPath, run.index);
    const last = events.filter((e) => e.event !== "skip" && e.event !== "refused").at(-1);
    if (status === "finished") {
      const log = await readLog(run.dir).catch(() => []);
      const metrics = await readMetrics<{ accuracy?: number }>(run.dir).catch(() => null);
      const acc = typeof metrics?.accuracy === "number"
        ? `test accuracy ${metrics.accuracy.toFixed(4)}`
        : "finished";
      out.push({ run, state: "done", epoch: log.length, epochs, detail: acc });
      continue;
    }
    const epoch = await checkpointEpoch(run.dir) ?? 0;
    const lock = await lockStatus(runLockPath(run.dir));
    if (lock.state === "held") {
      const o = lock.owner;
      const who = o
        ? `pid ${o.pid} on ${o.host}${o.slurmJob ? `, job ${o.slurmJob}` : ""}`
        : "starting";
      out.push({ run, state: "running", epoch, epochs, detail: `${who}` });
      continue;
    }
    if (last?.event === "failed") {
      out.push({
        run,
        state: "failed",
        epoch,
        epochs,
        detail: `${last.error?.split("\n")[0] ?? "failed"} (${last.host}, ${last.time})`,
      });
    } else if (status === "partial" || last?.event === "start" || lock.state === "stale") {
      out.push({
        run,
        state: "failed",
        epoch,
        epochs,
        detail: "interrupted (killed, pre-empted or its node failed); a resubmission resumes it",
      });
    } else {
      out.push({ run, state: "missing", epoch: 0, epochs, detail: "" });
    }
  }
  return out;
}

/** A status table: a summary line, then one line per cell. */
export function formatStatus(experiment: string, cells: readonly CellStatus[]): string {
  const count = (s: CellState) => cells.filter((c) => c.state === s).length;
  const lines = [
    `${experiment}: ${cells.length} runs: ${count("done")} done, ${count("running")} running, ` +
    `${count("failed")} failed, ${count("missing")} missing`,
  ];
  const w = Math.max(...cells.map((c) => `${c.run.variant} seed ${c.run.seed}`.length));
  for (const c of cells) {
    const cell = `${c.run.variant} seed ${c.run.seed}`.padEnd(w);
    const also = c.run.alsoAs?.length ? ` (also ${c.run.alsoAs.join(", ")})` : "";
    lines.push(
      `  ${String(c.run.index).padStart(3)}  ${cell}  ${c.run.runId}  ${c.state.padEnd(7)}  ` +
        `${c.epoch}/${c.epochs} epochs${c.detail ? `  ${c.detail}` : ""}${also}`,
    );
  }
  return lines.join("\n");
}
