/**
 * Configuration section `train`: optimiser, learning-rate schedule, epochs, evaluation and
 * checkpoint cadence, early stopping, and where and how runs are executed.
 *
 * Fields listed in {@linkcode RUN_ID_EXCLUDED} (progress display, parallelism, backend preference,
 * results directory, experiment name) do not change what a run computes and are left out of the
 * run id (see `lib/train/run.ts`).
 *
 * @module
 */
import { z } from "zod";
import type { Assert, Equals } from "../type_check.ts";

/** Schema of early stopping. */
export const earlyStopSchema = z.strictObject({
  /** Stop when the validation metric has not improved for `patience` evaluations. Off by default. */
  enabled: z.boolean().default(false),
  /** Evaluations without improvement before stopping. */
  patience: z.number().int().min(1).default(10),
  /** Smallest change of the validation metric that counts as an improvement. */
  minDelta: z.number().min(0).default(0),
  /**
   * Epochs trained before early stopping may stop the run (the best checkpoint is still chosen over
   * every epoch from `startEpoch` on). Guards against stopping on an early, noisy validation peak.
   */
  minEpochs: z.number().int().min(0).default(0),
  /**
   * First epoch whose validation value counts: epochs before it are candidates neither for the
   * best checkpoint nor for early stopping's best compared value, so patience runs from the best
   * epoch at or after it (Keras' `EarlyStopping(start_from_epoch)`). A warm-up for runs whose first
   * epochs can predict a single class, whose validation accuracy is that class's share of the split
   * and may stay above a learning model's for a while. 1: every epoch counts.
   */
  startEpoch: z.number().int().min(1).default(1),
  /**
   * Early stopping compares the mean of the last `window` validation values (fewer at the start)
   * instead of single values, so that one lucky or unlucky epoch neither resets nor exhausts the
   * patience. 1 compares single values. The best checkpoint is still the single best epoch.
   */
  window: z.number().int().min(1).default(1),
  /**
   * Which validation curve early stopping reads. `selected`: the weights that are validated,
   * checkpointed and tested (the averages when `train.emaDecay` > 0). `raw`: the raw weights' own
   * curve (needs `train.emaDecay` > 0); the raw training path of an averaged run is the plain run's,
   * so the run then stops at the plain run's epoch and the two differ only in the weights selected.
   */
  watch: z.enum(["selected", "raw"]).default("selected"),
});

/** Schema of the `train` section; every field has a documented default. */
export const trainConfigSchema = z.strictObject({
  /** Optimiser (paper §4.1: Adam). */
  optimizer: z.enum(["adam"]).default("adam"),
  /** Initial learning rate (paper: 3e-4). */
  lr: z.number().positive().default(3e-4),
  /** Exponential decay per epoch: lr_e = lr · lrDecay^e, e counted from 0 (paper: γ = 0.995). */
  lrDecay: z.number().gt(0).max(1).default(0.995),
  /**
   * Learning-rate multiplier of the fine-tuned extractor block (`model.finetune`; its pretrained
   * weights are often trained more gently than the fresh ones). 1: the same rate as the rest.
   */
  finetuneLrScale: z.number().positive().max(10).default(1),
  /**
   * Decay of the moving average of the weights that validation, `checkpoints/best` and the test
   * split use (lib/train/ema.ts: `w̄ ← d·w̄ + (1 − d)·w` after every step, d ramped up as in
   * TensorFlow's ExponentialMovingAverage). 0: no averaging (the paper).
   */
  emaDecay: z.number().min(0).lt(1).default(0),
  /**
   * With a weight average, also validate the raw weights every epoch: their curve
   * (`valRawAccuracy`), their own best checkpoint (`checkpoints/best-raw`) and the test split's
   * single-weight arm (predictions-raw.csv). A second validation pass per epoch; `false` skips it
   * where nothing reads the raw curve (needed by `earlyStop.watch` "raw").
   */
  validateRaw: z.boolean().default(true),
  /** Adam β1. */
  beta1: z.number().min(0).lt(1).default(0.9),
  /** Adam β2. */
  beta2: z.number().min(0).lt(1).default(0.999),
  /** Adam ε. */
  epsilon: z.number().positive().default(1e-7),
  /**
   * Number of epochs (paper: 1000; the compact default trains a useful model on a 2-core CPU from
   * cached features).
   */
  epochs: z.number().int().min(1).default(40),
  /** Mini-batch size. */
  batchSize: z.number().int().min(1).default(64),
  /** Evaluate on the validation split every this many epochs (and always after the last). */
  evalEvery: z.number().int().min(1).default(1),
  /** Write `checkpoints/last` every this many epochs (and always after the last). */
  checkpointEvery: z.number().int().min(1).default(1),
  /**
   * Validation metric that selects `checkpoints/best` and drives early stopping: accuracy of the
   * final prediction (argmax L_final) or of the primary one (argmax l).
   */
  selectMetric: z.enum(["valAccuracy", "valPrimaryAccuracy"]).default("valAccuracy"),
  /** Early stopping on the validation metric. */
  earlyStop: earlyStopSchema.prefault({}),
  /**
   * Which weights produce the test-split predictions and metrics: the best by validation metric,
   * or the last epoch's.
   */
  testWith: z.enum(["best", "last"]).default("best"),
  /**
   * Fraction of the training split held out (seeded, stratified) for validation when the data set
   * has no `valid` split.
   */
  valFraction: z.number().min(0).lt(1).default(0.1),
  /**
   * Training samples whose embeddings (untrained model, inference mode) give the class means for
   * `model.rb.anchorInit = "class-means"`.
   */
  anchorInitSamples: z.number().int().min(1).default(512),
  /**
   * Cached augmented views per training image (feature cache; lib/data/cache.ts). View 0 is the
   * centre crop; views 1.. are augmented with `data.augment`. With 1 view, training sees only the
   * centre crop, so `data.augment` has no effect (the paper's on-line augmentation becomes a fixed
   * set of views because the extractors are frozen and their features cached).
   */
  featureViews: z.number().int().min(1).default(1),
  /**
   * A second training cache holds every view of the training split's cache mirrored left to right
   * (the same draws), and each epoch draws one of the 2 × featureViews views per image (horizontal
   * flipping, for cached features; with augmentation off: the centre crop or its mirror). The
   * first cache is the one runs without mirrored views read. The evaluation splits keep the centre
   * view.
   */
  mirrorViews: z.boolean().default(false),
  /**
   * Worker threads that run the extractor while building the feature cache (0: in the main
   * thread). Does not change results.
   */
  cacheWorkers: z.number().int().min(0).default(2),
  /** Backend preference; `auto` picks webgpu, then wasm, then cpu (lib/backend.ts). */
  backend: z.enum(["auto", "webgpu", "wasm", "cpu"]).default("auto"),
  /**
   * Worker threads that one run's training steps are split over (data-parallel,
   * lib/train/parallel.ts); 1 is the single-thread step. Each worker holds a copy of the backbone
   * weights (everything before the embedding e) and computes e and its gradient for a contiguous
   * share of the batch (shares differ by at most one sample, so any batch size works); the main
   * thread runs the head, reliability balancing and the loss on the whole batch and applies Adam.
   * Batch norm statistics, dropout masks and every loss term are therefore the single-thread
   * step's; gradients agree up to float rounding (summation order), so a run's id includes this
   * field when it is not 1. Needs the wasm or cpu backend. Each worker uses one core: with
   * `parallel` runs at once, `parallel × workers` should not exceed the cores.
   */
  workers: z.number().int().min(1).max(64).default(1),
  /** Child processes a sweep runs in parallel (wasm uses one core per process). */
  parallel: z.number().int().min(1).default(2),
  /** Directory under which runs are written: `<resultsDir>/<experiment>/<run-id>/`. */
  resultsDir: z.string().min(1).default("results"),
  /** Experiment name: the directory grouping runs. */
  experiment: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, "letters, digits, . _ - only")
    .default("default"),
  /** Progress display: a bar on a terminal, one line per epoch, or nothing. `auto`: bar on a TTY. */
  progress: z.enum(["auto", "bar", "lines", "off"]).default("auto"),
});

/** Early stopping, with defaults applied (validated by {@linkcode earlyStopSchema}). */
export interface EarlyStopConfig {
  /** Stop when the validation metric has not improved for `patience` evaluations. Default: `false` (off). */
  enabled: boolean;
  /** Evaluations without improvement before stopping; integer ≥ 1. Default: `10`. */
  patience: number;
  /** Smallest change of the validation metric that counts as an improvement; ≥ 0. Default: `0`. */
  minDelta: number;
  /**
   * Epochs trained before early stopping may stop the run (the best checkpoint is still chosen over
   * every epoch from `startEpoch` on). Guards against stopping on an early, noisy validation peak. Integer ≥ 0.
   * Default: `0`.
   */
  minEpochs: number;
  /**
   * First epoch whose validation value counts: epochs before it are candidates neither for the
   * best checkpoint nor for early stopping's best compared value, so patience runs from the best
   * epoch at or after it (Keras' `EarlyStopping(start_from_epoch)`). A warm-up for runs whose first
   * epochs can predict a single class, whose validation accuracy is that class's share of the split
   * and may stay above a learning model's for a while. Integer ≥ 1, at most `train.epochs`.
   * Default: `1` (every epoch counts).
   */
  startEpoch: number;
  /**
   * Early stopping compares the mean of the last `window` validation values (fewer at the start)
   * instead of single values, so that one lucky or unlucky epoch neither resets nor exhausts the
   * patience. 1 compares single values. The best checkpoint is still the single best epoch.
   * Integer ≥ 1. Default: `1`.
   */
  window: number;
  /**
   * Which validation curve early stopping reads. `selected`: the weights that are validated,
   * checkpointed and tested (the averages when `train.emaDecay` > 0). `raw`: the raw weights' own
   * curve (needs `train.emaDecay` > 0); the raw training path of an averaged run is the plain run's,
   * so the run then stops at the plain run's epoch and the two differ only in the weights selected.
   * Default: `"selected"`.
   */
  watch: "selected" | "raw";
}

/** The resolved `train` section (validated by {@linkcode trainConfigSchema}). */
export interface TrainConfig {
  /** Optimiser (paper §4.1: Adam). Default: `"adam"`. */
  optimizer: "adam";
  /** Initial learning rate (paper: 3e-4); > 0. Default: `3e-4`. */
  lr: number;
  /**
   * Exponential decay per epoch: lr_e = lr · lrDecay^e, e counted from 0 (paper: γ = 0.995); in
   * (0, 1]. Default: `0.995`.
   */
  lrDecay: number;
  /**
   * Learning-rate multiplier of the fine-tuned extractor block (`model.finetune`; its pretrained
   * weights are often trained more gently than the fresh ones); in (0, 10]. 1: the same rate as the
   * rest. Default: `1`.
   */
  finetuneLrScale: number;
  /**
   * Decay of the moving average of the weights that validation, `checkpoints/best` and the test
   * split use (lib/train/ema.ts: `w̄ ← d·w̄ + (1 − d)·w` after every step, d ramped up as in
   * TensorFlow's ExponentialMovingAverage), in [0, 1). 0: no averaging (the paper). Default: `0`.
   */
  emaDecay: number;
  /**
   * With a weight average, also validate the raw weights every epoch: their curve
   * (`valRawAccuracy`), their own best checkpoint (`checkpoints/best-raw`) and the test split's
   * single-weight arm (predictions-raw.csv). A second validation pass per epoch; `false` skips it
   * where nothing reads the raw curve (`earlyStop.watch` "raw" needs it). Without an average it
   * does nothing. Default: `true`.
   */
  validateRaw: boolean;
  /** Adam β1, in [0, 1). Default: `0.9`. */
  beta1: number;
  /** Adam β2, in [0, 1). Default: `0.999`. */
  beta2: number;
  /** Adam ε; > 0. Default: `1e-7`. */
  epsilon: number;
  /**
   * Number of epochs (paper: 1000; the compact default trains a useful model on a 2-core CPU from
   * cached features). Integer ≥ 1. Default: `40`.
   */
  epochs: number;
  /** Mini-batch size; integer ≥ 1. Default: `64`. */
  batchSize: number;
  /**
   * Evaluate on the validation split every this many epochs (and always after the last); integer
   * ≥ 1. Default: `1`.
   */
  evalEvery: number;
  /**
   * Write `checkpoints/last` every this many epochs (and always after the last); integer ≥ 1.
   * Default: `1`.
   */
  checkpointEvery: number;
  /**
   * Validation metric that selects `checkpoints/best` and drives early stopping: accuracy of the
   * final prediction (argmax L_final) or of the primary one (argmax l). Default: `"valAccuracy"`.
   */
  selectMetric: "valAccuracy" | "valPrimaryAccuracy";
  /** Early stopping on the validation metric. Default: every {@linkcode EarlyStopConfig} default (off). */
  earlyStop: EarlyStopConfig;
  /**
   * Which weights produce the test-split predictions and metrics: the best by validation metric,
   * or the last epoch's. Default: `"best"`.
   */
  testWith: "best" | "last";
  /**
   * Fraction of the training split held out (seeded, stratified) for validation when the data set
   * has no `valid` split; in [0, 1). Default: `0.1`.
   */
  valFraction: number;
  /**
   * Training samples whose embeddings (untrained model, inference mode) give the class means for
   * `model.rb.anchorInit = "class-means"`. Integer ≥ 1. Default: `512`.
   */
  anchorInitSamples: number;
  /**
   * Cached augmented views per training image (feature cache; lib/data/cache.ts). View 0 is the
   * centre crop; views 1.. are augmented with `data.augment`. With 1 view, training sees only the
   * centre crop, so `data.augment` has no effect (the paper's on-line augmentation becomes a fixed
   * set of views because the extractors are frozen and their features cached). Integer ≥ 1.
   * Default: `1`.
   */
  featureViews: number;
  /**
   * A second training cache holds every view of the training split's cache mirrored left to right
   * (the same draws), and each epoch draws one of the 2 × featureViews views per image (horizontal
   * flipping, for cached features; with augmentation off: the centre crop or its mirror). The
   * first cache is the one runs without mirrored views read. The evaluation splits keep the centre
   * view. Default: `false`.
   */
  mirrorViews: boolean;
  /**
   * Worker threads that run the extractor while building the feature cache (0: in the main
   * thread). Does not change results. Integer ≥ 0. Default: `2`.
   */
  cacheWorkers: number;
  /**
   * Backend preference; `auto` picks webgpu, then wasm, then cpu (lib/backend.ts). Default:
   * `"auto"`.
   */
  backend: "auto" | "webgpu" | "wasm" | "cpu";
  /**
   * Worker threads that one run's training steps are split over (data-parallel,
   * lib/train/parallel.ts); 1 is the single-thread step. Each worker holds a copy of the backbone
   * weights (everything before the embedding e) and computes e and its gradient for a contiguous
   * share of the batch (shares differ by at most one sample, so any batch size works); the main
   * thread runs the head, reliability balancing and the loss on the whole batch and applies Adam.
   * Batch norm statistics, dropout masks and every loss term are therefore the single-thread
   * step's; gradients agree up to float rounding (summation order), so a run's id includes this
   * field when it is not 1. Needs the wasm or cpu backend. Each worker uses one core: with
   * `parallel` runs at once, `parallel × workers` should not exceed the cores. Integer in
   * [1, 64]. Default: `1`.
   */
  workers: number;
  /**
   * Child processes a sweep runs in parallel (wasm uses one core per process); integer ≥ 1.
   * Default: `2`.
   */
  parallel: number;
  /**
   * Directory under which runs are written: `<resultsDir>/<experiment>/<run-id>/`; non-empty.
   * Default: `"results"`.
   */
  resultsDir: string;
  /**
   * Experiment name: the directory grouping runs; letters, digits, `.`, `_` and `-` only.
   * Default: `"default"`.
   */
  experiment: string;
  /**
   * Progress display: a bar on a terminal, one line per epoch, or nothing. `auto`: bar on a TTY.
   * Default: `"auto"`.
   */
  progress: "auto" | "bar" | "lines" | "off";
}

// The interfaces above are the documented types; the schemas are the validators. These fail
// `deno check` if the two ever differ.
type _EarlyStopMatchesSchema = Assert<Equals<EarlyStopConfig, z.output<typeof earlyStopSchema>>>;
type _TrainMatchesSchema = Assert<Equals<TrainConfig, z.output<typeof trainConfigSchema>>>;

/**
 * Dotted config paths that do not change what a run computes; they are recorded in `config.json`
 * but left out of the run id, so changing them never forks a run.
 */
export const RUN_ID_EXCLUDED: readonly string[] = [
  "preset",
  "data.root",
  "train.backend",
  "train.parallel",
  "train.cacheWorkers",
  "train.resultsDir",
  "train.experiment",
  "train.progress",
  "train.checkpointEvery",
];

/**
 * Config fields added after runs had been recorded, with the value that reproduces what those runs
 * computed. A field at this value is left out of the run id, so adding an option never forks or
 * orphans the runs made before it existed; any other value is part of the id.
 */
export const RUN_ID_LEGACY_VALUES: Readonly<Record<string, unknown>> = {
  "model.head.order": "dropout-bn",
  "model.finetune": "none",
  "train.finetuneLrScale": 1,
  "train.emaDecay": 0,
  "train.validateRaw": true,
  "train.mirrorViews": false,
  "model.rb.training": "paper",
  "model.rb.auxWeight": 1.0,
  "model.rb.trustRampEpochs": 10,
  "train.earlyStop.minEpochs": 0,
  "train.earlyStop.startEpoch": 1,
  "train.earlyStop.window": 1,
  "train.earlyStop.watch": "selected",
  "train.workers": 1,
  // Data-section fields that only act on sets without their own splits, on folders, on class
  // mapping, on skipped files or on face cropping; none changes a FER+ or synthetic run.
  "data.validFraction": 0.1,
  "data.testFraction": 0.2,
  "data.splitSeed": 0,
  "data.groupLevel": null,
  "data.groupPattern": null,
  "data.classNames": null,
  "data.classMap": null,
  "data.maxSkippedFraction": 0.05,
  "data.faceCrop": "auto",
  "data.faceMargin": 0.2,
  "data.faceMinScore": 0.5,
  "data.faceSize": 224,
  "data.faceAlign": true,
};
