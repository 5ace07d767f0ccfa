/**
 * From a resolved config to what the trainer consumes ({@linkcode TrainData}). First, before any
 * feature extraction ({@linkcode planData}, also what `grefel data` shows): load the data set
 * (`data.dataset`, `data.root`, split settings), map its classes (`data.classNames`,
 * `data.classMap`), let `model.classes` follow it, scan every image (undecodable files skipped and
 * listed; with face cropping, faces detected and aligned; lib/data/scan.ts), stop when too many
 * files are unusable (`data.maxSkippedFraction`), hold out a validation split when the set has
 * none, and inject label noise into the training split only (`data.labelNoise`). Then run the
 * frozen extractors (`model.extractor`) once through the feature cache, and expose each split as
 * a {@linkcode FeatureSplit} reading cached features.
 *
 * `model.classes` follows the data: left at its default (8) it becomes the data set's class
 * count; any other value that differs from the data is an error, raised before extraction, that
 * says what to set.
 *
 * The training split's cache holds `train.featureViews` views (view 0 the centre crop, the others
 * augmented with `data.augment`); with `train.mirrorViews` a second cache holds their mirrors and
 * the split reads both, each view followed by its mirror. The evaluation splits hold the centre
 * view only.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { GrefelConfig } from "../config.ts";
import { augmentParams } from "../data/config.ts";
import { faceCropOn } from "../data/config.ts";
import { defaultDataRoot, loadDataset, resolveDataRoot } from "../data/datasets.ts";
import { mapClasses } from "../data/classes.ts";
import { scanDataset, type ScanResult, type ScanStats } from "../data/scan.ts";
import { buildDataReport, checkSkippedFraction, type DataReport } from "../data/report.ts";
import { type FaceDetector, loadBlazeFace } from "../extractors/blazeface.ts";
import { resolveConfig } from "../config.ts";
import { withLabelNoise } from "../data/noise.ts";
import { epochIndices } from "../data/sampler.ts";
import type { DatasetSample, LoadedDataset } from "../data/types.ts";
import {
  augmentPipeline,
  buildFeatureCache,
  type CacheGrid,
  type FeatureCache,
  InterleavedViews,
  mirroredPipeline,
  type ViewSource,
} from "../data/cache.ts";
import { loadExtractor } from "../extractors/registry.ts";
import type { FeatureExtractor } from "../extractors/types.ts";
import { canonicalJson, datasetFingerprint } from "../run/mod.ts";
import type { EpochSampler, FeatureSplit, TrainData } from "./train.ts";
import { deriveSeed, mulberry32, SEED_PURPOSE } from "./schedule.ts";

/**
 * Seeded, stratified hold-out: moves `fraction` of each class of the training samples to `valid`
 * (at least one per class with ≥ 2 samples). Used when the data set has no validation split.
 */
export function holdOutValidation(
  samples: DatasetSample[],
  trainSplit: string,
  validSplit: string,
  fraction: number,
  seed: number,
): DatasetSample[] {
  const rand = mulberry32(deriveSeed(seed, SEED_PURPOSE.split));
  const byClass = new Map<number, number[]>();
  samples.forEach((s, i) => {
    if (s.split !== trainSplit) return;
    const l = byClass.get(s.label) ?? [];
    l.push(i);
    byClass.set(s.label, l);
  });
  const out = samples.map((s) => ({ ...s }));
  for (const [, idx] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
    const k = idx.length >= 2 ? Math.max(1, Math.round(fraction * idx.length)) : 0;
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    for (const i of idx.slice(0, k)) out[i].split = validSplit;
  }
  return out;
}

function cacheSplit(cache: ViewSource, positions: number[]): FeatureSplit {
  return {
    ids: positions.map((p) => cache.ids[p]),
    labels: Int32Array.from(positions, (p) => cache.labels[p]),
    groups: positions.map((p) => cache.groups[p]),
    views: cache.views,
    readBatch: (indices, view) => cache.readBatch(indices.map((i) => positions[i]), view ?? 0),
    readRecords: (indices, view) => cache.readRecords(indices.map((i) => positions[i]), view ?? 0),
    recordLayout: cache.layout,
  };
}

/** The default of `model.classes`: the value that means "follow the data set". */
export const MODEL_CLASSES_DEFAULT: number = resolveConfig({}).model.classes;

/**
 * `config` with `model.classes` following the data set's `classNames`: unchanged when they agree,
 * set to the data's count when it is at its default.
 * @throws Error, before any extraction, naming both counts and what to set, when an explicit
 *   `model.classes` differs from the data.
 */
export function reconcileClasses(
  config: GrefelConfig,
  classNames: readonly string[],
  dataset: string,
): GrefelConfig {
  const C = classNames.length;
  if (config.model.classes === C) return config;
  if (config.model.classes === MODEL_CLASSES_DEFAULT) {
    return { ...config, model: { ...config.model, classes: C } };
  }
  throw new Error(
    `model.classes is ${config.model.classes} but data set ${dataset} has ${C} classes ` +
      `(${classNames.join(", ")}): leave model.classes unset (it follows the data set) or ` +
      `--set model.classes=${C}; to train in another label space, map the classes with ` +
      `data.classNames / data.classMap`,
  );
}

/**
 * `config` with `model.classes` following its data set's classes, as a run resolves it
 * ({@linkcode reconcileClasses}): the data set is loaded (files and labels listed, class mapping
 * applied; no image decoded). The synthetic set is not loaded (its classes are fixed), nor is any
 * set when `model.classes` is set explicitly. Sweeps use it to find the directory a run will train.
 * @throws what loading the data set or {@linkcode reconcileClasses} throws.
 */
export async function configForData(config: GrefelConfig): Promise<GrefelConfig> {
  if (config.data.dataset === "synthetic" || config.model.classes !== MODEL_CLASSES_DEFAULT) {
    return config;
  }
  const mapped = await loadMapped(config, {});
  return reconcileClasses(config, mapped.classNames, mapped.name);
}

/** The `data.synthetic` defaults: the generator settings that need no cache source. */
const SYNTHETIC_DEFAULT = canonicalJson(resolveConfig({}).data.synthetic);

/**
 * The feature-cache source of the data of `d` (lib/data/cache.ts, `FeatureCacheOptions.source`):
 * the data-set kind, its resolved root (the synthetic set: its generator settings) and a
 * fingerprint of the cached samples' ids and files. `undefined` for a kind at its default root
 * ({@linkcode defaultDataRoot}; the synthetic set at its default settings), which keeps the cache
 * folder names caches were built under before the source was part of the key.
 */
export async function cacheSource(
  d: Pick<GrefelConfig["data"], "dataset" | "root" | "synthetic">,
  samples: readonly DatasetSample[],
): Promise<string | undefined> {
  let where: string;
  if (d.dataset === "synthetic") {
    const settings = canonicalJson(d.synthetic);
    if (settings === SYNTHETIC_DEFAULT) return undefined;
    where = `synthetic ${settings}`;
  } else {
    const root = await resolveDataRoot(d.dataset, d.root);
    if (root === await defaultDataRoot(d.dataset)) return undefined;
    where = `${d.dataset} ${root}`;
  }
  const files = samples.map((s) => `${s.id}\t${s.path ?? ""}`).sort().join("\n");
  return `${where} files ${createHash("sha256").update(files).digest("hex").slice(0, 16)}`;
}

/** Options of {@linkcode prepareData} and {@linkcode planData}. */
export interface PrepareOptions {
  /** Feature-cache (and scan-cache) parent directory (default `<resultsDir>/cache`). */
  cacheDir?: string;
  /** Extractor to use instead of loading `model.extractor` (tests). */
  extractor?: FeatureExtractor;
  /** Data set to use instead of loading `data.dataset` (tests). */
  dataset?: LoadedDataset;
  /** Face detector to use instead of loading BlazeFace (tests). */
  detector?: FaceDetector;
  /** Show progress bars. */
  progress?: boolean;
  /** Where messages go. */
  print?: (line: string) => void;
}

/** What {@linkcode prepareData} returns. */
export interface PreparedData {
  /** The config as trained: `model.classes` following the data set. */
  config: GrefelConfig;
  /** The splits as the trainer takes them. */
  data: TrainData;
  /** Epoch sampler over the training split (`data.sampler`). */
  sampler: EpochSampler;
  /** What the loader saw (counts, skipped items, faces, warnings). */
  report: DataReport;
}

/** What {@linkcode planData} returns: everything decided before feature extraction. */
export interface DataPlan {
  /** The config with `model.classes` following the data set. */
  config: GrefelConfig;
  /** The scanned, class-mapped data set (face crops when cropping is on). */
  dataset: LoadedDataset;
  /** Training samples (label noise applied). */
  train: DatasetSample[];
  /** Validation samples. */
  val: DatasetSample[];
  /** Test samples. */
  test: DatasetSample[];
  /** Training labels flipped by label noise. */
  noisyFlipped: number;
  /** The data report. */
  report: DataReport;
  /**
   * The data root read, absolute with links resolved (`resolveDataRoot`), when it is not the
   * kind's default root; null at the default root, for the synthetic set and for an injected data
   * set.
   */
  root: string | null;
  /** The data set fingerprint of the planned splits (what a run records and checks). */
  fingerprint: string;
}

/**
 * Everything before feature extraction (see the module doc): load, map classes, reconcile
 * `model.classes`, scan (decode, faces), split, report, and check the share of unusable files.
 * @throws Error for a class-count mismatch, DatasetError when more than `data.maxSkippedFraction`
 *   of the files are unusable (both before any extraction).
 */
export async function planData(
  config: GrefelConfig,
  opts: PrepareOptions & { checkSkipped?: boolean } = {},
): Promise<DataPlan> {
  const d = config.data;
  const print = opts.print ?? ((l: string) => console.error(l));
  const mapped = await loadMapped(config, opts);
  const reconciled = reconcileClasses(config, mapped.classNames, mapped.name);
  if (reconciled !== config) {
    print(
      `model.classes follows the data set: ${mapped.classNames.length} ` +
        `(${mapped.classNames.join(", ")})`,
    );
  }
  config = reconciled;
  const scan = await scanWithFaces(config, mapped, opts);
  const ds = scan.dataset;
  let samples = ds.samples;
  if (!samples.some((s) => s.split === d.validSplit) && config.train.valFraction > 0) {
    samples = holdOutValidation(
      samples,
      d.trainSplit,
      d.validSplit,
      config.train.valFraction,
      config.seed,
    );
  }
  const report = buildDataReport({
    dataset: ds.name,
    classNames: ds.classNames,
    samples,
    skipped: ds.skipped,
    scan: scan.stats.images > 0 ? scan.stats : null,
    faces: scan.facesKey,
    splitNames: [d.trainSplit, d.validSplit, d.testSplit],
  });
  printDataNotes(ds, scan.stats, report, print);
  if (opts.checkSkipped !== false) checkSkippedFraction(report, d.maxSkippedFraction);
  const train = samples.filter((s) => s.split === d.trainSplit);
  let noisyFlipped = 0;
  let trainSamples = train;
  if (d.labelNoise > 0) {
    const r = withLabelNoise(train, ds.classNames.length, d.labelNoise, d.noiseSeed);
    trainSamples = r.samples;
    noisyFlipped = r.flipped.length;
  }
  const val = samples.filter((s) => s.split === d.validSplit);
  const test = samples.filter((s) => s.split === d.testSplit);
  // Recorded only off the kind's default root, so that runs at the default root stay portable
  // between machines that keep the data in different places.
  const resolved = opts.dataset ? null : await resolveDataRoot(d.dataset, d.root);
  const root = resolved && resolved !== await defaultDataRoot(d.dataset) ? resolved : null;
  const fingerprint = datasetFingerprint([...trainSamples, ...val, ...test]);
  return {
    config,
    dataset: ds,
    train: trainSamples,
    val,
    test,
    noisyFlipped,
    report,
    root,
    fingerprint,
  };
}

/** The data set of `config` (or `opts.dataset`), its classes mapped as `data` says. */
async function loadMapped(config: GrefelConfig, opts: PrepareOptions): Promise<LoadedDataset> {
  const d = config.data;
  const loaded = opts.dataset ?? await loadDataset(d.dataset, d.root, {
    labelMode: d.labelMode,
    validFromTrain: d.validFromTrain,
    synthetic: d.synthetic,
    validFraction: d.validFraction,
    testFraction: d.testFraction,
    splitSeed: d.splitSeed,
    groupLevel: d.groupLevel,
    groupPattern: d.groupPattern,
  });
  return mapClasses(loaded, { classNames: d.classNames, classMap: d.classMap });
}

/** Decodes every image of `mapped` once and, where `data.faceCrop` says so, crops faces. */
async function scanWithFaces(
  config: GrefelConfig,
  mapped: LoadedDataset,
  opts: PrepareOptions,
): Promise<ScanResult> {
  const d = config.data;
  const detector = faceCropOn(d) ? opts.detector ?? await loadBlazeFace() : null;
  try {
    return await scanDataset(mapped, {
      cacheDir: opts.cacheDir ?? join(config.train.resultsDir, "cache"),
      progress: opts.progress,
      faces: detector
        ? {
          detector,
          minScore: d.faceMinScore,
          crop: { margin: d.faceMargin, size: d.faceSize, align: d.faceAlign },
        }
        : null,
    });
  } finally {
    if (detector && !opts.detector) detector.dispose();
  }
}

/** Prints what the loader skipped, the face rate, and the report's warnings. */
function printDataNotes(
  ds: LoadedDataset,
  stats: ScanStats,
  report: DataReport,
  print: (line: string) => void,
): void {
  if (ds.skipped.length) {
    // Every reason with its count; the items themselves go to the run's skipped.json.
    const reasons = Object.entries(report.skipped.byReason).sort((a, b) => b[1] - a[1]);
    print(
      `${ds.name}: skipped ${ds.skipped.length} item(s): ` +
        reasons.map(([r, n]) => `${n} ${r}`).join("; ") +
        ` (each listed in the run's skipped.json; \`grefel data\` shows them)`,
    );
  }
  if (stats.faces) {
    const f = stats.faces;
    print(`${ds.name}: a face was found in ${f.found} of ${f.searched} images`);
  }
  for (const w of report.warnings) print(`warning: ${w}`);
}

/**
 * Loads, noises, splits and caches the data of `config` ({@linkcode planData}, or the plan given
 * as `opts.plan`, then the feature cache).
 * @throws Error naming the mismatch when the cached feature shapes differ from the model's
 *   `landmarkShape` / `imageShape`, or when a split is empty; whatever {@linkcode planData} throws.
 */
export async function prepareData(
  config: GrefelConfig,
  opts: PrepareOptions & { plan?: DataPlan } = {},
): Promise<PreparedData> {
  const plan = opts.plan ?? await planData(config, opts);
  config = plan.config;
  const d = config.data;
  const ds = plan.dataset;
  const { val, test, noisyFlipped, report } = plan;
  const trainSamples = plan.train;
  for (const [name, part] of [[d.trainSplit, trainSamples], [d.testSplit, test]] as const) {
    if (!part.length) {
      throw new Error(
        `data set ${ds.name} has no samples in split "${name}" (splits: ${
          [...new Set(ds.samples.map((s) => s.split))].join(", ")
        })`,
      );
    }
  }
  const m = config.model;
  const grid = cacheGrid(config);
  const extractor = opts.extractor ?? await loadExtractor(m.extractor);
  try {
    const { trainCache, mirrorCache, train, evalCache, views } = await buildCaches(
      config,
      plan,
      extractor,
      grid,
      opts,
    );
    checkCacheShapes(config, extractor, trainCache);
    const all = (n: number) => Array.from({ length: n }, (_, i) => i);
    const data: TrainData = {
      name: ds.name,
      classNames: ds.classNames,
      fingerprint: plan.fingerprint,
      train: cacheSplit(train, all(trainSamples.length)),
      val: val.length ? cacheSplit(evalCache, all(val.length)) : null,
      test: cacheSplit(evalCache, all(test.length).map((i) => i + val.length)),
      info: {
        ...(plan.root ? { root: plan.root } : {}),
        skipped: ds.skipped.length,
        skippedFiles: report.skipped.files,
        ...(report.scan?.faces
          ? { faces: report.faces, faceRate: report.scan.faces.rate, noFace: report.skipped.noFace }
          : {}),
        labelNoise: { rate: d.labelNoise, flipped: noisyFlipped },
        extractor: { name: extractor.name, version: extractor.version ?? 0 },
        featureCache: {
          train: trainCache.dir,
          ...(mirrorCache ? { trainMirror: mirrorCache.dir } : {}),
          eval: evalCache.dir,
          views,
        },
      },
    };
    const items = trainSamples.map((s) => ({ label: s.label, group: s.group }));
    const sampler: EpochSampler = (epoch, seed) =>
      epochIndices(items, ds.classNames.length, d.sampler, seed, epoch);
    return { config, data, sampler, report };
  } finally {
    if (!opts.extractor) extractor.dispose();
  }
}

/** The feature caches of a plan: the training split (with its views), then val + test. */
async function buildCaches(
  config: GrefelConfig,
  plan: DataPlan,
  extractor: FeatureExtractor,
  grid: CacheGrid,
  opts: PrepareOptions,
): Promise<{
  trainCache: FeatureCache;
  mirrorCache: FeatureCache | null;
  train: ViewSource;
  evalCache: FeatureCache;
  views: number;
}> {
  const d = config.data;
  const ds = plan.dataset;
  const { val, test, report } = plan;
  const trainSamples = plan.train;
  const base = augmentPipeline(augmentParams(config.data, extractor.inputSize));
  // Face crops are part of the pre-processing, so their settings are part of the cache key.
  const pipeline = report.faces ? { ...base, key: `${base.key}|${report.faces}` } : base;
  const baseViews = d.augment.enabled ? config.train.featureViews : 1;
  const mirror = config.train.mirrorViews;
  const views = mirror ? 2 * baseViews : baseViews;
  const cacheDir = opts.cacheDir ?? join(config.train.resultsDir, "cache");
  const common = {
    dir: cacheDir,
    grid,
    pipeline,
    seed: config.seed,
    progress: opts.progress,
    // Workers load the extractor by its registry name; an injected extractor runs here.
    workers: opts.extractor ? 0 : config.train.cacheWorkers,
  };
  // Training split (with its views), then the evaluation splits (centre view only). Label
  // noise changes no pixels, so the cache is shared across noise levels.
  const sub = (name: string, s: DatasetSample[]): LoadedDataset => ({
    ...ds,
    name: `${ds.name}-${name}`,
    samples: s,
  });
  // Injected data sets (tests) are keyed by their name, as they always were.
  const source = (s: DatasetSample[]) => opts.dataset ? undefined : cacheSource(d, s);
  // With mirrored views, the centre views are the cache a run without them reads, and a second
  // cache holds their mirrors; read together they interleave as `withMirrorViews` orders them.
  const centre = baseViews > 1 ? pipeline : { ...pipeline, augments: false };
  const trainSource = await source(trainSamples);
  const trainCache = await buildFeatureCache(sub(d.trainSplit, trainSamples), extractor, {
    ...common,
    source: trainSource,
    views: baseViews,
    pipeline: centre,
  });
  const mirrorCache = mirror
    ? await buildFeatureCache(sub(`${d.trainSplit}-mirror`, trainSamples), extractor, {
      ...common,
      source: trainSource,
      views: baseViews,
      pipeline: mirroredPipeline(centre),
    })
    : null;
  const evalCache = await buildFeatureCache(sub("eval", [...val, ...test]), extractor, {
    ...common,
    source: await source([...val, ...test]),
    views: 1,
    pipeline: { ...pipeline, augments: false },
  });
  const train = mirrorCache ? new InterleavedViews([trainCache, mirrorCache]) : trainCache;
  if (train.views !== views) throw new Error(`training views: ${train.views}, expected ${views}`);
  return { trainCache, mirrorCache, train, evalCache, views };
}

/** What {@linkcode prepareMirroredEval} returns. */
export interface MirroredEvalData {
  /** The validation split's mirrored features, in the order of the run's (null without one). */
  val: FeatureSplit | null;
  /** The test split's mirrored features, in the order of the run's. */
  test: FeatureSplit;
}

/**
 * The validation and test splits of `config` with every image mirrored left to right (test-time
 * flip augmentation): the run's own evaluation images, pre-processing and extractor, cached
 * apart (`<name>-eval-mirror`, key `…|mirror-x`), in the order of {@linkcode prepareData}'s `val`
 * and `test`, so that sample i of each is the mirror of sample i of the run's split.
 */
export async function prepareMirroredEval(
  config: GrefelConfig,
  opts: PrepareOptions = {},
): Promise<MirroredEvalData> {
  const plan = await planData(config, opts);
  config = plan.config;
  const { val, test } = plan;
  const extractor = opts.extractor ?? await loadExtractor(config.model.extractor);
  try {
    const base = augmentPipeline(augmentParams(config.data, extractor.inputSize));
    const pipeline = plan.report.faces
      ? { ...base, key: `${base.key}|${plan.report.faces}` }
      : base;
    const samples = [...val, ...test];
    const cache = await buildFeatureCache(
      { ...plan.dataset, name: `${plan.dataset.name}-eval-mirror`, samples },
      extractor,
      {
        dir: opts.cacheDir ?? join(config.train.resultsDir, "cache"),
        grid: cacheGrid(config),
        pipeline: { ...mirroredPipeline(pipeline), augments: false },
        views: 1,
        source: opts.dataset ? undefined : await cacheSource(config.data, samples),
        seed: config.seed,
        progress: opts.progress,
        workers: opts.extractor ? 0 : config.train.cacheWorkers,
      },
    );
    checkCacheShapes(config, extractor, cache);
    const all = (n: number) => Array.from({ length: n }, (_, i) => i);
    return {
      val: val.length ? cacheSplit(cache, all(val.length)) : null,
      test: cacheSplit(cache, all(test.length).map((i) => i + val.length)),
    };
  } finally {
    if (!opts.extractor) extractor.dispose();
  }
}

/**
 * The grid the feature cache pools the maps to: the model's input sides, one per scale when the
 * two streams agree (the cache keys of every cache built before per-stream sides), else six.
 */
function cacheGrid(config: GrefelConfig): CacheGrid {
  const m = config.model;
  const lm = m.landmarkShape.map((s) => s[0]) as [number, number, number];
  const im = m.imageShape.map((s) => s[0]) as [number, number, number];
  return lm.every((g, i) => g === im[i]) ? lm : [...lm, ...im];
}

/** @throws Error when the cached feature shapes are not the model's. */
function checkCacheShapes(
  config: GrefelConfig,
  extractor: FeatureExtractor,
  cache: FeatureCache,
): void {
  const m = config.model;
  const expect = JSON.stringify([m.landmarkShape, m.imageShape]);
  const got = JSON.stringify([cache.landmarkShape, cache.imageShape]);
  if (expect !== got) {
    throw new Error(
      `cached features of extractor ${extractor.name} have shapes ${got} ([side, channels] ` +
        `per scale: landmark, image) but the model expects ${expect} (model.landmarkShape / ` +
        `model.imageShape); use a preset made for this extractor`,
    );
  }
}

/** What {@linkcode prepareEvalSplit} returns. */
export interface EvalSplitData {
  /** The config the data was planned with (`model.classes` reconciled). */
  config: GrefelConfig;
  /** Data-set name. */
  name: string;
  /** Class names in label order (after `data.classNames` / `data.classMap`). */
  classNames: string[];
  /** The split's features. */
  split: FeatureSplit;
  /** What the loader saw. */
  report: DataReport;
}

/**
 * The cached features of one split only (default `data.testSplit`), for evaluating a trained run
 * on another data set: plans the data of `config` ({@linkcode planData}) and extracts the split's
 * centre views, without touching the training split.
 * @throws Error when the split is empty or the feature shapes differ from the model's.
 */
export async function prepareEvalSplit(
  config: GrefelConfig,
  opts: PrepareOptions & { split?: string } = {},
): Promise<EvalSplitData> {
  const plan = await planData(config, opts);
  config = plan.config;
  const d = config.data;
  const want = opts.split ?? d.testSplit;
  const all = [...plan.train, ...plan.val, ...plan.test];
  const samples = want === d.trainSplit
    ? plan.train
    : want === d.validSplit
    ? plan.val
    : want === d.testSplit
    ? plan.test
    : all.filter((s) => s.split === want);
  if (!samples.length) {
    throw new Error(`data set ${plan.dataset.name} has no samples in split "${want}"`);
  }
  const m = config.model;
  const grid = m.landmarkShape.map((s) => s[0]) as [number, number, number];
  const extractor = opts.extractor ?? await loadExtractor(m.extractor);
  try {
    const base = augmentPipeline(augmentParams(config.data, extractor.inputSize));
    const pipeline = plan.report.faces
      ? { ...base, key: `${base.key}|${plan.report.faces}` }
      : base;
    const cache = await buildFeatureCache(
      // Not `<name>-eval`: that is a training run's cache of its validation and test splits
      // together, and two sample lists in one folder would delete each other's shards.
      { ...plan.dataset, name: `${plan.dataset.name}-only-${want}`, samples },
      extractor,
      {
        dir: opts.cacheDir ?? join(config.train.resultsDir, "cache"),
        grid,
        pipeline: { ...pipeline, augments: false },
        views: 1,
        source: opts.dataset ? undefined : await cacheSource(d, samples),
        seed: config.seed,
        progress: opts.progress,
        workers: opts.extractor ? 0 : config.train.cacheWorkers,
      },
    );
    const expect = JSON.stringify([m.landmarkShape, m.imageShape]);
    const got = JSON.stringify([cache.landmarkShape, cache.imageShape]);
    if (expect !== got) {
      throw new Error(
        `cached features of extractor ${extractor.name} have shapes ${got} but the model ` +
          `expects ${expect} (model.landmarkShape / model.imageShape)`,
      );
    }
    return {
      config,
      name: plan.dataset.name,
      classNames: plan.dataset.classNames,
      split: cacheSplit(cache, samples.map((_, i) => i)),
      report: plan.report,
    };
  } finally {
    if (!opts.extractor) extractor.dispose();
  }
}
