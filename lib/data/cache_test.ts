import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert, assertClose, assertNoLeak } from "../testing.ts";
import { selectBackend } from "../backend.ts";
import type { FeatureExtractor, FeatureMaps } from "../extractors/types.ts";
import type { DatasetSample, LoadedDataset, RawImage } from "./types.ts";
import { augmentParams, dataConfigSchema } from "./config.ts";
import {
  adaptivePool,
  augmentPipeline,
  buildFeatureCache,
  type CacheGrid,
  CENTRE_VIEW,
  decodeRecords,
  encodeRecords,
  featureCacheKey,
  type FeatureCacheOptions,
  InterleavedViews,
  mapSide,
  mirroredPipeline,
  poolMatrix,
  recordLayout,
  resizeToRgb,
  type ViewPipeline,
} from "./cache.ts";

/** A deterministic in-memory data set of `n` small gray images (no files). */
function fakeDataset(n: number, seed = 1): LoadedDataset & { images: RawImage[] } {
  const images: RawImage[] = [];
  const samples: DatasetSample[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(12 * 12);
    for (let p = 0; p < data.length; p++) data[p] = (p * 37 + i * 101 + seed * 7 + p * p * i) % 256;
    images.push({ width: 12, height: 12, channels: 1, data });
    samples.push({ id: `img${i}`, split: "train", label: i % 3 });
  }
  return {
    name: "fake",
    classNames: ["a", "b", "c"],
    samples,
    skipped: [],
    images,
    loadImage: (s) => Promise.resolve(images[Number(s.id.slice(3))]),
  };
}

/**
 * A tiny frozen "extractor": per map, average-pool the 8×8 input to the map side, then a fixed
 * linear map of the 3 channels to C channels (values of both signs). Counts the images it sees.
 */
function fakeExtractor(version = 1): FeatureExtractor & { seen: number } {
  const lm: [number, number][] = [[4, 2], [2, 3], [1, 4]];
  const im: [number, number][] = [[4, 3], [2, 2], [1, 5]];
  const weights = [...lm, ...im].map(([, c], i) =>
    tf.tensor2d(Array.from({ length: 3 * c }, (_, k) => Math.sin(1 + i * 13 + k * 3.1)), [3, c])
  );
  const ex = {
    name: "fake",
    version,
    inputSize: 8,
    landmarkShape: lm as FeatureExtractor["landmarkShape"],
    imageShape: im as FeatureExtractor["imageShape"],
    seen: 0,
    extract(x: tf.Tensor4D): FeatureMaps {
      ex.seen += x.shape[0];
      const maps = [...lm, ...im].map(([s, c], i) =>
        tf.tidy(() => {
          const p = tf.avgPool(x, 8 / s, 8 / s, "valid");
          return tf.reshape(tf.matMul(tf.reshape(p, [-1, 3]), weights[i]), [-1, s, s, c]);
        }) as tf.Tensor4D
      );
      return { landmark: [maps[0], maps[1], maps[2]], image: [maps[3], maps[4], maps[5]] };
    },
    dispose: () => tf.dispose(weights),
  };
  return ex;
}

/** An augmenting pipeline: view v > 0 flips horizontally and scales brightness by the seed. */
const FLIP_PIPELINE: ViewPipeline = {
  key: "test-flip-brightness",
  augments: true,
  render(image, size, view, seed) {
    const rgb = resizeToRgb(image, size);
    if (view === 0) return rgb;
    const out = new Float32Array(rgb.length);
    const gain = 0.5 + (seed % 1000) / 2000;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let k = 0; k < 3; k++) {
          out[(y * size + x) * 3 + k] = gain * rgb[(y * size + (size - 1 - x)) * 3 + k];
        }
      }
    }
    return out;
  },
};

async function tmpDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "grefel_cache_test_" });
}

function opts(dir: string, extra: Partial<FeatureCacheOptions> = {}): FeatureCacheOptions {
  return { dir, grid: [2, 2, 1], shardSize: 4, batchSize: 3, progress: false, ...extra };
}

/** Reference: extractor output pooled to the grid, as float32. */
function reference(ex: FeatureExtractor, ds: ReturnType<typeof fakeDataset>, grid: number[]) {
  return tf.tidy(() => {
    const x = tf.stack(ds.images.map((im) => tf.tensor3d(resizeToRgb(im, 8), [8, 8, 3])));
    const m = ex.extract(x as tf.Tensor4D);
    return [...m.landmark, ...m.image].map((t, i) => adaptivePool(t, grid[i % 3]));
  });
}

function disposeMaps(m: FeatureMaps) {
  tf.dispose([...m.landmark, ...m.image]);
}

Deno.test("poolMatrix rows average their bins; adaptivePool matches avgPool and a hand case", async () => {
  await selectBackend("wasm");
  const m = poolMatrix(7, 3); // bins 0–2, 2–4, 4–6
  for (let i = 0; i < 3; i++) {
    const row = Array.from(m.slice(i * 7, i * 7 + 7));
    await assertClose(row.reduce((a, b) => a + b, 0), 1, 1e-6);
  }
  await assertClose(Array.from(m.slice(0, 7)), [1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0], 1e-6);
  await assertNoLeak(async () => {
    const x = tf.tensor4d(Array.from({ length: 2 * 6 * 6 * 2 }, (_, i) => i % 7), [2, 6, 6, 2]);
    const a = adaptivePool(x, 3), b = tf.avgPool(x, 2, 2, "valid");
    await assertClose(a, b, 1e-5);
    const y = tf.tensor4d(Array.from({ length: 3 * 3 }, (_, i) => i), [1, 3, 3, 1]);
    const p = adaptivePool(y, 2); // bins {0,1} and {1,2} on each axis
    await assertClose(p, [2, 3, 5, 6], 1e-5);
    tf.dispose([x, a, b, y, p]);
  });
});

Deno.test("mirroredPipeline reverses each row of every view and keys its cache apart", () => {
  // A 3×2 RGB image whose pixel (x, y) holds 10·x + y in every channel.
  const data = new Uint8Array(3 * 2 * 3);
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) data.fill(10 * x + y, (y * 3 + x) * 3, (y * 3 + x + 1) * 3);
  }
  const image: RawImage = { width: 3, height: 2, channels: 3, data };
  const m = mirroredPipeline(CENTRE_VIEW);
  assert.notEqual(m.key, CENTRE_VIEW.key);
  assert.equal(m.augments, CENTRE_VIEW.augments);
  const plain = CENTRE_VIEW.render(image, 4, 0, 0), flipped = m.render(image, 4, 0, 0);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) {
      for (let k = 0; k < 3; k++) {
        assert.equal(flipped[(y * 4 + x) * 3 + k], plain[(y * 4 + 3 - x) * 3 + k]);
      }
    }
  }
  assert.notDeepEqual(flipped, plain, "an asymmetric image changes");
  assert.deepEqual(
    mirroredPipeline(m).render(image, 4, 0, 0),
    plain,
    "mirroring twice is identity",
  );
});

Deno.test("resizeToRgb replicates gray, keeps a constant image constant, has the right size", () => {
  const img: RawImage = { width: 5, height: 3, channels: 1, data: new Uint8Array(15).fill(51) };
  const out = resizeToRgb(img, 7);
  assert.equal(out.length, 7 * 7 * 3);
  for (const v of out) assert.ok(Math.abs(v - 0.2) < 1e-6);
  assert.throws(
    () => resizeToRgb({ ...img, data: new Uint8Array(3) }, 4),
    /3 bytes, expected 5×3×1/,
  );
});

Deno.test("cache round-trips values (uint8 and float16 tolerance), labels, shapes, no leaks", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const ds = fakeDataset(10);
  const ex = fakeExtractor();
  try {
    const ref = reference(ex, ds, [2, 2, 1]);
    for (const storage of ["uint8", "float16"] as const) {
      const cache = await assertNoLeak(() => buildFeatureCache(ds, ex, opts(dir, { storage })));
      assert.equal(cache.size, 10);
      assert.deepEqual(Array.from(cache.labels), ds.samples.map((s) => s.label));
      assert.deepEqual(cache.landmarkShape, [[2, 2], [2, 3], [1, 4]]);
      assert.deepEqual(cache.imageShape, [[2, 3], [2, 2], [1, 5]]);
      const idx = [9, 0, 4, 5];
      const live = tf.memory().numTensors;
      const m = cache.readBatch(idx);
      const got = [...m.landmark, ...m.image];
      assert.equal(tf.memory().numTensors, live + 6, "readBatch returns exactly its six maps");
      for (let i = 0; i < 6; i++) {
        const want = tf.gather(ref[i], idx);
        assert.deepEqual(got[i].shape, want.shape);
        const w = await want.data();
        const range = Math.max(...w) - Math.min(...w);
        // uint8: half a step of the per-channel range (≤ range/510) plus float16 rounding.
        const atol = storage === "uint8" ? range / 400 + 1e-3 : 2e-3 * Math.max(...w.map(Math.abs));
        await assertClose(got[i], want, atol, 0, `${storage} map ${i}`);
        want.dispose();
      }
      // A second batch (the wasm backend reuses the decode buffers) leaves the first one intact.
      const firstValues = await Promise.all(got.map((t) => t.data()));
      // The undecoded records, decoded elsewhere, are exactly readBatch's values.
      const records = cache.readRecords(idx);
      assert.equal(records.length, idx.length * cache.layout.bytes);
      const decoded = decodeRecords(records, cache.layout, idx.length);
      decoded.forEach((d, i) => assert.deepEqual(d, firstValues[i], `${storage} records map ${i}`));
      assert.throws(() => decodeRecords(records.subarray(1), cache.layout, idx.length), /bytes/);
      assert.throws(() => cache.readRecords([10]), /out of range/);
      const m2 = cache.readBatch([1, 2, 3, 4]);
      for (let i = 0; i < 6; i++) {
        assert.deepEqual(
          await got[i].data(),
          firstValues[i],
          `${storage} map ${i} after a re-read`,
        );
      }
      const want2 = tf.gather(ref[3], [1, 2, 3, 4]);
      const w2 = await want2.data();
      const range2 = Math.max(...w2) - Math.min(...w2);
      await assertClose(m2.image[0], want2, range2 / 100 + 2e-3, 0, `${storage} second batch`);
      tf.dispose(want2);
      disposeMaps(m2);
      disposeMaps(m);
      assert.equal(tf.memory().numTensors, live);
      assert.throws(() => cache.readBatch([10]), /out of range/);
      assert.throws(() => cache.readBatch([0], 1), /view 1 out of range/);
    }
    tf.dispose(ref);
  } finally {
    ex.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cache key changes with pre-processing, extractor version and grid; content change rebuilds only its shard", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const ds = fakeDataset(10);
  const ex1 = fakeExtractor(1), ex2 = fakeExtractor(2);
  try {
    const a = await buildFeatureCache(ds, ex1, opts(dir));
    const flipKey: ViewPipeline = { ...CENTRE_VIEW, key: CENTRE_VIEW.key + ":other" };
    const b = await buildFeatureCache(ds, ex1, opts(dir, { pipeline: flipKey }));
    const c = await buildFeatureCache(ds, ex2, opts(dir));
    const d = await buildFeatureCache(ds, ex1, opts(dir, { grid: [1, 1, 1] }));
    assert.equal(new Set([a.key, b.key, c.key, d.key]).size, 4);
    assert.equal(new Set([a.dir, b.dir, c.dir, d.dir]).size, 4);

    // Same everything: nothing recomputed.
    ex1.seen = 0;
    const again = await buildFeatureCache(ds, ex1, opts(dir));
    assert.equal(ex1.seen, 0);
    assert.equal(again.key, a.key);

    // Change the pixels of image 5 (shard 1 of [0-3], [4-7], [8-9]): only shard 1 is recomputed.
    const before = a.readBatch([5]);
    ds.images[5] = { ...ds.images[5], data: ds.images[5].data.map((v) => 255 - v) };
    const computed: number[] = [];
    ex1.seen = 0;
    const changed = await buildFeatureCache(
      ds,
      ex1,
      opts(dir, { onShard: (s) => s.computed && computed.push(s.shard) }),
    );
    assert.deepEqual(computed, [1]);
    assert.equal(ex1.seen, 4);
    const after = changed.readBatch([5]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(before.image[0], after.image[0]))));
    assert.ok((await diff.data())[0] > 0.01, "features of the changed image must change");
    tf.dispose(diff);
    disposeMaps(before);
    disposeMaps(after);
    // The stale shard file was removed.
    const files = [...Deno.readDirSync(changed.dir)].map((e) => e.name).sort();
    assert.equal(files.filter((f) => f.startsWith("shard-00001")).length, 1);
  } finally {
    ex1.dispose();
    ex2.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("truncated or corrupt shards are detected and rebuilt; interrupted builds resume", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const ds = fakeDataset(10);
  const ex = fakeExtractor();
  try {
    // Interrupted after one computed shard: the error propagates, no tmp file is left.
    await assert.rejects(
      () => buildFeatureCache(ds, ex, opts(dir, { stopAfterShards: 1 })),
      /stopped after 1 shards/,
    );
    ex.seen = 0;
    const computed: number[] = [];
    const cache = await buildFeatureCache(
      ds,
      ex,
      opts(dir, { onShard: (s) => s.computed && computed.push(s.shard) }),
    );
    assert.deepEqual(computed, [1, 2], "shard 0 was finished before the interruption");
    assert.equal(ex.seen, 6);
    const names = [...Deno.readDirSync(cache.dir)].map((e) => e.name);
    assert.ok(!names.some((n) => n.includes(".tmp")), names.join(","));
    const ref = cache.readBatch([0, 5, 9]);

    const shardFile = (s: number) =>
      join(cache.dir, names.find((n) => n.startsWith(`shard-0000${s}`))!);
    // Truncate shard 2, flip one byte of shard 0 (same size).
    const f2 = shardFile(2);
    const bytes2 = await Deno.readFile(f2);
    await Deno.writeFile(f2, bytes2.subarray(0, bytes2.length - 7));
    const f0 = shardFile(0);
    const bytes0 = await Deno.readFile(f0);
    bytes0[100] ^= 0xff;
    await Deno.writeFile(f0, bytes0);

    computed.length = 0;
    const rebuilt = await buildFeatureCache(
      ds,
      ex,
      opts(dir, { onShard: (s) => s.computed && computed.push(s.shard) }),
    );
    assert.deepEqual(computed, [0, 2]);

    // Corrupt shards 0 and 2 again, interrupt after recomputing shard 0: shard 1 stays indexed,
    // so the next build recomputes only shard 2.
    const names2 = [...Deno.readDirSync(rebuilt.dir)].map((e) => e.name);
    for (const s of [0, 2]) {
      const f = join(rebuilt.dir, names2.find((n) => n.startsWith(`shard-0000${s}`))!);
      const b = await Deno.readFile(f);
      await Deno.writeFile(f, b.subarray(0, 10));
    }
    await assert.rejects(
      () => buildFeatureCache(ds, ex, opts(dir, { stopAfterShards: 1 })),
      /stopped after 1 shards/,
    );
    computed.length = 0;
    await buildFeatureCache(
      ds,
      ex,
      opts(dir, { onShard: (s) => s.computed && computed.push(s.shard) }),
    );
    assert.deepEqual(computed, [2]);
    const got = rebuilt.readBatch([0, 5, 9]);
    for (let i = 0; i < 3; i++) {
      await assertClose(got.landmark[i], ref.landmark[i], 0);
      await assertClose(got.image[i], ref.image[i], 0);
    }
    disposeMaps(ref);
    disposeMaps(got);
  } finally {
    ex.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("augmented views: deterministic, distinct from the centre view, picked per epoch", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const dir2 = await tmpDir();
  const ds = fakeDataset(5);
  const ex = fakeExtractor();
  try {
    await assert.rejects(
      () => buildFeatureCache(ds, ex, opts(dir, { views: 3 })),
      /views = 3 needs an augmenting pipeline/,
    );
    const o = { views: 3, pipeline: FLIP_PIPELINE, seed: 4 };
    const a = await buildFeatureCache(ds, ex, opts(dir, o));
    const b = await buildFeatureCache(ds, ex, opts(dir2, o));
    assert.equal(a.views, 3);
    const v0 = a.readBatch([0, 1, 2, 3, 4], 0);
    const v2 = a.readBatch([0, 1, 2, 3, 4], 2);
    const w2 = b.readBatch([0, 1, 2, 3, 4], 2);
    await assertClose(v2.image[0], w2.image[0], 0, 0, "same seed, same views");
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(v0.image[0], v2.image[0]))));
    assert.ok((await d.data())[0] > 1e-3, "view 2 differs from the centre view");
    // The centre view equals the 1-view cache's.
    const one = await buildFeatureCache(ds, ex, opts(dir));
    const c0 = one.readBatch([0, 1, 2, 3, 4]);
    await assertClose(c0.landmark[0], v0.landmark[0], 0);
    // Per-index views and viewFor.
    const mixed = a.readBatch([1, 1], [0, 2]);
    const picks = Array.from({ length: 50 }, (_, e) => a.viewFor(3, e));
    assert.ok(picks.every((v) => v >= 0 && v < 3));
    assert.equal(new Set(picks).size, 3);
    assert.deepEqual(picks, Array.from({ length: 50 }, (_, e) => a.viewFor(3, e)));
    assert.equal(one.viewFor(3, 7), 0);
    tf.dispose(d);
    [v0, v2, w2, c0, mixed].forEach(disposeMaps);
  } finally {
    ex.dispose();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dir2, { recursive: true });
  }
});

Deno.test("InterleavedViews: a cache and its mirror read as one, each view followed by its exact mirror", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const ds = fakeDataset(6);
  const ex = fakeExtractor();
  try {
    // One view (no augmentation) and two (augmented, seeded): the mirror doubles either.
    for (
      const [base, views] of [[{ ...FLIP_PIPELINE, augments: false }, 1], [
        FLIP_PIPELINE,
        2,
      ]] as const
    ) {
      const o = (pipeline: ViewPipeline) => opts(dir, { views, pipeline, seed: 4 });
      const centre = await buildFeatureCache(ds, ex, o(base));
      const mirror = await buildFeatureCache(ds, ex, o(mirroredPipeline(base)));
      assert.notEqual(mirror.dir, centre.dir, "the mirror is its own cache");
      const union = new InterleavedViews([centre, mirror]);
      assert.equal(union.views, 2 * views);
      assert.deepEqual(union.ids, centre.ids);
      const all = ds.samples.map((_, i) => i);
      for (let v = 0; v < union.views; v++) {
        const part = v % 2 ? mirror : centre;
        assert.deepEqual(union.readRecords(all, v), part.readRecords(all, v >> 1), `view ${v}`);
      }
      const idx = [5, 0, 3, 3, 1], perIndex = idx.map((_, b) => (b * 3) % union.views);
      const a = union.readBatch(idx, perIndex);
      for (const [b, i] of idx.entries()) {
        const v = perIndex[b], part = v % 2 ? mirror : centre;
        const one = part.readBatch([i], v >> 1);
        for (let m = 0; m < 3; m++) {
          const row = tf.slice(a.image[m], b, 1);
          await assertClose(row, one.image[m], 0, 0, `row ${b} map ${m}`);
          row.dispose();
        }
        // The odd view is the even view's own draw, mirrored: its finest maps are the reversed
        // columns of the centre cache's (to the uint8 storage's rounding).
        const even = centre.readBatch([i], v >> 1), odd = mirror.readBatch([i], v >> 1);
        const flipped = tf.tidy(() => tf.reverse(even.landmark[0], 2));
        await assertClose(odd.landmark[0], flipped, 0.05);
        [one, even, odd].forEach(disposeMaps);
        flipped.dispose();
      }
      disposeMaps(a);
      assert.throws(() => union.readRecords([0], union.views), /view \d+ out of range/);
      assert.throws(
        () => union.readRecords([ds.samples.length], 0),
        /sample index \d+ out of range/,
      );
    }
    const other = await buildFeatureCache(fakeDataset(5), ex, opts(dir));
    const six = await buildFeatureCache(ds, ex, opts(dir));
    assert.throws(() => new InterleavedViews([six, other]), /holds other samples/);
    const two = await buildFeatureCache(ds, ex, opts(dir, { views: 2, pipeline: FLIP_PIPELINE }));
    assert.throws(() => new InterleavedViews([six, two]), /has 2 views/);
  } finally {
    ex.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recordLayout sizes: uint8 stores a byte per value plus 4 bytes per channel", () => {
  const l = recordLayout([[28, 64], [14, 128], [7, 256]], [[28, 256], [14, 512], [7, 1024]], [
    7,
    7,
    7,
  ], "uint8");
  assert.equal(l.bytes, 49 * (448 + 1792) + 4 * (448 + 1792));
  const h = recordLayout([[28, 64], [14, 128], [7, 256]], [[28, 256], [14, 512], [7, 1024]], [
    7,
    7,
    7,
  ], "float16");
  assert.equal(h.bytes, 2 * 49 * (448 + 1792));
});

Deno.test("augmentPipeline: data-config augmentation as cached views; its key follows the params", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const ds = fakeDataset(4);
  const ex = fakeExtractor();
  try {
    const cfg = dataConfigSchema.parse({ augment: { resize: 12, crop: 10 } });
    const p = augmentParams(cfg, 8);
    const pipe = augmentPipeline(p);
    assert.ok(pipe.augments);
    const other = augmentPipeline({ ...p, rotation: p.rotation + 1 });
    assert.notEqual(pipe.key, other.key);
    // The side rendered is the one asked for, whatever the parameters' output size.
    const big = augmentPipeline({ ...p, outputSize: 99 });
    assert.deepEqual(big.render(ds.images[0], 8, 1, 5), pipe.render(ds.images[0], 8, 1, 5));
    const off = augmentPipeline(
      augmentParams(dataConfigSchema.parse({ augment: { enabled: false } }), 8),
    );
    assert.ok(!off.augments);
    const a = pipe.render(ds.images[0], 8, 1, 5), b = pipe.render(ds.images[0], 8, 1, 5);
    assert.deepEqual(a, b);
    const cache = await buildFeatureCache(ds, ex, opts(dir, { views: 2, pipeline: pipe }));
    const v = cache.readBatch([0, 1, 2, 3], [0, 1, 0, 1]);
    assert.deepEqual(v.image[0].shape, [4, 2, 2, 3]);
    disposeMaps(v);
  } finally {
    ex.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker-thread build equals the in-thread build (real npm-face-fast, 3 images)", async () => {
  await selectBackend("wasm");
  const { loadExtractor } = await import("../extractors/registry.ts");
  const dirA = await tmpDir(), dirB = await tmpDir();
  const ds = fakeDataset(3);
  const ex = await loadExtractor("npm-face-fast");
  try {
    const o = { grid: [7, 7, 7] as [number, number, number], progress: false, batchSize: 2 };
    const a = await buildFeatureCache(ds, ex, { ...o, dir: dirA });
    const b = await buildFeatureCache(ds, ex, { ...o, dir: dirB, workers: 1 });
    assert.equal(a.key, b.key);
    const ma = a.readBatch([0, 1, 2]), mb = b.readBatch([0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      await assertClose(mb.landmark[i], ma.landmark[i], 1e-6);
      await assertClose(mb.image[i], ma.image[i], 1e-6);
    }
    disposeMaps(ma);
    disposeMaps(mb);
  } finally {
    ex.dispose();
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});

Deno.test("a second writer is refused by the cache's lock; a complete cache loads while locked, writing nothing", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const ds = fakeDataset(6);
  const ex = fakeExtractor();
  // Another live process on this host holds the lock of a cache that is not built yet.
  const other = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const first = await buildFeatureCache(fakeDataset(2), ex, opts(dir));
    const lockPath = `${first.dir}.lock`;
    await assert.rejects(() => Deno.stat(lockPath), Deno.errors.NotFound, "lock left behind");
    await Deno.remove(first.dir, { recursive: true });
    const holder = {
      pid: other.pid,
      host: Deno.hostname(),
      token: "other",
      createdAt: new Date().toISOString(),
    };
    await Deno.writeTextFile(lockPath, JSON.stringify(holder));
    ex.seen = 0;
    await assert.rejects(
      () => buildFeatureCache(ds, ex, opts(dir)),
      new RegExp(`feature cache .* is locked by pid ${other.pid} on ${Deno.hostname()}`),
    );
    assert.equal(ex.seen, 0, "nothing computed while another process writes");
    // The holder goes away: its lock is stale, the build proceeds and releases its own lock.
    other.kill("SIGKILL");
    await other.status;
    const built = await buildFeatureCache(ds, ex, opts(dir));
    assert.equal(ex.seen, 6);
    await assert.rejects(() => Deno.stat(lockPath), Deno.errors.NotFound);
    // A complete cache is only read: it loads while someone holds the lock, and no file changes.
    await Deno.writeTextFile(lockPath, JSON.stringify({ ...holder, pid: Deno.pid }));
    const before = [...Deno.readDirSync(built.dir)].map((e) => {
      const st = Deno.statSync(join(built.dir, e.name));
      return `${e.name}:${st.mtime?.getTime()}`;
    }).sort();
    const again = await buildFeatureCache(ds, ex, opts(dir));
    assert.equal(ex.seen, 6);
    assert.equal(again.size, 6);
    const after = [...Deno.readDirSync(built.dir)].map((e) => {
      const st = Deno.statSync(join(built.dir, e.name));
      return `${e.name}:${st.mtime?.getTime()}`;
    }).sort();
    assert.deepEqual(after, before);
    assert.equal(JSON.parse(Deno.readTextFileSync(lockPath)).token, "other");
  } finally {
    try {
      other.kill("SIGKILL");
    } catch { /* already gone */ }
    await other.status;
    ex.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("opening a built cache trusts unchanged image files (size + mtime), re-hashes touched ones, and reads records from disk", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const files = await tmpDir();
  const ds = fakeDataset(10);
  // Samples with files: content hashes come from the file bytes.
  ds.samples.forEach((smp, i) => {
    smp.path = join(files, `${smp.id}.raw`);
    Deno.writeFileSync(smp.path, ds.images[i].data);
  });
  const ex = fakeExtractor();
  const computedBy = async () => {
    const computed: number[] = [];
    const c = await buildFeatureCache(
      ds,
      ex,
      opts(dir, { onShard: (s) => s.computed && computed.push(s.shard) }),
    );
    return { c, computed };
  };
  try {
    const first = await computedBy();
    assert.deepEqual(first.computed, [0, 1, 2]);
    const index = JSON.parse(Deno.readTextFileSync(join(first.c.dir, "index.json")));
    assert.ok(index.shards.every((e: { stat?: string; mtimeMs?: number }) => e.stat && e.mtimeMs));
    const ref = first.c.readBatch([5, 9]);

    // Unchanged files: nothing recomputed; a touched file with the same bytes: re-hashed, same shard.
    assert.deepEqual((await computedBy()).computed, []);
    const p2 = ds.samples[2].path!;
    Deno.utimeSync(p2, new Date(), new Date(Date.now() + 5000));
    assert.deepEqual((await computedBy()).computed, []);

    // Changed bytes (size and mtime change): that shard is recomputed.
    const p5 = ds.samples[5].path!;
    Deno.writeFileSync(p5, new Uint8Array([1, 2, 3]));
    assert.deepEqual((await computedBy()).computed, [1]);

    // The documented rule: same size and mtime are trusted without reading the file.
    const st = Deno.statSync(p2);
    Deno.writeFileSync(p2, ds.images[2].data.map((v) => 255 - v));
    Deno.utimeSync(p2, st.atime!, st.mtime!);
    assert.deepEqual((await computedBy()).computed, []);

    // Records are read from the shard files when asked for: a truncated file is a clear error.
    const { c } = await computedBy();
    const got = c.readBatch([9]);
    await assertClose(got.image[2], tf.slice(ref.image[2], [1], [1]), 0);
    disposeMaps(got);
    disposeMaps(ref);
    const last = c.shardFiles[2];
    Deno.truncateSync(last, 10);
    assert.throws(() => c.readBatch([9]), /ends before record 9.*delete the file to rebuild it/);
  } finally {
    ex.dispose();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(files, { recursive: true });
  }
});

Deno.test("per-stream grid sides: six sides pool each map to its own side; three keep the old keys", async () => {
  await selectBackend("wasm");
  const dir = await tmpDir();
  const ds = fakeDataset(5);
  const ex = fakeExtractor();
  try {
    // Landmark maps kept at 4, 2, 1 (native), image maps pooled to 2, 1, 1.
    const grid: CacheGrid = [4, 2, 1, 2, 1, 1];
    assert.equal(mapSide(grid, 0), 4);
    assert.equal(mapSide(grid, 3), 2);
    assert.equal(mapSide([2, 2, 1], 4), 2);
    const cache = await buildFeatureCache(ds, ex, opts(dir, { grid }));
    assert.deepEqual(cache.landmarkShape, [[4, 2], [2, 3], [1, 4]]);
    assert.deepEqual(cache.imageShape, [[2, 3], [1, 2], [1, 5]]);
    const ref = tf.tidy(() => {
      const x = tf.stack(ds.images.map((im) => tf.tensor3d(resizeToRgb(im, 8), [8, 8, 3])));
      const m = ex.extract(x as tf.Tensor4D);
      return [...m.landmark, ...m.image].map((t, i) => adaptivePool(t, grid[i]));
    });
    const m = cache.readBatch([0, 1, 2, 3, 4]);
    const got = [...m.landmark, ...m.image];
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(got[i].shape, ref[i].shape, `map ${i}`);
      const w = await ref[i].data();
      const range = Math.max(...w) - Math.min(...w);
      await assertClose(got[i], ref[i], range / 400 + 1e-3, 0, `map ${i}`);
    }
    disposeMaps(m);
    tf.dispose(ref);
    // Three equal sides per stream are the old key; six sides are another cache.
    const three = featureCacheKey(ex, { grid: [2, 2, 1] }).key;
    assert.equal(String(featureCacheKey(ex, { grid: [2, 2, 1] }).params.grid), "2,2,1");
    assert.notEqual(featureCacheKey(ex, { grid: [2, 2, 1, 2, 2, 1] }).key, three);
    await assert.rejects(
      () => buildFeatureCache(ds, ex, opts(dir, { grid: [2, 2] as unknown as CacheGrid })),
      /grid must be 3 or 6 positive integers/,
    );
  } finally {
    ex.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encodeRecords: records of given maps decode to them within the uint8 step; bad sizes are refused", () => {
  const layout = recordLayout(
    [[2, 3], [1, 2], [1, 4]],
    [[2, 1], [1, 2], [1, 3]],
    [2, 1, 1],
    "uint8",
  );
  const rows = 3;
  const maps = layout.sizes.map((n, m) =>
    Float32Array.from({ length: rows * n }, (_, i) => Math.sin(1 + m * 7 + i * 1.3) * (m + 1))
  );
  const records = encodeRecords(maps, layout, rows);
  assert.equal(records.length, rows * layout.bytes);
  const back = decodeRecords(records, layout, rows);
  back.forEach((d, m) => {
    for (let i = 0; i < d.length; i++) {
      // Half a quantisation step of a range ≤ 2(m + 1), plus float16 rounding of min and step.
      assert.ok(Math.abs(d[i] - maps[m][i]) <= (2 * (m + 1)) / 255 + 1e-2, `map ${m} value ${i}`);
    }
  });
  assert.throws(() => encodeRecords(maps.slice(1), layout, rows), /six maps/);
  assert.throws(() => encodeRecords(maps, layout, rows + 1), /six maps/);
});
