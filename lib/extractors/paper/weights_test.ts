import * as tf from "@tensorflow/tfjs";
import { assert, assertClose, assertNoLeak } from "../../testing.ts";
import { selectBackend } from "../../backend.ts";
import {
  createPaperExtractor,
  disposeTree,
  exportWeights,
  flattenTree,
  initIr50,
  initMobileFaceNet,
  ir50,
  loadWeights,
  mobileFaceNet,
  renameFaceEvolveIr50Keys,
} from "./mod.ts";

await selectBackend("wasm");

const W = { width: 0.25 };

Deno.test("loadWeights: missing, mis-sized and non-finite weights are named; tree unchanged", async () => {
  const tree = initMobileFaceNet(1, W);
  try {
    const map = await exportWeights(tree);
    const before = await flattenTree(tree)[0][1].data();
    const missing = new Map(map);
    missing.delete("conv_4.model.3.conv_dw.conv.weight");
    assert.throws(
      () => loadWeights(tree, missing, { what: "mobilefacenet" }),
      /mobilefacenet: 1 weight\(s\) missing from the given map: conv_4\.model\.3\.conv_dw\.conv\.weight/,
    );
    const wrong = new Map(map);
    wrong.set("conv_34.project.conv.weight", new Float32Array(10));
    assert.throws(
      () => loadWeights(tree, wrong, { what: "mobilefacenet" }),
      /weight "conv_34\.project\.conv\.weight" has 10 values, expected 2048 \(PyTorch shape \[32, 64, 1, 1\]\)/,
    );
    const nan = new Map(map);
    const bad = new Float32Array(map.get("conv1.bn.bias")!);
    bad[3] = NaN;
    nan.set("conv1.bn.bias", bad);
    assert.throws(
      () => loadWeights(tree, nan),
      /weight "conv1\.bn\.bias" has a non-finite value at index 3/,
    );
    // Nothing was replaced by the failed loads, and nothing leaked.
    assert.deepEqual(Array.from(await flattenTree(tree)[0][1].data()), Array.from(before));
  } finally {
    disposeTree(tree);
  }
});

Deno.test("loadWeights: PyTorch layout round trip reproduces the network; unused keys reported", async () => {
  const src = initIr50(11, W);
  const dst = initIr50(12, W);
  const x = tf.randomUniform([1, 112, 112, 3], 0, 1, "float32", 3) as tf.Tensor4D;
  try {
    const map = await exportWeights(src);
    // A conv weight is exported as PyTorch [out, in, kh, kw]: element (o, i, h, w) of the export is
    // element (h, w, i, o) of the tree.
    const treeW = await (src.input_layer as Record<string, Record<string, tf.Tensor>>)["0"].weight
      .array() as number[][][][];
    const torchW = map.get("input_layer.0.weight")!; // [16, 3, 3, 3]
    const [o, i, h, w] = [5, 2, 1, 0];
    assert.equal(torchW[((o * 3 + i) * 3 + h) * 3 + w], treeW[h][w][i][o]);
    map.set("output_layer.3.weight", new Float32Array(4)); // POSTER++'s unused recognition head
    map.set("body1.0.res_layer.0.num_batches_tracked", new Float32Array(1));
    const report = await assertNoLeak(() => loadWeights(dst, map, { what: "ir50" }));
    assert.deepEqual(report.unused, ["output_layer.3.weight"]);
    assert.equal(report.loaded.length, flattenTree(dst).length);
    const [a, b] = [ir50(src, x), ir50(dst, x)];
    for (let k = 0; k < 3; k++) await assertClose(b[k], a[k], 0, 0, `map ${k}`);
    tf.dispose([...a, ...b]);
  } finally {
    disposeTree(src);
    disposeTree(dst);
    x.dispose();
  }
});

Deno.test("loadPosterCheckpoint: POSTER++ prefixes, all-or-nothing across both networks", async () => {
  const a = createPaperExtractor({ seed: 1, width: 0.25 });
  const b = createPaperExtractor({ seed: 2, width: 0.25 });
  const x = tf.randomUniform([1, 112, 112, 3], 0, 1, "float32", 4) as tf.Tensor4D;
  try {
    const ckpt = new Map<string, Float32Array>();
    for (const [k, v] of await exportWeights(a.trees.ir50)) ckpt.set(`module.ir_back.${k}`, v);
    for (const [k, v] of await exportWeights(a.trees.mobilefacenet)) {
      ckpt.set(`module.face_landback.${k}`, v);
    }
    ckpt.set("module.VIT.head.linear.weight", new Float32Array(7));
    // A broken MobileFaceNet entry must leave IR-50 untouched too.
    const broken = new Map(ckpt);
    broken.delete("module.face_landback.conv1.prelu.weight");
    const irFirst = ir50(b.trees.ir50, x);
    const irBefore = await irFirst[0].data();
    assert.throws(() => b.loadPosterCheckpoint(broken), /face_landback\.conv1\.prelu\.weight/);
    const irAfter = ir50(b.trees.ir50, x);
    assert.deepEqual(Array.from(await irAfter[0].data()), Array.from(irBefore));
    assert.equal(b.name, "paper:seed=2:width=0.25");
    const report = b.loadPosterCheckpoint(ckpt);
    assert.ok(report.ir50.unused.includes("module.VIT.head.linear.weight"));
    assert.match(b.name, /^paper:weights=[0-9a-f]{8}:width=0\.25$/);
    const [ya, yb] = [a.extract(x), b.extract(x)];
    for (let k = 0; k < 3; k++) {
      await assertClose(yb.landmark[k], ya.landmark[k], 0, 0, `landmark ${k}`);
      await assertClose(yb.image[k], ya.image[k], 0, 0, `image ${k}`);
    }
    const [la, lb] = [
      mobileFaceNet(a.trees.mobilefacenet, x),
      mobileFaceNet(b.trees.mobilefacenet, x),
    ];
    await assertClose(lb.landmarks, la.landmarks, 0, 0, "landmarks");
    tf.dispose([...irFirst, ...irAfter, ...ya.landmark, ...ya.image, ...yb.landmark, ...yb.image]);
    tf.dispose([...la.maps, la.landmarks, ...lb.maps, lb.landmarks]);
  } finally {
    a.dispose();
    b.dispose();
    x.dispose();
  }
});

Deno.test("renameFaceEvolveIr50Keys maps face.evoLVe's body.<n> onto POSTER++'s three stages", () => {
  const v = new Float32Array(1);
  const keys = [
    "input_layer.0.weight",
    "body.2.res_layer.1.weight",
    "body.3.shortcut_layer.0.weight",
  ]
    .concat(["body.20.res_layer.4.bias", "body.21.res_layer.1.weight", "output_layer.3.weight"]);
  const renamed = [...renameFaceEvolveIr50Keys(new Map(keys.map((k) => [k, v]))).keys()];
  assert.deepEqual(renamed, [
    "input_layer.0.weight",
    "body1.2.res_layer.1.weight",
    "body2.0.shortcut_layer.0.weight",
    "body3.13.res_layer.4.bias",
    "body.21.res_layer.1.weight",
    "output_layer.3.weight",
  ]);
});
