import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "./testing.ts";
import { selectBackend } from "./backend.ts";
import { GEMM_MAX_ROWS, gemmProduct, type WasmGemmBackend } from "./wasm_gemm.ts";
import { GEMM_KC, GEMM_NC } from "./wasm_gemm_wat.ts";
import { setWasmGemm } from "./wasm_matmul.ts";
import { GEMM_WASM_BASE64 } from "./wasm_gemm_binary.ts";
import { assembleGemm } from "./wasm_gemm_build.ts";
import { encodeBase64 } from "./wasm_gemm_base64.ts";
import { mulberry32 } from "./random.ts";
import { patchWasmSum, unpatchWasmSum } from "./wasm_sum.ts";

/** op(a)·op(b) in float64 from row-major data: a [batchA, ·, ·], b [batchB, ·, ·]. */
function reference(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  batch: number,
  opts: { ta: boolean; tb: boolean; batchA: number; batchB: number },
): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const oa = (opts.batchA > 1 ? p : 0) * m * k, ob = (opts.batchB > 1 ? p : 0) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) {
          const av = opts.ta ? a[oa + q * m + i] : a[oa + i * k + q];
          const bv = opts.tb ? b[ob + j * k + q] : b[ob + q * n + j];
          s += av * bv;
        }
        out[p * m * n + i * n + j] = s;
      }
    }
  }
  return out;
}

function randomData(len: number, rand: () => number): Float32Array {
  return Float32Array.from({ length: len }, () => 2 * rand() - 1);
}

Deno.test("wasm gemm: the committed binary is the assembled module text", async () => {
  assert.equal(
    GEMM_WASM_BASE64,
    encodeBase64(await assembleGemm()),
    "lib/wasm_gemm_binary.ts is stale: run scripts/build_gemm_wasm.ts",
  );
});

Deno.test("wasm gemm: products equal a float64 reference on edge shapes, flags and batches", async () => {
  await selectBackend("wasm");
  setWasmGemm(true);
  const rand = mulberry32(7);
  // Sizes around the tile edges (4 rows, 8 and 4 columns), the column panel and the k block.
  const ms = [1, 3, 4, 5, 9, 13, 67];
  const ns = [1, 3, 4, 7, 8, 12, 17, GEMM_NC + 5, 2 * GEMM_NC + 8];
  const ks = [1, 6, 33, GEMM_KC + 3];
  let checked = 0;
  const before = tf.engine().backend.numDataIds();
  for (let c = 0; c < 48; c++) {
    const m = ms[c % ms.length], n = ns[(c * 5) % ns.length], k = ks[(c * 3) % ks.length];
    const ta = c % 2 === 1, tb = c % 3 === 1;
    const layouts = [
      { batch: 1, batchA: 1, batchB: 1 },
      { batch: 3, batchA: 3, batchB: 3 },
      { batch: 3, batchA: 3, batchB: 1 },
      { batch: 3, batchA: 1, batchB: 3 },
    ];
    const { batch, batchA, batchB } = layouts[c % layouts.length];
    const ad = randomData(batchA * m * k, rand), bd = randomData(batchB * k * n, rand);
    const aShape = ta ? [k, m] : [m, k], bShape = tb ? [n, k] : [k, n];
    const a = tf.tensor(ad, batchA > 1 || batch > 1 ? [batchA, ...aShape] : aShape);
    const b = tf.tensor(bd, batchB > 1 || batch > 1 ? [batchB, ...bShape] : bShape);
    const y = tf.matMul(a, b, ta, tb);
    const want = reference(ad, bd, m, k, n, batch, { ta, tb, batchA, batchB });
    assert.deepEqual(y.shape, batch > 1 ? [batch, m, n] : [m, n]);
    await assertClose(
      y,
      Array.from(want),
      1e-5 * Math.sqrt(k),
      1e-5,
      `m${m} k${k} n${n} aT${ta} bT${tb} ${batchA}/${batchB}`,
    );
    tf.dispose([a, b, y]);
    checked++;
  }
  assert.equal(checked, 48);
  assert.equal(tf.engine().backend.numDataIds(), before, "no backend buffers left behind");
});

Deno.test("wasm gemm: which products it takes (rows, orientation, broadcast)", async () => {
  await selectBackend("wasm");
  const backend = tf.backend() as unknown as WasmGemmBackend;
  const swapLast = (x: tf.TensorInfo) => {
    const r = x.shape.length;
    const perm = [...Array(r - 2).keys(), r - 1, r - 2];
    return tf.getKernel("Transpose", "wasm")!.kernelFunc({
      inputs: { x },
      backend: backend as unknown as tf.KernelBackend,
      attrs: { perm },
    }) as tf.TensorInfo;
  };
  const ctx = { backend, swapLast };
  const tall = tf.ones([GEMM_MAX_ROWS + 1, 8]), w = tf.ones([8, 4]);
  assert.equal(
    gemmProduct(tall, w, false, false, ctx),
    null,
    "tall rank-2 products stay on XNNPACK",
  );
  // aᵀ·b with many rows but few columns runs as (bᵀ·a)ᵀ.
  const x = tf.randomNormal([40, GEMM_MAX_ROWS + 9], 0, 1, "float32", 1);
  const dy = tf.randomNormal([40, 6], 0, 1, "float32", 2);
  const out = gemmProduct(x, dy, true, false, ctx);
  assert.ok(out, "aᵀ·b with m > n is taken");
  assert.deepEqual(out!.shape, [GEMM_MAX_ROWS + 9, 6]);
  const got = tf.engine().makeTensorFromTensorInfo(out!);
  setWasmGemm(false);
  const want = tf.matMul(x, dy, true, false);
  setWasmGemm(true);
  await assertClose(got, want, 1e-4, 1e-5, "flipped product");
  const i32 = tf.ones([4, 4], "int32");
  assert.equal(gemmProduct(i32, i32, false, false, ctx), null, "int32 is not taken");
  const a4 = tf.ones([2, 3, 4, 5]), b3 = tf.ones([3, 5, 2]);
  assert.equal(gemmProduct(a4, b3, false, false, ctx), null, "per-axis broadcast is not taken");
  tf.dispose([tall, w, x, dy, got, want, i32, a4, b3]);
});

Deno.test("wasm gemm: gradients through products equal XNNPACK's", async () => {
  await selectBackend("wasm");
  const x = tf.randomNormal([300, 24], 0, 1, "float32", 3);
  const w1 = tf.randomNormal([24, 70], 0, 0.2, "float32", 4);
  const w2 = tf.randomNormal([70, 5], 0, 0.2, "float32", 5);
  const q = tf.randomNormal([6, 9, 8], 0, 1, "float32", 6);
  const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
    const h = tf.relu(tf.matMul(x, a));
    const att = tf.matMul(tf.softmax(tf.matMul(d, d, false, true)), d);
    return tf.add(tf.sum(tf.square(tf.matMul(h, b))), tf.sum(tf.mul(att, c)));
  };
  const c = tf.randomNormal([6, 9, 8], 0, 1, "float32", 7);
  setWasmGemm(true);
  const on = tf.grads(f)([w1, w2, c, q]);
  setWasmGemm(false);
  const off = tf.grads(f)([w1, w2, c, q]);
  setWasmGemm(true);
  for (let i = 0; i < on.length; i++) await assertClose(on[i], off[i], 1e-4, 1e-4, `grad ${i}`);
  tf.dispose([x, w1, w2, q, c, ...on, ...off]);
});

Deno.test("wasm sum over leading axes: equal to tfjs' kernel, other reductions untouched", async () => {
  await selectBackend("wasm");
  const rand = mulberry32(11);
  const shapes = [[9, 1], [7, 5], [3, 4, 13], [2, 3, 4, 64], [600, 9]];
  const before = tf.engine().backend.numDataIds();
  for (const shape of shapes) {
    const x = tf.tensor(randomData(shape.reduce((p, q) => p * q, 1), rand), shape);
    const r = shape.length;
    const leading = [...Array(r - 1).keys()];
    for (const keepDims of [false, true]) {
      const got = tf.sum(x, leading, keepDims);
      unpatchWasmSum();
      const want = tf.sum(x, leading, keepDims);
      const other = tf.sum(x, r - 1);
      patchWasmSum();
      const other2 = tf.sum(x, r - 1);
      assert.deepEqual(got.shape, want.shape);
      await assertClose(got, want, 1e-5, 1e-6, `sum ${shape} keepDims ${keepDims}`);
      await assertClose(other2, other, 0, 0, `last-axis sum ${shape} unchanged`);
      tf.dispose([got, want, other, other2]);
    }
    // Negative and unordered axes name the same reduction.
    const neg = tf.sum(x, leading.map((a) => a - r).reverse());
    const pos = tf.sum(x, leading);
    await assertClose(neg, pos, 0, 0, "axes given negative and reversed");
    tf.dispose([x, neg, pos]);
  }
  assert.equal(tf.engine().backend.numDataIds(), before, "no backend buffers left behind");
});
