import { assert } from "./testing.ts";
import { ConfigError, mergeConfig, presetConfig, resolveConfig } from "./config.ts";
import { loadExperiment, variantConfig } from "./train/experiments.ts";
import { runId } from "./train/run.ts";

Deno.test("resolveConfig fills defaults", () => {
  const c = resolveConfig({});
  assert.equal(c.seed, 0);
  assert.equal(typeof c.model, "object");
});

Deno.test("unknown keys are errors naming the key", () => {
  assert.throws(() => resolveConfig({ sede: 1 }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /sede: unknown key/);
    return true;
  });
  assert.throws(() => resolveConfig({ model: { nope: 1 } }), /model\.nope: unknown key/);
});

Deno.test("out-of-range values are errors naming the key", () => {
  assert.throws(() => resolveConfig({ seed: -1 }), /seed:/);
});

Deno.test("unknown preset names the preset", () => {
  assert.throws(() => presetConfig("huge"), /unknown preset "huge"/);
});

Deno.test("mergeConfig merges objects and replaces arrays", () => {
  assert.deepEqual(mergeConfig({ a: { b: 1, c: [1, 2] } }, { a: { c: [3] } }), {
    a: { b: 1, c: [3] },
  });
});

Deno.test("compact-averaged on FER+ is the size study's compact cell, run id included", () => {
  const size = loadExperiment("size");
  for (const seed of [0, 1, 2]) {
    const preset = presetConfig("compact-averaged", { data: { dataset: "ferplus" }, seed });
    const cell = variantConfig(size, "D=64,depth=1", { seed });
    assert.deepEqual(runId(preset), runId(cell));
    // The committed seed-0 run of that cell (results/size/b7d38fe51c) is this run.
    if (seed === 0) assert.deepEqual(runId(preset), "b7d38fe51c");
  }
  // It differs from compact only in its training recipe, not in the model's sizes.
  const a = presetConfig("compact-averaged").model, c = presetConfig("compact").model;
  assert.deepEqual({ ...a, rb: c.rb, head: c.head }, c);
  assert.deepEqual(a.head.dropout, 0);
  assert.deepEqual(presetConfig("compact-averaged").train.emaDecay, 0.997);
});
