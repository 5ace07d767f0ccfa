/**
 * Benchmark (not a test): where one inference batch of the compact model spends its kernel time,
 * on FER+'s validation features as the trainer reads them. Runs `grefelForward` (training off) on
 * one batch under `tf.profile`, after warm-up passes, and reports per kernel name the calls and
 * kernel milliseconds, and the largest matrix products with their shapes, GFLOP and GFLOP/s, so
 * that the evaluation time can be set against the products' floor (FLOPs at the products' rate).
 *
 * Weights are the seeded initialisation (speed does not depend on them). Needs the FER+ feature
 * cache (built by any compact FER+ run) and the data set (`GREFEL_FERPLUS` or the default path).
 *
 * Usage (prints one JSON line):
 *   deno run -A bench/profile_infer.ts [--batch 64] [--warmup 2] [--rounds 3] [--top 8]
 *     [--config compact]
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/backend.ts";
import { ferplusData } from "./ferplus_data.ts";
import { MODEL_FNS } from "../lib/train/model_fns.ts";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "64" },
    warmup: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    top: { type: "string", default: "8" },
    config: { type: "string", default: "compact" },
  },
});
const batch = Number(values.batch), rounds = Number(values.rounds), top = Number(values.top);
await selectBackend("wasm");
const { data, cfg } = await ferplusData(values.config!);
const params = MODEL_FNS.initGrefel(cfg, 0);
const inputs = await data.val!.readBatch(Array.from({ length: batch }, (_, i) => i), 0);
const forward = () =>
  tf.tidy(() => {
    const o = MODEL_FNS.grefelForward(params, inputs, cfg, { training: false });
    return o.final!.clone();
  });
for (let w = 0; w < Number(values.warmup); w++) forward().dispose();

/** Per kernel name: calls and kernel ms, summed over the profiled rounds. */
const byName = new Map<string, { calls: number; ms: number }>();
/** Per matrix-product shape: calls, kernel ms and FLOPs per call. */
const products = new Map<string, { calls: number; ms: number; flops: number }>();
let wallMs = 0, kernelMs = 0;
for (let r = 0; r < rounds; r++) {
  const t = performance.now();
  const info = await tf.profile(() => forward());
  wallMs += performance.now() - t;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    kernelMs += ms;
    const n = byName.get(k.name) ?? { calls: 0, ms: 0 };
    byName.set(k.name, { calls: n.calls + 1, ms: n.ms + ms });
    if (k.name === "BatchMatMul" || k.name === "_FusedMatMul") {
      const [a, b] = k.inputShapes as number[][];
      const out = k.outputShapes[0] as number[];
      // [..., M, N] output: 2 · (batch · M · N) · K, K the contracted size (a's last dimension,
      // or its second-to-last with transposeA; both share K with b, so read it from the
      // dimension a and b agree on).
      const kDim = a.at(-1) === b.at(-2) || a.at(-1) === b.at(-1) ? a.at(-1)! : a.at(-2)!;
      const flops = 2 * out.reduce((s, d) => s * d, 1) * kDim;
      const key = `${k.name} ${JSON.stringify(a)}×${JSON.stringify(b)}→${JSON.stringify(out)}`;
      const p = products.get(key) ?? { calls: 0, ms: 0, flops };
      products.set(key, { calls: p.calls + 1, ms: p.ms + ms, flops });
    }
  }
}
tf.dispose([...inputs.landmark, ...inputs.image]);
MODEL_FNS.disposeParams(params);

const perRound = (x: number) => Number((x / rounds).toFixed(2));
const kernels = [...byName].sort((a, b) => b[1].ms - a[1].ms).map(([name, v]) => ({
  name,
  calls: v.calls / rounds,
  ms: perRound(v.ms),
}));
const productFlops = [...products.values()].reduce((s, p) => s + p.flops * p.calls, 0) / rounds;
const productMs = [...products.values()].reduce((s, p) => s + p.ms, 0) / rounds;
console.log(JSON.stringify({
  config: values.config,
  batch,
  rounds,
  wallMsPerBatch: perRound(wallMs),
  kernelMsPerBatch: perRound(kernelMs),
  matmul: {
    msPerBatch: Number(productMs.toFixed(2)),
    gflopPerBatch: Number((productFlops / 1e9).toFixed(3)),
    gflopPerSecond: Number((productFlops / 1e6 / productMs).toFixed(1)),
    top: [...products].sort((a, b) => b[1].ms - a[1].ms).slice(0, top).map(([shape, p]) => ({
      shape,
      callsPerBatch: p.calls / rounds,
      gflop: Number((p.flops / 1e9).toFixed(3)),
      ms: perRound(p.ms),
      gflopPerSecond: Number((p.flops * p.calls / 1e6 / p.ms).toFixed(1)),
    })),
  },
  kernels: kernels.slice(0, 12),
  load: Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]),
}));
