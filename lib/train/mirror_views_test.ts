import { join } from "node:path";
import { assert } from "../testing.ts";
import { presetConfig } from "../config.ts";
import { runId } from "./run.ts";
import { runTraining } from "./session.ts";

Deno.test("train.mirrorViews false keeps every recorded run id; true is part of it", () => {
  const off = presetConfig("tiny", { train: { mirrorViews: false } });
  assert.equal(runId(off), runId(presetConfig("tiny")));
  assert.notEqual(runId(presetConfig("tiny", { train: { mirrorViews: true } })), runId(off));
});

Deno.test({
  name:
    "a run with mirror views reads the plain runs' training cache and a mirror cache, which every seed shares",
  // Extracts 48 synthetic training images twice (centre and mirror) and the evaluation images once.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "grefel_mirror_views_" });
    try {
      const config = (seed: number, mirrorViews = true) =>
        presetConfig("tiny", {
          seed,
          data: {
            dataset: "synthetic",
            augment: { enabled: false },
            synthetic: { train: 48, valid: 16, test: 16, identities: 8 },
            sampler: { perClass: 4 },
          },
          train: {
            epochs: 1,
            batchSize: 16,
            backend: "wasm",
            cacheWorkers: 0,
            progress: "off",
            resultsDir: tmp,
            mirrorViews,
          },
        });
      const r = await runTraining(config(0), { figures: false, print: () => {} });
      assert.equal(r.status, "trained");
      assert.ok(Number.isFinite(r.metrics.accuracy));
      const caches = () =>
        [...Deno.readDirSync(join(tmp, "cache"))].map((e) => e.name).filter((n) =>
          !n.endsWith(".lock")
        ).sort();
      const index = async (name: string) =>
        JSON.parse(await Deno.readTextFile(join(tmp, "cache", name, "index.json")));
      const train = caches().filter((n) => n.startsWith("synthetic-train-"));
      assert.equal(train.length, 2, `a centre and a mirror training cache among ${caches()}`);
      const mirror = train.find((n) => n.startsWith("synthetic-train-mirror-"))!;
      const centre = train.find((n) => n !== mirror)!;
      assert.equal((await index(centre)).params.views, 1);
      assert.equal((await index(mirror)).params.views, 1);
      assert.match((await index(mirror)).params.pipeline, /\|mirror-x$/);
      assert.equal(
        (await index(centre)).params.pipeline + "|mirror-x",
        (await index(mirror)).params.pipeline,
      );
      const evalCache = caches().find((n) => n.startsWith("synthetic-eval-"))!;
      assert.equal((await index(evalCache)).params.views, 1, "evaluation keeps the centre view");
      // Another seed reads the same two caches (nothing in them depends on the seed), and a run
      // without mirror views reads the centre one: no new training cache.
      await runTraining(config(1), { figures: false, print: () => {} });
      await runTraining(config(0, false), { figures: false, print: () => {} });
      assert.deepEqual(caches().filter((n) => n.startsWith("synthetic-train-")), train);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
