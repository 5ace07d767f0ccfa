import { join } from "node:path";
import { assert } from "../testing.ts";
import { ConfigError } from "../config.ts";
import {
  configFrom,
  expandGrid,
  listExperiments,
  loadExperiment,
  parseSets,
  variantConfig,
} from "./experiments.ts";
import { runId } from "./run.ts";

Deno.test("every experiment file validates against the config schema", () => {
  const names = listExperiments();
  for (
    const t of [
      "table2-rb",
      "table3-loss",
      "table4-lambda",
      "table5-augment-noise",
      "table6-anchors",
      "table7-anchors-noise",
      "table8-anchors-smoothing",
    ]
  ) assert.ok(names.includes(t), `missing experiment ${t}`);
  for (const name of names) {
    const exp = loadExperiment(name); // resolves every variant
    assert.ok(exp.variants.size > 0, name);
    // Variants are distinct configs except where a table repeats the default (Table 5's
    // "augment" and "noise=0" are both the default run; a sweep trains it once).
    const ids = new Set([...exp.variants.keys()].map((v) => runId(variantConfig(exp, v))));
    assert.ok(ids.size >= exp.variants.size - 1, `${name}: variants share run ids`);
  }
});

Deno.test("paper ablation variants set the fields the tables vary", () => {
  const t2 = loadExperiment("table2-rb");
  const none = variantConfig(t2, "none");
  assert.equal(none.model.rb.anchors, false);
  assert.equal(none.model.rb.attentive, false);
  assert.equal(none.train.experiment, "table2-rb");
  const t7 = loadExperiment("table7-anchors-noise");
  assert.equal(t7.variants.size, 11 * 10);
  const c = variantConfig(t7, "K=4,noise=15");
  assert.equal(c.model.rb.anchorsPerClass, 4);
  assert.equal(c.data.labelNoise, 0.15);
  const t8 = loadExperiment("table8-anchors-smoothing");
  assert.equal(t8.variants.size, 11 * 12);
  assert.equal(variantConfig(t8, "K=10,smoothing=11").model.loss.labelSmoothing, 11);
  const t6 = loadExperiment("table6-anchors");
  assert.deepEqual([...t6.variants.keys()], ["K=0", "K=1", "K=4", "K=6", "K=8", "K=10", "K=20"]);
});

Deno.test("unknown experiment, variant or key is an error naming it", async () => {
  assert.throws(() => loadExperiment("table99"), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /unknown experiment "table99"/);
    assert.match(e.message, /table2-rb/);
    return true;
  });
  assert.throws(
    () => variantConfig(loadExperiment("table2-rb"), "bogus"),
    /unknown variant "bogus" of experiment table2-rb \(known: none, anchors/,
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(dir, "bad.json"),
      JSON.stringify({
        description: "x",
        variants: { ok: {}, broken: { model: { rb: { anchorz: 3 } } } },
      }),
    );
    assert.throws(() => loadExperiment("bad", dir), (e: Error) => {
      assert.match(e.message, /experiment bad, variant broken/);
      assert.match(e.message, /model\.rb\.anchorz: unknown key/);
      return true;
    });
    await Deno.writeTextFile(join(dir, "typo.json"), JSON.stringify({ description: "x" }));
    assert.throws(() => loadExperiment("typo", dir), /exactly one of `variants` or `grid`/);
    await Deno.writeTextFile(
      join(dir, "extra.json"),
      JSON.stringify({ description: "x", variants: {}, varients: {} }),
    );
    assert.throws(() => loadExperiment("extra", dir), /varients/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(
    () => configFrom("tiny", parseSets(["train.epochz=3"])),
    /train\.epochz: unknown key/,
  );
});

Deno.test("--set parses JSON values and nested paths", () => {
  assert.deepEqual(parseSets(["model.rb.anchorsPerClass=4", "train.experiment=abc", "a.b=[1,2]"]), {
    model: { rb: { anchorsPerClass: 4 } },
    train: { experiment: "abc" },
    a: { b: [1, 2] },
  });
  assert.throws(() => parseSets(["novalue"]), /expected path\.to\.key=value/);
  assert.equal(
    configFrom("tiny", parseSets(["model.rb.anchorsPerClass=4"])).model.rb
      .anchorsPerClass,
    4,
  );
});

Deno.test("grid expansion: product, first axis outermost, later values merge", () => {
  const g = expandGrid({
    K: { "0": { k: 0 }, "1": { k: 1 } },
    n: { "a": { n: "a", k2: 1 }, "b": { n: "b" } },
  });
  assert.deepEqual([...g.keys()], ["K=0,n=a", "K=0,n=b", "K=1,n=a", "K=1,n=b"]);
  assert.deepEqual(g.get("K=1,n=a"), { k: 1, n: "a", k2: 1 });
});
