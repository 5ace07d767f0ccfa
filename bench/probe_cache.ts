/**
 * Benchmark (not a test): a linear probe on the compact model's own cached features (the FER+
 * feature cache of `npm-face-fast`, every map pooled to 7×7 and stored as uint8), so no extraction
 * is needed. Each of the six maps is averaged over its tokens and the six are concatenated (2,240
 * values per image, the extractor study's "global-average-pooled" feature); the probe is
 * lib/eval/probe.ts's (standardised L2 multinomial logistic regression, C by seeded stratified
 * k-fold cross-validation on the training part). Evaluated on FER+'s official test split.
 *
 * Training parts: for each `--per-class` value, a seeded class-balanced subset of FER+ train (as
 * the extractor study draws it; reported plain and with the class-prior correction to the full
 * training split's frequencies, which uses no evaluation label), and with `--full` the whole
 * training split at its natural class prior.
 *
 * It answers how far a linear read-out of the frozen features goes with all 25,045 training images
 * (the extractor study's probe was still rising at 600 per class).
 *
 * Usage (writes the JSON, prints progress):
 *   nice -n 19 deno run -A bench/probe_cache.ts [--per-class 600] [--full] [--folds 3]
 *     [--c-grid 0.001,0.01,0.1,1] [--out results/extractor-study/probe_cache.json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { selectBackend } from "../lib/backend.ts";
import { presetConfig } from "../lib/config.ts";
import { prepareData } from "../lib/train/prepare.ts";
import type { FeatureSplit } from "../lib/train/train.ts";
import { decodeRecords } from "../lib/data/cache.ts";
import { classPrior, linearProbe, type ProbeResult } from "../lib/eval/probe.ts";
import { mulberry32 } from "../lib/random.ts";

const { values } = parseArgs({
  options: {
    "per-class": { type: "string", default: "600" },
    full: { type: "boolean", default: false },
    folds: { type: "string", default: "3" },
    "c-grid": { type: "string", default: "0.001,0.01,0.1,1" },
    seed: { type: "string", default: "0" },
    out: { type: "string", default: "results/extractor-study/probe_cache.json" },
  },
});
const perClass = values["per-class"]!.split(",").filter(Boolean).map(Number);
const folds = Number(values.folds), seed = Number(values.seed);
const cGrid = values["c-grid"]!.split(",").map(Number);

/** Token-averaged maps of every sample of a split, concatenated: `[n, Σ C]`. */
function pooledFeatures(split: FeatureSplit, indices: number[]): { x: Float32Array; dims: number } {
  const L = split.recordLayout;
  if (!L || !split.readRecords) throw new Error("the split has no feature-cache records");
  const dims = L.channels.reduce((a, b) => a + b, 0);
  const x = new Float32Array(indices.length * dims);
  const B = 256;
  for (let s = 0; s < indices.length; s += B) {
    const part = indices.slice(s, s + B);
    const maps = decodeRecords(split.readRecords(part, 0), L, part.length);
    for (let r = 0; r < part.length; r++) {
      let o = (s + r) * dims;
      for (let m = 0; m < 6; m++) {
        const c = L.channels[m], t = L.grid[m % 3] ** 2, base = r * L.sizes[m];
        for (let k = 0; k < c; k++) {
          let sum = 0;
          for (let j = 0; j < t; j++) sum += maps[m][base + j * c + k];
          x[o + k] = sum / t;
        }
        o += c;
      }
    }
  }
  return { x, dims };
}

/** A seeded class-balanced subset: up to `n` indices of each class. */
function balanced(labels: Int32Array, classes: number, n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const out: number[] = [];
  for (let c = 0; c < classes; c++) {
    const idx = [...labels.keys()].filter((i) => labels[i] === c);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    out.push(...idx.slice(0, n));
  }
  return out.sort((a, b) => a - b);
}

await selectBackend("wasm");
const config = presetConfig("compact", {
  data: { dataset: "ferplus" },
  train: { progress: "off" },
});
const { data } = await prepareData(config, { progress: false });
const C = data.classNames.length;
const all = [...data.train.labels.keys()];
console.error(`pooling ${all.length} train + ${data.test.ids.length} test images…`);
const train = pooledFeatures(data.train, all);
const test = pooledFeatures(data.test, [...data.test.labels.keys()]);
const fullPrior = classPrior(data.train.labels, C);
const rowsOf = (x: Float32Array, dims: number, idx: number[]) => {
  const out = new Float32Array(idx.length * dims);
  idx.forEach((i, r) => out.set(x.subarray(i * dims, (i + 1) * dims), r * dims));
  return out;
};
const results: Record<string, unknown>[] = [];
const write = async () => {
  await Deno.writeTextFile(
    values.out!,
    JSON.stringify(
      {
        config: {
          dataset: "ferplus (majority labels), the compact model's feature cache",
          features: "npm-face-fast maps pooled to 7×7 (uint8 cache), averaged over tokens, " +
            `concatenated (${train.dims} values)`,
          eval: "official test split",
          folds,
          cGrid,
          seed,
          priorCorrection: "balanced subsets: logits + log(full train frequencies) − log(subset " +
            "frequencies); no evaluation label is used",
        },
        classes: data.classNames,
        fullTrainPrior: Array.from(fullPrior),
        results,
        updated: new Date().toISOString(),
      },
      null,
      1,
    ) + "\n",
  );
};
const parts: { name: string; idx: number[]; corrected: boolean }[] = [
  ...perClass.map((n) => ({
    name: `${n} per class`,
    idx: balanced(data.train.labels, C, n, seed),
    corrected: true,
  })),
  ...(values.full ? [{ name: "full train", idx: all, corrected: false }] : []),
];
for (const p of parts) {
  const t0 = performance.now();
  console.error(`${p.name}: ${p.idx.length} images…`);
  const r: ProbeResult = await linearProbe({
    train: {
      x: rowsOf(train.x, train.dims, p.idx),
      y: Int32Array.from(p.idx, (i) => data.train.labels[i]),
    },
    test: { x: test.x, y: data.test.labels },
    dims: train.dims,
    numClasses: C,
    ...(p.corrected ? { targetPrior: fullPrior } : {}),
    options: { cGrid, folds, seed },
  });
  results.push({ train: p.name, seconds: (performance.now() - t0) / 1000, ...r });
  console.error(
    `${p.name}: test acc ${(100 * r.metrics.accuracy).toFixed(2)}%` +
      (r.priorCorrected
        ? `, prior-corrected ${(100 * r.priorCorrected.accuracy).toFixed(2)}%`
        : "") +
      `, balanced ${(100 * r.metrics.balancedAccuracy).toFixed(2)}%, C ${r.c}`,
  );
  await write();
}
Deno.exit(0);
