/**
 * A speed fix for tfjs-backend-wasm 4.22's `Sum` over leading axes: a training step sums every
 * bias and normalisation-scale gradient over its tokens (`[9472, 64]` → `[64]`), and the wasm
 * kernel first transposes the reduced axes to the end (a full copy) before reducing. The patched
 * kernel sums the rows in place with lib/wasm_gemm.ts's `sumRows` (vectorised over the last axis);
 * every other reduction goes to the original kernel. Gradients are untouched (they are defined on
 * the op).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { sumLeadingAxes, type WasmGemmBackend } from "./wasm_gemm.ts";

let original: tf.KernelConfig | undefined;

/**
 * Replaces the wasm `Sum` kernel by a row sum when the reduction is over every axis but the last
 * (see the module doc). Idempotent.
 * @returns true if the kernel is patched after the call.
 */
export function patchWasmSum(): boolean {
  if (original) return true;
  const orig = tf.getKernel("Sum", "wasm");
  if (!orig) return false;
  original = orig;
  tf.unregisterKernel("Sum", "wasm");
  tf.registerKernel({
    ...orig,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
      const axes = Array.isArray(axis) ? axis : [axis];
      const out = sumLeadingAxes(x, axes, keepDims, args.backend as unknown as WasmGemmBackend);
      return out ?? orig.kernelFunc(args);
    },
  });
  return true;
}

/**
 * Restores tfjs' own wasm `Sum` kernel (for benchmarks and tests).
 * @returns true if a patched kernel was replaced.
 */
export function unpatchWasmSum(): boolean {
  if (!original) return false;
  tf.unregisterKernel("Sum", "wasm");
  tf.registerKernel(original);
  original = undefined;
  return true;
}
