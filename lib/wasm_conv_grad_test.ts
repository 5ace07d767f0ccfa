import * as tf from "@tensorflow/tfjs";
import { assert, assertClose } from "./testing.ts";
import { selectBackend } from "./backend.ts";
import { registerWasmConvFilterGradients, setConvGradChunkElements } from "./wasm_conv_grad.ts";

/** Seeded values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

interface Case {
  name: string;
  depthwise: boolean;
  x: number[];
  filter: number[];
  strides: number;
  dilations: number;
  pad: "same" | "valid" | number;
}

const CASES: Case[] = [
  {
    name: "3×3 same s1",
    depthwise: false,
    x: [2, 7, 7, 5],
    filter: [3, 3, 5, 4],
    strides: 1,
    dilations: 1,
    pad: "same",
  },
  {
    name: "3×3 same s2",
    depthwise: false,
    x: [2, 8, 7, 3],
    filter: [3, 3, 3, 6],
    strides: 2,
    dilations: 1,
    pad: "same",
  },
  {
    name: "3×3 valid s2",
    depthwise: false,
    x: [1, 9, 9, 4],
    filter: [3, 3, 4, 2],
    strides: 2,
    dilations: 1,
    pad: "valid",
  },
  {
    name: "1×1 valid",
    depthwise: false,
    x: [3, 5, 5, 16],
    filter: [1, 1, 16, 8],
    strides: 1,
    dilations: 1,
    pad: "valid",
  },
  {
    name: "2×3 pad 1",
    depthwise: false,
    x: [2, 6, 5, 3],
    filter: [2, 3, 3, 2],
    strides: 1,
    dilations: 1,
    pad: 1,
  },
  {
    name: "dw 3×3 same s1",
    depthwise: true,
    x: [2, 7, 7, 3],
    filter: [3, 3, 3, 1],
    strides: 1,
    dilations: 1,
    pad: "same",
  },
  {
    name: "dw 3×3 same s2 m2",
    depthwise: true,
    x: [2, 8, 8, 4],
    filter: [3, 3, 4, 2],
    strides: 2,
    dilations: 1,
    pad: "same",
  },
  {
    name: "dw 3×3 valid s1",
    depthwise: true,
    x: [1, 9, 9, 2],
    filter: [3, 3, 2, 1],
    strides: 1,
    dilations: 1,
    pad: "valid",
  },
  {
    name: "dw 5×5 pad 2",
    depthwise: true,
    x: [2, 6, 6, 3],
    filter: [5, 5, 3, 1],
    strides: 1,
    dilations: 1,
    pad: 2,
  },
];

/** The gradient of Σ w ⊙ conv(x, f) with respect to `wrt` (default the filter), on the current backend. */
async function convGrad(
  c: Case,
  seed: number,
  wrt: "filter" | "input" = "filter",
): Promise<Float32Array> {
  const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const g = tf.tidy(() => {
    const x = tf.tensor4d(values(n(c.x), seed), c.x as [number, number, number, number]);
    const f = tf.tensor4d(
      values(n(c.filter), seed + 1),
      c.filter as [number, number, number, number],
    );
    const conv = (xx: tf.Tensor4D, ff: tf.Tensor4D) =>
      c.depthwise
        ? tf.depthwiseConv2d(xx, ff, c.strides, c.pad, "NHWC", c.dilations)
        : tf.conv2d(xx, ff, c.strides, c.pad, "NHWC", c.dilations);
    const w = tf.tensor(values(n(conv(x, f).shape), seed + 2), conv(x, f).shape);
    return wrt === "filter"
      ? tf.grad((ff: tf.Tensor) => tf.sum(tf.mul(conv(x, ff as tf.Tensor4D), w)))(f)
      : tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(conv(xx as tf.Tensor4D, f), w)))(x);
  });
  const d = await g.data() as Float32Array;
  g.dispose();
  return d;
}

Deno.test("wasm conv2d / depthwise filter gradients equal the cpu backend's to 1e-5", async () => {
  const expected: Float32Array[] = [];
  await tf.setBackend("cpu");
  for (const [i, c] of CASES.entries()) expected.push(await convGrad(c, 10 * i + 1));
  await selectBackend("wasm");
  assert.ok(registerWasmConvFilterGradients());
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"));
  assert.ok(tf.getKernel("DepthwiseConv2dNativeBackpropFilter", "wasm"));
  const before = tf.memory().numTensors;
  for (const [i, c] of CASES.entries()) {
    const got = await convGrad(c, 10 * i + 1);
    await assertClose(got, expected[i], 1e-5, 1e-5, c.name);
  }
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("wasm conv filter gradient: an im2col built in several chunks gives the same sum", async () => {
  // N = 2·9·9 = 162 rows of K = 3·3·4 = 36 columns, in chunks of 10 rows (17 chunks).
  const c: Case = {
    name: "chunked",
    depthwise: false,
    x: [2, 9, 9, 4],
    filter: [3, 3, 4, 3],
    strides: 1,
    dilations: 1,
    pad: "same",
  };
  await tf.setBackend("cpu");
  const expected = await convGrad(c, 7);
  await selectBackend("wasm");
  registerWasmConvFilterGradients();
  const prev = setConvGradChunkElements(360);
  try {
    await assertClose(await convGrad(c, 7), expected, 1e-5, 1e-5, "chunked");
  } finally {
    setConvGradChunkElements(prev);
  }
  assert.throws(() => setConvGradChunkElements(0), /chunk size 0/);
});

Deno.test("wasm depthwise input gradient equals the cpu backend's to 1e-5", async () => {
  const cases: Case[] = [
    ...CASES.filter((c) => c.depthwise),
    // The fine-tuned landmark block's first convolution: 14×14 → 7×7, 'same', stride 2.
    {
      name: "3×3 same s2 even side",
      depthwise: true,
      x: [2, 14, 14, 6],
      filter: [3, 3, 6, 1],
      strides: 2,
      dilations: 1,
      pad: "same",
    },
  ];
  const expected: Float32Array[] = [];
  await tf.setBackend("cpu");
  for (const [i, c] of cases.entries()) expected.push(await convGrad(c, 10 * i + 3, "input"));
  await selectBackend("wasm");
  assert.ok(registerWasmConvFilterGradients());
  assert.ok(tf.getKernel("DepthwiseConv2dNativeBackpropInput", "wasm"));
  const before = tf.memory().numTensors;
  for (const [i, c] of cases.entries()) {
    const got = await convGrad(c, 10 * i + 3, "input");
    await assertClose(got, expected[i], 1e-5, 1e-5, c.name);
  }
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});
