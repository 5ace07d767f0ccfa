/**
 * Pre-processing and "heavy" augmentation (SPEC §5, paper §4.1): resize to `resize`², random crop
 * `crop`² (scaled to the extractor's input size), rotation, horizontal flip, colour jitter
 * (brightness, contrast, saturation), normalisation. Output: `Float32Array`, HWC RGB,
 * `outputSize² × 3`.
 *
 * Written in plain TypeScript on typed arrays, not tfjs ops, on purpose: the result must be the
 * same bytes on every backend (cpu, wasm, webgpu differ in resize kernels, float precision and
 * rounding), so that a feature cache built on one backend is valid on another and a run is
 * reproducible from `(seed, epoch, sample)` alone. Resize + crop + rotate + flip are composed into
 * one affine map from output to source pixels, sampled bilinearly once (no intermediate images,
 * so no double interpolation); when the map shrinks the source by more than 2×, `k×k`
 * supersampling (k = ⌈shrink⌉, at most 4) prevents aliasing.
 *
 * Decisions (SPEC is silent): samples outside the source replicate the edge (no black corners
 * after rotation); jitter is applied in a fixed order brightness → contrast → saturation with
 * torchvision's factor semantics (factor ∈ [1−x, 1+x]; contrast around the mean grey level);
 * gray images are replicated to RGB; any size or aspect ratio is accepted (the resize step
 * squashes to a square, as torchvision's `Resize((256, 256))`). Evaluation (`train: false`) uses
 * the centre crop and no random transforms.
 * @module
 */
import { hashString } from "./common.ts";
import { Rng, seedOf } from "./rng.ts";
import type { RawImage } from "./types.ts";

/** Pre-processing and augmentation parameters. */
export interface AugmentParams {
  /** Output side in pixels (the feature extractor's input size). */
  outputSize: number;
  /** Side the image is resized to before cropping (paper: 256). */
  resize: number;
  /** Crop side in resized pixels (paper: 224); scaled to `outputSize`. */
  crop: number;
  /** Maximum rotation in degrees (uniform in ±rotation). */
  rotation: number;
  /** Random horizontal flip with probability 0.5. */
  flip: boolean;
  /** Brightness jitter: factor uniform in [1 − b, 1 + b]. */
  brightness: number;
  /** Contrast jitter. */
  contrast: number;
  /** Saturation jitter. */
  saturation: number;
  /** Per-channel mean subtracted after scaling to [0, 1]. */
  mean: [number, number, number];
  /** Per-channel standard deviation divided by. */
  std: [number, number, number];
  /** Random crop position when augmenting (default true; false = centre crop always). */
  randomCrop?: boolean;
}

/** The random draws of one augmentation (exposed for tests and reports). */
export interface AugmentDraw {
  /** Crop offset in resized pixels, x. */
  cropX: number;
  /** Crop offset in resized pixels, y. */
  cropY: number;
  /** Rotation in radians. */
  angle: number;
  /** Mirror horizontally. */
  flip: boolean;
  /** Brightness factor. */
  brightness: number;
  /** Contrast factor. */
  contrast: number;
  /** Saturation factor. */
  saturation: number;
}

/** Identifies one transform: the same key gives the same output on every backend. */
export interface AugmentKey {
  /** Global seed. */
  seed: number;
  /** Epoch (or cached view index). */
  epoch: number;
  /** Sample index or id. */
  sample: number | string;
}

/** Draws the random transform for `key` (deterministic). */
export function drawAugment(p: AugmentParams, key: AugmentKey): AugmentDraw {
  const s = typeof key.sample === "number" ? key.sample : hashString(key.sample);
  const r = new Rng(seedOf(key.seed, key.epoch, s, 0xa06));
  const span = p.randomCrop === false ? 0 : Math.max(0, p.resize - p.crop);
  const j = (x: number) => (x > 0 ? r.uniform(1 - x, 1 + x) : (r.next(), 1));
  const c0 = p.randomCrop === false ? Math.max(0, p.resize - p.crop) / 2 : 0;
  return {
    cropX: c0 + r.uniform(0, span),
    cropY: c0 + r.uniform(0, span),
    angle: (r.uniform(-1, 1) * p.rotation * Math.PI) / 180,
    flip: p.flip && r.next() < 0.5,
    brightness: j(p.brightness),
    contrast: j(p.contrast),
    saturation: j(p.saturation),
  };
}

/** The identity draw: centre crop, nothing random (evaluation). */
export function centreDraw(p: AugmentParams): AugmentDraw {
  const c = Math.max(0, p.resize - p.crop) / 2;
  return { cropX: c, cropY: c, angle: 0, flip: false, brightness: 1, contrast: 1, saturation: 1 };
}

/**
 * Applies `draw` to `img` and normalises: the single-affine-warp implementation.
 * @returns HWC RGB floats, `outputSize² × 3`.
 */
export function applyAugment(img: RawImage, p: AugmentParams, draw: AugmentDraw): Float32Array {
  const S = p.outputSize, W = img.width, H = img.height, ch = img.channels;
  if (!(W > 0 && H > 0)) throw new Error(`cannot pre-process an empty ${W}×${H} image`);
  if (ch !== 1 && ch !== 3) throw new Error(`cannot pre-process an image with ${ch} channels`);
  const out = new Float32Array(S * S * 3);
  const crop = Math.min(p.crop, p.resize);
  const k0 = crop / S; // resized pixels per output pixel
  const ctr = p.resize / 2;
  const cos = Math.cos(draw.angle), sin = Math.sin(draw.angle);
  const sx = W / p.resize, sy = H / p.resize; // source pixels per resized pixel
  const shrink = Math.max(k0 * sx, k0 * sy);
  const ss = shrink > 2 ? Math.min(4, Math.ceil(shrink)) : 1; // supersampling factor
  const d = img.data;
  const px = [0, 0, 0];
  const sample = (x: number, y: number) => {
    // bilinear at source position (x, y) in pixel-centre coordinates, edge replicated
    x = x < 0 ? 0 : x > W - 1 ? W - 1 : x;
    y = y < 0 ? 0 : y > H - 1 ? H - 1 : y;
    const x0 = Math.floor(x), y0 = Math.floor(y);
    const x1 = x0 + 1 < W ? x0 + 1 : x0, y1 = y0 + 1 < H ? y0 + 1 : y0;
    const fx = x - x0, fy = y - y0;
    const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
    const i00 = (y0 * W + x0) * ch, i01 = (y0 * W + x1) * ch;
    const i10 = (y1 * W + x0) * ch, i11 = (y1 * W + x1) * ch;
    for (let c = 0; c < 3; c++) {
      const o = ch === 3 ? c : 0;
      px[c] += w00 * d[i00 + o] + w01 * d[i01 + o] + w10 * d[i10 + o] + w11 * d[i11 + o];
    }
  };
  for (let oy = 0; oy < S; oy++) {
    for (let ox = 0; ox < S; ox++) {
      px[0] = px[1] = px[2] = 0;
      for (let a = 0; a < ss; a++) {
        for (let b = 0; b < ss; b++) {
          // output pixel (sub-sample) centre -> crop -> resized image coordinates
          let rx = (ox + (b + 0.5) / ss) * k0 + draw.cropX - ctr;
          const ry = (oy + (a + 0.5) / ss) * k0 + draw.cropY - ctr;
          if (draw.flip) rx = -rx;
          // rotate about the resized image centre
          const ux = cos * rx - sin * ry + ctr, uy = sin * rx + cos * ry + ctr;
          sample(ux * sx - 0.5, uy * sy - 0.5);
        }
      }
      const o = (oy * S + ox) * 3, n = ss * ss * 255;
      out[o] = px[0] / n;
      out[o + 1] = px[1] / n;
      out[o + 2] = px[2] / n;
    }
  }
  colourJitter(out, draw);
  for (let i = 0; i < out.length; i += 3) {
    for (let c = 0; c < 3; c++) out[i + c] = (out[i + c] - p.mean[c]) / p.std[c];
  }
  return out;
}

/** Brightness → contrast → saturation on HWC RGB in [0, 1], clamped; in place. */
function colourJitter(x: Float32Array, draw: AugmentDraw): void {
  const clamp = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
  if (draw.brightness !== 1) {
    for (let i = 0; i < x.length; i++) x[i] = clamp(x[i] * draw.brightness);
  }
  const grey = (i: number) => 0.299 * x[i] + 0.587 * x[i + 1] + 0.114 * x[i + 2];
  if (draw.contrast !== 1) {
    let m = 0;
    for (let i = 0; i < x.length; i += 3) m += grey(i);
    m /= x.length / 3;
    for (let i = 0; i < x.length; i++) x[i] = clamp(m + (x[i] - m) * draw.contrast);
  }
  if (draw.saturation !== 1) {
    for (let i = 0; i < x.length; i += 3) {
      const g = grey(i);
      for (let c = 0; c < 3; c++) x[i + c] = clamp(g + (x[i + c] - g) * draw.saturation);
    }
  }
}

/**
 * Pre-processes one image: random augmentation for training (`train: true`, drawn from `key`),
 * centre crop otherwise.
 */
export function preprocess(
  img: RawImage,
  p: AugmentParams,
  key: AugmentKey,
  train: boolean,
): Float32Array {
  return applyAugment(img, p, train ? drawAugment(p, key) : centreDraw(p));
}

/** Pre-processes a batch into one `[B, S, S, 3]` buffer (ready for `tf.tensor4d`). */
export function preprocessBatch(
  imgs: RawImage[],
  p: AugmentParams,
  keys: AugmentKey[],
  train: boolean,
): Float32Array {
  const n = p.outputSize * p.outputSize * 3;
  const out = new Float32Array(imgs.length * n);
  imgs.forEach((img, i) => out.set(preprocess(img, p, keys[i], train), i * n));
  return out;
}
