import { assert } from "../../testing.ts";
import { PlanOps, type Shape3 } from "./graph.ts";
import {
  countExtractors,
  countPlan,
  countTree,
  disposeTree,
  initIr50,
  initMobileFaceNet,
  planIr50,
  planMobileFaceNet,
} from "./mod.ts";

Deno.test("FLOP/parameter rules on tiny layers match hand computation", () => {
  const p = new PlanOps();
  // Conv 3×3, stride 2, pad 1, 2 → 4 channels on 5×5: output 3×3 (⌊(5+2−3)/2⌋+1 = 3);
  // 3·3·4 outputs × 2·3·3 multiply-accumulates each = 648; weights 4·2·3·3 = 72.
  let s: Shape3 = p.conv("c", [5, 5, 2], { out: 4, kernel: 3, stride: 2, pad: 1 });
  assert.deepEqual(s, [3, 3, 4]);
  assert.deepEqual(p.ops.at(-1), { name: "c", kind: "conv", params: 72, buffers: 0, flops: 648 });
  // Batch norm on 3×3×4: thop counts 2·numel, doubled when affine = 144; 2·4 params, 2·4 buffers.
  s = p.batchNorm("bn", s);
  assert.deepEqual(p.ops.at(-1), { name: "bn", kind: "bn", params: 8, buffers: 8, flops: 144 });
  // PReLU: numel = 36 FLOPs, 4 slopes.
  s = p.prelu("act", s);
  assert.deepEqual(p.ops.at(-1), { name: "act", kind: "prelu", params: 4, buffers: 0, flops: 36 });
  // Depthwise 3×3, pad 1 on 4×4×3: 4·4·3 outputs × 1·3·3 = 432; weights 3·1·3·3 = 27.
  p.conv("dw", [4, 4, 3], { out: 3, kernel: 3, pad: 1, groups: 3 });
  assert.deepEqual(p.ops.at(-1), { name: "dw", kind: "conv", params: 27, buffers: 0, flops: 432 });
  // Linear 8 → 5: 40 multiply-accumulates, 40 weights.
  assert.deepEqual(p.linear("fc", [1, 1, 8], 5), [1, 1, 5]);
  assert.deepEqual(p.ops.at(-1), { name: "fc", kind: "linear", params: 40, buffers: 0, flops: 40 });
  // MaxPool2d(1, 2) on 5×5 keeps rows/columns 0, 2, 4.
  assert.deepEqual(p.subsample([5, 5, 7], 2), [5, 5, 7].map((v, i) => i < 2 ? 3 : v));
  // Recorded weight shapes are tfjs layouts with the PyTorch shape alongside.
  const w = p.weights.find((x) => x.path === "c/weight")!;
  assert.deepEqual([w.shape, w.torchShape], [[3, 3, 2, 4], [4, 2, 3, 3]]);
  assert.throws(() => p.conv("bad", [4, 4, 4], { out: 4, kernel: 3, groups: 2 }), /bad: groups/);
  assert.throws(() => p.add([1, 2, 3], [1, 2, 4]), /shapes differ/);
});

Deno.test("extractor counts match the PyTorch/thop reference of POSTER++'s modules", () => {
  // Reference: POSTER_V2 models/ir50.py Backbone(50, 0.0, 'ir') and models/mobilefacenet.py
  // MobileFaceNet([112, 112], 136), re-typed in PyTorch 1.13 and counted with thop 0.1.1's rules
  // (parameters of modules run in forward; conv/linear MACs, 4·numel per BN, numel per PReLU)
  // on a 1×3×112×112 input.
  const ir = countPlan("ir50", planIr50());
  const mf = countPlan("mobilefacenet", planMobileFaceNet());
  assert.equal(ir.params, 17_611_968);
  assert.equal(ir.flops, 5_492_014_080);
  assert.equal(mf.params, 1_007_248);
  assert.equal(mf.flops, 236_551_712);
  assert.deepEqual(ir.breakdown["ir50/body3"], { params: 16_271_104, flops: 3_365_856_256 });
  assert.deepEqual(mf.breakdown["mobilefacenet/output_layer"], { params: 96_016, flops: 97_312 });
  const all = countExtractors();
  assert.equal(all.params, ir.params + mf.params);
  assert.equal(all.flops, ir.flops + mf.flops);
  // Per kind: the pure multiply-accumulates (conv + linear) against PyTorch's conv/linear hooks.
  assert.equal(all.byKind.conv.flops + all.byKind.linear.flops, 5_467_979_776 + 220_969_472);
  assert.equal(all.byKind.bn.flops, 20_471_808 + 12_822_560);
  const parts = Object.values(all.breakdown);
  assert.equal(parts.reduce((a, b) => a + b.params, 0), all.params);
  assert.equal(parts.reduce((a, b) => a + b.flops, 0), all.flops);
});

Deno.test("analytic parameter count equals the weights actually held by the trees", () => {
  for (const width of [1, 0.25]) {
    const count = countExtractors({ width });
    const ir = initIr50(3, { width });
    const mf = initMobileFaceNet(3, { width });
    try {
      const a = countTree(ir), b = countTree(mf);
      assert.equal(a.params + b.params, count.params, `width ${width}`);
      assert.equal(a.buffers + b.buffers, count.buffers, `width ${width}`);
    } finally {
      disposeTree(ir);
      disposeTree(mf);
    }
  }
  // A width that does not give whole channels is refused, naming the problem.
  assert.throws(() => planIr50({ width: 0.3 }), /ir50: width 0.3 gives 19.2 channels/);
});
