/**
 * Benchmark (not a test): builds the feature cache for the FER+ train split and records wall time,
 * images/s, disk bytes, peak RSS and the in-memory size of the loaded cache.
 *
 * Usage:
 *   deno run -A bench/cache_ferplus.ts [--ferplus DIR] [--extractor npm-face-fast] [--workers 2]
 *     [--backend wasm] [--grid 7,7,7] [--storage uint8] [--views 1] [--limit N]
 *     [--cache-dir results/cache] [--out results/bench/cache_ferplus.json] [--fresh]
 *     [--label-mode majority|plurality]
 *
 * The FER+ root comes from --ferplus, else GREFEL_FERPLUS, else ../shared/data/ferplus.
 * `--fresh` deletes this configuration's cache first so the build time is measured from scratch.
 * A second, immediate call of buildFeatureCache measures the cached (verify + load) path.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { selectBackend } from "../lib/backend.ts";
import { loadFerPlus } from "../lib/data/ferplus.ts";
import { buildFeatureCache, type CacheStorage } from "../lib/data/cache.ts";
import { loadExtractor } from "../lib/extractors/registry.ts";

const { values } = parseArgs({
  options: {
    ferplus: { type: "string" },
    extractor: { type: "string", default: "npm-face-fast" },
    workers: { type: "string", default: "2" },
    backend: { type: "string", default: "wasm" },
    grid: { type: "string", default: "7,7,7" },
    storage: { type: "string", default: "uint8" },
    views: { type: "string", default: "1" },
    limit: { type: "string" },
    "label-mode": { type: "string", default: "majority" },
    "batch-size": { type: "string", default: "16" },
    "cache-dir": { type: "string", default: "results/cache" },
    out: { type: "string", default: "results/bench/cache_ferplus.json" },
    fresh: { type: "boolean", default: false },
  },
});

const root = values.ferplus ?? Deno.env.get("GREFEL_FERPLUS") ?? "../shared/data/ferplus";
let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, Deno.memoryUsage().rss));
const timer = setInterval(sampleRss, 500);

const backend = await selectBackend(values.backend);
const ds = await loadFerPlus(root, {
  splits: ["train"],
  labelMode: values["label-mode"] as "majority" | "plurality",
});
if (values.limit) ds.samples = ds.samples.slice(0, Number(values.limit));
const extractor = await loadExtractor(values.extractor!);
const grid = values.grid!.split(",").map(Number) as [number, number, number];
const opts = {
  dir: values["cache-dir"],
  grid,
  storage: values.storage as CacheStorage,
  views: Number(values.views),
  workers: Number(values.workers),
  batchSize: Number(values["batch-size"]),
};

if (values.fresh) {
  // Find this configuration's directory by a zero-sample dry build, then delete it.
  const probe = await buildFeatureCache({ ...ds, samples: [] }, extractor, {
    ...opts,
    workers: 0,
    progress: false,
  });
  await Deno.remove(probe.dir, { recursive: true }).catch(() => {});
}

/** CPU seconds (user + system) of this process and its threads, from /proc (Linux); null elsewhere. */
function cpuSeconds(): number | null {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

const loadavgStart = Deno.loadavg();
const cpu0 = cpuSeconds();
const t0 = performance.now();
const cache = await buildFeatureCache(ds, extractor, opts);
const buildS = (performance.now() - t0) / 1000;
const cpu1 = cpuSeconds();
const buildCpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
const loadavgEnd = Deno.loadavg();
sampleRss();

let diskBytes = 0;
for await (const e of Deno.readDir(cache.dir)) {
  if (e.isFile) diskBytes += (await Deno.stat(`${cache.dir}/${e.name}`)).size;
}
const t1 = performance.now();
const again = await buildFeatureCache(ds, extractor, { ...opts, progress: false });
const reloadS = (performance.now() - t1) / 1000;

// Decode speed of readBatch (batch 64).
const t2 = performance.now();
let batches = 0;
for (let i = 0; i + 64 <= Math.min(again.size, 64 * 20); i += 64, batches++) {
  const idx = Array.from({ length: 64 }, (_, k) => i + k);
  const m = again.readBatch(idx);
  [...m.landmark, ...m.image].forEach((t) => t.dispose());
}
const readMsPerBatch64 = batches ? (performance.now() - t2) / batches : null;
sampleRss();
clearInterval(timer);

const result = {
  date: new Date().toISOString(),
  ferplusRoot: root,
  images: cache.size,
  labelMode: values["label-mode"],
  skippedAtLoad: ds.skipped.length,
  extractor: extractor.name,
  extractorVersion: extractor.version ?? 0,
  backend: backend.backend,
  workers: opts.workers,
  grid,
  storage: opts.storage,
  views: opts.views,
  buildWallSeconds: buildS,
  imagesPerSecond: cache.size / buildS,
  buildCpuSeconds: buildCpuS,
  cpuMsPerImage: buildCpuS !== null ? (1000 * buildCpuS) / cache.size : null,
  // What the build would take with both cores to itself (CPU time spread over the workers).
  uncontendedWallEstimateSeconds: buildCpuS !== null
    ? buildCpuS / Math.max(1, Math.min(opts.workers, navigator.hardwareConcurrency))
    : null,
  diskBytes,
  diskGB: diskBytes / 1e9,
  recordBytes: cache.layout.bytes,
  // The cache is read from disk on demand: a run holds one record plus one batch of float32 maps.
  peakRssBytes: peakRss,
  reloadSeconds: reloadS,
  readMsPerBatch64,
  modelInputShapes: { landmark: cache.landmarkShape, image: cache.imageShape },
  cacheDir: cache.dir,
  machine: {
    cpus: navigator.hardwareConcurrency,
    loadavgStart,
    loadavgEnd,
    note: "2-core machine shared with other helpers' processes during the run (CPU contended)",
  },
};
await Deno.mkdir(dirname(values.out!), { recursive: true });
await Deno.writeTextFile(values.out!, JSON.stringify(result, null, 1) + "\n");
console.log(JSON.stringify(result, null, 1));
extractor.dispose();
