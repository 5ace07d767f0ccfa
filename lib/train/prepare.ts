/**
 * From a resolved config to what the trainer consumes ({@linkcode TrainData}): load the data set
 * (`data.dataset`, `data.root`), inject label noise into the training split only (`data.labelNoise`),
 * hold out a validation split when the set has none, run the frozen extractors
 * (`model.extractor`) once through the feature cache, and expose each split as a
 * {@linkcode FeatureSplit} reading cached features.
 *
 * The training split's cache holds `train.featureViews` views (view 0 the centre crop, the others
 * augmented with `data.augment`); the evaluation splits hold the centre view only.
 *
 * @module
 */
import { join } from "node:path";
import type { GrefelConfig } from "../config.ts";
import { augmentParams } from "../data/config.ts";
import { applyAugment, centreDraw, drawAugment } from "../data/augment.ts";
import { loadDataset } from "../data/datasets.ts";
import { withLabelNoise } from "../data/noise.ts";
import { epochIndices } from "../data/sampler.ts";
import type { DatasetSample, LoadedDataset } from "../data/types.ts";
import { buildFeatureCache, type FeatureCache, type ViewPipeline } from "../data/cache.ts";
import { loadExtractor } from "../extractors/registry.ts";
import type { FeatureExtractor } from "../extractors/types.ts";
import { canonicalJson, datasetFingerprint } from "./run.ts";
import type { EpochSampler, FeatureSplit, TrainData } from "./train.ts";
import { deriveSeed, mulberry32, SEED_PURPOSE } from "./schedule.ts";

/** The pre-processing of `data.augment` as a feature-cache view pipeline. */
export function augmentPipeline(config: GrefelConfig, inputSize: number): ViewPipeline {
  const p = augmentParams(config.data, inputSize);
  return {
    key: `augment:${canonicalJson(p)}`,
    augments: config.data.augment.enabled,
    render: (image, size, view, seed) => {
      const q = { ...p, outputSize: size };
      const draw = view === 0 ? centreDraw(q) : drawAugment(q, { seed, epoch: view, sample: 0 });
      return applyAugment(image, q, draw);
    },
  };
}

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

function cacheSplit(cache: FeatureCache, positions: number[]): FeatureSplit {
  return {
    ids: positions.map((p) => cache.ids[p]),
    labels: Int32Array.from(positions, (p) => cache.labels[p]),
    groups: positions.map((p) => cache.groups[p]),
    views: cache.views,
    readBatch: (indices, view) => cache.readBatch(indices.map((i) => positions[i]), view ?? 0),
  };
}

/** Options of {@linkcode prepareData}. */
export interface PrepareOptions {
  /** Feature-cache parent directory (default `<resultsDir>/cache`). */
  cacheDir?: string;
  /** Extractor to use instead of loading `model.extractor` (tests). */
  extractor?: FeatureExtractor;
  /** Data set to use instead of loading `data.dataset` (tests). */
  dataset?: LoadedDataset;
  /** Show progress bars. */
  progress?: boolean;
  /** Where messages go. */
  print?: (line: string) => void;
}

/** What {@linkcode prepareData} returns. */
export interface PreparedData {
  /** The splits as the trainer takes them. */
  data: TrainData;
  /** Epoch sampler over the training split (`data.sampler`). */
  sampler: EpochSampler;
}

/**
 * Loads, noises, splits and caches the data of `config`.
 * @throws Error naming the mismatch when the cached feature shapes differ from the model's
 *   `landmarkShape` / `imageShape`, or when a split is empty.
 */
export async function prepareData(
  config: GrefelConfig,
  opts: PrepareOptions = {},
): Promise<PreparedData> {
  const d = config.data;
  const print = opts.print ?? ((l: string) => console.error(l));
  const ds = opts.dataset ?? await loadDataset(d.dataset, d.root, {
    labelMode: d.labelMode,
    validFromTrain: d.validFromTrain,
    synthetic: d.synthetic,
  });
  if (ds.skipped.length) {
    print(
      `${ds.name}: skipped ${ds.skipped.length} item(s), e.g. ${ds.skipped[0].item}: ` +
        ds.skipped[0].reason,
    );
  }
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
  const grid = m.landmarkShape.map((s) => s[0]) as [number, number, number];
  if (m.imageShape.some((s, i) => s[0] !== grid[i])) {
    throw new Error(
      `the feature cache pools both streams to one grid per scale, but model.landmarkShape sides ` +
        `[${grid}] differ from model.imageShape sides [${m.imageShape.map((s) => s[0])}]`,
    );
  }
  const extractor = opts.extractor ?? await loadExtractor(m.extractor);
  try {
    const pipeline = augmentPipeline(config, extractor.inputSize);
    const views = d.augment.enabled ? config.train.featureViews : 1;
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
    const trainCache = await buildFeatureCache(sub(d.trainSplit, trainSamples), extractor, {
      ...common,
      views,
      pipeline: views > 1 ? pipeline : { ...pipeline, augments: false },
    });
    const evalCache = await buildFeatureCache(sub("eval", [...val, ...test]), extractor, {
      ...common,
      views: 1,
      pipeline: { ...pipeline, augments: false },
    });
    const expect = JSON.stringify([m.landmarkShape, m.imageShape]);
    const got = JSON.stringify([trainCache.landmarkShape, trainCache.imageShape]);
    if (expect !== got) {
      throw new Error(
        `cached features of extractor ${extractor.name} have shapes ${got} ([side, channels] ` +
          `per scale: landmark, image) but the model expects ${expect} (model.landmarkShape / ` +
          `model.imageShape); use a preset made for this extractor`,
      );
    }
    const all = (n: number) => Array.from({ length: n }, (_, i) => i);
    const data: TrainData = {
      name: ds.name,
      classNames: ds.classNames,
      fingerprint: datasetFingerprint([
        ...trainSamples,
        ...val,
        ...test,
      ]),
      train: cacheSplit(trainCache, all(trainSamples.length)),
      val: val.length ? cacheSplit(evalCache, all(val.length)) : null,
      test: cacheSplit(evalCache, all(test.length).map((i) => i + val.length)),
      info: {
        skipped: ds.skipped.length,
        labelNoise: { rate: d.labelNoise, flipped: noisyFlipped },
        extractor: { name: extractor.name, version: extractor.version ?? 0 },
        featureCache: { train: trainCache.dir, eval: evalCache.dir, views },
      },
    };
    const items = trainSamples.map((s) => ({ label: s.label, group: s.group }));
    const sampler: EpochSampler = (epoch, seed) =>
      epochIndices(items, ds.classNames.length, d.sampler, seed, epoch);
    return { data, sampler };
  } finally {
    if (!opts.extractor) extractor.dispose();
  }
}
