/**
 * A speed fix for tfjs-backend-wasm 4.22's `Maximum` and `Minimum` kernels with a scalar operand.
 * Converted graph models (Human's faceres among them) write ReLU6 as `Minimum(Maximum(x, 0), 6)`,
 * and the wasm backend runs those through its generic broadcasting binary op, which is not
 * vectorised: on `[16, 80, 80, 64]`, `maximum(x, 0)` took 261 ms against 61 ms for
 * `clipByValue(x, 0, ∞)` (bench: npm-face-fast extraction spent 32% of its kernel time there).
 *
 * {@linkcode patchWasmScalarMinMax} re-registers both kernels: when one operand holds a single
 * float32 value c and the other is float32, `maximum(x, c)` runs as the wasm `ClipByValue` kernel
 * with bounds [c, +∞] and `minimum(x, c)` with [−∞, c] (XNNPACK's clamp); every other case goes to
 * the original kernel. The values are the same for every finite and infinite input (the sign of a
 * zero may differ: −0 against +0). Gradients are untouched (they are defined on the op).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

/** The part of tfjs-backend-wasm's backend used here. */
interface WasmBackendLike {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

const originals = new Map<string, tf.KernelConfig>();

/** Number of elements of a tensor shape. */
function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Replaces the wasm `Maximum` and `Minimum` kernels by clamps when one operand is a single value
 * (see the module doc). Idempotent.
 * @returns true if both kernels are patched after the call.
 */
export function patchWasmScalarMinMax(): boolean {
  const clip = tf.getKernel("ClipByValue", "wasm");
  if (!clip) return false;
  for (const name of ["Maximum", "Minimum"] as const) {
    if (originals.has(name)) continue;
    const orig = tf.getKernel(name, "wasm");
    if (!orig) return false;
    originals.set(name, orig);
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel({
      ...orig,
      kernelFunc: (args) => {
        const a = args.inputs.a as tf.TensorInfo, b = args.inputs.b as tf.TensorInfo;
        const sa = sizeOf(a.shape), sb = sizeOf(b.shape);
        const scalarB = sb === 1 && a.shape.length >= b.shape.length;
        const scalarA = sa === 1 && b.shape.length >= a.shape.length && !scalarB;
        if (a.dtype !== "float32" || b.dtype !== "float32" || (!scalarA && !scalarB)) {
          return orig.kernelFunc(args);
        }
        const [x, s] = scalarB ? [a, b] : [b, a];
        const backend = args.backend as unknown as WasmBackendLike;
        const c = backend.typedArrayFromHeap(s)[0];
        const attrs = name === "Maximum"
          ? { clipValueMin: c, clipValueMax: Infinity }
          : { clipValueMin: -Infinity, clipValueMax: c };
        return clip.kernelFunc({ inputs: { x }, backend: args.backend, attrs });
      },
    });
  }
  return true;
}

/**
 * Restores tfjs' own wasm `Maximum` and `Minimum` kernels (for benchmarks and tests).
 * @returns true if a patched kernel was replaced.
 */
export function unpatchWasmScalarMinMax(): boolean {
  if (!originals.size) return false;
  for (const [name, orig] of originals) {
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel(orig);
  }
  originals.clear();
  return true;
}
