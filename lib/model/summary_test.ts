import { assert } from "../testing.ts";
import { presetConfig } from "../config.ts";
import { disposeParams, flattenParams, initGrefel, planGrefel } from "./mod.ts";
import { summarizeModel, withoutReliabilityBalancing } from "./summary.ts";
import { microConfig } from "./test_fixtures.ts";

Deno.test("summary: counts equal the sizes of the variables initGrefel creates", () => {
  const configs = [
    microConfig(),
    microConfig({ rb: { anchors: false } }),
    microConfig({ rb: { attentive: false }, fusion: { seBlock: true } }),
    presetConfig("tiny").model,
    presetConfig("compact").model,
  ];
  for (const cfg of configs) {
    const s = summarizeModel(cfg);
    const p = initGrefel(cfg, 0);
    let trainable = 0;
    let frozen = 0;
    for (const v of flattenParams(p).values()) {
      if (v.trainable) trainable += v.size;
      else frozen += v.size;
    }
    disposeParams(p);
    assert.equal(s.trainableParams, trainable);
    assert.equal(s.params, trainable);
    assert.equal(s.buffers, frozen);
    const groups = Object.values(s.breakdown).reduce((a, g) => a + g.params, 0);
    assert.equal(groups, s.params);
  }
});

Deno.test("summary: RB adds C·K·D anchors and the per-sample MHSA (4w² + 4w, W_out D·C + C)", () => {
  const cfg = presetConfig("paper").model;
  const s = summarizeModel(cfg);
  const s0 = summarizeModel(withoutReliabilityBalancing(cfg));
  const [c, k, d] = [cfg.classes, cfg.rb.anchorsPerClass, cfg.embedDim];
  const w = d / cfg.rb.attentionTokens;
  assert.equal(s.params - s0.params, c * k * d + 4 * w * w + 4 * w + d * c + c);
  assert.ok(s.flops > s0.flops);
  const r = summarizeModel({ ...cfg, rb: { ...cfg.rb, anchorsPerClass: 0 } });
  assert.equal(s.params - r.params, c * k * d, "K = 0 removes the anchors");
});

Deno.test("summary: hand count of the paper's fusion ViT and head", () => {
  const cfg = presetConfig("paper").model;
  const s = summarizeModel(cfg);
  const d = 768;
  const seq = 3 * 49 + 1;
  const block = 4 * (d * d + d) + 2 * 2 * d + (d * 3072 + 3072) + (3072 * d + d);
  const fusion = 2 * block + d + seq * d + 2 * d + 2 * (d * d + d);
  assert.equal(s.breakdown.fusion.params, fusion);
  const blockMacs = seq * (4 * d * d + 2 * d * 3072);
  assert.equal(s.breakdown.fusion.flops, 2 * blockMacs + 2 * d * d);
  const head = (d * 64 + 64) + 2 * 64 + (64 * 64 + 64) + 2 * 64 + (64 * 8 + 8);
  assert.equal(s.breakdown.head.params, head);
  assert.equal(s.buffers, 4 * 64);
  // every param of the plan has a unique path
  const paths = planGrefel(cfg).params.map((p) => p.path);
  assert.equal(new Set(paths).size, paths.length);
});
