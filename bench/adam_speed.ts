/**
 * Benchmark (not a test): one Adam update of the compact model's trainable weights with tfjs'
 * `AdamOptimizer` (A) against lib/wasm_adam.ts's fused update (B), interleaved A B A B … in one
 * process on the same gradients, on the wasm backend; also the kernels each issues per update.
 *
 * Usage (prints one JSON line):
 *   deno run -A bench/adam_speed.ts [--config compact] [--rounds 20]
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/backend.ts";
import { presetConfig } from "../lib/config.ts";
import { initGrefel, trainableVariables } from "../lib/model/mod.ts";
import { createAdam } from "../lib/wasm_adam.ts";
import { median } from "./model_speed.ts";

const { values } = parseArgs({
  options: {
    config: { type: "string", default: "compact" },
    rounds: { type: "string", default: "20" },
  },
});
await selectBackend("wasm");
const cfg = presetConfig(values.config!).model;
const rounds = Number(values.rounds);
const vars = trainableVariables(initGrefel(cfg, 0));
const grads: tf.NamedTensorMap = {};
for (const v of vars) grads[v.name] = tf.randomNormal(v.shape, 0, 0.01, "float32", 1);
type Grads = Parameters<tf.AdamOptimizer["applyGradients"]>[0];
const variants = { tfjs: tf.train.adam(1e-3), fused: createAdam(1e-3) };
const ms: Record<string, number[]> = { tfjs: [], fused: [] };
const kernels: Record<string, number> = {};
for (const [k, opt] of Object.entries(variants)) {
  opt.applyGradients(grads as unknown as Grads); // creates the moments
  kernels[k] = (await tf.profile(() => opt.applyGradients(grads as unknown as Grads))).kernels
    .length;
}
for (let r = 0; r < rounds; r++) {
  for (const [k, opt] of Object.entries(variants)) {
    const t = performance.now();
    opt.applyGradients(grads as unknown as Grads);
    await vars[0].data();
    ms[k].push(performance.now() - t);
  }
}
console.log(JSON.stringify({
  config: values.config,
  weights: vars.length,
  values: vars.reduce((n, v) => n + v.size, 0),
  rounds,
  msMedian: { tfjs: median(ms.tfjs), fused: median(ms.fused) },
  kernelsPerUpdate: kernels,
  load: Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]),
}));
