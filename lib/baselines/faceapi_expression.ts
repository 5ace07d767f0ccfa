/**
 * Baseline: the pretrained facial-expression network that ships with `@vladmandic/face-api`
 * (`model/face_expression_model-weights_manifest.json` + `.bin`, 7 classes), evaluated on FER+.
 *
 * Network (face-api `src/faceExpressionNet/FaceExpressionNet.ts`, `src/faceProcessor/`): the
 * `FaceFeatureExtractor` trunk shared with the 68-point landmark net (four `denseBlock4`, 112² →
 * `[B,7,7,256]`; run by {@linkcode faceFeatureTrunk} from `lib/extractors/face_landmark68.ts`), then
 * `avgPool(7×7, stride 2, valid)` → `[B,1,1,256]`, a fully connected layer `fc` (256 → 7) and a
 * softmax. Weights are the package's uint8-quantised manifest, dequantised by `tf.io.decodeWeights`;
 * nothing is downloaded.
 *
 * Pre-processing (face-api `NetInput.toBatchTensor(112, true)` + `FaceFeatureExtractor`): gray images
 * are replicated to RGB; a non-square image is zero-padded to a square, centred (as face-api's
 * `padToSquare(…, true)`); the image is resized to 112×112 with `tf.image.resizeBilinear`
 * (`alignCorners` false, `halfPixelCenters` false — face-api's call); then the per-channel means
 * [122.782, 117.001, 104.298] are subtracted and the result divided by 255. FER+ images are
 * 48×48 gray, so they are only replicated and upsampled 48 → 112. No face detection or alignment is
 * run: FER+ images are already face crops.
 *
 * Class mapping (face-api order → FER+ order, {@linkcode FACEAPI_TO_FERPLUS}): neutral → neutral,
 * happy → happiness, sad → sadness, angry → anger, fearful → fear, disgusted → disgust,
 * surprised → surprise. FER+ `contempt` has no counterpart, so it is never predicted: its
 * probability is 0 in the mapped 8-way distribution. Results are reported twice:
 * - `all`: every labelled test image, 8 FER+ classes (a contempt image always counts as wrong;
 *   macro-F1 includes contempt with F1 = 0, scikit-learn's default class set);
 * - `shared`: contempt images removed, 7 classes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor2D, Tensor4D } from "../tensor.ts";
import { faceFeatureTrunk, LANDMARK68_INPUT } from "../extractors/face_landmark68.ts";
import { loadWeightMap, npmFile } from "../extractors/weights.ts";
import { FERPLUS_CLASSES, type FerPlusLabelMode, loadFerPlus } from "../data/ferplus.ts";
import { toRGB } from "../data/image.ts";
import type { DatasetSample, LoadedDataset, RawImage } from "../data/types.ts";
import { evaluatePredictions, type PredictionReport } from "../eval/metrics.ts";
import { matchClass } from "../data/classes.ts";

/** npm package the network ships in. */
export const FACEAPI_PACKAGE = "@vladmandic/face-api";

/** Weights manifest of the expression network inside {@linkcode FACEAPI_PACKAGE}. */
export const FACEAPI_EXPRESSION_MANIFEST = "model/face_expression_model-weights_manifest.json";

/** face-api's expression classes in its output order (`FACE_EXPRESSION_LABELS`). */
export const FACEAPI_EXPRESSION_CLASSES: readonly string[] = [
  "neutral",
  "happy",
  "sad",
  "angry",
  "fearful",
  "disgusted",
  "surprised",
];

/**
 * FER+ class index (in {@linkcode FERPLUS_CLASSES} order: neutral, happiness, surprise, sadness,
 * anger, disgust, fear, contempt) of each face-api output, in face-api order.
 */
export const FACEAPI_TO_FERPLUS: readonly number[] = [0, 1, 3, 4, 6, 5, 2];

/** FER+ index of `contempt`, the class face-api cannot predict. */
export const FERPLUS_CONTEMPT = 7;

/** Input side of the network. */
export const FACEAPI_EXPRESSION_INPUT: number = LANDMARK68_INPUT;

/** The loaded expression network. */
export interface FaceApiExpressionNet {
  /**
   * `[B, 112, 112, 3]` RGB in [0, 1] (other sides are resized bilinearly) → softmax `[B, 7]` in
   * {@linkcode FACEAPI_EXPRESSION_CLASSES} order. The caller disposes the result.
   */
  predict(x: Tensor4D): Tensor2D;
  /** Frees the weights. */
  dispose(): void;
}

/** Loads face-api's expression network from the installed npm package (no network access). */
export async function loadFaceApiExpression(): Promise<FaceApiExpressionNet> {
  const w = await loadWeightMap(await npmFile(FACEAPI_PACKAGE, FACEAPI_EXPRESSION_MANIFEST));
  const fcW = w["fc/weights"], fcB = w["fc/bias"];
  if (!fcW || !fcB || fcW.shape.join() !== "256,7" || fcB.shape.join() !== "7") {
    tf.dispose(Object.values(w));
    throw new Error(
      `${FACEAPI_EXPRESSION_MANIFEST}: expected fc/weights [256,7] and fc/bias [7], got ` +
        `${fcW?.shape ?? "none"} and ${fcB?.shape ?? "none"}`,
    );
  }
  return {
    predict(x) {
      return tf.tidy(() => {
        const [, , , d3] = faceFeatureTrunk(x, w); // [B, 7, 7, 256]
        // face-api: avgPool 7×7 stride 2 'valid' on the 7×7 map = global average.
        const pooled = tf.avgPool(d3, [7, 7], [2, 2], "valid"); // [B, 1, 1, 256]
        const flat = tf.reshape(pooled, [x.shape[0], -1]) as Tensor2D; // [B, 256]
        const logits = tf.add(tf.matMul(flat, fcW as Tensor2D), fcB); // [B, 7]
        return tf.softmax(logits) as Tensor2D;
      });
    },
    dispose() {
      tf.dispose(Object.values(w));
    },
  };
}

/**
 * Builds the network input from decoded images as face-api does (see the module doc): gray → RGB,
 * centred zero padding to a square, bilinear resize to 112², values in [0, 1].
 * @returns `[B, 112, 112, 3]`
 */
export function imagesToInput(images: readonly RawImage[]): Tensor4D {
  if (images.length === 0) throw new Error("imagesToInput: no images");
  return tf.tidy(() => {
    const side = FACEAPI_EXPRESSION_INPUT;
    const each = images.map((img) => {
      const rgb = toRGB(img);
      let t = tf.tensor4d(Float32Array.from(rgb.data, (v) => v / 255), [
        1,
        rgb.height,
        rgb.width,
        3,
      ]); // [1, H, W, 3]
      const { height: h, width: wd } = rgb;
      if (h !== wd) {
        // face-api padToSquare(isCenterImage = true): round(diff/2) zeros after, the rest before.
        const diff = Math.abs(h - wd), after = Math.round(diff * 0.5), before = diff - after;
        const pad: [number, number] = [before, after];
        t = tf.pad(t, h > wd ? [[0, 0], [0, 0], pad, [0, 0]] : [[0, 0], pad, [0, 0], [0, 0]]);
      }
      if (t.shape[1] !== side || t.shape[2] !== side) {
        t = tf.image.resizeBilinear(t, [side, side], false, false);
      }
      return t;
    });
    return tf.concat(each, 0); // [B, 112, 112, 3]
  });
}

/**
 * Maps face-api 7-way distributions (`[N·7]`, face-api order) onto FER+'s 8 classes (`[N·8]`,
 * FER+ order); `contempt` gets probability 0.
 */
export function toFerPlusDistributions(probs7: ArrayLike<number>): Float32Array {
  const k = FACEAPI_TO_FERPLUS.length;
  if (probs7.length % k !== 0) {
    throw new Error(`distribution length ${probs7.length} is not a multiple of ${k}`);
  }
  const n = probs7.length / k, c = FERPLUS_CLASSES.length;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) out[i * c + FACEAPI_TO_FERPLUS[j]] = probs7[i * k + j];
  }
  return out;
}

/** Metrics of one class set (see the module doc for `all` and `shared`). */
export interface BaselineScores {
  /** Images scored. */
  n: number;
  /** Class names, in index order (FER+ order). */
  classNames: string[];
  /** Accuracy. */
  accuracy: number;
  /** Macro-F1 (scikit-learn default class set: classes in the labels or the predictions). */
  macroF1: number;
  /** Mean recall over the classes present in the labels. */
  balancedAccuracy: number;
  /** Expected calibration error (15 bins) of the (mapped) distribution. */
  ece: number;
  /** Recall per class, by name. */
  perClassRecall: Record<string, number>;
  /** Per-class precision, recall, F1, support. */
  perClass: PredictionReport["perClass"];
  /** Rows = true class, columns = predicted. */
  confusionMatrix: number[][];
}

/** Results under one FER+ label mode. */
export interface BaselineModeReport {
  /** FER+ label rule (`loadFerPlus` `labelMode`). */
  mode: FerPlusLabelMode;
  /** Labelled images of the split under this rule (decoded and scored). */
  n: number;
  /** Label rows this rule dropped (no majority, unknown/NF, missing file…). */
  droppedByLabelRule: number;
  /** Images per FER+ class (FER+ order). */
  classCounts: number[];
  /** Rate of the most frequent class (predicting it always). */
  majorityClassRate: number;
  /** All images, 8 FER+ classes; contempt is always wrong. */
  all: BaselineScores;
  /** Contempt images removed; 7 classes. */
  shared: BaselineScores;
}

/** What {@linkcode evaluateFaceApiExpressionFerPlus} returns (JSON-safe except NaN). */
export interface FaceApiExpressionReport {
  /** `faceapi-expression`. */
  model: string;
  /** Package, version and weights file. */
  source: string;
  /** `ferplus`. */
  dataset: string;
  /** FER+ split (`test` = FER2013Test). */
  split: string;
  /** Pre-processing, in words. */
  preprocessing: string;
  /** face-api class → FER+ class. */
  classMapping: Record<string, string>;
  /** tfjs backend the network ran on. */
  backend: string;
  /** Wall seconds for decoding + inference of all images (loading the net excluded). */
  seconds: number;
  /** Distinct images run through the network (union over the modes). */
  images: number;
  /** Images that could not be decoded (skipped, listed). */
  decodeErrors: { item: string; reason: string }[];
  /** `limit` used (evenly spaced subset), or null for the whole split. */
  limit: number | null;
  /** Per label mode. */
  results: Partial<Record<FerPlusLabelMode, BaselineModeReport>>;
}

/** Options of {@linkcode evaluateFaceApiExpressionFerPlus}. */
export interface FaceApiEvalOptions {
  /** FER+ root (else `$GREFEL_FERPLUS`, else the default path). */
  root?: string | null;
  /** Split (default `test`). */
  split?: string;
  /** Label modes to score (default `["majority", "plurality"]`); images are run once. */
  modes?: readonly FerPlusLabelMode[];
  /** Images per forward pass (default 64). */
  batchSize?: number;
  /**
   * Score only this many images, evenly spaced over the split (index ⌊i·N/limit⌋ of the union of
   * the modes' images sorted by id); for quick checks. Default: all.
   */
  limit?: number;
  /** A loaded network to use (else loaded and disposed here). */
  net?: FaceApiExpressionNet;
  /** Called after each batch with (images done, total). */
  onProgress?: (done: number, total: number) => void;
}

function scores(
  labels: Int32Array,
  dists: Float32Array,
  classNames: string[],
): BaselineScores {
  const r = evaluatePredictions({ labels, primary: dists, final: dists, classNames }).primary;
  return {
    n: labels.length,
    classNames,
    accuracy: r.accuracy,
    macroF1: r.macroF1,
    balancedAccuracy: r.balancedAccuracy,
    ece: r.ece,
    perClassRecall: Object.fromEntries(r.perClass.map((p) => [p.name, p.recall])),
    perClass: r.perClass,
    confusionMatrix: r.confusionMatrix,
  };
}

/** Scores mapped distributions of one mode's samples (see the module doc). */
export function scoreFerPlus(
  mode: FerPlusLabelMode,
  labels: Int32Array,
  dists8: Float32Array,
  droppedByLabelRule = 0,
): BaselineModeReport {
  const c = FERPLUS_CLASSES.length;
  const names = [...FERPLUS_CLASSES];
  const counts = new Array<number>(c).fill(0);
  for (const l of labels) counts[l]++;
  const keep = [...labels.keys()].filter((i) => labels[i] !== FERPLUS_CONTEMPT);
  const sharedLabels = Int32Array.from(keep, (i) => labels[i]);
  const sharedDists = new Float32Array(keep.length * (c - 1));
  keep.forEach((i, r) => {
    for (let j = 0; j < c - 1; j++) sharedDists[r * (c - 1) + j] = dists8[i * c + j];
  });
  return {
    mode,
    n: labels.length,
    droppedByLabelRule,
    classCounts: counts,
    majorityClassRate: labels.length ? Math.max(...counts) / labels.length : NaN,
    all: scores(labels, dists8, names),
    shared: scores(sharedLabels, sharedDists, names.slice(0, c - 1)),
  };
}

/**
 * Runs face-api's expression network over a FER+ split and scores it under each label mode.
 * @throws DatasetError when FER+ is not found (see `loadFerPlus`).
 */
export async function evaluateFaceApiExpressionFerPlus(
  opts: FaceApiEvalOptions = {},
): Promise<FaceApiExpressionReport> {
  const split = opts.split ?? "test";
  const modes = opts.modes ?? ["majority", "plurality"];
  if (modes.length === 0) throw new Error("no label mode given");
  const batchSize = opts.batchSize ?? 64;
  if (!(batchSize >= 1)) throw new Error(`batchSize must be ≥ 1, got ${batchSize}`);
  const sets = new Map<FerPlusLabelMode, LoadedDataset>();
  for (const m of modes) {
    sets.set(m, await loadFerPlus(opts.root, { splits: [split], labelMode: m }));
  }
  // Union of the modes' images, sorted by id (plurality keeps a superset of majority's images).
  const union = new Map<string, DatasetSample>();
  for (const ds of sets.values()) for (const s of ds.samples) union.set(s.id, s);
  let todo = [...union.values()].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  if (opts.limit !== undefined && opts.limit < todo.length) {
    if (!(opts.limit >= 1)) throw new Error(`limit must be ≥ 1, got ${opts.limit}`);
    const all = todo;
    todo = Array.from(
      { length: opts.limit },
      (_, i) => all[Math.floor(i * all.length / opts.limit!)],
    );
  }
  const loader = sets.values().next().value!;
  const net = opts.net ?? await loadFaceApiExpression();
  const probs = new Map<string, Float32Array>();
  const decodeErrors: { item: string; reason: string }[] = [];
  const t0 = performance.now();
  try {
    await predictInBatches(
      net,
      todo,
      batchSize,
      (s) => loader.loadImage(s),
      (s, reason) => decodeErrors.push({ item: s.id, reason }),
      (batch, p) => batch.forEach((s, i) => probs.set(s.id, p.slice(i * 7, i * 7 + 7))),
      opts.onProgress,
    );
  } finally {
    if (!opts.net) net.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const results: FaceApiExpressionReport["results"] = {};
  for (const [mode, ds] of sets) {
    const samples = ds.samples.filter((s) => probs.has(s.id));
    const labels = Int32Array.from(samples, (s) => s.label);
    const p7 = new Float32Array(samples.length * 7);
    samples.forEach((s, i) => p7.set(probs.get(s.id)!, i * 7));
    results[mode] = scoreFerPlus(mode, labels, toFerPlusDistributions(p7), ds.skipped.length);
  }
  const version = await faceApiVersion();
  return {
    model: "faceapi-expression",
    source: `${FACEAPI_PACKAGE}@${version} ${FACEAPI_EXPRESSION_MANIFEST}`,
    dataset: "ferplus",
    split,
    preprocessing: "gray replicated to RGB; centred zero padding to square (none for FER+); " +
      "resizeBilinear to 112x112 (alignCorners=false, halfPixelCenters=false, as face-api); " +
      "(x*255 - [122.782, 117.001, 104.298]) / 255; no face detection/alignment",
    classMapping: Object.fromEntries(
      FACEAPI_EXPRESSION_CLASSES.map((n, i) => [n, FERPLUS_CLASSES[FACEAPI_TO_FERPLUS[i]]]),
    ),
    backend: tf.getBackend(),
    seconds,
    images: probs.size,
    decodeErrors,
    limit: opts.limit !== undefined && opts.limit < union.size ? opts.limit : null,
    results,
  };
}

async function faceApiVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await Deno.readTextFile(await npmFile(FACEAPI_PACKAGE, "package.json")));
    return String(pkg.version);
  } catch {
    return "unknown";
  }
}

/**
 * Data-set class index of each face-api output (face-api order), matched by name or expression
 * synonym (`happy` = `happiness`, ...; lib/data/classes.ts); -1 when the data set has no such
 * class.
 */
export function faceApiToClasses(classNames: readonly string[]): number[] {
  return FACEAPI_EXPRESSION_CLASSES.map((n) => matchClass(n, classNames));
}

/** What {@linkcode evaluateFaceApiExpressionOn} returns. */
export interface FaceApiDatasetReport {
  /** `faceapi-expression`. */
  model: string;
  /** Package, version and weights file. */
  source: string;
  /** Data-set name. */
  dataset: string;
  /** Split scored. */
  split: string;
  /** face-api class → data-set class (null: the data set has none). */
  classMapping: Record<string, string | null>;
  /** Data-set classes face-api cannot predict (always wrong in `all`, removed in `shared`). */
  unpredictable: string[];
  /** tfjs backend. */
  backend: string;
  /** Wall seconds of decoding + inference. */
  seconds: number;
  /** Images scored. */
  images: number;
  /** Images that could not be decoded. */
  decodeErrors: { item: string; reason: string }[];
  /** Images per class (data-set order). */
  classCounts: number[];
  /** Rate of the most frequent class. */
  majorityClassRate: number;
  /** All images, all classes. */
  all: BaselineScores;
  /** Images of the classes face-api can predict, over those classes. */
  shared: BaselineScores;
}

/**
 * Runs face-api's expression network over `samples` of any loaded data set (already mapped and,
 * for raw photos, face-cropped: see `planData`) and scores it in the data set's classes.
 * @throws Error when no face-api class matches a class of the data set.
 */
export async function evaluateFaceApiExpressionOn(
  ds: LoadedDataset,
  samples: readonly DatasetSample[],
  opts: Omit<FaceApiEvalOptions, "root" | "modes"> = {},
): Promise<FaceApiDatasetReport> {
  const map = faceApiToClasses(ds.classNames);
  if (map.every((m) => m < 0)) {
    throw new Error(
      `no face-api class (${FACEAPI_EXPRESSION_CLASSES.join(", ")}) matches a class of ` +
        `${ds.name} (${ds.classNames.join(", ")}); map them with data.classNames / data.classMap`,
    );
  }
  const batchSize = opts.batchSize ?? 64;
  let todo = [...samples];
  if (opts.limit !== undefined && opts.limit < todo.length) {
    const all = todo;
    todo = Array.from(
      { length: opts.limit },
      (_, i) => all[Math.floor(i * all.length / opts.limit!)],
    );
  }
  const net = opts.net ?? await loadFaceApiExpression();
  const C = ds.classNames.length;
  const kept: DatasetSample[] = [];
  const dists: number[] = [];
  const decodeErrors: { item: string; reason: string }[] = [];
  const t0 = performance.now();
  try {
    await predictInBatches(
      net,
      todo,
      batchSize,
      (s) => ds.loadImage(s),
      (s, reason) => decodeErrors.push({ item: s.path ?? s.id, reason }),
      (batch, p) =>
        batch.forEach((s, i) => {
          const d = new Array(C).fill(0);
          map.forEach((to, j) => {
            if (to >= 0) d[to] += p[i * 7 + j];
          });
          dists.push(...d);
          kept.push(s);
        }),
      opts.onProgress,
    );
  } finally {
    if (!opts.net) net.dispose();
  }
  const labels = Int32Array.from(kept, (s) => s.label);
  const all = Float32Array.from(dists);
  const predictable = ds.classNames.map((_, c) => map.includes(c));
  const keepIdx = [...labels.keys()].filter((i) => predictable[labels[i]]);
  const sharedClasses = ds.classNames.map((_, c) => c).filter((c) => predictable[c]);
  const remap = new Map(sharedClasses.map((c, i) => [c, i]));
  const sharedLabels = Int32Array.from(keepIdx, (i) => remap.get(labels[i])!);
  const sharedDists = new Float32Array(keepIdx.length * sharedClasses.length);
  keepIdx.forEach((i, r) => {
    sharedClasses.forEach((c, j) => sharedDists[r * sharedClasses.length + j] = all[i * C + c]);
  });
  const counts = new Array<number>(C).fill(0);
  for (const l of labels) counts[l]++;
  return {
    model: "faceapi-expression",
    source: `${FACEAPI_PACKAGE}@${await faceApiVersion()} ${FACEAPI_EXPRESSION_MANIFEST}`,
    dataset: ds.name,
    split: samples[0]?.split ?? "",
    classMapping: Object.fromEntries(
      FACEAPI_EXPRESSION_CLASSES.map((n, i) => [n, map[i] >= 0 ? ds.classNames[map[i]] : null]),
    ),
    unpredictable: ds.classNames.filter((_, c) => !predictable[c]),
    backend: tf.getBackend(),
    seconds: (performance.now() - t0) / 1000,
    images: kept.length,
    decodeErrors,
    classCounts: counts,
    majorityClassRate: labels.length ? Math.max(...counts) / labels.length : NaN,
    all: scores(labels, all, [...ds.classNames]),
    shared: scores(sharedLabels, sharedDists, sharedClasses.map((c) => ds.classNames[c])),
  };
}

/**
 * Runs face-api's expression net over `samples` in batches of `batchSize`: `load` reads each image
 * (a failure goes to `onError` and the image is skipped), `onBatch` receives the loaded samples and
 * their 7-class probabilities (row-major), `onProgress` the samples done so far.
 */
async function predictInBatches(
  net: FaceApiExpressionNet,
  samples: readonly DatasetSample[],
  batchSize: number,
  load: (s: DatasetSample) => Promise<RawImage>,
  onError: (s: DatasetSample, reason: string) => void,
  onBatch: (batch: DatasetSample[], probs: Float32Array) => void,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  for (let b = 0; b < samples.length; b += batchSize) {
    const batch: DatasetSample[] = [];
    const images: RawImage[] = [];
    for (const s of samples.slice(b, b + batchSize)) {
      try {
        images.push(await load(s));
        batch.push(s);
      } catch (e) {
        onError(s, (e as Error).message);
      }
    }
    if (batch.length) {
      const x = imagesToInput(images);
      const y = net.predict(x);
      x.dispose();
      const p = (await y.data()) as Float32Array;
      y.dispose();
      onBatch(batch, p);
    }
    onProgress?.(Math.min(b + batchSize, samples.length), samples.length);
  }
}
