/**
 * Adopting a run under a changed stopping rule. Early stopping and the epoch cap decide only when
 * training ends, never what an epoch computes (every random draw derives from the seed, the epoch
 * and the step; the learning rate from the epoch). So a run recorded under one stopping rule is,
 * epoch for epoch, the run another rule would have trained, up to the epoch where either stops.
 * {@linkcode adoptRun} copies such a run into the directory of the new config, with its checkpoints
 * re-labelled, so a sweep resumes it instead of training the same epochs again. It refuses when the
 * configs differ in anything else, or when the new rule would have stopped before the last epoch
 * on record (that epoch's weights are not kept).
 *
 * @module
 */
import { isAbsolute, join, relative } from "node:path";
import type { GrefelConfig } from "../config.ts";
import { acquireLock, LockHeldError } from "../lock.ts";
import { RUN_ID_EXCLUDED, RUN_ID_LEGACY_VALUES } from "./config.ts";
import { bestValidated, earlyStopStatus, stoppedAfter, validatedEpochs } from "./early_stop.ts";
import { configHash, runDir, runId } from "./run.ts";
import {
  canonicalJson,
  type CheckpointState,
  exists,
  loadCheckpoint,
  readLog,
  readMetrics,
  readRunRecord,
  RUN_FILES,
  type RunMetrics,
  saveCheckpoint,
  type StopInfo,
  withoutPaths,
  writeFileAtomic,
  writeLog,
  writeRunRecord,
} from "../run/mod.ts";
import { runLockPath } from "./session.ts";

/** Config paths that decide when training stops but not what any epoch computes. */
export const STOPPING_PATHS: readonly string[] = ["train.earlyStop", "train.epochs"];

/** Dotted paths of the leaves in which two JSON values differ. */
export function differingPaths(a: unknown, b: unknown, prefix = ""): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> =>
    !!x && typeof x === "object" && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return canonicalJson(a ?? null) === canonicalJson(b ?? null) ? [] : [prefix || "(root)"];
}

/**
 * Paths where the config `b` of a new run differs from the config `a` of a recorded one beyond
 * the run-id exclusions and the stopping rule. `train.validateRaw` off in `b` where `a` had it on
 * is no difference: validating the raw weights changes no epoch's computation, and the recorded
 * run logged everything the new config reads (the other way round it did not).
 */
export function trajectoryDifferences(a: GrefelConfig, b: GrefelConfig): string[] {
  const fewerValidations = b.train.validateRaw === false && a.train.validateRaw !== false;
  const ignored = [...RUN_ID_EXCLUDED, ...STOPPING_PATHS, "preset"];
  if (fewerValidations) ignored.push("train.validateRaw");
  const strip = (c: GrefelConfig) => withoutPaths(c, ignored) as Record<string, unknown>;
  const legacy = (c: Record<string, unknown>) => {
    // A field added after a run was recorded is absent from its config: at its legacy value it
    // computes what the older run computed.
    const copy = structuredClone(c);
    for (const [path, value] of Object.entries(RUN_ID_LEGACY_VALUES)) {
      const parts = path.split(".");
      let node = copy as Record<string, unknown> | undefined;
      for (let i = 0; i < parts.length - 1 && node; i++) {
        node = node[parts[i]] as Record<string, unknown> | undefined;
      }
      if (node && canonicalJson(node[parts.at(-1)!] ?? null) === canonicalJson(value)) {
        delete node[parts.at(-1)!];
      }
    }
    return copy;
  };
  return differingPaths(legacy(strip(a)), legacy(strip(b)));
}

/** What {@linkcode adoptRun} did. */
export interface AdoptResult {
  /** The run adopted. */
  from: string;
  /** The new run's directory. */
  to: string;
  /** Epochs carried over. */
  epochs: number;
  /** Set when the new rule stops after those epochs (only the test split is left to run). */
  stopped: StopInfo | null;
  /**
   * True when the run had finished and the new rule stops it at the same epoch with the same best
   * epochs: its test results were copied as they are, and nothing is left to run.
   */
  finished: boolean;
}

/** The files a finished run's training and test wrote besides its record, log and metrics. */
const TEST_FILES = [
  RUN_FILES.predictions,
  "predictions-raw.csv",
  RUN_FILES.embeddings,
  RUN_FILES.data,
  "skipped.json",
];

type Best = { metric: string; value: number; epoch: number };

/** The best epoch of `log` under `config`'s rule (and, `raw`, of the raw weights' curve). */
function bestUnder(log: CheckpointState["log"], config: GrefelConfig, raw = false): Best | null {
  const tc = config.train;
  const metric = tc.selectMetric;
  const values = raw
    ? log.flatMap((e) => {
      const v = metric === "valAccuracy" ? e.valRawAccuracy : e.valRawPrimaryAccuracy;
      return typeof v === "number" ? [{ epoch: e.epoch, value: v }] : [];
    })
    : validatedEpochs(log, metric);
  const b = bestValidated(values, tc.earlyStop.minDelta, tc.earlyStop.startEpoch);
  return b ? { metric, value: b.value, epoch: b.epoch } : null;
}

/** The epoch in a `best (epoch N)` / `best raw (epoch N)` weights label, or null. */
function labelledEpoch(weights: string | undefined): number | null {
  const m = weights?.match(/\(epoch (\d+)\)/);
  return m ? Number(m[1]) : null;
}

/** An adoption that would not give the run the new config trains. */
export class AdoptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdoptError";
  }
}

/**
 * Copies the run in `fromDir` to the directory of `config` (a config that differs from the run's
 * only in {@linkcode STOPPING_PATHS}): config.json describing `config` with `adoptedFrom`, the
 * epoch log, and the `last`, `best` and (with a weight average) `best-raw` checkpoints with their
 * run id, config hash, best epochs and early-stopping state recomputed under the new rule;
 * `variant`, when given, is the experiment variant recorded for the new run (the old run's is kept
 * in `adoptedFrom`). The old run is left as it was. Both run locks are held while copying.
 *
 * A finished run that the new rule stops after the same epoch with the same best epoch (and, with a
 * weight average, the same raw best epoch) tested the weights that rule's run tests, so its test
 * files are copied as well (metrics.json with the new run id) and no checkpoint is needed: the
 * new run is finished. Otherwise the run resumes from the copied checkpoints, and where the new best
 * epoch is the last one, `best` is the last checkpoint's weights.
 * @throws AdoptError when the configs differ elsewhere, the target already holds a run, a needed
 *   checkpoint is missing (the new best epoch's weights among them), or the new rule would have
 *   stopped before the last recorded epoch.
 */
export async function adoptRun(
  fromDir: string,
  config: GrefelConfig,
  toDir: string = runDir(config),
  variant?: string,
): Promise<AdoptResult> {
  const record = await readRunRecord<GrefelConfig>(fromDir);
  if (!record) throw new AdoptError(`${fromDir} has no config.json`);
  const diff = trajectoryDifferences(record.config, config);
  if (diff.length) {
    throw new AdoptError(
      `${fromDir} trained another computation, not only another stopping rule: ${diff.join(", ")}`,
    );
  }
  if (await exists(join(toDir, RUN_FILES.config))) {
    throw new AdoptError(`${toDir} already holds a run; remove it first to adopt ${fromDir}`);
  }
  const purpose = `adopting ${fromDir} into ${toDir}`;
  const locks = [
    await acquireLock(runLockPath(fromDir), { purpose }),
    await acquireLock(runLockPath(toDir), { purpose }),
  ];
  try {
    const metrics = await readMetrics<RunMetrics & { runId?: string }>(fromDir);
    const last = await loadCheckpoint(join(fromDir, "checkpoints", "last"));
    const log = last?.state.log ?? await readLog(fromDir);
    const epochs = log.at(-1)?.epoch ?? 0;
    assertAdoptable(fromDir, log, config);
    const stopped = stoppedAfter(log, config);
    const best = bestUnder(log, config);
    const bestRaw = bestUnder(log, config, true);
    const sameTest = !!metrics && stopped?.epoch === epochs &&
      (metrics.best?.epoch ?? null) === (best?.epoch ?? null) &&
      (!metrics.raw || labelledEpoch(metrics.raw.weights) === bestRaw?.epoch);
    const trainLog = await Deno.readTextFile(join(fromDir, "train.log")).catch(() => "");
    await Deno.mkdir(toDir, { recursive: true });
    if (sameTest) {
      // The same weights were tested: the test files are this rule's run's.
      // The trainer's own outputs; later analyses of the old run (re-evaluations) stay with it.
      for (const name of TEST_FILES) {
        if (await exists(join(fromDir, name))) {
          await Deno.copyFile(join(fromDir, name), join(toDir, name));
        }
      }
      await writeLog(toDir, log);
      await writeFileAtomic(
        join(toDir, RUN_FILES.metrics),
        JSON.stringify({ ...metrics, runId: runId(config), best, stopped }, null, 2) + "\n",
      );
    } else {
      if (!last) throw new AdoptError(`${fromDir} has no checkpoints/last to adopt`);
      const relabel = (s: CheckpointState): CheckpointState => ({
        ...s,
        runId: runId(config),
        configHash: configHash(config),
        best: s.log.some((e) => e.valAccuracy !== null && e.valAccuracy !== undefined)
          ? bestUnder(s.log, config)
          : s.best,
        ...(s.bestRaw !== undefined ? { bestRaw: bestUnder(s.log, config, true) } : {}),
        sinceBest: earlyStopStatus(
          validatedEpochs(s.log, config.train.selectMetric, config.train.earlyStop.watch)
            .map((v) => v.value),
          config.train.earlyStop,
          validatedEpochs(s.log, config.train.selectMetric, config.train.earlyStop.watch)
            .map((v) => v.epoch),
        ).since,
        stopped: stoppedAfter(s.log, config),
      });
      const state = relabel(last.state);
      await Deno.mkdir(join(toDir, "checkpoints"), { recursive: true });
      // best-raw: the raw weights' best epoch of a run with a weight average, which it tests too.
      for (const [name, want] of [["best", state.best], ["best-raw", state.bestRaw]] as const) {
        const ck = await loadCheckpoint(join(fromDir, "checkpoints", name));
        if (!want || (!ck && name === "best-raw")) continue;
        const to = join(toDir, "checkpoints", name);
        if (ck && ck.state.epoch === want.epoch) {
          await saveCheckpoint(to, relabel(ck.state), ck.weights, ck.optimizer);
        } else if (name === "best" && want.epoch === last.state.epoch) {
          await saveCheckpoint(to, state, last.weights, last.optimizer);
        } else if (want.epoch !== last.state.epoch || name === "best-raw") {
          throw new AdoptError(
            `under the new rule the ${name} epoch of ${fromDir} is ${want.epoch}, but ` +
              `checkpoints/${name} ${ck ? `holds epoch ${ck.state.epoch}` : "is missing"}: ` +
              `that epoch's weights are not kept, so the run has to be trained again`,
          );
        }
      }
      await saveCheckpoint(join(toDir, "checkpoints", "last"), state, last.weights, last.optimizer);
      await writeLog(toDir, log);
    }
    await writeFileAtomic(
      join(toDir, "train.log"),
      trainLog +
        `adopted from ${
          isAbsolute(fromDir) ? relative(Deno.cwd(), fromDir) : fromDir
        } after epoch ${epochs} (only the stopping rule differs` +
        (sameTest ? "; the new rule stops at the same epoch and tests the same weights" : "") +
        ")\n",
    );
    await writeRunRecord(toDir, {
      ...record,
      runId: runId(config),
      configHash: configHash(config),
      config,
      experiment: config.train.experiment,
      // The experiment variant the run now is (the old run's name, if any, is in adoptedFrom).
      ...(variant !== undefined ? { variant } : {}),
      adoptedFrom: {
        runId: record.runId,
        // Recorded relative to the working directory: run folders carry no machine paths.
        dir: isAbsolute(fromDir) ? relative(Deno.cwd(), fromDir) : fromDir,
        ...(record.variant !== undefined ? { variant: record.variant } : {}),
        epochs,
        earlyStop: record.config.train.earlyStop,
        epochCap: record.config.train.epochs,
        ...(sameTest ? { testedWeightsKept: true } : {}),
      },
    });
    return { from: fromDir, to: toDir, epochs, stopped, finished: sameTest };
  } finally {
    for (const l of locks) await l.release();
  }
}

/**
 * @throws AdoptError when the run trained more epochs than `config` allows, or when the stopping
 *   rule of `config` would have stopped it before its last recorded epoch.
 */
function assertAdoptable(
  fromDir: string,
  log: CheckpointState["log"],
  config: GrefelConfig,
): void {
  const epochs = log.at(-1)?.epoch ?? 0;
  if (epochs > config.train.epochs) {
    throw new AdoptError(
      `${fromDir} trained ${epochs} epochs, more than the new cap of ${config.train.epochs}`,
    );
  }
  for (let e = 1; e < log.length; e++) {
    const stop = stoppedAfter(log.slice(0, e), config);
    if (stop) {
      throw new AdoptError(
        `under the new stopping rule ${fromDir} would have stopped after epoch ${stop.epoch} ` +
          `(${stop.reason}), before its last recorded epoch ${epochs}: that epoch's weights ` +
          `are not kept, so the run has to be trained again`,
      );
    }
  }
}

/** One planned run and what adoption found for it. */
export interface AdoptOutcome {
  /** The planned run (`variant seed N`). */
  run: string;
  /** Its directory. */
  dir: string;
  /** The run it was (or would be) adopted from, if one matches. */
  from: string | null;
  /** The adoption, when it ran. */
  result?: AdoptResult;
  /** Why a matching run could not be adopted. */
  error?: string;
}

/**
 * For each new run of a sweep plan, looks in `fromDir` (default: the runs' own experiment folder)
 * for a recorded run that differs from it only in the stopping rule, and adopts it (or, with
 * `dryRun`, only reports the match). Runs already present, and runs with no match, are left alone.
 */
export async function adoptIntoPlan(
  plan: readonly {
    variant: string;
    seed: number;
    config: GrefelConfig;
    dir: string;
    status: string;
    sameAs?: string;
  }[],
  opts: { fromDir?: string; dryRun?: boolean } = {},
): Promise<AdoptOutcome[]> {
  const out: AdoptOutcome[] = [];
  const candidates = new Map<string, { dir: string; config: GrefelConfig }[]>();
  const listed = async (folder: string) => {
    if (!candidates.has(folder)) {
      const found: { dir: string; config: GrefelConfig }[] = [];
      try {
        for await (const e of Deno.readDir(folder)) {
          if (!e.isDirectory) continue;
          const dir = join(folder, e.name);
          const rec = await readRunRecord<GrefelConfig>(dir);
          if (rec?.config) found.push({ dir, config: rec.config });
        }
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      candidates.set(folder, found.sort((a, b) => a.dir.localeCompare(b.dir)));
    }
    return candidates.get(folder)!;
  };
  for (const r of plan) {
    if (r.status !== "new" || r.sameAs) continue;
    const folder = opts.fromDir ?? join(r.dir, "..");
    const matches = rankMatches(
      (await listed(folder)).filter((c) =>
        c.dir !== r.dir && trajectoryDifferences(c.config, r.config).length === 0
      ),
      r.config,
    );
    const o: AdoptOutcome = {
      run: `${r.variant} seed ${r.seed}`,
      dir: r.dir,
      from: matches[0]?.dir ?? null,
    };
    if (matches.length && !opts.dryRun) {
      // The nearest stopping rule first; a refusal (say, a rule that stops sooner) tries the next.
      const refusals: string[] = [];
      for (const m of matches) {
        try {
          o.result = await adoptRun(m.dir, r.config, r.dir, r.variant);
          o.from = m.dir;
          break;
        } catch (e) {
          if (!(e instanceof AdoptError || e instanceof LockHeldError)) throw e;
          refusals.push(matches.length > 1 ? `${m.dir}: ${e.message}` : e.message);
        }
      }
      if (!o.result) o.error = refusals.join("; ");
    }
    out.push(o);
  }
  return out;
}

/**
 * The recorded runs that match a new run's `config`, nearest stopping rule first: by the number of
 * {@linkcode STOPPING_PATHS} leaves in which they differ from it, then by folder. A run trained for
 * another stopping curve of the same computation (say, early stopping on the raw weights where the
 * new rule watches the averaged ones) thus comes after one that differs only in the warm-up.
 */
export function rankMatches<T extends { dir: string; config: GrefelConfig }>(
  matches: readonly T[],
  config: GrefelConfig,
): T[] {
  const pick = (c: GrefelConfig) => ({ earlyStop: c.train.earlyStop, epochs: c.train.epochs });
  const distance = (c: GrefelConfig) => differingPaths(pick(c), pick(config)).length;
  return [...matches].sort((a, b) =>
    distance(a.config) - distance(b.config) || a.dir.localeCompare(b.dir)
  );
}
