/**
 * A speed fix for the gradient of `softmax` on tfjs-backend-wasm 4.22. tfjs defines it as four
 * kernels over the whole tensor (`dy·y`, its sum over the last axis, that sum times `y`, the
 * difference); in a training step the attention softmaxes are the largest tensors
 * (`[images·heads, tokens, tokens]`), so each pass is a memory-bound sweep over megabytes.
 * {@linkcode patchSoftmaxGradient} replaces the gradient with one that, on the wasm backend, runs
 * lib/wasm_gemm.ts's `softmaxGrad` (one pass over each row's inputs and one over its outputs) as the
 * kernel `GrefelSoftmaxGrad`; on every other backend, and for a softmax over another axis, it is
 * tfjs' own composite. The values equal tfjs' gradient to float rounding (the row sum adds in
 * another order).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { softmaxGradLastAxis, type WasmGemmBackend } from "./wasm_gemm.ts";

/** Name of the fused kernel (registered for the wasm backend only). */
export const SOFTMAX_GRAD_KERNEL = "GrefelSoftmaxGrad";

let original: tf.GradConfig | undefined;

/** tfjs' composite gradient of softmax over `dim` (tfjs-core's Softmax_grad). */
function compositeGrad(dy: tf.Tensor, y: tf.Tensor, dim: number): tf.Tensor {
  const dyTimesY = tf.mul(dy, y);
  return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
}

/**
 * Replaces tfjs' `Softmax` gradient by the fused one on wasm (see the module doc) and registers
 * its kernel. Idempotent.
 * @returns true if the gradient is patched after the call.
 */
export function patchSoftmaxGradient(): boolean {
  if (original) return true;
  const orig = tf.getGradient("Softmax");
  if (!orig) return false;
  original = orig;
  if (!tf.getKernel(SOFTMAX_GRAD_KERNEL, "wasm")) {
    tf.registerKernel({
      kernelName: SOFTMAX_GRAD_KERNEL,
      backendName: "wasm",
      kernelFunc: ({ inputs, backend }) => {
        const out = softmaxGradLastAxis(
          backend as unknown as WasmGemmBackend,
          inputs.y as tf.TensorInfo,
          inputs.dy as tf.TensorInfo,
        );
        if (!out) throw new Error(`${SOFTMAX_GRAD_KERNEL}: expected float32 y and dy of one shape`);
        return out;
      },
    });
  }
  tf.registerGradient({
    kernelName: "Softmax",
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved;
      const dim = (attrs as unknown as { dim: number }).dim;
      const last = dim === -1 || dim === y.rank - 1;
      const fused = last && tf.getBackend() === "wasm" && y.dtype === "float32" && y.size > 0;
      return {
        logits: () =>
          fused
            ? tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { y, dy: dy as tf.Tensor }) as tf.Tensor
            : compositeGrad(dy as tf.Tensor, y, dim),
      };
    },
  });
  return true;
}

/**
 * Restores tfjs' own `Softmax` gradient (for benchmarks and tests).
 * @returns true if a patched gradient was replaced.
 */
export function unpatchSoftmaxGradient(): boolean {
  if (!original) return false;
  tf.registerGradient(original);
  original = undefined;
  return true;
}
