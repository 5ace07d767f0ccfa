/**
 * Benchmark (not a test) on FER+'s compact feature cache, as the trainer reads it:
 *
 * - evaluation of the validation and test splits (`predictSplit`) in this thread alone (A) against
 *   the data-parallel workers (B, `train.workers` = 2: the workers embed, this thread reads batches
 *   and runs the head), interleaved A B A B … in one process;
 * - with `--steps N`, N training steps on real batches each way, interleaved: one thread (decode +
 *   `trainStep`), the workers given decoded maps (decode here + `DataParallel.step`), and the
 *   workers given the undecoded records (each decodes its share).
 *
 * Weights are the seeded initialisation (speed does not depend on them). Needs the FER+ feature
 * cache (built by any compact FER+ run) and the data set (`GREFEL_FERPLUS` or the default path).
 *
 * Usage (prints one JSON line):
 *   deno run -A bench/eval_speed.ts [--rounds 2] [--workers 2] [--batch 64] [--steps 0]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { selectBackend } from "../lib/backend.ts";
import { ferplusData } from "./ferplus_data.ts";
import { MODEL_FNS } from "../lib/train/model_fns.ts";
import { predictSplit } from "../lib/train/train.ts";
import { DataParallel } from "../lib/train/parallel.ts";
import { median } from "./model_speed.ts";
import * as tf from "@tensorflow/tfjs";
import { createAdam } from "../lib/wasm_adam.ts";
import { type StepState, trainStep } from "../lib/train/step.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "2" },
    workers: { type: "string", default: "2" },
    batch: { type: "string", default: "64" },
    steps: { type: "string", default: "0" },
  },
});
const rounds = Number(values.rounds), workers = Number(values.workers);
const batch = Number(values.batch);
await selectBackend("wasm");
const { data, cfg } = await ferplusData("compact");
const params = MODEL_FNS.initGrefel(cfg, 0);
const dp = await DataParallel.start(MODEL_FNS, cfg, workers, batch);
const images = data.val!.ids.length + data.test.ids.length;
const seconds: Record<"single" | "parallel", number[]> = { single: [], parallel: [] };
let maxDiff = 0;
const stepSeconds: Record<"single" | "maps" | "records", number[]> = {
  single: [],
  maps: [],
  records: [],
};
try {
  const train = data.train;
  const opt = createAdam(1e-4);
  const st: StepState = { model: MODEL_FNS, params, optimizer: opt, cfg, smoothing: 0 };
  for (let k = 0; k < Number(values.steps); k++) {
    const idx = Array.from({ length: batch }, (_, i) => (k * 7919 + i * 131) % train.ids.length);
    const labels = Int32Array.from(idx, (i) => train.labels[i]);
    const o = { dropoutSeed: k, progress: 0 };
    for (const kind of ["single", "maps", "records"] as const) {
      const t = performance.now();
      if (kind === "records") {
        const inputs = { records: train.readRecords!(idx, 0), layout: train.recordLayout! };
        await dp.step(st, { inputs, labels }, o);
      } else {
        const inputs = await train.readBatch(idx, 0);
        if (kind === "single") await trainStep(st, { inputs, labels }, o);
        else await dp.step(st, { inputs, labels }, o);
        tf.dispose([...inputs.landmark, ...inputs.image]);
      }
      if (k > 0) stepSeconds[kind].push((performance.now() - t) / 1000); // step 0 warms up
    }
  }
  opt.dispose();
  for (let r = 0; r < rounds; r++) {
    const finals: Float32Array[] = [];
    for (const k of ["single", "parallel"] as const) {
      const t = performance.now();
      const p = k === "parallel" ? dp : null;
      const v = await predictSplit(MODEL_FNS, params, data.val!, cfg, batch, undefined, p);
      await predictSplit(MODEL_FNS, params, data.test, cfg, batch, undefined, p);
      seconds[k].push((performance.now() - t) / 1000);
      finals.push(v.final);
    }
    finals[0].forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - finals[1][i]))));
  }
} finally {
  dp.close();
  MODEL_FNS.disposeParams(params);
}
console.log(JSON.stringify({
  images,
  batch,
  workers,
  rounds,
  seconds,
  medianSeconds: { single: median(seconds.single), parallel: median(seconds.parallel) },
  maxAbsDiffFinal: maxDiff,
  ...(stepSeconds.single.length
    ? {
      stepSeconds,
      stepMedianSeconds: {
        single: median(stepSeconds.single),
        maps: median(stepSeconds.maps),
        records: median(stepSeconds.records),
      },
    }
    : {}),
  load: Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]),
}));
