import { assert } from "../testing.ts";
import { resolveConfig } from "../config.ts";
import { augmentParams, dataConfigSchema } from "./config.ts";

Deno.test("data config: documented defaults follow the paper and the synthetic set", () => {
  const d = dataConfigSchema.parse({});
  assert.equal(d.dataset, "synthetic");
  assert.equal(d.root, null);
  assert.deepEqual([d.augment.resize, d.augment.crop], [256, 224]);
  assert.deepEqual([d.sampler.mode, d.sampler.perGroup, d.sampler.perClass], ["refine", 512, 500]);
  assert.equal(d.labelNoise, 0);
  const p = augmentParams(d, 112);
  assert.equal(p.outputSize, 112);
  assert.ok(p.flip && p.rotation > 0 && p.randomCrop);
  const off = augmentParams(dataConfigSchema.parse({ augment: { enabled: false } }), 112);
  assert.ok(!off.flip && off.rotation === 0 && off.brightness === 0 && off.randomCrop === false);
});

Deno.test("data config: bad values and unknown keys name the key", () => {
  assert.throws(() => resolveConfig({ data: { labelNoise: 1.5 } }), /data\.labelNoise/);
  assert.throws(() => resolveConfig({ data: { dataset: "imagenet" } }), /data\.dataset/);
  assert.throws(
    () => resolveConfig({ data: { sampler: { perClas: 3 } } }),
    /data\.sampler\.perClas: unknown key/,
  );
  assert.throws(() => resolveConfig({ data: { std: [1, 0, 1] } }), /data\.std/);
  assert.equal(resolveConfig({ data: { dataset: "ferplus" } }).data.dataset, "ferplus");
});
