/**
 * Probe (not a test): do the npm-face maps carry expression signal on real FER+ images, and what
 * does the cache's storage cost in accuracy? Takes `--per-class` train images of each FER+ class,
 * extracts pooled maps (the cache's 7×7 grid), and reports
 * - leave-one-out nearest-class-mean accuracy on the global-average-pooled maps of each stream
 *   (chance = 1/classes), a linear-probe-free check that the features separate expressions;
 * - the relative RMS error of uint8 and float16 storage against float32.
 * Usage: deno run -A bench/extractors_signal.ts [--ferplus DIR] [--extractor npm-face-fast]
 *   [--per-class 24] [--classes 0,1,2,3]
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { selectBackend } from "../lib/backend.ts";
import { loadFerPlus } from "../lib/data/ferplus.ts";
import { adaptivePool, buildFeatureCache, resizeToRgb } from "../lib/data/cache.ts";
import { loadExtractor } from "../lib/extractors/registry.ts";

const { values } = parseArgs({
  options: {
    ferplus: { type: "string" },
    extractor: { type: "string", default: "npm-face-fast" },
    "per-class": { type: "string", default: "24" },
    classes: { type: "string", default: "0,1,2,3" },
  },
});
await selectBackend("wasm");
const root = values.ferplus ?? Deno.env.get("GREFEL_FERPLUS") ?? "../shared/data/ferplus";
const ds = await loadFerPlus(root, { splits: ["train"] });
const classes = values.classes!.split(",").map(Number);
const per = Number(values["per-class"]);
ds.samples = classes.flatMap((c) => ds.samples.filter((s) => s.label === c).slice(0, per));
const ex = await loadExtractor(values.extractor!);
const S = ex.inputSize;
const imgs = await Promise.all(ds.samples.map((s) => ds.loadImage(s)));
const x = tf.tensor4d(
  Float32Array.from(imgs.flatMap((im) => Array.from(resizeToRgb(im, S)))),
  [imgs.length, S, S, 3],
);
const t0 = performance.now();
const maps = ex.extract(x);
const all = [...maps.landmark, ...maps.image];
await Promise.all(all.map((m) => m.data()));
const msPerImage = (performance.now() - t0) / imgs.length;
const pooled = all.map((m) => adaptivePool(m, 7));

// Nearest-class-mean, leave-one-out, on L2-normalised global averages.
async function ncm(feats: tf.Tensor2D): Promise<number> {
  const f = (await tf.tidy(() => tf.div(feats, tf.add(tf.norm(feats, 2, 1, true), 1e-8)))
    .array()) as number[][];
  const labels = ds.samples.map((s) => s.label);
  let correct = 0;
  for (let i = 0; i < f.length; i++) {
    let best = -1, bestD = Infinity;
    for (const c of classes) {
      const idx = labels.map((l, j) => (l === c && j !== i ? j : -1)).filter((j) => j >= 0);
      const mean = f[0].map((_, k) => idx.reduce((a, j) => a + f[j][k], 0) / idx.length);
      const d = mean.reduce((a, m, k) => a + (m - f[i][k]) ** 2, 0);
      if (d < bestD) [bestD, best] = [d, c];
    }
    if (best === labels[i]) correct++;
  }
  return correct / f.length;
}
const gap = (ts: tf.Tensor4D[]) => tf.concat(ts.map((t) => tf.mean(t, [1, 2])), 1) as tf.Tensor2D;
const accLandmark = await ncm(gap(pooled.slice(0, 3)));
const accImage = await ncm(gap(pooled.slice(3)));
const accBoth = await ncm(gap(pooled));

// Storage error: build tiny caches of these images and compare to float32.
const errs: Record<string, number> = {};
const dir = await Deno.makeTempDir({ prefix: "grefel_signal_" });
for (const storage of ["uint8", "float16"] as const) {
  const cache = await buildFeatureCache(ds, ex, { dir, storage, progress: false });
  const m = cache.readBatch(ds.samples.map((_, i) => i));
  const got = [...m.landmark, ...m.image];
  let se = 0, ss = 0;
  for (let i = 0; i < 6; i++) {
    const a = await got[i].data(), b = await pooled[i].data();
    for (let k = 0; k < a.length; k++) {
      se += (a[k] - b[k]) ** 2;
      ss += b[k] ** 2;
    }
  }
  errs[storage] = Math.sqrt(se / ss);
  tf.dispose(got);
}
await Deno.remove(dir, { recursive: true });
console.log(JSON.stringify(
  {
    extractor: ex.name,
    classes: classes.map((c) => ds.classNames[c]),
    imagesPerClass: per,
    chance: 1 / classes.length,
    ncmLeaveOneOut: { landmark: accLandmark, image: accImage, both: accBoth },
    storageRelRmsError: errs,
    msPerImageExtract: msPerImage,
    loadavg: Deno.loadavg(),
  },
  null,
  1,
));
