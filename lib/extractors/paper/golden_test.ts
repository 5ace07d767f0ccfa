/**
 * Cross-check against PyTorch. `testdata/golden.json` was produced by re-typing POSTER++'s
 * `models/ir50.py` and `models/mobilefacenet.py` in PyTorch 1.13 (the generating script is not part
 * of the repository; the recorded statistics are), filling every `state_dict` tensor by the closed formula
 * below, running the formula input, and recording output statistics. Loading the same formula
 * weights by name in PyTorch layout must reproduce them: this checks names, layouts, padding,
 * strides, depthwise convolutions, batch norm and PReLU semantics, and the GDC head.
 */
import * as tf from "@tensorflow/tfjs";
import { assert } from "../../testing.ts";
import { selectBackend } from "../../backend.ts";
import {
  disposeTree,
  flattenTree,
  initIr50,
  initMobileFaceNet,
  ir50,
  loadWeights,
  mobileFaceNet,
  torchShapeOf,
  type WeightTree,
} from "./mod.ts";

await selectBackend("wasm");

interface Stats {
  shape: number[];
  sum: number;
  abs: number;
  maxAbs: number;
  indices: number[];
  values: number[];
}
interface Golden {
  widths: Record<string, { ir50: Stats[]; mobilefacenet: Stats[]; landmarks: Stats }>;
}
const golden: Golden = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/golden.json", import.meta.url)),
);

/**
 * The fixture's weights: key j (sorted order) at flat PyTorch index i gets s = sin(1.3·i + 0.7·j
 * + 0.1); conv/linear: s/√fan_in; BN weight 1 + 0.1s, bias and running mean 0.1s, running
 * variance 1 + 0.5s²; PReLU 0.25 + 0.1s.
 */
function formulaWeights(tree: WeightTree): Map<string, Float32Array> {
  const leaves = flattenTree(tree).map(([p, t]) => [p.replaceAll("/", "."), t] as const);
  const keys = leaves.map(([k]) => k).sort();
  const out = new Map<string, Float32Array>();
  for (const [key, t] of leaves) {
    const j = keys.indexOf(key);
    const shape = torchShapeOf(t.shape);
    const n = t.size;
    const leaf = key.slice(key.lastIndexOf(".") + 1);
    const isBn = keys.includes(key.slice(0, -leaf.length) + "running_mean");
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const s = Math.sin(1.3 * i + 0.7 * j + 0.1);
      if (shape.length >= 2) v[i] = s / Math.sqrt(n / shape[0]);
      else if (leaf === "running_var") v[i] = 1 + 0.5 * s * s;
      else if (leaf === "running_mean" || leaf === "bias") v[i] = 0.1 * s;
      else v[i] = isBn ? 1 + 0.1 * s : 0.25 + 0.1 * s;
    }
    out.set(key, v);
  }
  return out;
}

/** The fixture's input, NHWC: 0.5 + 0.5·sin(0.05·(112h + w) + c). */
function formulaInput(): tf.Tensor4D {
  const v = new Float32Array(112 * 112 * 3);
  for (let h = 0; h < 112; h++) {
    for (let w = 0; w < 112; w++) {
      for (let c = 0; c < 3; c++) {
        v[(h * 112 + w) * 3 + c] = 0.5 + 0.5 * Math.sin(0.05 * (h * 112 + w) + c);
      }
    }
  }
  return tf.tensor4d(v, [1, 112, 112, 3]);
}

async function compare(t: tf.Tensor, ref: Stats, what: string) {
  assert.deepEqual(t.shape, ref.shape, `${what} shape`);
  const v = await t.data();
  const tol = 1e-4 * ref.maxAbs + 1e-6;
  let sum = 0, abs = 0;
  for (const a of v) {
    sum += a;
    abs += Math.abs(a);
  }
  assert.ok(Math.abs(abs - ref.abs) <= 1e-4 * ref.abs, `${what} Σ|x| ${abs} vs ${ref.abs}`);
  assert.ok(
    Math.abs(sum - ref.sum) <= tol * v.length ** 0.5 * 10,
    `${what} Σx ${sum} vs ${ref.sum}`,
  );
  ref.indices.forEach((idx, k) => {
    assert.ok(
      Math.abs(v[idx] - ref.values[k]) <= tol,
      `${what}[${idx}] = ${v[idx]}, PyTorch ${ref.values[k]} (tolerance ${tol})`,
    );
  });
}

for (const width of [0.25, 1]) {
  Deno.test(`IR-50 and MobileFaceNet (width ${width}) reproduce PyTorch on the golden fixture`, async () => {
    const ref = golden.widths[width.toFixed(width === 1 ? 1 : 2)];
    assert.ok(ref, `golden fixture for width ${width}`);
    const irTree = initIr50(0, { width });
    const mfTree = initMobileFaceNet(0, { width });
    const x = formulaInput();
    try {
      loadWeights(irTree, formulaWeights(irTree), { what: "ir50" });
      loadWeights(mfTree, formulaWeights(mfTree), { what: "mobilefacenet" });
      const maps = ir50(irTree, x);
      const mf = mobileFaceNet(mfTree, x);
      for (let k = 0; k < 3; k++) await compare(maps[k], ref.ir50[k], `ir50 map ${k + 1}`);
      for (let k = 0; k < 3; k++) {
        await compare(mf.maps[k], ref.mobilefacenet[k], `mobilefacenet map ${k + 1}`);
      }
      await compare(mf.landmarks, ref.landmarks, "landmarks");
      tf.dispose([...maps, ...mf.maps, mf.landmarks]);
    } finally {
      disposeTree(irTree);
      disposeTree(mfTree);
      x.dispose();
    }
  });
}
