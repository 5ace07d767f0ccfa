import { assert } from "../testing.ts";
import { presetConfig } from "../config.ts";
import type { DatasetSample } from "../data/types.ts";
import { augmentPipeline, holdOutValidation } from "./prepare.ts";

Deno.test("validation hold-out: stratified, seeded, only from train", () => {
  const samples: DatasetSample[] = [];
  for (let i = 0; i < 60; i++) samples.push({ id: `t${i}`, split: "train", label: i % 3 });
  for (let i = 0; i < 5; i++) samples.push({ id: `x${i}`, split: "test", label: 0 });
  const a = holdOutValidation(samples, "train", "valid", 0.1, 7);
  const valid = a.filter((s) => s.split === "valid");
  assert.equal(valid.length, 6);
  for (let c = 0; c < 3; c++) assert.equal(valid.filter((s) => s.label === c).length, 2);
  assert.equal(a.filter((s) => s.split === "test").length, 5);
  assert.deepEqual(holdOutValidation(samples, "train", "valid", 0.1, 7), a);
  assert.notDeepEqual(
    holdOutValidation(samples, "train", "valid", 0.1, 8).map((s) => s.split),
    a.map((s) => s.split),
  );
  assert.equal(samples[0].split, "train", "input not mutated");
});

Deno.test("augment pipeline: key follows the settings; view 0 is the centre crop", () => {
  const on = augmentPipeline(presetConfig("tiny"), 32);
  const off = augmentPipeline(presetConfig("tiny", { data: { augment: { enabled: false } } }), 32);
  assert.ok(on.augments && !off.augments);
  assert.notEqual(on.key, off.key);
  const img = {
    width: 8,
    height: 8,
    channels: 1 as const,
    data: Uint8Array.from({ length: 64 }, (_, i) => i * 4),
  };
  const c1 = on.render(img, 16, 0, 1), c2 = off.render(img, 16, 0, 5);
  assert.equal(c1.length, 16 * 16 * 3);
  assert.deepEqual(c1, c2, "centre view does not depend on augmentation or seed");
  assert.notDeepEqual(on.render(img, 16, 1, 1), c1);
});
