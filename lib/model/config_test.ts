import { assert } from "../testing.ts";
import { presetConfig, resolveConfig } from "../config.ts";
import { anchorsOn, parseModelConfig, rbOn, scaleGeometry } from "./config.ts";

Deno.test("model config: defaults and presets resolve", () => {
  const d = parseModelConfig({});
  assert.equal(d.classes, 8);
  assert.equal(d.rb.anchorsPerClass, 10);
  assert.equal(d.loss.labelSmoothing, 11);
  const paper = presetConfig("paper").model;
  assert.equal(paper.embedDim, 768);
  assert.equal(paper.fusion.depth, 2);
  assert.equal(paper.fusion.heads, 8);
  assert.equal(paper.embedDim * paper.fusion.mlpRatio, 3072);
  assert.deepEqual(scaleGeometry(paper).map((g) => [g.side, g.imageChannels, g.attnDim]), [
    [28, 64, 64],
    [14, 128, 128],
    [7, 256, 256],
  ]);
  for (const n of ["compact", "tiny"]) assert.equal(presetConfig(n).preset, n);
});

Deno.test("model config: K = 0 or rb.anchors=false switch the anchors off", () => {
  assert.equal(anchorsOn(parseModelConfig({ rb: { anchorsPerClass: 0 } })), false);
  assert.equal(anchorsOn(parseModelConfig({ rb: { anchors: false } })), false);
  assert.equal(rbOn(parseModelConfig({ rb: { anchors: false, attentive: false } })), false);
  assert.equal(rbOn(parseModelConfig({ rb: { anchorsPerClass: 0 } })), true);
});

Deno.test("model config: errors name the key", () => {
  const cases: [unknown, RegExp][] = [
    [{ model: { embedDim: 66 } }, /model\.embedDim: 66 is not divisible by fusion\.heads 4/],
    [{ model: { rb: { anchorsPerClass: -1 } } }, /model\.rb\.anchorsPerClass:/],
    [{ model: { rb: { delta: 0 } } }, /model\.rb\.delta:/],
    [{ model: { loss: { labelSmoothing: 101 } } }, /model\.loss\.labelSmoothing:/],
    [{ model: { loss: { center: -1 } } }, /model\.loss\.center:/],
    [{ model: { tokens: 48 } }, /model\.tokens: must be a square number/],
    [
      { model: { crossAttention: { windowSize: [5, 7, null] } } },
      /model\.crossAttention\.windowSize\.0: window 5/,
    ],
    [
      { model: { imageShape: [[14, 256], [14, 512], [7, 1024]] } },
      /model\.landmarkShape\.0: scale 0/,
    ],
    [{ model: { rb: { attentionHeads: 3 } } }, /model\.rb\.attentionHeads: token width 16/],
    [{ model: { rb: { attentionTokens: 5 } } }, /model\.rb\.attentionTokens:/],
    [{ model: { rb: { anchorInit: "zeros" } } }, /model\.rb\.anchorInit:/],
    [{ model: { head: { dropout: 1 } } }, /model\.head\.dropout:/],
    [{ model: { rb: { nope: 1 } } }, /model\.rb\.nope: unknown key/],
  ];
  for (const [cfg, re] of cases) assert.throws(() => resolveConfig(cfg), re, JSON.stringify(cfg));
  assert.throws(() => parseModelConfig({ embedDim: 66 }), /model\.embedDim:/);
});
