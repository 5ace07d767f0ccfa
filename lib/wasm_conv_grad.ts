/**
 * Gradient kernels that tfjs-backend-wasm 4.22 does not have: the filter gradients of `conv2d`
 * (`Conv2DBackpropFilter`) and of `depthwiseConv2d` (`DepthwiseConv2dNativeBackpropFilter`), and
 * the input gradient of `depthwiseConv2d` (`DepthwiseConv2dNativeBackpropInput`). Without them a
 * pretrained extractor's convolutions cannot be fine-tuned on wasm (tfjs throws "kernel not
 * registered"). `conv2d`'s input gradient (`Conv2DBackpropInput`) is in tfjs-wasm already.
 *
 * - `Conv2DBackpropFilter`: im2col of the input into patches `[N, KH·KW·CI]` (N = B·OH·OW, built
 *   in JavaScript straight into the wasm heap, in chunks of rows to bound memory), then one
 *   `patchesᵀ · dy` product `[KH·KW·CI, CO]` through the wasm `BatchMatMul` kernel (XNNPACK);
 *   the chunks' products are summed. The product's layout is the filter's `[KH, KW, CI, CO]`.
 * - `DepthwiseConv2dNativeBackpropInput`: a direct loop scattering each output position's
 *   dy · w into dx (the transpose of the convolution); each dx value sums at most KH·KW·M
 *   products, accumulated in float32.
 * - With channel multiplier 1 (every depthwise convolution of the extractors), both depthwise
 *   gradients run their inner loop over the CI adjacent channels as the GEMM module's SIMD
 *   `macc` (lib/wasm_gemm_wat.ts), float32 sums; otherwise plain loops, the filter gradient
 *   summed in float64.
 * - `DepthwiseConv2dNativeBackpropFilter`: a direct loop, dW[kh, kw, c, m] =
 *   Σ_{b, oh, ow} x[b, oh·sh + kh·dh − top, ow·sw + kw·dw − left, c] · dy[b, oh, ow, c·M + m]
 *   (depthwise filters are small; the loop is memory-bound).
 *
 * Written by hand because no maintained package provides them; checked against tfjs' cpu backend
 * on random shapes, strides, dilations and paddings (`wasm_conv_grad_test.ts`). NHWC only, as the
 * wasm backend's convolutions.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { heapMacc, type WasmGemmBackend } from "./wasm_gemm.ts";

/** The parts of tfjs-backend-wasm's backend these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(id: object): void;
}

/** Elements of the im2col matrix built per chunk (bounds the patches buffer to 32 MB). */
let chunkElements = 8 * 1024 * 1024;

/**
 * Sets the im2col chunk size in elements (tests use a small one to exercise chunking).
 * @returns the previous size.
 */
export function setConvGradChunkElements(n: number): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`chunk size ${n}: expected an integer ≥ 1`);
  }
  const prev = chunkElements;
  chunkElements = n;
  return prev;
}

type ConvAttrs = {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
  dilations?: [number, number] | number;
};

/** The convolution's geometry from its input shape and filter shape (NHWC only). */
function convInfo(
  inShape: readonly number[],
  attrs: ConvAttrs,
  depthwise: boolean,
  filterShape: readonly number[] = attrs.filterShape,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat && attrs.dataFormat !== "NHWC") {
    throw new Error(`wasm conv gradient: only NHWC is supported, got ${attrs.dataFormat}`);
  }
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
  );
}

/** `Conv2DBackpropFilter` for wasm (see the module doc). */
function conv2DBackpropFilter(
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  backend: WasmBackendLike,
  attrs: ConvAttrs,
  matMul: tf.KernelConfig,
): tf.TensorInfo {
  const info = convInfo(x.shape, attrs, false);
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: CI, outChannels: CO } = info;
  const { outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const K = KH * KW * CI, N = B * OH * OW;
  const rowsPerChunk = Math.max(1, Math.min(N, Math.floor(chunkElements / K)));
  const out = backend.makeOutput(attrs.filterShape, "float32");
  const acc = new Float32Array(K * CO);
  for (let r0 = 0; r0 < N; r0 += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, N - r0);
    const patches = backend.makeOutput([1, rows, K], "float32");
    const dyChunk = backend.makeOutput([1, rows, CO], "float32");
    {
      // Heap views are taken right before writing: any kernel call may grow (and move) the heap.
      const p = backend.typedArrayFromHeap(patches);
      const xs = backend.typedArrayFromHeap(x);
      p.fill(0);
      for (let r = 0; r < rows; r++) {
        const n = r0 + r;
        const b = Math.floor(n / (OH * OW)), oh = Math.floor(n / OW) % OH, ow = n % OW;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh + kh * dh - top;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw + kw * dw - left;
            if (iw < 0 || iw >= W) continue;
            const src = ((b * H + ih) * W + iw) * CI;
            p.set(xs.subarray(src, src + CI), r * K + (kh * KW + kw) * CI);
          }
        }
      }
      backend.typedArrayFromHeap(dyChunk).set(
        backend.typedArrayFromHeap(dy).subarray(r0 * CO, (r0 + rows) * CO),
      );
    }
    const prod = matMul.kernelFunc({
      inputs: { a: patches, b: dyChunk },
      backend: backend as never,
      attrs: { transposeA: true, transposeB: false },
    }) as tf.TensorInfo; // [1, K, CO]
    const pv = backend.typedArrayFromHeap(prod);
    for (let i = 0; i < acc.length; i++) acc[i] += pv[i];
    backend.disposeData(prod.dataId);
    backend.disposeData(patches.dataId);
    backend.disposeData(dyChunk.dataId);
  }
  backend.typedArrayFromHeap(out).set(acc);
  return out;
}

/**
 * Calls `f(xo, go, fo)` for every (batch, output position, filter tap) whose input position lies
 * inside the image: the element offsets of that input position's CI channels (x or dx), of the
 * output position's CI·M channels (dy) and of the tap's CI·M filter values.
 */
function forEachTap(
  info: tf.backend_util.Conv2DInfo,
  f: (xo: number, go: number, fo: number) => void,
): void {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: CI } = info;
  const { outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top, left = info.padInfo.left, CO = info.outChannels;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const go = ((b * OH + oh) * OW + ow) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh + kh * dh - top;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw + kw * dw - left;
            if (iw < 0 || iw >= W) continue;
            f(((b * H + ih) * W + iw) * CI, go, (kh * KW + kw) * CO);
          }
        }
      }
    }
  }
}

/** `DepthwiseConv2dNativeBackpropFilter` for wasm (see the module doc). */
function depthwiseBackpropFilter(
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  backend: WasmBackendLike,
  attrs: ConvAttrs,
): tf.TensorInfo {
  const info = convInfo(x.shape, attrs, true);
  const { inChannels: CI, filterHeight: KH, filterWidth: KW } = info;
  const M = info.outChannels / CI;
  if (M === 1) {
    // Channel multiplier 1: each (position, tap) adds x's CI channels times dy's into the filter
    // row, one SIMD multiply-accumulate of the GEMM module (float32 sums).
    const out = backend.makeOutput(attrs.filterShape, "float32");
    backend.typedArrayFromHeap(out).fill(0);
    const { macc, offset } = heapMacc(backend as unknown as WasmGemmBackend);
    const px = offset(x), pg = offset(dy), pf = offset(out);
    forEachTap(info, (xo, go, fo) => macc(pf + 4 * fo, px + 4 * xo, pg + 4 * go, CI));
    return out;
  }
  const xs = backend.typedArrayFromHeap(x), g = backend.typedArrayFromHeap(dy);
  const acc = new Float64Array(KH * KW * CI * M);
  forEachTap(info, (xo, go, fo) => {
    for (let c = 0; c < CI; c++) {
      const xv = xs[xo + c];
      for (let m = 0; m < M; m++) acc[fo + c * M + m] += xv * g[go + c * M + m];
    }
  });
  const out = backend.makeOutput(attrs.filterShape, "float32");
  backend.typedArrayFromHeap(out).set(Float32Array.from(acc));
  return out;
}

/**
 * `DepthwiseConv2dNativeBackpropInput` for wasm (see the module doc): the transpose of the
 * depthwise convolution, dx[b, ih, iw, c] = Σ_{oh, ow, kh, kw, m} dy[b, oh, ow, c·M + m] ·
 * w[kh, kw, c, m] over the (oh, ow, kh, kw) with ih = oh·sh + kh·dh − top and iw likewise,
 * accumulated by scattering each output position's contributions into dx.
 */
function depthwiseBackpropInput(
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  backend: WasmBackendLike,
  attrs: ConvAttrs & { inputShape: [number, number, number, number] },
): tf.TensorInfo {
  const info = convInfo(attrs.inputShape, attrs, true, filter.shape);
  const CI = info.inChannels, M = info.outChannels / CI;
  const out = backend.makeOutput(attrs.inputShape, "float32");
  // Each dx value sums at most KH·KW·M products: float32 accumulation straight into the output.
  const acc = backend.typedArrayFromHeap(out);
  acc.fill(0);
  if (M === 1) {
    const { macc, offset } = heapMacc(backend as unknown as WasmGemmBackend);
    const pd = offset(out), pg = offset(dy), pf = offset(filter);
    forEachTap(info, (xo, go, fo) => macc(pd + 4 * xo, pg + 4 * go, pf + 4 * fo, CI));
    return out;
  }
  const g = backend.typedArrayFromHeap(dy), f = backend.typedArrayFromHeap(filter);
  forEachTap(info, (xo, go, fo) => {
    for (let c = 0; c < CI; c++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += g[go + c * M + m] * f[fo + c * M + m];
      acc[xo + c] += s;
    }
  });
  return out;
}

let registered = false;

/**
 * Registers the wasm gradient kernels of `conv2d` and `depthwiseConv2d` that tfjs-wasm lacks (the
 * two filter gradients and the depthwise input gradient). Idempotent; safe to call before the
 * wasm backend is initialised.
 * @returns true if the kernels are registered for wasm after the call.
 */
export function registerWasmConvFilterGradients(): boolean {
  if (registered) return true;
  const matMul = tf.getKernel("BatchMatMul", "wasm");
  if (!matMul) return false;
  if (!tf.getKernel("Conv2DBackpropFilter", "wasm")) {
    tf.registerKernel({
      kernelName: "Conv2DBackpropFilter",
      backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) =>
        conv2DBackpropFilter(
          inputs.x as tf.TensorInfo,
          inputs.dy as tf.TensorInfo,
          backend as unknown as WasmBackendLike,
          attrs as unknown as ConvAttrs,
          // Looked up per call: the BatchMatMul kernel may be re-registered (patched) later.
          tf.getKernel("BatchMatMul", "wasm") ?? matMul,
        ),
    });
  }
  if (!tf.getKernel("DepthwiseConv2dNativeBackpropFilter", "wasm")) {
    tf.registerKernel({
      kernelName: "DepthwiseConv2dNativeBackpropFilter",
      backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) =>
        depthwiseBackpropFilter(
          inputs.x as tf.TensorInfo,
          inputs.dy as tf.TensorInfo,
          backend as unknown as WasmBackendLike,
          attrs as unknown as ConvAttrs,
        ),
    });
  }
  if (!tf.getKernel("DepthwiseConv2dNativeBackpropInput", "wasm")) {
    tf.registerKernel({
      kernelName: "DepthwiseConv2dNativeBackpropInput",
      backendName: "wasm",
      kernelFunc: ({ inputs, backend, attrs }) =>
        depthwiseBackpropInput(
          inputs.dy as tf.TensorInfo,
          inputs.filter as tf.TensorInfo,
          backend as unknown as WasmBackendLike,
          attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] },
        ),
    });
  }
  registered = true;
  return true;
}
