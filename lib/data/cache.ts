/**
 * Feature cache: the frozen extractors' maps for every image (and every cached augmented view),
 * computed once, pooled to a small token grid, quantised, and stored on disk in shards, so that
 * training runs and ablation sweeps skip extraction.
 *
 * **Key.** A cache lives in `<dir>/<dataset>-<key>/`, where `key` hashes the extractor's name and
 * version, its input side, the token grids, the storage type, the number of views, the seed, the
 * view pipeline's own key (pre-processing and augmentation parameters) and, where the data set's
 * name does not identify its images, their source (`FeatureCacheOptions.source`: the data root and
 * file list of a data set not at its kind's default root). Inside, each shard's file
 * name carries a hash of that key plus the ids and **content hashes** of its images (SHA-1 of the
 * file bytes, or of the decoded pixels when a sample has no file), so a changed image invalidates
 * exactly its shard.
 *
 * **Record.** One image view = for each of the six maps (landmark 1–3, image 1–3) the map
 * adaptive-average-pooled to `g_i × g_i` tokens (`[g_i, g_i, C]`, row-major, channels last).
 * Storage (decision, measured):
 * - `uint8` (default): per map and channel an affine range (min and step as float16) and one byte
 *   per value; error ≤ step/2 = (max − min)/510 per channel (+ float16 rounding of min and step).
 *   Half the size of float16, so FER+ train at 7×7 tokens per scale is ≈ 3.3 GB.
 * - `float16`: `Float16Array` values (Deno has it natively), error ≤ 2⁻¹¹ relative.
 *
 * **Views.** `views = 1` stores the centre (un-augmented) view; `views = n > 1` adds `n − 1`
 * augmented views rendered by the {@linkcode ViewPipeline} with a seed derived from
 * (seed, sample id, view), so they are the same on every run and backend. Training picks one view
 * per sample per epoch ({@linkcode FeatureCache.viewFor}).
 *
 * **Disk.** Shards of `shardSize` samples (all views of a sample together) + `index.json`. Each
 * shard is written atomically (lib/run/atomic.ts: a temporary file, fsync, rename), then the
 * index (written the same way) records its
 * byte size, SHA-256 and modification time, so an interrupted build resumes from the finished
 * shards and never sees a half-written one; a shard whose size or checksum does not match is
 * rebuilt. Opening a built cache re-hashes a shard only when its size or modification time differs
 * from the index's, and recomputes its images' content hashes only when one of their files' size or
 * modification time differs from what the index recorded (`ShardEntry.stat`; the rule `make` and
 * git use): opening FER+ then reads no shard and no image.
 *
 * **Writers.** One process at a time writes a cache: before computing a shard, or rewriting the
 * index, a build takes the lock file `<dir>.lock` (lib/lock.ts); a second writer is refused with
 * `LockHeldError` (lib/lock.ts), naming the holder. Loading a complete cache writes nothing and takes
 * no lock, so any number of runs may read it at once.
 *
 * **Memory.** A built cache is read from disk on demand: `readBatch` reads the requested records
 * with positional reads (the OS page cache keeps hot shards in memory, shared by every process
 * that reads the cache) and decodes them into float32 tensors synchronously. A run therefore holds
 * no copy of the cache (FER+ train is ≈ 3 GB), and starts without reading it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor3D, Tensor4D } from "../tensor.ts";
import cliProgress from "cli-progress";
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import type { DatasetSample, LoadedDataset, RawImage } from "./types.ts";
import type { FeatureExtractor, FeatureMaps, StreamShape } from "../extractors/types.ts";
import type { GrefelInputs } from "../model/types.ts";
import { applyAugment, type AugmentParams, centreDraw, drawAugment } from "./augment.ts";
import { fnv1a } from "../random.ts";
import { acquireLock, type FileLock, tryAcquireLock } from "../lock.ts";
import { readJsonIfExists, writeFileAtomic } from "../run/atomic.ts";
import { canonicalJson, sha256 } from "../run/hash.ts";

/** Version of the on-disk format; part of the key. */
export const CACHE_FORMAT = 1;

/** How pooled values are stored. */
export type CacheStorage = "uint8" | "float16";

/**
 * Renders one view of an image as the extractor's input. View 0 is the centre, un-augmented view;
 * views ≥ 1 are augmented, deterministically from `seed`.
 */
export interface ViewPipeline {
  /** Stable description of the pre-processing and augmentation parameters (part of the cache key). */
  readonly key: string;
  /** Whether views ≥ 1 differ from view 0 (an augmenting pipeline). */
  readonly augments: boolean;
  /** `size × size` RGB, HWC, float32 in [0, 1]. */
  render(image: RawImage, size: number, view: number, seed: number): Float32Array;
}

/**
 * Bilinear resize of a RawImage to `size × size` RGB in [0, 1] (gray replicated to 3 channels),
 * half-pixel centres (as `tf.image.resizeBilinear(..., halfPixelCenters = true)` and PIL).
 * Written here rather than with tensors so the cache's input does not depend on the backend.
 */
export function resizeToRgb(image: RawImage, size: number): Float32Array {
  const { width: w, height: h, channels: c, data } = image;
  if (data.length !== w * h * c) {
    throw new Error(`image data has ${data.length} bytes, expected ${w}×${h}×${c}`);
  }
  const out = new Float32Array(size * size * 3);
  const sy = h / size, sx = w / size;
  for (let y = 0; y < size; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, h - 1), wy = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, w - 1), wx = fx - x0;
      for (let k = 0; k < 3; k++) {
        const ch = c === 1 ? 0 : k;
        const a = data[(y0 * w + x0) * c + ch], b = data[(y0 * w + x1) * c + ch];
        const d = data[(y1 * w + x0) * c + ch], e = data[(y1 * w + x1) * c + ch];
        const v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
        out[(y * size + x) * 3 + k] = v / 255;
      }
    }
  }
  return out;
}

/** The centre view only: resize to the extractor's side, no augmentation. */
export const CENTRE_VIEW: ViewPipeline = {
  key: "centre:bilinear-halfpixel:rgb01",
  augments: false,
  render: (image, size) => resizeToRgb(image, size),
};

/**
 * Pre-processing and augmentation parameters (lib/data/augment.ts; from the data section with
 * `augmentParams` of lib/data/config.ts) as a view pipeline: view 0 is their centre view
 * (`centreDraw`: resize, centre crop, no randomness), view v ≥ 1 the random draw keyed by
 * (view seed, epoch = v), both rendered at the side asked for (`size`, the extractor's). The key is
 * every parameter (canonical JSON), so changing any setting invalidates the cache; views ≥ 1
 * augment when augmentation is on (`randomCrop`, which `augmentParams` sets from
 * `data.augment.enabled`).
 */
export function augmentPipeline(p: AugmentParams): ViewPipeline {
  return {
    key: `augment:${canonicalJson(p)}`,
    augments: p.randomCrop !== false,
    render(image, size, view, seed) {
      const q = { ...p, outputSize: size };
      const draw = view === 0 ? centreDraw(q) : drawAugment(q, { seed, epoch: view, sample: 0 });
      return applyAugment(image, q, draw);
    },
  };
}

/**
 * `p` with every view mirrored left to right (the test-time flip of `grefel eval --tta flip`): the
 * same render, then each row of the `size × size` RGB image reversed. Its key is `p`'s plus
 * `|mirror-x`, so its cache never collides with the unmirrored one.
 */
export function mirroredPipeline(p: ViewPipeline): ViewPipeline {
  return {
    key: `${p.key}|mirror-x`,
    augments: p.augments,
    render(image, size, view, seed) {
      const rgb = p.render(image, size, view, seed);
      const out = new Float32Array(rgb.length);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const from = (y * size + x) * 3, to = (y * size + size - 1 - x) * 3;
          out[to] = rgb[from];
          out[to + 1] = rgb[from + 1];
          out[to + 2] = rgb[from + 2];
        }
      }
      return out;
    },
  };
}

/** Options of {@linkcode buildFeatureCache}. */
export interface FeatureCacheOptions {
  /** Parent directory of caches (default `results/cache`). */
  dir?: string;
  /**
   * Token grid side per scale, finest first, for both streams (default `[7, 7, 7]`); or six sides,
   * landmark 1–3 then image 1–3, where the streams differ ({@linkcode CacheGrid}).
   */
  grid?: CacheGrid;
  /** Value storage (default `uint8`). */
  storage?: CacheStorage;
  /** Views per image (default 1: the centre view only). */
  views?: number;
  /** Pre-processing / augmentation (default {@linkcode CENTRE_VIEW}). */
  pipeline?: ViewPipeline;
  /** Seed of the augmented views (default 0). */
  seed?: number;
  /** Samples per shard (default 512). */
  shardSize?: number;
  /** Images per extractor call (default 16). */
  batchSize?: number;
  /**
   * Worker threads running the extractor (default 0: in this thread). Workers load the extractor
   * by its registry name, so it must be registered (lib/extractors/registry.ts).
   */
  workers?: number;
  /** Show a progress bar with ETA on stderr (default true). */
  progress?: boolean;
  /** Called after each shard is finished (for tests and logging). */
  onShard?: (info: { shard: number; computed: boolean }) => void;
  /** Stop (throw) after computing this many shards (tests of resumption). */
  stopAfterShards?: number;
  /**
   * What the images are beyond their ids, for data sets whose folder name alone does not say it
   * (another root of the same kind, other generator settings): part of the key when given, so two
   * such data sets get two cache folders instead of deleting each other's shards. Absent for a
   * kind at its default root, which keeps the folder names caches were built under.
   */
  source?: string;
}

/** The extractor properties a cache key depends on. */
export type CacheKeyExtractor = Pick<
  FeatureExtractor,
  "name" | "version" | "inputSize" | "landmarkShape" | "imageShape"
>;

/**
 * The key of a feature cache and what it is made of (`params`, recorded in `index.json`): the
 * cache folder is `<dir>/<dataset name>-<key>`. See the module doc.
 */
export function featureCacheKey(
  extractor: CacheKeyExtractor,
  opts: Pick<
    FeatureCacheOptions,
    "grid" | "storage" | "views" | "pipeline" | "seed" | "shardSize" | "source"
  > = {},
): { key: string; params: Record<string, unknown> } {
  const views = opts.views ?? 1;
  const params: Record<string, unknown> = {
    format: CACHE_FORMAT,
    extractor: extractor.name,
    extractorVersion: extractor.version ?? 0,
    inputSize: extractor.inputSize,
    shapes: shapesOf(extractor),
    grid: opts.grid ?? [7, 7, 7],
    storage: opts.storage ?? "uint8",
    views,
    seed: views > 1 ? opts.seed ?? 0 : 0,
    pipeline: (opts.pipeline ?? CENTRE_VIEW).key,
    shardSize: opts.shardSize ?? 512,
  };
  if (opts.source !== undefined) params.source = opts.source;
  return { key: sha256(JSON.stringify(params)).slice(0, 16), params };
}

/**
 * Token grid sides: three (one per scale, both streams) or six (landmark 1–3, then image 1–3).
 * Three sides keep the cache keys of caches built before per-stream sides existed.
 */
export type CacheGrid =
  | [number, number, number]
  | [number, number, number, number, number, number];

/** Grid side of map `m` (landmark 1–3 are 0–2, image 1–3 are 3–5) under `grid`. */
export function mapSide(grid: readonly number[], m: number): number {
  return grid.length === 6 ? grid[m] : grid[m % 3];
}

/** Layout of one record: the six pooled maps. */
export interface RecordLayout {
  /** Token grid sides ({@linkcode CacheGrid}; {@linkcode mapSide} reads map m's). */
  grid: CacheGrid;
  /** Channels per map: landmark 1–3 then image 1–3. */
  channels: number[];
  /** Storage type. */
  storage: CacheStorage;
  /** Values per map (`g² · C`). */
  sizes: number[];
  /** Byte offset of each map block inside a record. */
  offsets: number[];
  /** Bytes per record (one view of one image). */
  bytes: number;
}

/** Computes the record layout for an extractor's channels, a grid and a storage type. */
export function recordLayout(
  landmarkShape: StreamShape,
  imageShape: StreamShape,
  grid: CacheGrid,
  storage: CacheStorage,
): RecordLayout {
  if (grid.length !== 3 && grid.length !== 6) {
    throw new Error(`feature cache: grid needs 3 or 6 sides, got [${grid}]`);
  }
  const channels = [...landmarkShape, ...imageShape].map(([, c]) => c);
  const sizes = channels.map((c, i) => mapSide(grid, i) ** 2 * c);
  const offsets: number[] = [];
  let o = 0;
  for (let i = 0; i < 6; i++) {
    offsets.push(o);
    // uint8: C float16 mins + C float16 steps + values; float16: values.
    o += storage === "uint8" ? 4 * channels[i] + sizes[i] : 2 * sizes[i];
    o += o % 2; // keep float16 blocks 2-byte aligned
  }
  return { grid, channels, storage, sizes, offsets, bytes: o };
}

/**
 * Adaptive average pooling matrix `[g, s]` (PyTorch `AdaptiveAvgPool` bins: row i averages
 * `floor(i·s/g) … ceil((i+1)·s/g) − 1`).
 */
export function poolMatrix(s: number, g: number): Float32Array {
  const m = new Float32Array(g * s);
  for (let i = 0; i < g; i++) {
    const a = Math.floor((i * s) / g), b = Math.ceil(((i + 1) * s) / g);
    for (let j = a; j < b; j++) m[i * s + j] = 1 / (b - a);
  }
  return m;
}

/** Adaptive average pool of `[B, s, s, C]` to `[B, g, g, C]` (avgPool when `g` divides `s`). */
export function adaptivePool(x: Tensor4D, g: number): Tensor4D {
  const [b, s, s2, c] = x.shape;
  if (s !== s2) throw new Error(`adaptivePool: expected square maps, got [${x.shape}]`);
  if (s === g) return x.clone();
  if (s % g === 0) return tf.avgPool(x, s / g, s / g, "valid");
  return tf.tidy(() => {
    const p = tf.tensor2d(poolMatrix(s, g), [g, s]);
    const pb = tf.broadcastTo(p, [b, g, s]) as Tensor3D;
    const rows = tf.matMul(pb, tf.reshape(x, [b, s, s * c]) as Tensor3D); // [B, g, s·C]
    const t = tf.transpose(tf.reshape(rows, [b, g, s, c]), [0, 1, 3, 2]); // [B, g, C, s]
    const cols = tf.matMul(tf.reshape(t, [b, g * c, s]) as Tensor3D, pb, false, true); // [B, g·C, g]
    return tf.transpose(tf.reshape(cols, [b, g, c, g]), [0, 1, 3, 2]) as Tensor4D; // [B, g, g, C]
  });
}

/** Encodes one map's pooled values (`n` tokens × `c` channels, HWC) into `dst` at `off`. */
function encodeBlock(
  src: Float32Array,
  srcOff: number,
  n: number,
  c: number,
  storage: CacheStorage,
  dst: Uint8Array,
  off: number,
): void {
  if (storage === "float16") {
    const v = new Float16Array(dst.buffer, dst.byteOffset + off, n * c);
    for (let i = 0; i < n * c; i++) v[i] = src[srcOff + i];
    return;
  }
  const mins = new Float16Array(dst.buffer, dst.byteOffset + off, c);
  const steps = new Float16Array(dst.buffer, dst.byteOffset + off + 2 * c, c);
  const q = dst.subarray(off + 4 * c, off + 4 * c + n * c);
  const lo = new Float32Array(c).fill(Infinity), hi = new Float32Array(c).fill(-Infinity);
  for (let t = 0; t < n; t++) {
    for (let k = 0; k < c; k++) {
      const v = src[srcOff + t * c + k];
      if (!Number.isFinite(v)) throw new Error(`feature cache: non-finite feature value ${v}`);
      if (v < lo[k]) lo[k] = v;
      if (v > hi[k]) hi[k] = v;
    }
  }
  for (let k = 0; k < c; k++) {
    mins[k] = lo[k];
    steps[k] = (hi[k] - mins[k]) / 255;
    // float16 rounding of min/step: use the stored values so decode matches encode.
    lo[k] = mins[k];
    hi[k] = steps[k] > 0 ? 1 / steps[k] : 0;
  }
  for (let t = 0; t < n; t++) {
    for (let k = 0; k < c; k++) {
      const r = Math.round((src[srcOff + t * c + k] - lo[k]) * hi[k]);
      q[t * c + k] = r < 0 ? 0 : r > 255 ? 255 : r;
    }
  }
}

/** Decodes one map block into `dst` (float32) at `dstOff`. */
function decodeBlock(
  src: Uint8Array,
  off: number,
  n: number,
  c: number,
  storage: CacheStorage,
  dst: Float32Array,
  dstOff: number,
): void {
  if (storage === "float16") {
    dst.set(new Float16Array(src.buffer, src.byteOffset + off, n * c), dstOff);
    return;
  }
  const mins = new Float16Array(src.buffer, src.byteOffset + off, c);
  const steps = new Float16Array(src.buffer, src.byteOffset + off + 2 * c, c);
  const lo = Float32Array.from(mins), st = Float32Array.from(steps);
  const q = src.subarray(off + 4 * c, off + 4 * c + n * c);
  for (let t = 0; t < n; t++) {
    const o = dstOff + t * c;
    for (let k = 0; k < c; k++) dst[o + k] = lo[k] + q[t * c + k] * st[k];
  }
}

/** Decodes the record at byte `at` of `src` into row `b` of the six per-map float32 buffers. */
function decodeRecord(
  src: Uint8Array,
  at: number,
  L: RecordLayout,
  bufs: Float32Array[],
  b: number,
): void {
  for (let m = 0; m < 6; m++) {
    const n = mapSide(L.grid, m) ** 2;
    decodeBlock(src, at + L.offsets[m], n, L.channels[m], L.storage, bufs[m], b * L.sizes[m]);
  }
}

/**
 * Decodes `rows` consecutive records ({@linkcode FeatureCache.readRecords}) to the six maps'
 * float32 values, row-major `[rows, g_i, g_i, C_i]` (landmark 1–3, then image 1–3): the values
 * `readBatch` makes its tensors from. `into` (six buffers of exactly these sizes) is reused when
 * given, so a caller whose tensors copy their values (wasm) can avoid fresh allocations.
 * @throws RangeError when `records` does not hold `rows` records of `layout`.
 */
export function decodeRecords(
  records: Uint8Array,
  layout: RecordLayout,
  rows: number,
  into?: Float32Array[],
): Float32Array[] {
  if (records.length !== rows * layout.bytes) {
    throw new RangeError(
      `feature cache: ${records.length} bytes are not ${rows} records of ${layout.bytes}`,
    );
  }
  const fits = into?.length === 6 && into.every((b, m) => b.length === rows * layout.sizes[m]);
  const bufs = fits ? into! : layout.sizes.map((n) => new Float32Array(rows * n));
  for (let b = 0; b < rows; b++) decodeRecord(records, b * layout.bytes, layout, bufs, b);
  return bufs;
}

/**
 * Encodes `rows` samples' pooled maps (six float32 buffers, row-major `[rows, g_i, g_i, C_i]`,
 * landmark 1–3 then image 1–3, as {@linkcode decodeRecords} returns them) into records of
 * `layout`: what the cache stores for them (benchmarks and tests feed such records to the
 * data-parallel workers, as a cache-backed run does).
 * @throws RangeError when a buffer does not hold `rows` samples of its map.
 */
export function encodeRecords(
  maps: readonly Float32Array[],
  layout: RecordLayout,
  rows: number,
): Uint8Array {
  if (maps.length !== 6 || maps.some((m, i) => m.length !== rows * layout.sizes[i])) {
    throw new RangeError(
      `feature cache: expected six maps of ${rows} × [${layout.sizes}] values, got [${
        maps.map((m) => m.length)
      }]`,
    );
  }
  const out = new Uint8Array(rows * layout.bytes);
  for (let b = 0; b < rows; b++) {
    for (let i = 0; i < 6; i++) {
      const n = mapSide(layout.grid, i) ** 2;
      encodeBlock(
        maps[i],
        b * layout.sizes[i],
        n,
        layout.channels[i],
        layout.storage,
        out,
        b * layout.bytes + layout.offsets[i],
      );
    }
  }
  return out;
}

/**
 * Runs the extractor on a batch, pools every map to the grid and encodes the records.
 * Shared by the in-thread build and the worker threads (cache_worker.ts).
 */
export async function encodeBatch(
  extractor: FeatureExtractor,
  layout: RecordLayout,
  pixels: Float32Array,
  count: number,
): Promise<Uint8Array> {
  const s = extractor.inputSize;
  const pooled = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [count, s, s, 3]);
    const maps = extractor.extract(x);
    return [...maps.landmark, ...maps.image].map((m, i) =>
      adaptivePool(m, mapSide(layout.grid, i))
    );
  });
  try {
    const vals = await Promise.all(pooled.map((p) => p.data() as Promise<Float32Array>));
    return encodeRecords(vals, layout, count);
  } finally {
    tf.dispose(pooled);
  }
}

/** SHA-1 hex of bytes (content hashes). */
function sha1(data: Uint8Array): string {
  return createHash("sha1").update(data).digest("hex");
}

/** Seed of view `view` of sample `id` under the cache seed (stable across runs and orders). */
export function viewSeed(seed: number, id: string, view: number): number {
  return fnv1a(`${seed}:${view}:${id}`);
}

/** Content hash of a sample: SHA-1 of its file, or of its decoded pixels when it has no file. */
export async function contentHash(ds: LoadedDataset, sample: DatasetSample): Promise<string> {
  if (sample.path) {
    try {
      return sha1(await Deno.readFile(sample.path));
    } catch (e) {
      throw new Error(`feature cache: cannot read ${sample.path}: ${(e as Error).message}`);
    }
  }
  const img = await ds.loadImage(sample);
  return createHash("sha1").update(`${img.width}x${img.height}x${img.channels}:`).update(img.data)
    .digest("hex");
}

/** What `index.json` holds. */
export interface CacheIndex {
  /** {@linkcode CACHE_FORMAT}. */
  format: number;
  /** Hash of {@linkcode CacheIndex.params}. */
  key: string;
  /** Everything the key is made of. */
  params: Record<string, unknown>;
  /** Record layout. */
  layout: RecordLayout;
  /** Views per sample. */
  views: number;
  /** Samples per shard. */
  shardSize: number;
  /** Finished shards. */
  shards: ShardEntry[];
}

/** One finished shard. */
export interface ShardEntry {
  /** Shard number (samples `shard·shardSize …`). */
  shard: number;
  /** File name inside the cache directory. */
  file: string;
  /** Samples in the shard. */
  count: number;
  /** File size in bytes. */
  bytes: number;
  /** SHA-256 of the file. */
  sha256: string;
  /** Modification time (ms since the epoch) of the file when its SHA-256 was last checked. */
  mtimeMs?: number;
  /**
   * Fingerprint of the shard's image files as they were when their content hashes were computed
   * (ids, paths, sizes, modification times); absent when a sample has no file.
   */
  stat?: string;
}

/** Model inputs `[B, g_i, g_i, C_i]` over decoded maps (landmark 1–3, image 1–3; not copied). */
function inputsFromBuffers(bufs: Float32Array[], L: RecordLayout, B: number): GrefelInputs {
  const t = bufs.map((buf, m) => {
    const g = mapSide(L.grid, m);
    return tf.tensor4d(buf, [B, g, g, L.channels[m]]);
  });
  return { landmark: [t[0], t[1], t[2]], image: [t[3], t[4], t[5]] } as FeatureMaps;
}

/**
 * What a split reads its samples' views from: a {@linkcode FeatureCache}, or caches of the same
 * samples whose views interleave ({@linkcode InterleavedViews}).
 */
export interface ViewSource {
  /** Record layout. */
  readonly layout: RecordLayout;
  /** Views per sample. */
  readonly views: number;
  /** Sample ids, in order. */
  readonly ids: readonly string[];
  /** Hard labels, in order. */
  readonly labels: Int32Array;
  /** Group ids, when the data set has them. */
  readonly groups: readonly (string | undefined)[];
  /** Decodes records to model inputs; `view` is one view for all or one per index. */
  readBatch(indices: number[], view?: number | number[]): GrefelInputs;
  /** The stored records of `indices`, undecoded, in index order. */
  readRecords(indices: number[], view?: number | number[]): Uint8Array;
}

/**
 * Caches of the same samples read as one whose views interleave: view v is view ⌊v / n⌋ of cache
 * v mod n. `train.mirrorViews` reads a run's own training cache and its mirror
 * ({@linkcode mirroredPipeline}, the same views and draws) this way, so each view is followed by
 * its exact mirror and the centre views are the cache that runs without mirrored views read: a
 * mirrored run extracts only its mirrors.
 */
export class InterleavedViews implements ViewSource {
  /** Record layout (every part's). */
  readonly layout: RecordLayout;
  /** Views per sample: the parts' views summed. */
  readonly views: number;
  /** Sample ids, in order (every part's). */
  readonly ids: readonly string[];
  /** Hard labels, in order. */
  readonly labels: Int32Array;
  /** Group ids, when the data set has them. */
  readonly groups: readonly (string | undefined)[];

  /** The caches, in view order: view v of the whole is view ⌊v / n⌋ of part v mod n. */
  readonly parts: readonly FeatureCache[];

  /**
   * Reads `parts` as one.
   * @throws Error naming the part that differs when the parts do not hold the same samples in the
   *   same order, with the same record layout and the same number of views.
   */
  constructor(parts: readonly FeatureCache[]) {
    this.parts = parts;
    if (parts.length < 1) throw new Error("interleaved views need at least one cache");
    const [first] = parts;
    for (const p of parts.slice(1)) {
      const same = p.ids.length === first.ids.length && p.ids.every((id, i) => id === first.ids[i]);
      if (!same) throw new Error(`cache ${p.dir} holds other samples than ${first.dir}`);
      if (canonicalJson(p.layout) !== canonicalJson(first.layout)) {
        throw new Error(`cache ${p.dir} has another record layout than ${first.dir}`);
      }
      if (p.views !== first.views) {
        throw new Error(`cache ${p.dir} has ${p.views} views, ${first.dir} ${first.views}`);
      }
    }
    this.layout = first.layout;
    this.views = first.views * parts.length;
    this.ids = first.ids;
    this.labels = first.labels;
    this.groups = first.groups;
  }

  /**
   * The stored records of `indices`, undecoded, in index order (`B × layout.bytes` bytes).
   * @throws RangeError for an index or view out of range.
   */
  readRecords(indices: number[], view: number | number[] = 0): Uint8Array {
    const n = this.parts.length, bytes = this.layout.bytes;
    const out = new Uint8Array(indices.length * bytes);
    const slots: number[][] = this.parts.map(() => []);
    indices.forEach((_, b) => {
      const v = Array.isArray(view) ? view[b] : view;
      if (!Number.isInteger(v) || v < 0 || v >= this.views) {
        throw new RangeError(`feature cache: view ${v} out of range [0, ${this.views})`);
      }
      slots[v % n].push(b);
    });
    slots.forEach((bs, c) => {
      if (!bs.length) return;
      const part = this.parts[c].readRecords(
        bs.map((b) => indices[b]),
        bs.map((b) => Math.floor((Array.isArray(view) ? view[b] : view) / n)),
      );
      bs.forEach((b, k) => out.set(part.subarray(k * bytes, (k + 1) * bytes), b * bytes));
    });
    return out;
  }

  /**
   * Decodes records to float32 model inputs `[B, g_i, g_i, C_i]`. The caller disposes them.
   * @throws RangeError for an index or view out of range.
   */
  readBatch(indices: number[], view: number | number[] = 0): GrefelInputs {
    const B = indices.length;
    return inputsFromBuffers(
      decodeRecords(this.readRecords(indices, view), this.layout, B),
      this.layout,
      B,
    );
  }
}

/**
 * A built feature cache, read from its shard files on demand. Indices are positions in
 * `dataset.samples` at build time.
 */
export class FeatureCache implements ViewSource {
  /** Directory of the cache. */
  readonly dir: string;
  /** The cache key. */
  readonly key: string;
  /** Record layout. */
  readonly layout: RecordLayout;
  /** Views per sample. */
  readonly views: number;
  /** Sample ids, in order. */
  readonly ids: string[];
  /** Hard labels, in order. */
  readonly labels: Int32Array;
  /** Soft labels (vote distributions), when the data set has them. */
  readonly soft: (number[] | undefined)[];
  /** Group ids, when the data set has them. */
  readonly groups: (string | undefined)[];
  /** Class names of the data set. */
  readonly classNames: string[];
  /** Landmark stream shapes of what `readBatch` returns (`[grid, channels]`). */
  readonly landmarkShape: StreamShape;
  /** Image stream shapes of what `readBatch` returns. */
  readonly imageShape: StreamShape;
  readonly #shards: string[];
  readonly #shardSize: number;
  readonly #seed: number;
  #record: Uint8Array;
  #staging: { batch: number; bufs: Float32Array[] } | null = null;

  /** @internal use {@linkcode buildFeatureCache}. */
  constructor(
    dir: string,
    index: CacheIndex,
    dataset: LoadedDataset,
    shards: string[],
    seed: number,
  ) {
    this.dir = dir;
    this.key = index.key;
    this.layout = index.layout;
    this.views = index.views;
    this.#shardSize = index.shardSize;
    this.#shards = shards;
    this.#seed = seed;
    this.#record = new Uint8Array(index.layout.bytes);
    this.ids = dataset.samples.map((s) => s.id);
    this.labels = Int32Array.from(dataset.samples.map((s) => s.label));
    this.soft = dataset.samples.map((s) => s.soft);
    this.groups = dataset.samples.map((s) => s.group);
    this.classNames = [...dataset.classNames];
    const g = (m: number) => mapSide(index.layout.grid, m), c = index.layout.channels;
    this.landmarkShape = [[g(0), c[0]], [g(1), c[1]], [g(2), c[2]]];
    this.imageShape = [[g(3), c[3]], [g(4), c[4]], [g(5), c[5]]];
  }

  /** Number of samples. */
  get size(): number {
    return this.ids.length;
  }

  /** Paths of the shard files, in shard order. */
  get shardFiles(): readonly string[] {
    return this.#shards;
  }

  /**
   * The view a sample uses in an epoch: 0 with one view; otherwise uniform over all views,
   * deterministic in (seed, epoch, index).
   */
  viewFor(index: number, epoch: number): number {
    if (this.views === 1) return 0;
    return fnv1a(`${this.#seed}:${epoch}:${index}`) % this.views;
  }

  /**
   * Decodes records to float32 model inputs `[B, g_i, g_i, C_i]`. The caller disposes them.
   * @param view one view for all, or one per index (default 0, the centre view).
   * @throws RangeError for an index or view out of range.
   */
  readBatch(indices: number[], view: number | number[] = 0): GrefelInputs {
    const L = this.layout;
    const B = indices.length;
    const bufs = this.#buffers(B);
    const rec = this.#record;
    this.#readEach(indices, view, (b) => {
      decodeRecord(rec, 0, L, bufs, b);
      return rec;
    });
    return inputsFromBuffers(bufs, L, B);
  }

  /**
   * The stored records of `indices`, undecoded: `B × layout.bytes` bytes in index order, for
   * {@linkcode decodeRecords} elsewhere (data-parallel workers decode their own shares).
   * @param view one view for all, or one per index (default 0, the centre view).
   * @throws RangeError for an index or view out of range.
   */
  readRecords(indices: number[], view: number | number[] = 0): Uint8Array {
    const bytes = this.layout.bytes;
    const out = new Uint8Array(indices.length * bytes);
    this.#readEach(indices, view, () => null, (b) => out.subarray(b * bytes, (b + 1) * bytes));
    return out;
  }

  /**
   * Reads the record of each index (grouped by shard: one open per shard, one positional read per
   * record) into `target(b)` (default: the shared record buffer) and calls `done(b)` after each.
   */
  #readEach(
    indices: number[],
    view: number | number[],
    done: (b: number) => unknown,
    target: (b: number) => Uint8Array = () => this.#record,
  ): void {
    const L = this.layout;
    const views = indices.map((i, b) => {
      const v = Array.isArray(view) ? view[b] : view;
      if (!Number.isInteger(i) || i < 0 || i >= this.size) {
        throw new RangeError(`feature cache: sample index ${i} out of range [0, ${this.size})`);
      }
      if (!Number.isInteger(v) || v < 0 || v >= this.views) {
        throw new RangeError(`feature cache: view ${v} out of range [0, ${this.views})`);
      }
      return v;
    });
    const byShard = new Map<number, number[]>();
    indices.forEach((i, b) => {
      const s = Math.floor(i / this.#shardSize);
      byShard.get(s)?.push(b) ?? byShard.set(s, [b]);
    });
    for (const [s, slots] of byShard) {
      const fd = openSync(this.#shards[s], "r");
      try {
        for (const b of slots) {
          const rec = target(b);
          const pos = ((indices[b] % this.#shardSize) * this.views + views[b]) * L.bytes;
          let got = 0;
          while (got < L.bytes) {
            const n = readSync(fd, rec, got, L.bytes - got, pos + got);
            if (n <= 0) {
              throw new Error(
                `feature cache: ${this.#shards[s]} ends before record ${indices[b]} ` +
                  `(read ${got} of ${L.bytes} bytes at ${pos}); delete the file to rebuild it`,
              );
            }
            got += n;
          }
          done(b);
        }
      } finally {
        closeSync(fd);
      }
    }
  }

  /**
   * Float32 buffers for a batch of `B` records, one per map. The wasm backend copies a tensor's
   * values into its heap when the tensor is made, so there the buffers are reused from call to
   * call (a fresh 30 MB buffer per batch costs more in page faults than the decode itself); other
   * backends may keep a reference to the array, so they get new ones.
   */
  #buffers(B: number): Float32Array[] {
    const fresh = () => this.layout.sizes.map((n) => new Float32Array(B * n));
    if (tf.getBackend() !== "wasm") return fresh();
    if (this.#staging?.batch !== B) this.#staging = { batch: B, bufs: fresh() };
    return this.#staging.bufs;
  }
}

function shapesOf(x: Pick<FeatureExtractor, "landmarkShape" | "imageShape">): string {
  return JSON.stringify([x.landmarkShape, x.imageShape]);
}

/**
 * Builds (or resumes, or just loads) the feature cache of `dataset` under `extractor`.
 *
 * Images are read and rendered here; the extractor runs in this thread or in `workers` worker
 * threads. Finished shards are verified (size and SHA-256) and reused; missing, stale, truncated or
 * corrupt ones are recomputed. Images that fail to decode are an error naming the file (the loaders
 * already count and list unreadable files, so a failure here means the data changed under us).
 */
export async function buildFeatureCache(
  dataset: LoadedDataset,
  extractor: FeatureExtractor,
  opts: FeatureCacheOptions = {},
): Promise<FeatureCache> {
  const grid: CacheGrid = opts.grid ?? [7, 7, 7];
  const storage = opts.storage ?? "uint8";
  const views = opts.views ?? 1;
  const pipeline = opts.pipeline ?? CENTRE_VIEW;
  const seed = opts.seed ?? 0;
  const shardSize = opts.shardSize ?? 512;
  const batchSize = opts.batchSize ?? 16;
  const workers = opts.workers ?? 0;
  if (
    (grid.length !== 3 && grid.length !== 6) || !grid.every((g) => Number.isInteger(g) && g >= 1)
  ) {
    throw new Error(`feature cache: grid must be 3 or 6 positive integers, got [${grid}]`);
  }
  if (!Number.isInteger(views) || views < 1) {
    throw new Error(`feature cache: views must be an integer ≥ 1, got ${views}`);
  }
  if (views > 1 && !pipeline.augments) {
    throw new Error(
      `feature cache: views = ${views} needs an augmenting pipeline (got "${pipeline.key}")`,
    );
  }
  if (!Number.isInteger(shardSize) || shardSize < 1) {
    throw new Error(`feature cache: shardSize must be an integer ≥ 1, got ${shardSize}`);
  }
  const layout = recordLayout(extractor.landmarkShape, extractor.imageShape, grid, storage);
  const { key, params } = featureCacheKey(extractor, {
    grid,
    storage,
    views,
    pipeline,
    seed,
    shardSize,
    source: opts.source,
  });
  const dir = join(opts.dir ?? join("results", "cache"), `${dataset.name}-${key}`);
  await Deno.mkdir(dir, { recursive: true });
  const indexPath = join(dir, "index.json");
  const oldText = await Deno.readTextFile(indexPath).catch(() => null);
  // An unreadable or corrupt index is no index: the cache is rebuilt.
  const old = await readJsonIfExists<CacheIndex>(indexPath).catch(() => null);
  // Taken before the first write (see Writers in the module doc), released at the end.
  const writer: { lock: FileLock | null } = { lock: null };
  const lockOpts = {
    purpose: `feature cache ${dir}`,
    hint: "one process at a time builds a cache: let that build finish, or build the caches " +
      "before starting parallel runs (grefel run-index MANIFEST --build-cache; a local " +
      "grefel sweep builds them first)",
  };
  const done = new Map<string, ShardEntry>();
  const byShard = new Map<number, ShardEntry>();
  if (old && old.key === key) {
    for (const e of old.shards) {
      done.set(e.file, e);
      byShard.set(e.shard, e);
    }
  }

  const samples = dataset.samples;
  const nShards = Math.ceil(samples.length / shardSize);
  const index: CacheIndex = {
    format: CACHE_FORMAT,
    key,
    params,
    layout,
    views,
    shardSize,
    shards: [],
  };
  const shards: string[] = new Array(nShards);
  const finished: ShardEntry[] = [];
  const progress = opts.progress ?? true;
  const bar = progress
    ? new cliProgress.SingleBar({
      format: `feature cache ${dataset.name} [{bar}] {percentage}% | {value}/{total} images | ` +
        `{speed} img/s | ETA {eta_formatted} | elapsed {duration_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 15000,
      etaBuffer: 2000,
      stream: process.stderr,
    }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(samples.length, 0, { speed: "-" });
  const t0 = performance.now();
  let computedImages = 0;
  let computedShards = 0;
  const pool = workers > 0 ? await WorkerPool.start(workers, extractor.name, layout) : null;
  try {
    for (let s = 0; s < nShards; s++) {
      const part = samples.slice(s * shardSize, (s + 1) * shardSize);
      const stat = imagesStat(part);
      const file = await shardFileName(dataset, part, s, key, stat, byShard.get(s));
      const path = join(dir, file);
      const expectBytes = part.length * views * layout.bytes;
      const prev = done.get(file);
      const checked = prev && prev.bytes === expectBytes ? await checkShard(path, prev) : null;
      const computed = checked === null;
      let entry: ShardEntry;
      if (computed) {
        if (opts.stopAfterShards !== undefined && computedShards >= opts.stopAfterShards) {
          throw new Error(
            `feature cache: stopped after ${computedShards} shards (stopAfterShards)`,
          );
        }
        writer.lock ??= await acquireLock(`${dir}.lock`, lockOpts);
        const bytes = await computeShard(dataset, part, extractor, layout, pipeline, views, seed, {
          batchSize,
          pool,
          onImages: (n) => {
            computedImages += n;
            const el = (performance.now() - t0) / 1000;
            bar?.increment(n, { speed: (computedImages / el).toFixed(1) });
          },
        });
        await writeFileAtomic(path, bytes);
        computedShards++;
        const mtimeMs = (await Deno.stat(path)).mtime?.getTime();
        entry = {
          shard: s,
          file,
          count: part.length,
          bytes: bytes.byteLength,
          sha256: sha256(bytes),
        };
        if (mtimeMs !== undefined) entry.mtimeMs = mtimeMs;
      } else {
        bar?.increment(part.length, { speed: "cached" });
        entry = { ...checked!, shard: s, count: part.length };
      }
      if (stat !== null) entry.stat = stat;
      else delete entry.stat;
      shards[s] = path;
      finished.push(entry);
      if (computed) {
        // Keep the old entries of shards not reached yet, so a second interruption loses nothing.
        const later = [...done.values()].filter((e) => e.shard > s && e.shard < nShards);
        index.shards = [...finished, ...later];
        await writeFileAtomic(indexPath, JSON.stringify(index, null, 1));
      }
      opts.onShard?.({ shard: s, computed });
    }
    index.shards = finished;
    const text = JSON.stringify(index, null, 1);
    // Stale shards (content changed) and leftovers of interrupted writes.
    const keep = new Set(index.shards.map((e) => e.file));
    const extra: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name !== "index.json" && !keep.has(e.name)) extra.push(e.name);
    }
    // A complete, tidy cache is only read. Otherwise rewrite and tidy it, unless it computed
    // nothing and another process is writing it now (that process will).
    if (writer.lock || text !== oldText || extra.length) {
      writer.lock ??= await tryAcquireLock(`${dir}.lock`, lockOpts);
      if (writer.lock) {
        await writeFileAtomic(indexPath, text);
        for (const name of extra) await Deno.remove(join(dir, name)).catch(() => {});
      }
    }
  } finally {
    bar?.stop();
    pool?.close();
    await writer.lock?.release();
  }
  return new FeatureCache(dir, index, dataset, shards, seed);
}

/**
 * Fingerprint of the image files of a shard's samples (id, path, size, modification time), or
 * null when a sample has no file or a file cannot be read (then the content hashes decide).
 */
function imagesStat(part: DatasetSample[]): string | null {
  const lines: string[] = [];
  for (const p of part) {
    if (!p.path) return null;
    try {
      const st = Deno.statSync(p.path);
      lines.push(`${p.id}\t${p.path}\t${st.size}\t${st.mtime?.getTime() ?? "?"}`);
    } catch {
      return null;
    }
  }
  return sha256(lines.join("\n"));
}

/**
 * The file name of shard `s`: `shard-<s>-<hash of the cache key, ids and content hashes>.bin`.
 * When the index's entry for the shard recorded the same image-file fingerprint, its file name is
 * taken as it is (the files are unchanged, so are their content hashes); otherwise every image
 * is hashed.
 */
async function shardFileName(
  dataset: LoadedDataset,
  part: DatasetSample[],
  s: number,
  key: string,
  stat: string | null,
  prev: ShardEntry | undefined,
): Promise<string> {
  if (stat !== null && prev?.stat === stat && prev.count === part.length) return prev.file;
  const hashes: string[] = [];
  for (const smp of part) hashes.push(await contentHash(dataset, smp));
  const shardKey = sha256(key + "\n" + part.map((p, i) => `${p.id}\t${hashes[i]}`).join("\n"))
    .slice(0, 16);
  return `shard-${String(s).padStart(5, "0")}-${shardKey}.bin`;
}

/**
 * Checks a finished shard on disk against its index entry: its size, and its SHA-256 unless the
 * file's modification time is the one recorded when the checksum was last checked.
 * @returns the entry to record (with the current modification time), or null when the shard is
 *   missing or does not match (it is then rebuilt).
 */
async function checkShard(path: string, prev: ShardEntry): Promise<ShardEntry | null> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch {
    return null;
  }
  if (st.size !== prev.bytes) return null;
  const mtimeMs = st.mtime?.getTime();
  if (mtimeMs === undefined || mtimeMs !== prev.mtimeMs) {
    const b = await Deno.readFile(path).catch(() => null);
    if (!b || b.byteLength !== prev.bytes || sha256(b) !== prev.sha256) return null;
  }
  const entry: ShardEntry = { ...prev };
  if (mtimeMs !== undefined) entry.mtimeMs = mtimeMs;
  return entry;
}

interface ComputeOpts {
  batchSize: number;
  pool: WorkerPool | null;
  onImages: (n: number) => void;
}

async function computeShard(
  ds: LoadedDataset,
  part: DatasetSample[],
  extractor: FeatureExtractor,
  layout: RecordLayout,
  pipeline: ViewPipeline,
  views: number,
  seed: number,
  o: ComputeOpts,
): Promise<Uint8Array> {
  const S = extractor.inputSize;
  const px = S * S * 3;
  const out = new Uint8Array(part.length * views * layout.bytes);
  // Records are (sample, view) pairs in storage order; batches of them run through the extractor.
  const total = part.length * views;
  const pending: Promise<void>[] = [];
  for (let start = 0; start < total; start += o.batchSize) {
    const n = Math.min(o.batchSize, total - start);
    const pixels = new Float32Array(n * px);
    let lastSample = -1;
    let img: RawImage | null = null;
    for (let r = 0; r < n; r++) {
      const rec = start + r;
      const si = Math.floor(rec / views), v = rec % views;
      if (si !== lastSample) {
        img = await ds.loadImage(part[si]);
        lastSample = si;
      }
      const rgb = pipeline.render(img!, S, v, viewSeed(seed, part[si].id, v));
      if (rgb.length !== px) {
        throw new Error(
          `view pipeline "${pipeline.key}" returned ${rgb.length} values, want ${px}`,
        );
      }
      pixels.set(rgb, r * px);
    }
    const samplesDone = Math.floor((start + n) / views) - Math.floor(start / views);
    const job = (o.pool ? o.pool.encode(pixels, n) : encodeBatch(extractor, layout, pixels, n))
      .then((enc) => {
        out.set(enc, start * layout.bytes);
        o.onImages(samplesDone);
      });
    pending.push(job);
    // In-thread: wait at once. With workers: keep at most 2 batches per worker in flight.
    if (!o.pool) await job;
    else if (pending.length >= 2 * o.pool.size) await pending.shift();
  }
  await Promise.all(pending);
  return out;
}

/** Worker threads that each load the extractor by name and encode batches. */
class WorkerPool {
  readonly size: number;
  #workers: Worker[];
  #busy: number[];
  #next = 0;
  #waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();

  private constructor(workers: Worker[]) {
    this.#workers = workers;
    this.size = workers.length;
    this.#busy = workers.map(() => 0);
    workers.forEach((w) => {
      w.onmessage = (e: MessageEvent) => {
        const { id, bytes, error } = e.data;
        const p = this.#waiting.get(id);
        if (!p) return;
        this.#waiting.delete(id);
        if (error) p.reject(new Error(`feature cache worker: ${error}`));
        else p.resolve(bytes);
      };
      w.onerror = (e) => {
        e.preventDefault();
        for (const p of this.#waiting.values()) p.reject(new Error(`worker failed: ${e.message}`));
        this.#waiting.clear();
      };
    });
  }

  static async start(n: number, extractor: string, layout: RecordLayout): Promise<WorkerPool> {
    const backend = tf.getBackend();
    const url = new URL("./cache_worker.ts", import.meta.url).href;
    const ws = Array.from({ length: n }, () => new Worker(url, { type: "module" }));
    const ready = ws.map((w) =>
      new Promise<void>((resolve, reject) => {
        w.onmessage = (e: MessageEvent) => {
          if (e.data.ready) resolve();
          else reject(new Error(`feature cache worker: ${e.data.error}`));
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`feature cache worker failed to start: ${e.message}`));
        };
      })
    );
    for (const w of ws) w.postMessage({ init: { extractor, layout, backend } });
    try {
      await Promise.all(ready);
    } catch (e) {
      ws.forEach((w) => w.terminate());
      throw e;
    }
    return new WorkerPool(ws);
  }

  encode(pixels: Float32Array, count: number): Promise<Uint8Array> {
    const id = this.#next++;
    // Round-robin is enough: batches are equal-sized.
    const w = id % this.size;
    this.#busy[w]++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#workers[w].postMessage({ id, pixels, count }, [pixels.buffer]);
    }).finally(() => this.#busy[w]--);
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}
