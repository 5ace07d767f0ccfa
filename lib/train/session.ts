/**
 * End-to-end entry points the CLI commands call: train one configured run (backend, data, feature
 * cache, training, metrics, figures) and re-evaluate a finished run from its directory.
 *
 * @module
 */
import { join } from "node:path";
import type { GrefelConfig } from "../config.ts";
import { type BackendInfo, selectBackend } from "../backend.ts";
import { accuracy, argmax, balancedAccuracy, evaluatePredictions } from "../eval/metrics.ts";
import { adjustPrior, classPrior } from "../eval/prior.ts";
import { revalidate } from "./experiments.ts";
import { MODEL_FNS } from "./model_fns.ts";
import {
  type DataPlan,
  planData,
  prepareData,
  type PreparedData,
  prepareEvalSplit,
  prepareMirroredEval,
  reconcileClasses,
} from "./prepare.ts";
import { checkBatchFits, explainOutOfMemory } from "./memory.ts";
import type { DataReport } from "../data/report.ts";
import { writeRunReport } from "./report.ts";
import { configHash, runDir } from "./run.ts";
import {
  checkCheckpointCompatible,
  type Checkpoint,
  exists,
  loadCheckpoint,
  readJsonIfExists,
  readRunRecord,
  RUN_FILES,
  type RunRecord,
  writeJsonAtomic,
  writeMetrics,
  writePredictions,
} from "../run/mod.ts";
import { acquireLock } from "../lock.ts";
import {
  assertFinitePredictions,
  balancedSampler,
  disposeInputs,
  type FeatureSplit,
  predictSplit,
  type SplitPredictions,
  type TrainResult,
  trainRun,
} from "./train.ts";
import { deriveSeed, mulberry32, SEED_PURPOSE } from "./schedule.ts";
import { recalibrateHeadBatchNorm, type RecalibrationReport } from "../model/recalibrate.ts";
import type { GrefelInputs, ParamTree } from "../model/types.ts";
import type { ClusterScores } from "../eval/cluster.ts";
import type { EvaluationReport } from "../eval/metrics.ts";

/**
 * Picks the backend: an explicit flag, else the config's preference, else `GREFEL_BACKEND`, else
 * automatic. Decision: automatic training prefers a hardware WebGPU adapter and otherwise wasm,
 * because WebGPU on a software rasteriser (lavapipe) trains slower than wasm (measured on this
 * 2-core machine, compact model, batch 64: 9.2 s vs 4.1 s per step).
 */
export async function selectRunBackend(config: GrefelConfig, flag?: string): Promise<BackendInfo> {
  const explicit = flag ?? (config.train.backend === "auto" ? undefined : config.train.backend);
  if (explicit || Deno.env.get("GREFEL_BACKEND")) return await selectBackend(explicit);
  const info = await selectBackend();
  if (info.backend === "webgpu" && info.softwareAdapter) {
    try {
      const wasm = await selectBackend("wasm");
      return { ...wasm, source: "auto" };
    } catch {
      return info;
    }
  }
  return info;
}

/** Options of {@linkcode runTraining}. */
export interface RunTrainingOptions {
  /** `--backend` flag. */
  backend?: string;
  /** Extra fields for config.json (experiment variant...). */
  meta?: Record<string, unknown>;
  /** Retrain from scratch. */
  force?: boolean;
  /** Write figures (confusion matrices, t-SNE) into the run directory (default true). */
  figures?: boolean;
  /** Where messages go (default stderr). */
  print?: (line: string) => void;
  /** Already prepared data (the demo reuses it). */
  prepared?: PreparedData;
}

/** The lock file of a run directory: `<run dir>.lock`, beside it (`--force` deletes the dir). */
export function runLockPath(dir: string): string {
  return `${dir}.lock`;
}

/**
 * Trains (or resumes, or skips) the run of `config` end to end and writes its figures. A run
 * that is not finished is trained by one process at a time: it holds the run's lock
 * ({@linkcode runLockPath}) while it trains.
 * @throws LockHeldError (lib/lock.ts) when another live process trains the same run.
 */
export async function runTraining(
  config: GrefelConfig,
  opts: RunTrainingOptions = {},
): Promise<TrainResult & { backend: BackendInfo; figures: string[] }> {
  const print = opts.print ?? ((l: string) => console.error(l));
  const backend = await selectRunBackend(config, opts.backend);
  print(
    `backend ${backend.backend}${
      backend.adapter ? ` (${Object.values(backend.adapter).filter(Boolean).join(" ")})` : ""
    }`,
  );
  // The run directory is known once model.classes follows the data (lib/train/prepare.ts): the
  // data is planned (loaded, scanned, split; nothing extracted) before the run's lock is taken.
  const plan = opts.prepared ? null : await planData(config, {
    progress: config.train.progress !== "off",
    print,
  });
  const dir = runDir(
    plan?.config ??
      reconcileClasses(config, opts.prepared!.data.classNames, opts.prepared!.data.name),
  );
  const finished = !opts.force && await exists(join(dir, RUN_FILES.metrics));
  const lock = finished ? null : await acquireLock(runLockPath(dir), {
    purpose: `run ${dir}`,
    hint: "it is being trained by that process; a finished run is skipped, so start this one " +
      "again when that one is done",
  });
  try {
    return await trainLocked(config, opts, backend, plan, print);
  } finally {
    await lock?.release();
  }
}

async function trainLocked(
  config: GrefelConfig,
  opts: RunTrainingOptions,
  backend: BackendInfo,
  plan: DataPlan | null,
  print: (line: string) => void,
): Promise<TrainResult & { backend: BackendInfo; figures: string[] }> {
  let prepared = opts.prepared;
  if (!prepared) {
    // Everything that can be checked before feature extraction is checked here, before it.
    const dir = runDir(plan!.config);
    if (!opts.force) await checkRunData(dir, plan!);
    await checkBatchFits(MODEL_FNS, plan!.config, backend.backend);
    // Saved before training, so that a run that fails later still lists what it skipped
    // (--force deletes the directory first: then it is written after training).
    if (!opts.force && !await exists(join(dir, "metrics.json"))) {
      await writeSkipped(dir, plan!.report);
    }
    prepared = await prepareData(config, {
      progress: config.train.progress !== "off",
      print,
      plan: plan!,
    });
  }
  // The data decides model.classes when it is left at its default (lib/train/prepare.ts); prepared
  // data may be shared by several configs, so only the class count is taken from it.
  config = reconcileClasses(config, prepared.data.classNames, prepared.data.name);
  let r;
  try {
    r = await trainRun(config, prepared.data, {
      model: MODEL_FNS,
      sampler: prepared.sampler,
      backend,
      meta: opts.meta,
      force: opts.force,
      print,
      evaluate: evaluatePredictions,
    });
  } catch (e) {
    throw explainOutOfMemory(e, config, backend.backend);
  }
  if ((opts.force || opts.prepared) && prepared.report && r.status !== "skipped") {
    await writeSkipped(r.dir, prepared.report);
  }
  // What the loader saw, skipped files with their reasons included.
  if (prepared.report) await writeJsonAtomic(join(r.dir, "data.json"), prepared.report);
  let figures: string[] = [];
  if (r.test && opts.figures !== false) {
    const rep = await writeRunReport(r.dir, {
      classNames: prepared.data.classNames,
      labels: prepared.data.test.labels,
      primary: r.test.primary,
      final: r.test.final,
      embedding: r.test.embedding,
      dim: r.test.dim,
    }, { title: `run ${r.runId}`, seed: config.seed });
    figures = rep.files;
    if (rep.cluster) {
      const m = { ...r.metrics, cluster: rep.cluster };
      await writeMetrics(r.dir, m);
      r.metrics = m;
    }
  }
  return { ...r, backend, figures };
}

/**
 * Refuses, before any feature extraction, to reuse a run directory whose recorded data differs
 * from the planned data: another data set fingerprint (samples, labels, splits), or another data
 * root (recorded by runs since the root is: the fingerprint of a folder holds file names, not
 * their contents, so a copy of a folder with other images has the same one). Also refuses a
 * directory recorded for another config.
 * @throws Error naming the run directory, both fingerprints or roots, and what to do.
 */
export async function checkRunData(dir: string, plan: DataPlan): Promise<void> {
  const cfgPath = join(dir, "config.json");
  const existing = await readJsonIfExists<
    { configHash?: string; dataset?: { fingerprint?: string; root?: string } }
  >(cfgPath);
  if (!existing) return;
  const hash = configHash(plan.config);
  if (existing.configHash !== undefined && existing.configHash !== hash) {
    throw new Error(
      `${cfgPath} describes another config (hash ${String(existing.configHash).slice(0, 10)}, ` +
        `this run ${hash.slice(0, 10)}); use another directory or --force`,
    );
  }
  const fp = existing.dataset?.fingerprint;
  const what =
    "Use another train.experiment or --results directory, or --force to retrain it here.";
  if (fp && fp !== plan.fingerprint) {
    throw new Error(
      `${dir} was trained on other data (fingerprint ${fp}, this data set ` +
        `${plan.dataset.name} ${plan.fingerprint}): its results are not this data's. ${what}`,
    );
  }
  const root = existing.dataset?.root;
  if ((root || plan.root) && (root ?? null) !== plan.root) {
    throw new Error(
      `${dir} was trained on the data at ${root ?? "the default root"}, this run reads ` +
        `${plan.root ?? "the default root"} ` +
        `(data.root): its results are not this data's. ${what}`,
    );
  }
}

/**
 * Writes what the loader skipped into the run directory, `skipped.json`: the count, the count per
 * reason and every item with its reason (the same list is in `data.json`).
 */
async function writeSkipped(dir: string, report: DataReport): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writeJsonAtomic(join(dir, "skipped.json"), {
    dataset: report.dataset,
    total: report.skipped.total,
    byReason: report.skipped.byReason,
    items: report.skipped.items,
  });
}

/** The head's batch norms re-estimated before an evaluation, and on what. */
/** How {@linkcode evaluateRun} draws the training samples of a batch-norm recalibration. */
export type RecalibrationSampling = "balanced" | "natural";

/** What a recalibration did, and on which samples. */
export type Recalibration = RecalibrationReport & {
  split: string;
  seed: number;
  sampling: RecalibrationSampling;
};

/** What {@linkcode evaluateRun} wrote to `path` (an `eval-*.json` file of the run). */
export interface RunEvaluation {
  /** The file written. */
  path: string;
  /** Figures written (none with `recalibrate` or `data`). */
  figures: string[];
  /** Run id of the checkpoint. */
  runId: string;
  /** Which weights. */
  weights: "best" | "last";
  /** The checkpoint's epoch. */
  epoch: number;
  /** The evaluation report. */
  evaluation: EvaluationReport;
  /** Cluster scores of the embeddings (null when no figures were written). */
  cluster: ClusterScores | null;
  /** The batch-norm re-estimation, when asked for. */
  recalibration: Recalibration | null;
  /** When (ISO time). */
  evaluatedAt: string;
  /** With `data`: the other data set and how its classes map to the run's. */
  evaluatedOn?: {
    dataset: string;
    root: string | null;
    split: string;
    trainedOn: string;
    classNames: string[];
    classMap: GrefelConfig["data"]["classMap"];
  };
  /** With `data`: what the loader saw of the other data set (skipped items capped at 200). */
  data?: DataReport;
  /** With `tta`: accuracies of each view and of their average, on validation and test. */
  tta?: TtaReport;
  /** With `prior`: the priors used and the scores with and without the correction. */
  prior?: PriorReport;
}

/** Scores of one split's predictions (fractions in [0, 1]). */
export interface PriorScores {
  /** Accuracy of L_final. */
  final: number;
  /** Accuracy of the primary head (arg-max l). */
  primary: number;
  /** Balanced accuracy (mean recall over the classes present) of L_final. */
  finalBalanced: number;
}

/** One split with and without the class-prior correction. */
export interface PriorSplitScores {
  /** The predictions as the model gives them. */
  plain: PriorScores;
  /** After {@linkcode adjustPrior} from the sampler's prior to the training split's. */
  corrected: PriorScores;
}

/** What `grefel eval --prior train` measured. */
export interface PriorReport {
  /** Where the target prior comes from: the training split's labels (never the test split's). */
  target: "train";
  /** π_t: class shares of the training split's labels. */
  targetPrior: number[];
  /**
   * π_s: class shares of a training epoch as the run's sampler draws it (epoch 0, the run's
   * seed): uniform for the class-balanced `refine` epochs, the training split's own for `shuffle`.
   */
  samplerPrior: number[];
  /** On the validation split (null without one): where the choice of the option is made. */
  valid: PriorSplitScores | null;
  /** On the test split (after test-time flip when that was asked for too). */
  test: PriorSplitScores;
}

/** Accuracies of one split under test-time flip augmentation (fractions in [0, 1]). */
export interface TtaSplitAccuracy {
  /** The run's own (centre) view: L_final, primary head. */
  centre: { final: number; primary: number };
  /** The mirrored view alone. */
  mirrored: { final: number; primary: number };
  /** The mean of the two views' distributions (what `evaluation` scores on test). */
  averaged: { final: number; primary: number };
}

/** What `grefel eval --tta flip` measured. */
export interface TtaReport {
  /** The views averaged. */
  views: ["centre", "mirror-x"];
  /** On the validation split (null without one): where the choice of the option is made. */
  valid: TtaSplitAccuracy | null;
  /** On the test split. */
  test: TtaSplitAccuracy;
}

/** Options of {@linkcode evaluateRun}. */
export interface EvaluateRunOptions {
  /** Weights to evaluate: `best` (default) or `last`. */
  weights?: "best" | "last";
  /** `--backend` flag. */
  backend?: string;
  /** Write figures (default true). */
  figures?: boolean;
  /** Where messages go. */
  print?: (line: string) => void;
  /**
   * Before predicting, re-estimate the head's batch-norm statistics on this many training samples
   * (view 0, a seeded draw) with dropout off ({@linkcode recalibrateHeadBatchNorm}); the result
   * goes to `eval-<weights>-bnrecal.json` (`-bnrecal-natural` with natural sampling) and no figures
   * are written. 0 or absent: off.
   */
  recalibrate?: number;
  /**
   * How the recalibration samples are drawn: `balanced` (default), equally many of each class as
   * the class-balanced epochs that estimated the running statistics in training; `natural`, a
   * uniform draw with the training split's class prior (which moves the statistics towards the
   * majority classes and so biases the head against them).
   */
  recalibrateSampling?: RecalibrationSampling;
  /**
   * Evaluate on another data set instead of the run's test split: a partial `data` section
   * (`dataset`, `root`, class mapping, face settings...) over the run's. Its classes are mapped
   * into the run's label space (`data.classNames` defaults to the run's class names, matched by
   * name or expression synonym), its `testSplit` is scored, and the result goes to
   * `eval-<weights>-on-<dataset>.json` (no figures).
   */
  data?: Record<string, unknown>;
  /** With `data`: the split to score (default its `data.testSplit`). */
  split?: string;
  /**
   * Test-time flip augmentation: also predict every validation and test image mirrored left to
   * right (its own feature cache, {@linkcode prepareMirroredEval}) and score the mean of the two
   * views' distributions. Writes `eval-<weights>[-bnrecal]-tta.json` (its `evaluation` is the
   * averaged test prediction; `tta` has every view's accuracy on validation and test) and
   * `predictions-tta.csv`; no figures. An evaluation option, reported beside the plain number.
   */
  tta?: boolean;
  /**
   * Class-prior correction (lib/eval/prior.ts): move the predicted distributions from the class
   * prior of the run's training epochs to that of its training split (`"train"`), on validation
   * and test. Writes `eval-<weights>[-bnrecal][-tta]-prior.json` (its `evaluation` is the
   * corrected test prediction; `prior` has both priors and the scores with and without) and
   * `predictions[-tta]-prior.csv`; no figures. An evaluation option, reported beside the plain
   * number. Absent: off.
   */
  prior?: "train";
}

/** Accuracies and balanced accuracy of one split's predictions. */
function priorScores(p: SplitPredictions, labels: Int32Array, classes: number): PriorScores {
  return {
    final: accuracyOf(p.final, labels, classes),
    primary: accuracyOf(p.primary, labels, classes),
    finalBalanced: labels.length
      ? balancedAccuracy(labels, argmax(p.final, classes), { numClasses: classes })
      : 0,
  };
}

/**
 * `p` with its primary and final distributions moved from prior `from` to prior `to`
 * ({@linkcode adjustPrior}); the branch outputs and embeddings are kept as they are.
 */
export function priorCorrected(
  p: SplitPredictions,
  classes: number,
  from: readonly number[],
  to: readonly number[],
): SplitPredictions {
  return {
    ...p,
    primary: adjustPrior(p.primary, classes, from, to),
    final: adjustPrior(p.final, classes, from, to),
  };
}

/** Accuracy of the arg-max of `d` (`[N, C]` row-major) against `labels`; 0 for no images. */
function accuracyOf(d: Float32Array, labels: Int32Array, classes: number): number {
  return labels.length ? accuracy(labels, argmax(d, classes)) : 0;
}

/** The mean of two predictions of the same images, distribution by distribution. */
export function averagePredictions(a: SplitPredictions, b: SplitPredictions): SplitPredictions {
  const mean = (x: Float32Array | null, y: Float32Array | null, what: string) => {
    if (x === null || y === null) return null;
    if (x.length !== y.length) throw new Error(`averagePredictions: ${what} lengths differ`);
    return Float32Array.from(x, (v, i) => (v + y[i]) / 2);
  };
  return {
    embedding: mean(a.embedding, b.embedding, "embedding")!,
    dim: a.dim,
    primary: mean(a.primary, b.primary, "primary")!,
    geometric: mean(a.geometric, b.geometric, "geometric"),
    attentive: mean(a.attentive, b.attentive, "attentive"),
    correction: mean(a.correction, b.correction, "correction"),
    final: mean(a.final, b.final, "final")!,
  };
}

/**
 * Re-evaluates a run from its directory: reads config.json, rebuilds the data (the feature cache
 * makes this cheap), loads the checkpoint, predicts the test split and writes
 * `eval-<weights>.json` and the figures (`eval-<weights>-bnrecal.json` and no figures with
 * `recalibrate`).
 * @throws Error naming a missing config.json or checkpoint, or a checkpoint of another config.
 */
export async function evaluateRun(
  dir: string,
  opts: EvaluateRunOptions = {},
): Promise<RunEvaluation> {
  const print = opts.print ?? ((l: string) => console.error(l));
  const saved = await readRunRecord(dir);
  if (!saved) throw new Error(`${dir} is not a run directory (no config.json)`);
  const config = revalidate(saved.config, `${join(dir, RUN_FILES.config)}`);
  await selectRunBackend(config, opts.backend);
  const which = opts.weights ?? "best";
  const ckpt = await loadCheckpoint(join(dir, "checkpoints", which));
  if (!ckpt) throw new Error(`${dir} has no ${which} checkpoint (checkpoints/${which})`);
  if (opts.data && opts.tta) {
    throw new Error(
      "test-time flip (tta) scores the run's own splits; it does not combine with data",
    );
  }
  if (opts.data && opts.prior) {
    throw new Error(
      "the class-prior correction (prior) scores the run's own splits; it does not combine with data",
    );
  }
  if (opts.prior !== undefined && opts.prior !== "train") {
    throw new Error(`prior must be "train", got "${opts.prior}"`);
  }
  if (opts.data) return await evaluateOnOtherData(dir, saved, config, ckpt, which, opts, print);
  const prepared = await prepareData(config, { progress: config.train.progress !== "off", print });
  const params = checkpointParams(ckpt, config, prepared.data.fingerprint);
  try {
    const data = prepared.data;
    const recalibration = opts.recalibrate && opts.recalibrate > 0
      ? await recalibrate(
        params,
        config,
        data.train,
        opts.recalibrate,
        opts.recalibrateSampling ?? "balanced",
        print,
      )
      : null;
    const pred = await predictSplit(
      MODEL_FNS,
      params,
      data.test,
      config.model,
      config.train.batchSize,
    );
    assertFinitePredictions(
      pred,
      data.classNames.length,
      `${join(dir, "checkpoints", which)} (epoch ${ckpt.state.epoch}) on the test split`,
    );
    const C = data.classNames.length;
    const predict = async (split: FeatureSplit, what: string) => {
      const p = await predictSplit(MODEL_FNS, params, split, config.model, config.train.batchSize);
      assertFinitePredictions(p, C, `${join(dir, "checkpoints", which)} on ${what}`);
      return p;
    };
    let scored = pred;
    let valScored: SplitPredictions | null = null;
    let tta: TtaReport | undefined;
    if (opts.tta) {
      const mirror = await prepareMirroredEval(config, {
        progress: config.train.progress !== "off",
        print,
      });
      const splitTta = async (
        plain: SplitPredictions,
        own: FeatureSplit,
        mirrored: FeatureSplit,
      ) => {
        if (mirrored.ids.join("\n") !== own.ids.join("\n")) {
          throw new Error(`${dir}: the mirrored cache's images are not the run's, in its order`);
        }
        const m = await predict(mirrored, "mirrored images");
        const avg = averagePredictions(plain, m);
        const acc = (p: SplitPredictions) => ({
          final: accuracyOf(p.final, own.labels, C),
          primary: accuracyOf(p.primary, own.labels, C),
        });
        return { avg, report: { centre: acc(plain), mirrored: acc(m), averaged: acc(avg) } };
      };
      const t = await splitTta(pred, data.test, mirror.test);
      const v = data.val && mirror.val
        ? await splitTta(await predict(data.val, "the validation split"), data.val, mirror.val)
        : null;
      tta = { views: ["centre", "mirror-x"], valid: v?.report ?? null, test: t.report };
      scored = t.avg;
      valScored = v?.avg ?? null;
      await writePredictions(dir, data.test, scored, data.classNames, "predictions-tta.csv");
    }
    let prior: PriorReport | undefined;
    if (opts.prior) {
      const targetPrior = classPrior(data.train.labels, C);
      const epoch = prepared.sampler(0, config.seed);
      const samplerPrior = classPrior(epoch.map((i) => data.train.labels[i]), C);
      if (!valScored && data.val) valScored = await predict(data.val, "the validation split");
      const both = (p: SplitPredictions, labels: Int32Array) => {
        const corrected = priorCorrected(p, C, samplerPrior, targetPrior);
        return {
          corrected,
          scores: {
            plain: priorScores(p, labels, C),
            corrected: priorScores(corrected, labels, C),
          },
        };
      };
      const t = both(scored, data.test.labels);
      const v = valScored && data.val ? both(valScored, data.val.labels) : null;
      prior = {
        target: "train",
        targetPrior,
        samplerPrior,
        valid: v?.scores ?? null,
        test: t.scores,
      };
      scored = t.corrected;
      await writePredictions(
        dir,
        data.test,
        scored,
        data.classNames,
        `predictions${tta ? "-tta" : ""}-prior.csv`,
      );
    }
    const evaluation = evaluatePredictions({
      labels: data.test.labels,
      primary: scored.primary,
      final: scored.final,
      classNames: data.classNames,
    });
    let figures: string[] = [];
    let cluster = null;
    if (opts.figures !== false && !recalibration && !tta && !prior) {
      const rep = await writeRunReport(dir, {
        classNames: data.classNames,
        labels: data.test.labels,
        ...pred,
      }, {
        title: `run ${ckpt.state.runId} (${which}, epoch ${ckpt.state.epoch})`,
        seed: config.seed,
      });
      figures = rep.files;
      cluster = rep.cluster;
    }
    const out = {
      runId: ckpt.state.runId,
      weights: which,
      epoch: ckpt.state.epoch,
      evaluation,
      cluster,
      recalibration,
      evaluatedAt: new Date().toISOString(),
      ...(tta ? { tta } : {}),
      ...(prior ? { prior } : {}),
    };
    const recal = recalibration
      ? `-bnrecal${recalibration.sampling === "natural" ? "-natural" : ""}`
      : "";
    const path = join(
      dir,
      `eval-${which}${recal}${tta ? "-tta" : ""}${prior ? "-prior" : ""}.json`,
    );
    await writeJsonAtomic(path, out);
    return { path, figures, ...out };
  } finally {
    MODEL_FNS.disposeParams(params);
  }
}

/**
 * The model of `config` with the weights of `ckpt`, after checking that the checkpoint belongs
 * to `config` and data with `fingerprint`. The caller disposes the weights.
 * @throws CheckpointMismatchError for a checkpoint of another config, data set or model.
 */
function checkpointParams(ckpt: Checkpoint, config: GrefelConfig, fingerprint: string): ParamTree {
  const params = MODEL_FNS.initGrefel(config.model, 0);
  try {
    checkCheckpointCompatible(
      ckpt,
      { configHash: configHash(config), datasetFingerprint: fingerprint },
      new Map([...MODEL_FNS.flattenParams(params)].map(([k, v]) => [k, v.shape])),
    );
    MODEL_FNS.assignParams(
      params,
      new Map(ckpt.weights.map((w) => [w.name, w.data as Float32Array])),
    );
    return params;
  } catch (e) {
    MODEL_FNS.disposeParams(params);
    throw e;
  }
}

/** Re-estimates the head's batch norms on `samples` training samples (view 0, a seeded draw). */
async function recalibrate(
  params: ParamTree,
  config: GrefelConfig,
  train: FeatureSplit,
  samples: number,
  sampling: RecalibrationSampling,
  print: (line: string) => void,
): Promise<Recalibration> {
  const idx = sampling === "natural"
    ? seededSample(train.ids.length, samples, config.seed)
    : balancedSample(train.labels, config.model.classes, samples, config.seed);
  const bs = config.train.batchSize;
  const held: { inputs: GrefelInputs | null } = { inputs: null }; // the last batch read
  try {
    const r = await recalibrateHeadBatchNorm(params, config.model, async (i) => {
      const part = idx.slice(i * bs, (i + 1) * bs);
      if (held.inputs) disposeInputs(held.inputs);
      held.inputs = part.length ? await train.readBatch(part, 0) : null;
      return held.inputs;
    });
    print(`recalibrated the head's batch norms on ${r.samples} training samples (${sampling})`);
    return { ...r, split: "train", seed: config.seed, sampling };
  } finally {
    if (held.inputs) disposeInputs(held.inputs);
  }
}

/** {@linkcode evaluateRun} on another data set (`opts.data`); see {@linkcode EvaluateRunOptions}. */
async function evaluateOnOtherData(
  dir: string,
  saved: RunRecord,
  config: GrefelConfig,
  ckpt: Checkpoint,
  which: "best" | "last",
  opts: EvaluateRunOptions,
  print: (line: string) => void,
): Promise<RunEvaluation> {
  const runClasses = saved.dataset?.classNames;
  if (!runClasses) throw new Error(`${join(dir, RUN_FILES.config)} records no class names`);
  const evalConfig = otherDataConfig(config, runClasses, opts.data!);
  const ev = await prepareEvalSplit(evalConfig, {
    progress: config.train.progress !== "off",
    print,
    split: opts.split,
  });
  if (ev.classNames.join() !== runClasses.join()) {
    throw new Error(
      `the evaluation data's classes (${ev.classNames.join(", ")}) are not the run's ` +
        `(${runClasses.join(", ")}): set data.classNames to the run's`,
    );
  }
  const params = checkpointParams(ckpt, config, ckpt.state.datasetFingerprint);
  try {
    const pred = await predictSplit(
      MODEL_FNS,
      params,
      ev.split,
      config.model,
      config.train.batchSize,
    );
    const evaluation = evaluatePredictions({
      labels: ev.split.labels,
      primary: pred.primary,
      final: pred.final,
      classNames: runClasses,
    });
    const out = {
      runId: ckpt.state.runId,
      weights: which,
      epoch: ckpt.state.epoch,
      evaluatedOn: {
        dataset: evalConfig.data.dataset,
        root: evalConfig.data.root,
        split: opts.split ?? evalConfig.data.testSplit,
        trainedOn: config.data.dataset,
        classNames: runClasses,
        classMap: evalConfig.data.classMap,
      },
      evaluation,
      cluster: null,
      recalibration: null,
      data: {
        ...ev.report,
        skipped: { ...ev.report.skipped, items: ev.report.skipped.items.slice(0, 200) },
      },
      evaluatedAt: new Date().toISOString(),
    };
    const path = join(dir, `eval-${which}-on-${ev.name}.json`);
    await writeJsonAtomic(path, out);
    return { path, figures: [] as string[], ...out };
  } finally {
    MODEL_FNS.disposeParams(params);
  }
}

/**
 * The config of a run with its `data` section replaced for another data set: `over` on the run's
 * data section, the other set's own split and class settings starting from their defaults, and
 * its classes mapped to the run's `runClasses`.
 */
function otherDataConfig(
  config: GrefelConfig,
  runClasses: string[],
  over: Record<string, unknown>,
): GrefelConfig {
  return revalidate(
    {
      ...config,
      data: {
        ...config.data,
        root: null,
        classNames: runClasses,
        classMap: null,
        faceCrop: "auto",
        ...over,
      },
    },
    "evaluation data",
  );
}

/**
 * `k` training indices drawn class-balanced: ⌈k / classes present⌉ of each class (a class with
 * fewer members repeats them, each once before any twice), shuffled (seeded) and cut to `k`, so
 * the counts are equal when `k` divides evenly and differ by the cut otherwise: the draw of
 * {@linkcode balancedSampler}.
 */
export function balancedSample(
  labels: Int32Array,
  classes: number,
  k: number,
  seed: number,
): number[] {
  const present = new Set(labels).size;
  const perClass = Math.ceil(k / Math.max(1, present));
  const draw = balancedSampler(labels, classes, perClass);
  return draw(0, deriveSeed(seed, SEED_PURPOSE.recalibrate)).slice(0, k);
}

/** `k` distinct indices of `0..n-1` (all when k ≥ n), a seeded partial Fisher–Yates shuffle. */
export function seededSample(n: number, k: number, seed: number): number[] {
  const rand = mulberry32(deriveSeed(seed, SEED_PURPOSE.recalibrate));
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, m);
}
