import { assert } from "../lib/testing.ts";
import { runBench } from "./tsne.ts";

Deno.test("bench/tsne.ts runs on a tiny size and writes its JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grefel-bench-tsne-" });
  try {
    const out = `${dir}/tsne.json`;
    await runBench({
      sizes: [60],
      tsnejsSizes: [60],
      dim: 8,
      repeats: 1,
      qualityN: 60,
      iterations: 100,
      clusterN: 200,
      out,
    });
    const doc = JSON.parse(await Deno.readTextFile(out));
    assert.equal(doc.tsne.length, 2);
    for (const row of doc.tsne) assert.ok(row.medianSeconds > 0 && row.peakRssMB > 0);
    assert.equal(doc.quality.length, 2);
    for (const q of doc.quality) assert.ok(q.trustworthiness > 0 && q.trustworthiness <= 1);
    assert.ok(["barnes-hut", "tsne-js"].includes(doc.defaultEngine.chosen));
    assert.ok(doc.clusterScores.medianMilliseconds >= 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
