/**
 * Probe (not a test): loads each npm-shipped extractor, prints map shapes, value statistics,
 * whether different faces give different features, and per-image time on a backend.
 * Usage: deno run -A bench/extractors_probe.ts --backend wasm --batch 16 --reps 3
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { selectBackend } from "../lib/backend.ts";
import { loadLandmark68 } from "../lib/extractors/face_landmark68.ts";
import { loadFaceRes } from "../lib/extractors/faceres.ts";

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    batch: { type: "string", default: "16" },
    reps: { type: "string", default: "3" },
  },
});
const info = await selectBackend(values.backend);
const B = Number(values.batch);
const reps = Number(values.reps);
const out: Record<string, unknown> = { backend: info.backend, batch: B };

function stats(a: Float32Array) {
  let min = Infinity, max = -Infinity, sum = 0, nan = 0, zero = 0;
  for (const v of a) {
    if (!Number.isFinite(v)) nan++;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) zero++;
    sum += v;
  }
  return { min, max, mean: sum / a.length, nonFinite: nan, zeroFrac: zero / a.length };
}

const x = tf.randomUniform([B, 112, 112, 3], 0, 1, "float32", 1) as tf.Tensor4D;
for (const [name, load] of [["landmark68", loadLandmark68], ["faceres", loadFaceRes]] as const) {
  const t0 = performance.now();
  const net = await load();
  const loadMs = performance.now() - t0;
  // warm-up
  tf.dispose(net.run(x.slice(0, 1)));
  const times: number[] = [];
  let maps: tf.Tensor4D[] = [];
  for (let r = 0; r < reps; r++) {
    const s = performance.now();
    tf.dispose(maps);
    maps = net.run(x);
    await Promise.all(maps.map((m) => m.data()));
    times.push((performance.now() - s) / B);
  }
  const st = [];
  for (const m of maps) {
    const d = (await m.data()) as Float32Array;
    // distinctness: relative distance between image 0 and 1 features
    const per = d.length / B;
    let diff = 0, norm = 0;
    for (let i = 0; i < per; i++) {
      diff += (d[i] - d[per + i]) ** 2;
      norm += d[i] ** 2;
    }
    st.push({ shape: m.shape, ...stats(d), relDiff01: Math.sqrt(diff / norm) });
  }
  tf.dispose(maps);
  net.dispose();
  out[name] = { loadMs, msPerImage: Math.min(...times), times, maps: st };
}
x.dispose();
out.numTensors = tf.memory().numTensors;
console.log(JSON.stringify(out, null, 1));
