/**
 * Benchmark (not a test): the gradient of a last-axis softmax on wasm, tfjs' four-kernel composite
 * (A) against lib/wasm_softmax.ts's fused kernel (B), interleaved A B A B … in one process on the
 * same tensors (default the compact model's largest attention softmax, `[256, 148, 148]`). Each
 * timing is the whole `tf.grad` of `Σ softmax(x)·w` (forward included, the same in both); the
 * kernel profile of one gradient each way shows the backward kernels alone.
 *
 * Usage (prints one JSON line):
 *   deno run -A bench/softmax_grad.ts [--shape 256,148,148] [--rounds 10]
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/backend.ts";
import { patchSoftmaxGradient, unpatchSoftmaxGradient } from "../lib/wasm_softmax.ts";
import { median } from "./model_speed.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    shape: { type: "string", default: "256,148,148" },
    rounds: { type: "string", default: "10" },
  },
});
const shape = values.shape!.split(",").map(Number);
await selectBackend("wasm");
const x = tf.randomNormal(shape, 0, 3, "float32", 1);
const w = tf.randomNormal(shape, 0, 1, "float32", 2);
const gradOnce = async () => {
  const g = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.softmax(v), w)))(x));
  await g.data();
  g.dispose();
};
const use = (fused: boolean) => (fused ? patchSoftmaxGradient() : unpatchSoftmaxGradient());
const ms: { A: number[]; B: number[] } = { A: [], B: [] };
await gradOnce();
for (let r = 0; r < Number(values.rounds); r++) {
  for (const v of ["A", "B"] as const) {
    use(v === "B");
    const t0 = performance.now();
    await gradOnce();
    ms[v].push(performance.now() - t0);
  }
}
// The backward kernels of one gradient each way (after the forward's Softmax, Multiply, Sum).
const backward = async (fused: boolean) => {
  use(fused);
  const p = await tf.profile(gradOnce);
  const ks = p.kernels.slice(p.kernels.findIndex((k) => k.name === "Cast") + 1);
  return ks.map((k) => ({ name: k.name, ms: +(k.kernelTimeMs as number).toFixed(2) }));
};
const composite = await backward(false), fused = await backward(true);
patchSoftmaxGradient();
console.log(JSON.stringify({
  shape,
  gradientMs: { composite: median(ms.A), fused: median(ms.B) },
  ratio: median(ms.B.map((b, i) => b / ms.A[i])),
  softmaxBackwardKernels: { composite, fused },
}));
