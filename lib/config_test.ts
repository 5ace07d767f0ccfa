import { assert } from "./testing.ts";
import { ConfigError, mergeConfig, presetConfig, resolveConfig } from "./config.ts";

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
