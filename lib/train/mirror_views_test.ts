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
    "a run with mirror views trains on a 2-view cache (centre and mirror) that every seed shares",
  // Extracts 48 synthetic training images twice (centre and mirror) and the evaluation images once.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "grefel_mirror_views_" });
    try {
      const config = (seed: number) =>
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
            mirrorViews: true,
          },
        });
      const r = await runTraining(config(0), { figures: false, print: () => {} });
      assert.equal(r.status, "trained");
      assert.ok(Number.isFinite(r.metrics.accuracy));
      const caches = () =>
        [...Deno.readDirSync(join(tmp, "cache"))].map((e) => e.name).filter((n) =>
          !n.endsWith(".lock")
        );
      const train = caches().filter((n) => n.startsWith("synthetic-train-"));
      assert.equal(train.length, 1, `one training cache among ${caches()}`);
      const index = JSON.parse(await Deno.readTextFile(join(tmp, "cache", train[0], "index.json")));
      assert.equal(index.params.views, 2);
      assert.match(index.params.pipeline, /\|with-mirror-views$/);
      const evalCache = caches().find((n) => n.startsWith("synthetic-eval-"))!;
      const evalIndex = JSON.parse(
        await Deno.readTextFile(join(tmp, "cache", evalCache, "index.json")),
      );
      assert.equal(evalIndex.params.views, 1, "evaluation keeps the centre view");
      // Another seed reads the same training cache (nothing in it depends on the seed).
      await runTraining(config(1), { figures: false, print: () => {} });
      assert.deepEqual(caches().filter((n) => n.startsWith("synthetic-train-")), train);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
