import * as tf from "@tensorflow/tfjs";
import { assert, assertClose, assertNoLeak } from "../testing.ts";
import {
  batchNorm,
  conv2dMatmul,
  gelu,
  keyLinear,
  layerNorm,
  linear,
  multiHeadAttention,
  relativePositionBias,
  windowPartition,
  windowReverse,
} from "./layers.ts";
import { normalSampler, streamRng } from "./params.ts";
import type { ParamTree } from "./types.ts";

await tf.setBackend("cpu");

function randn(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const g = normalSampler(streamRng(seed, "t"));
  return tf.tensor(Float32Array.from({ length: n }, () => g()), shape);
}

Deno.test("conv2dMatmul equals tf.conv2d with PyTorch padding (k 1/3, stride 1/2, odd/even)", async () => {
  for (const [side, k, s] of [[8, 3, 1], [8, 3, 2], [7, 3, 2], [7, 1, 2], [6, 1, 1]]) {
    await assertNoLeak(async () => {
      const x = randn([2, side, side, 3], side * 10 + k + s) as tf.Tensor4D;
      const w = tf.tidy(() => tf.variable(randn([k, k, 3, 5], 7)));
      const b = tf.tidy(() => tf.variable(randn([5], 8)));
      const p: ParamTree = { w, b };
      const got = tf.tidy(() => conv2dMatmul(p, x, s));
      const pad = (k - 1) / 2;
      const ref = tf.tidy(() =>
        tf.add(
          tf.conv2d(x, w as tf.Tensor4D, s, [[0, 0], [pad, pad], [pad, pad], [0, 0]]),
          b,
        )
      );
      assert.deepEqual(got.shape, ref.shape);
      await assertClose(got, ref, 1e-4, 0, `side ${side} k ${k} s ${s}`);
      tf.dispose([x, w, b, got, ref]);
    });
  }
});

Deno.test("relativePositionBias equals the Swin index lookup", async () => {
  const w = 3;
  const heads = 2;
  const table = randn([(2 * w - 1) ** 2, heads], 3) as tf.Tensor2D;
  const tv = await table.array() as number[][];
  const got = tf.tidy(() => relativePositionBias(table, w));
  assert.deepEqual(got.shape, [heads, w * w, w * w]);
  const g = await got.array();
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < w * w; i++) {
      for (let j = 0; j < w * w; j++) {
        const [yi, xi, yj, xj] = [Math.floor(i / w), i % w, Math.floor(j / w), j % w];
        const idx = (yi - yj + w - 1) * (2 * w - 1) + (xi - xj + w - 1);
        assert.ok(Math.abs(g[h][i][j] - tv[idx][h]) < 1e-6, `h ${h} i ${i} j ${j}`);
      }
    }
  }
  tf.dispose([table, got]);
});

Deno.test("windowPartition / windowReverse: windows hold the right tokens and round-trip", async () => {
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 4 * 4 }, (_, i) => i), [1, 4, 4, 2]);
  const win = windowPartition(x, 2);
  assert.deepEqual(win.shape, [4, 4, 2]);
  const wv = await win.array();
  // window (wy=0, wx=1), token (y=1, x=0) is pixel (1, 2): flat index (1·4 + 2)·2 = 12
  assert.deepEqual(wv[1][2], [12, 13]);
  await assertClose(windowReverse(win, 2, 4), x, 0);
  tf.dispose([x, win]);
});

Deno.test("multiHeadAttention: one head equals softmax(qkᵀ/√d + b) v by hand", async () => {
  const q = tf.tensor3d([[[1, 0], [0, 1]]]);
  const k = tf.tensor3d([[[1, 1], [2, 0]]]);
  const v = tf.tensor3d([[[1, 2], [3, 4]]]);
  const bias = tf.tensor3d([[[0.5, 0], [0, -0.5]]]);
  const got = multiHeadAttention(q, k, v, 1, bias);
  const s = Math.SQRT2;
  const rows = [[1 / s + 0.5, 2 / s], [1 / s, 0 / s - 0.5]];
  const expected = rows.map((r) => {
    const e = r.map(Math.exp);
    const z = e[0] + e[1];
    return [(e[0] * 1 + e[1] * 3) / z, (e[0] * 2 + e[1] * 4) / z];
  });
  await assertClose(got, expected, 1e-5);
  tf.dispose([q, k, v, bias, got]);
});

Deno.test("batchNorm: training normalises by batch stats and updates running stats", async () => {
  const p: ParamTree = {
    gamma: tf.variable(tf.tensor1d([2, 1])),
    beta: tf.variable(tf.tensor1d([0, 1])),
    runningMean: tf.variable(tf.tensor1d([0, 0]), false),
    runningVar: tf.variable(tf.tensor1d([1, 1]), false),
  };
  const x = tf.tensor2d([[1, 0], [3, 4]]);
  const y = tf.tidy(() => batchNorm(p, x, true, 0.1, 0, true));
  // column 0: mean 2, biased var 1 → [-1, 1]·2; column 1: mean 2, var 4 → [-1, 1] + 1
  await assertClose(y, [[-2, 0], [2, 2]], 1e-5);
  // running: 0.9·0 + 0.1·mean; 0.9·1 + 0.1·unbiased var (2, 8)
  await assertClose(p.runningMean as tf.Variable, [0.2, 0.2], 1e-6);
  await assertClose(p.runningVar as tf.Variable, [1.1, 1.7], 1e-6);
  const e = tf.tidy(() => batchNorm(p, x, false, 0.1, 0, true));
  await assertClose(e, [[2 * (1 - 0.2) / Math.sqrt(1.1), (0 - 0.2) / Math.sqrt(1.7) + 1], [
    2 * (3 - 0.2) / Math.sqrt(1.1),
    (4 - 0.2) / Math.sqrt(1.7) + 1,
  ]], 1e-5);
  await assertClose(p.runningMean as tf.Variable, [0.2, 0.2], 1e-6, 0, "eval leaves stats");
  tf.dispose([x, y, e, ...Object.values(p) as tf.Variable[]]);
});

/** LayerNorm written out with tf.moments, differentiated by tfjs autodiff (the reference). */
function layerNormAutodiff(p: ParamTree, x: tf.Tensor, eps = 1e-5) {
  const { mean, variance } = tf.moments(x, x.rank - 1, true);
  const xn = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(xn, p.gamma as tf.Variable), p.beta as tf.Variable);
}

/** max |t| as a number. */
function maxAbs(t: tf.Tensor): number {
  const m = tf.tidy(() => tf.max(tf.abs(t)));
  const v = m.dataSync()[0];
  m.dispose();
  return v;
}

/** Value of `f(p, x)` and the gradients of Σ f·dy with respect to x and every leaf of `p`. */
function valueAndGrads(
  f: (p: ParamTree, x: tf.Tensor) => tf.Tensor,
  p: Record<string, tf.Variable>,
  x: tf.Variable,
  dy: tf.Tensor,
): tf.Tensor[] {
  return tf.tidy(() => {
    const value = f(p, x);
    const vars = [x, ...Object.values(p)];
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(f(p, x), dy)), vars);
    return [value, ...vars.map((v) => grads[v.name])];
  });
}

Deno.test("layerNorm: value and hand-written gradients equal tfjs autodiff (cpu, float32)", async () => {
  // Float32 on cpu, both sides; the two formulas round differently. Asserted per element:
  // |Δ| ≤ 1e-6·max|ref| + 1e-6·|ref| (observed differences are well inside it).
  for (const [shape, scale] of [[[3, 5, 7], 1], [[2, 4, 64], 30], [[6, 16], 0.01]] as const) {
    await assertNoLeak(async () => {
      const d = shape[shape.length - 1];
      const x = tf.tidy(() => tf.variable(tf.add(tf.mul(randn([...shape], 1), scale), scale)));
      const p = tf.tidy(() => ({
        gamma: tf.variable(randn([d], 2)),
        beta: tf.variable(randn([d], 3)),
      }));
      const dy = randn([...shape], 4);
      const got = valueAndGrads((p, x) => layerNorm(p, x), p, x, dy);
      const ref = valueAndGrads(layerNormAutodiff, p, x, dy);
      for (const [i, name] of ["value", "dx", "dgamma", "dbeta"].entries()) {
        const m = maxAbs(ref[i]);
        await assertClose(got[i], ref[i], 1e-6 * m, 1e-6, `${shape} ${name}`);
      }
      tf.dispose([x, p.gamma, p.beta, dy, ...got, ...ref]);
    });
  }
});

Deno.test("keyLinear: value and x/W gradients of linear, b gradient exactly 0 (true one ≈ 0)", async () => {
  await assertNoLeak(async () => {
    const x = tf.tidy(() => tf.variable(randn([2, 5, 6], 11)));
    const q = randn([2, 5, 6], 12) as tf.Tensor3D, v = randn([2, 5, 6], 16) as tf.Tensor3D;
    const p = tf.tidy(() => ({
      w: tf.variable(randn([6, 6], 13)),
      b: tf.variable(randn([6], 14)),
    }));
    const dy = randn([2, 5, 6], 15);
    const att = (lin: typeof linear) => (p: ParamTree, x: tf.Tensor) => {
      const k = lin(p, x) as tf.Tensor3D;
      return multiHeadAttention(q, k, v, 2);
    };
    const got = valueAndGrads(att(keyLinear), p, x, dy);
    const ref = valueAndGrads(att(linear), p, x, dy);
    await assertClose(got[0], ref[0], 1e-6, 1e-6, "value");
    await assertClose(got[1], ref[1], 1e-6, 1e-5, "dx");
    await assertClose(got[2], ref[2], 1e-6, 1e-5, "dW");
    assert.deepEqual(Array.from(await got[3].data()), [0, 0, 0, 0, 0, 0], "db exactly 0");
    // The autodiff gradient of b is zero up to rounding, relative to the scale of dW.
    const scale = maxAbs(ref[2]);
    await assertClose(ref[3], [0, 0, 0, 0, 0, 0], 1e-5 * scale, 0, "true db ≈ 0");
    tf.dispose([x, q, v, p.w, p.b, dy, ...got, ...ref]);
  });
});

Deno.test("gelu: the sigmoid form and its hand-written gradient equal the tanh form by autodiff", async () => {
  // Float32 on cpu. Asserted per element: |Δ| ≤ 1e-6 + 1e-5·|ref| for values and gradients.
  await assertNoLeak(async () => {
    const x = tf.tidy(() =>
      tf.variable(tf.concat([tf.mul(randn([200], 21), 3), tf.linspace(-8, 8, 161)]))
    );
    const dy = randn([361], 22);
    const tanhForm = (_: ParamTree, x: tf.Tensor) => {
      const c = Math.sqrt(2 / Math.PI);
      const inner = tf.mul(c, tf.add(x, tf.mul(0.044715, tf.mul(x, tf.square(x)))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    };
    const got = valueAndGrads((_, x) => gelu(x), {}, x, dy);
    const ref = valueAndGrads(tanhForm, {}, x, dy);
    await assertClose(got[0], ref[0], 1e-6, 1e-5, "value");
    await assertClose(got[1], ref[1], 1e-6, 1e-5, "dx");
    tf.dispose([x, dy, ...got, ...ref]);
  });
});

Deno.test("multiHeadAttention: gradients equal autodiff of the logit-scaled form", async () => {
  // q scaled before the product: same values and gradients as scaling the logits (float32, cpu;
  // |Δ| ≤ 1e-6 + 1e-5·|ref|).
  await assertNoLeak(async () => {
    const x = tf.tidy(() => tf.variable(randn([3, 7, 8], 31)));
    const p = tf.tidy(() => ({
      k: tf.variable(randn([3, 5, 8], 32)),
      v: tf.variable(randn([3, 5, 8], 33)),
      bias: tf.variable(randn([2, 7, 5], 34)),
    }));
    const dy = randn([3, 7, 8], 35);
    const logitScaled = (p: ParamTree, q: tf.Tensor) => {
      const split = (t: tf.Tensor, m: number) =>
        t.reshape([3, m, 2, 4]).transpose([0, 2, 1, 3]).reshape([6, m, 4]) as tf.Tensor3D;
      const l = tf.mul(tf.matMul(split(q, 7), split(p.k as tf.Variable, 5), false, true), 0.5);
      const att = tf.softmax(
        tf.add(l.reshape([3, 2, 7, 5]), p.bias as tf.Variable).reshape([6, 7, 5]),
      );
      return tf.matMul(att, split(p.v as tf.Variable, 5)).reshape([3, 2, 7, 4]).transpose([
        0,
        2,
        1,
        3,
      ])
        .reshape([3, 7, 8]);
    };
    const fast = (p: ParamTree, q: tf.Tensor) =>
      multiHeadAttention(
        q as tf.Tensor3D,
        p.k as tf.Variable as tf.Tensor3D,
        p.v as tf.Variable as tf.Tensor3D,
        2,
        p.bias as tf.Variable as tf.Tensor3D,
      );
    const got = valueAndGrads(fast, p, x, dy);
    const ref = valueAndGrads(logitScaled, p, x, dy);
    for (const [i, name] of ["value", "dq", "dk", "dv", "dbias"].entries()) {
      await assertClose(got[i], ref[i], 1e-6, 1e-5, name);
    }
    tf.dispose([x, p.k, p.v, p.bias, dy, ...got, ...ref]);
  });
});
