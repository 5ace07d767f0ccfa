/**
 * A speed fix for tfjs-backend-wasm 4.22's `BatchMatMul`: with `transposeA` or `transposeB` set its
 * kernel takes a slow path, 10–20× slower than transposing the operand first and multiplying
 * plainly (measured in bench/: `[392,1024]ᵀ·[392,128]` 247 ms vs 13 ms; `[392,1024]·[128,1024]ᵀ`
 * 100 ms vs 22 ms). Every matMul gradient uses a transposed operand (dW = xᵀ·dy, dx = dy·Wᵀ), and
 * attention multiplies q·kᵀ, so the training step spent ~85% of its time there.
 *
 * {@linkcode patchWasmBatchMatMul} re-registers the wasm `BatchMatMul` kernel. Batched products
 * and products with few output rows (weight gradients, attention) go to the unpacked SIMD kernel of
 * lib/wasm_gemm.ts; the rest transpose the flagged operand(s) with the wasm `Transpose` kernel,
 * then call the original kernel without flags.
 * Results are the same products (summation order may differ in the last bit); gradients are
 * untouched (they are defined on the op, not the kernel). Other backends are not affected.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { gemmProduct, type WasmGemmBackend } from "./wasm_gemm.ts";

let patched = false;
let useGemm = (globalThis as { Deno?: typeof Deno }).Deno?.env.get("GREFEL_WASM_GEMM") !== "0";
let batchLoop =
  (globalThis as { Deno?: typeof Deno }).Deno?.env.get("GREFEL_WASM_BATCH_LOOP") !== "0";

/** The parts of tfjs-backend-wasm's backend used by {@linkcode perItem}. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(id: object): void;
}

/**
 * A batched product `[Ba, m, k]·[Bb, k, n]` (batch dims broadcast) as one rank-2 product per
 * batch item: tfjs-wasm runs rank-2 products through XNNPACK but batched ones through a plain
 * loop that is ~10× slower (bench: `[256,148,16]·[256,16,148]` 444 ms batched). Items are copied
 * in and out of the wasm heap with `TypedArray.set` (no extra kernels).
 */
function perItem(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  backend: WasmBackendLike,
  orig: tf.KernelConfig,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const ra = a.shape.length, rb = b.shape.length;
  const m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
  const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batch = Math.max(batchA, batchB);
  const outer = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
  const simple = (batchA === batch || batchA === 1) && (batchB === batch || batchB === 1) &&
    (a.shape.length === b.shape.length || batchA === 1 || batchB === 1);
  if (batch === 1 || !simple || a.dtype !== "float32" || m * k * n < 4096) {
    return orig.kernelFunc({ inputs: { a, b }, backend: backend as never, attrs }) as tf.TensorInfo;
  }
  const out = backend.makeOutput([...outer, m, n], "float32");
  // The right operand must be a fresh tensor per item: tfjs-wasm caches XNNPACK operators (with
  // packed weights) by the right operand's id, and drops the cache entry when it is disposed.
  let bi: tf.TensorInfo | null = null;
  const ai = backend.makeOutput([1, m, k], "float32");
  for (let i = 0; i < batch; i++) {
    // Heap views are re-taken for every copy: a kernel call may grow (and move) the heap.
    const ia = batchA > 1 ? i : 0, ib = batchB > 1 ? i : 0;
    if (i === 0 || batchA > 1) {
      backend.typedArrayFromHeap(ai).set(
        backend.typedArrayFromHeap(a).subarray(ia * m * k, (ia + 1) * m * k),
      );
    }
    if (i === 0 || batchB > 1) {
      if (bi) backend.disposeData(bi.dataId);
      bi = backend.makeOutput([1, k, n], "float32");
      backend.typedArrayFromHeap(bi).set(
        backend.typedArrayFromHeap(b).subarray(ib * k * n, (ib + 1) * k * n),
      );
    }
    const oi = orig.kernelFunc({
      inputs: { a: ai, b: bi! },
      backend: backend as never,
      attrs,
    }) as tf.TensorInfo;
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(oi), i * m * n);
    backend.disposeData(oi.dataId);
  }
  backend.disposeData(ai.dataId);
  if (bi) backend.disposeData(bi.dataId);
  return out;
}

/**
 * Turns the unpacked GEMM kernel (lib/wasm_gemm.ts) on or off (for benchmarks; default on, or off
 * with the environment variable `GREFEL_WASM_GEMM=0`). Off, every product takes the
 * transpose + XNNPACK path.
 */
export function setWasmGemm(on: boolean): void {
  useGemm = on;
}

/** Turns the per-item loop for batched products on or off (for benchmarks; default on). */
export function setWasmBatchLoop(on: boolean): void {
  batchLoop = on;
}
let original: tf.KernelConfig | undefined;

/** Whether {@linkcode patchWasmBatchMatMul} has replaced the kernel in this process. */
export function wasmBatchMatMulPatched(): boolean {
  return patched;
}

/**
 * Replaces the wasm `BatchMatMul` kernel by transpose + plain multiply (see the module doc).
 * Idempotent; safe to call before or after the wasm backend is initialised.
 * @returns true if the kernel is patched after the call.
 */
export function patchWasmBatchMatMul(): boolean {
  if (patched) return true;
  const orig = tf.getKernel("BatchMatMul", "wasm");
  const transpose = tf.getKernel("Transpose", "wasm");
  if (!orig || !transpose) return false;
  original = orig;
  const swapLast = (x: tf.TensorInfo, backend: unknown): tf.TensorInfo => {
    const r = x.shape.length;
    const perm = Array.from({ length: r }, (_, i) => i);
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    return transpose.kernelFunc({
      inputs: { x },
      backend: backend as tf.KernelBackend,
      attrs: { perm },
    }) as tf.TensorInfo;
  };
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({
    ...orig,
    kernelFunc: (args) => {
      const backend = args.backend as unknown as WasmBackendLike;
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      const inA = args.inputs.a as tf.TensorInfo, inB = args.inputs.b as tf.TensorInfo;
      if (useGemm) {
        const out = gemmProduct(inA, inB, transposeA, transposeB, {
          backend: args.backend as unknown as WasmGemmBackend,
          swapLast: (x) => swapLast(x, args.backend),
        });
        if (out) return out;
      }
      const a = transposeA ? swapLast(inA, backend) : inA;
      const b = transposeB ? swapLast(inB, backend) : inB;
      const plain = { ...args.attrs, transposeA: false, transposeB: false };
      const out = batchLoop
        ? perItem(a, b, backend, orig, plain)
        : orig.kernelFunc({ inputs: { a, b }, backend: args.backend, attrs: plain });
      if (transposeA) backend.disposeData(a.dataId);
      if (transposeB) backend.disposeData(b.dataId);
      return out;
    },
  });
  patched = true;
  return true;
}

/**
 * Restores tfjs' own wasm `BatchMatMul` kernel (for benchmarks that compare the two).
 * @returns true if a patched kernel was replaced.
 */
export function unpatchWasmBatchMatMul(): boolean {
  if (!patched || !original) return false;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel(original);
  patched = false;
  return true;
}

let identityPatched = false;
let originalIdentity: tf.KernelConfig | undefined;

/**
 * Replaces the wasm `Identity` kernel, which copies its input, by one that shares the input's data
 * and counts a reference (as tfjs' cpu backend and the wasm `Reshape` kernel do). The engine runs
 * Identity (`clone`) for every tensor it saves for a gradient, several hundred per training step.
 * Tensor data is never written after creation (a variable's `assign` points the variable at new
 * data), so sharing gives the same values. Strings keep the original kernel. Idempotent.
 * @returns true if the kernel is patched after the call.
 */
export function patchWasmIdentity(): boolean {
  if (identityPatched) return true;
  const orig = tf.getKernel("Identity", "wasm");
  if (!orig) return false;
  originalIdentity = orig;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    ...orig,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype === "string") return orig.kernelFunc(args);
      (args.backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
  identityPatched = true;
  return true;
}

/**
 * Restores tfjs' own wasm `Identity` kernel (for benchmarks that compare it with
 * {@linkcode patchWasmIdentity}).
 * @returns true if a patched kernel was replaced.
 */
export function unpatchWasmIdentity(): boolean {
  if (!identityPatched || !originalIdentity) return false;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel(originalIdentity);
  identityPatched = false;
  return true;
}
