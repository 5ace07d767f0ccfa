/**
 * Matrix products without operand packing, for tfjs-backend-wasm 4.22.
 *
 * tfjs-wasm runs a rank-2 product through XNNPACK's fully-connected operator, which first packs
 * the right operand (as if it were a layer's weights) and caches the packed copy by tensor id. In
 * a training step almost every right operand is fresh: weight gradients dW = xᵀ·dy multiply two
 * activations of thousands of rows, and attention multiplies per-item slices. Packing a fresh
 * operand costs ≈ 16–21 ns per value here (`[9472,64]ᵀ·[9472,64]`: 17.5 ms fresh vs ≈ 5 ms
 * packed), more than the product itself whenever the left operand has fewer than a few hundred
 * rows; batched products never reach XNNPACK at all (lib/wasm_matmul.ts loops over items).
 *
 * This module runs a small WebAssembly SIMD kernel (lib/wasm_gemm_wat.ts) that reads both operands
 * where they lie in tfjs-wasm's heap (it imports the same `WebAssembly.Memory`), reads the left
 * operand through strides (so `transposeA` needs no copy) and the batch through item strides (so a
 * batched product is one call), and writes into a fresh output tensor. {@linkcode gemmProduct}
 * decides per product whether to use it (see {@linkcode GEMM_MAX_ROWS}); lib/wasm_matmul.ts calls
 * it from the patched `BatchMatMul` kernel. Products equal tfjs' to float rounding (each output
 * element is a sum over k in increasing order).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { decodeBase64 } from "./wasm_gemm_base64.ts";
import { GEMM_WASM_BASE64 } from "./wasm_gemm_binary.ts";
import { GEMM_SCRATCH_BYTES } from "./wasm_gemm_wat.ts";

/** The parts of tfjs-backend-wasm's backend this module uses. */
export interface WasmGemmBackend {
  /** The Emscripten module; `asm.memory` is the heap's `WebAssembly.Memory`. */
  wasm: { asm: { memory: WebAssembly.Memory }; _malloc(bytes: number): number };
  /** Tensor storage: the heap offset of each tensor's data. */
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  /** Allocates an output tensor on the heap. */
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  /** Frees a tensor's data. */
  disposeData(id: object): void;
}

type GemmFn = (
  a: number,
  b: number,
  c: number,
  m: number,
  k: number,
  n: number,
  sam: number,
  sak: number,
  batch: number,
  sA: number,
  sB: number,
  sC: number,
  scratch: number,
) => void;

/**
 * Rank-2 products whose output has more rows than this (after choosing the orientation, see
 * {@linkcode gemmProduct}) stay on XNNPACK: with thousands of rows its packing is a small share and
 * its kernel is faster than this one (measured: `[9472,256]·[256,64]` 16.6 ms XNNPACK with a fresh
 * right operand vs 21.5 ms here; `[64,9472]·[9472,64]` 18.3 ms vs 12.4 ms).
 */
export const GEMM_MAX_ROWS = 256;

/** The kernels bound to one heap, with the product's scratch buffer there. */
interface Bound {
  gemm: GemmFn;
  sumRows: (b: number, c: number, k: number, n: number) => void;
  adam: (
    p: number,
    g: number,
    m: number,
    v: number,
    po: number,
    mo: number,
    vo: number,
    n: number,
    ...constants: AdamConstants
  ) => void;
  macc: (d: number, a: number, b: number, n: number) => void;
  softmaxGrad: (y: number, dy: number, dx: number, rows: number, n: number) => void;
  scratch: number;
}

const instances = new WeakMap<WebAssembly.Memory, Bound>();
let compiled: WebAssembly.Module | undefined;

/**
 * The kernel bound to a backend's heap (compiled once; instantiated once per heap, with a
 * {@linkcode GEMM_SCRATCH_BYTES} scratch buffer allocated there and kept for the heap's life).
 */
function bound(backend: WasmGemmBackend): Bound {
  const memory = backend.wasm.asm.memory;
  let b = instances.get(memory);
  if (!b) {
    compiled ??= new WebAssembly.Module(decodeBase64(GEMM_WASM_BASE64) as BufferSource);
    const inst = new WebAssembly.Instance(compiled, { env: { memory } });
    b = {
      gemm: inst.exports.gemm as GemmFn,
      sumRows: inst.exports.sumRows as Bound["sumRows"],
      adam: inst.exports.adam as Bound["adam"],
      macc: inst.exports.macc as Bound["macc"],
      softmaxGrad: inst.exports.softmaxGrad as Bound["softmaxGrad"],
      scratch: backend.wasm._malloc(GEMM_SCRATCH_BYTES) >>> 0,
    };
    instances.set(memory, b);
  }
  return b;
}

function offset(backend: WasmGemmBackend, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error("wasm gemm: tensor data not on the wasm backend");
  return d.memoryOffset;
}

const prod = (xs: readonly number[]) => xs.reduce((x, y) => x * y, 1);

/** What {@linkcode gemmProduct} needs besides the operands. */
export interface GemmContext {
  /** The backend whose heap holds the operands. */
  backend: WasmGemmBackend;
  /** Swaps the last two axes of a tensor (the wasm `Transpose` kernel); returns a new tensor. */
  swapLast: (x: tf.TensorInfo) => tf.TensorInfo;
}

/**
 * `op(a)·op(b)` (tfjs `BatchMatMul` semantics: rank ≥ 2, batch axes equal or 1 on one side) with
 * the unpacked kernel, or null where it does not apply or XNNPACK is expected to be faster: dtypes
 * other than float32, empty operands, batch axes that broadcast other than whole-side, and rank-2
 * products with more than {@linkcode GEMM_MAX_ROWS} output rows in both orientations.
 *
 * Layouts: `transposeA` is read through strides. `transposeB` transposes b first (the kernel wants
 * b row-major `[k, n]`). For a rank-2 `aᵀ·b` with more rows than columns, it computes
 * `(bᵀ·a)ᵀ` instead (a and b both read in place; the small output is transposed).
 */
export function gemmProduct(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  ctx: GemmContext,
): tf.TensorInfo | null {
  if (a.dtype !== "float32" || b.dtype !== "float32") return null;
  const ra = a.shape.length, rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (m === 0 || k === 0 || n === 0) return null;
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = prod(outerA), batchB = prod(outerB);
  const batch = Math.max(batchA, batchB);
  const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  const wholeSide = (batchA === 1 && (outerA.length <= outerB.length)) ||
    (batchB === 1 && outerB.length <= outerA.length);
  if (!sameOuter && !wholeSide) return null;
  // The output's batch axes: one side's axes are all 1 or both sides are equal, so the per-axis
  // maximum (right-aligned) is tfjs' broadcast.
  const rank = Math.max(outerA.length, outerB.length);
  const outer = Array.from({ length: rank }, (_, i) => {
    const da = outerA[i - rank + outerA.length] ?? 1, db = outerB[i - rank + outerB.length] ?? 1;
    return Math.max(da, db);
  });
  const { backend } = ctx;

  // Rank-2 aᵀ·b with m > n: (bᵀ·a)ᵀ keeps the kernel's output rows (and a's read stride) small.
  const flip = batch === 1 && transposeA && !transposeB && m > n;
  const rows = flip ? n : m;
  if (batch === 1 && rows > GEMM_MAX_ROWS) return null;

  const { gemm, scratch } = bound(backend);
  const bt = transposeB ? ctx.swapLast(b) : b;
  try {
    if (flip) {
      // C'[n, m] = bᵀ·a: left operand b [k, n] read transposed (row i of bᵀ is column i of b).
      const ct = backend.makeOutput([n, m], "float32");
      gemm(
        offset(backend, b),
        offset(backend, a),
        offset(backend, ct),
        n,
        k,
        m,
        4,
        4 * n,
        1,
        0,
        0,
        0,
        scratch,
      );
      const c = ctx.swapLast(ct);
      backend.disposeData(ct.dataId);
      return outer.length ? { ...c, shape: [...outer, m, n] } : c;
    }
    const out = backend.makeOutput([...outer, m, n], "float32");
    // Element (i, j) of the left operand: row-major [m, k] → (4k, 4); [k, m] read transposed → (4, 4m).
    const sam = transposeA ? 4 : 4 * k, sak = transposeA ? 4 * m : 4;
    gemm(
      offset(backend, a),
      offset(backend, bt),
      offset(backend, out),
      m,
      k,
      n,
      sam,
      sak,
      batch,
      batchA > 1 ? 4 * m * k : 0,
      batchB > 1 ? 4 * k * n : 0,
      4 * m * n,
      scratch,
    );
    return out;
  } finally {
    if (bt !== b) backend.disposeData(bt.dataId);
  }
}

/**
 * `sum(x, axes)` over all axes but the last (bias and normalisation-scale gradients: a
 * `[tokens, channels]` gradient summed over tokens) in one pass over the rows, or null for any other
 * reduction or dtype. tfjs-wasm's `Sum` transposes the reduced axes last first, a full copy of the
 * input. Each output is the sum over rows in increasing order.
 */
export function sumLeadingAxes(
  x: tf.TensorInfo,
  axes: readonly number[],
  keepDims: boolean,
  backend: WasmGemmBackend,
): tf.TensorInfo | null {
  const r = x.shape.length;
  if (x.dtype !== "float32" || r < 2) return null;
  const norm = [...new Set(axes.map((a) => (a < 0 ? a + r : a)))].sort((p, q) => p - q);
  if (norm.length !== r - 1 || norm.some((a, i) => a !== i)) return null;
  const n = x.shape[r - 1], k = prod(x.shape.slice(0, -1));
  if (n === 0 || k === 0) return null;
  const out = backend.makeOutput(keepDims ? [...Array(r - 1).fill(1), n] : [n], "float32");
  bound(backend).sumRows(offset(backend, x), offset(backend, out), k, n);
  return out;
}

/**
 * The gradient of a softmax over the last axis from its output `y` and the output's gradient `dy`
 * (float32 tensors of one shape on the heap), `y·dy − y·Σ_last(y·dy)`, as a fresh tensor; null,
 * allocating nothing, for any other dtype, a shape mismatch or an empty tensor.
 */
export function softmaxGradLastAxis(
  backend: WasmGemmBackend,
  y: tf.TensorInfo,
  dy: tf.TensorInfo,
): tf.TensorInfo | null {
  const r = y.shape.length, n = y.shape[r - 1];
  if (
    r < 1 || y.dtype !== "float32" || dy.dtype !== "float32" || !n ||
    dy.shape.length !== r || dy.shape.some((d, i) => d !== y.shape[i])
  ) return null;
  const rows = prod(y.shape.slice(0, -1));
  if (!rows) return null;
  const out = backend.makeOutput([...y.shape], "float32");
  bound(backend).softmaxGrad(
    offset(backend, y),
    offset(backend, dy),
    offset(backend, out),
    rows,
    n,
  );
  return out;
}

/**
 * Adam's per-step constants, each a float32 value: β₁, 1 − β₁, β₂, 1 − β₂, 1 − β₁^t, 1 − β₂^t, ε
 * and −lr (see lib/wasm_gemm_wat.ts `adamWat`).
 */
export type AdamConstants = [
  b1: number,
  c1: number,
  b2: number,
  c2: number,
  d1: number,
  d2: number,
  eps: number,
  nlr: number,
];

/**
 * One Adam update on the heap: from the weight `p`, gradient `g` and moments `m`, `v` (float32
 * tensors of one size), returns the new weight and moments as fresh tensors of the backend (the
 * caller assigns them). Fresh storage matters: tfjs-wasm caches XNNPACK's packed copy of a matrix
 * product's right operand by tensor id, so a weight changed in place would keep multiplying with
 * its stale packed values. Returns null, allocating nothing, when any input is not a float32
 * tensor of the wasm heap of that size.
 */
export function adamUpdate(
  backend: WasmGemmBackend,
  p: tf.TensorInfo,
  g: tf.TensorInfo,
  m: tf.TensorInfo,
  v: tf.TensorInfo,
  constants: AdamConstants,
): [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo] | null {
  const n = prod(p.shape);
  const data = [p, g, m, v].map((t) => backend.dataIdMap.get(t.dataId));
  if (
    [p, g, m, v].some((t) => t.dtype !== "float32" || prod(t.shape) !== n) ||
    data.some((d) => !d || d.memoryOffset == null)
  ) return null;
  const out = [p, m, v].map((t) => backend.makeOutput([...t.shape], "float32")) as [
    tf.TensorInfo,
    tf.TensorInfo,
    tf.TensorInfo,
  ];
  const [dp, dg, dm, dv] = data.map((d) => d!.memoryOffset);
  const [op, om, ov] = out.map((t) => offset(backend, t));
  bound(backend).adam(dp, dg, dm, dv, op, om, ov, n, ...constants);
  return out;
}

/**
 * The heap's `macc(d, a, b, n)` kernel (d[i] += a[i]·b[i] over n float32 values at byte offsets
 * d, a, b of the heap; lib/wasm_gemm_wat.ts `maccWat`) and the heap offset of a tensor's data,
 * for kernels that loop over a tensor's rows themselves (lib/wasm_conv_grad.ts).
 */
export function heapMacc(backend: WasmGemmBackend): {
  macc: (d: number, a: number, b: number, n: number) => void;
  offset: (t: tf.TensorInfo) => number;
} {
  return { macc: bound(backend).macc, offset: (t) => offset(backend, t) };
}
