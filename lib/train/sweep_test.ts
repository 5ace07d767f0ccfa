import { join } from "node:path";
import { assert } from "../testing.ts";
import { loadExperiment } from "./experiments.ts";
import { planSweep, runSweep, type SweepRun } from "./sweep.ts";

Deno.test("sweep: expands variants × seeds, skips finished, dedupes, runs N in parallel", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const exp = loadExperiment("table5-augment-noise");
    const overrides = { train: { resultsDir: tmp } };
    const plan = await planSweep(exp, { seeds: 2, overrides });
    assert.equal(plan.length, 4 * 2);
    assert.deepEqual(plan.slice(0, 2).map((r) => [r.variant, r.seed]), [["augment", 0], [
      "augment",
      1,
    ]]);
    assert.ok(plan.every((r) => r.dir.startsWith(join(tmp, "table5-augment-noise"))));
    // "noise=0" is the default config, like "augment": planned but not launched twice.
    const dup = plan.filter((r) => r.sameAs);
    assert.deepEqual(dup.map((r) => [r.variant, r.sameAs]), [
      ["noise=0", "augment seed 0"],
      ["noise=0", "augment seed 1"],
    ]);
    // Mark one run finished.
    await Deno.mkdir(plan[2].dir, { recursive: true });
    await Deno.writeTextFile(join(plan[2].dir, "metrics.json"), "{}");
    const again = await planSweep(exp, { seeds: 2, overrides });
    assert.equal(again[2].status, "finished");

    let running = 0, peak = 0;
    const launched: SweepRun[] = [];
    const summary = await runSweep(again, {
      parallel: 2,
      print: () => {},
      launch: async (r) => {
        launched.push(r);
        running++;
        peak = Math.max(peak, running);
        await new Promise((res) => setTimeout(res, 20));
        running--;
        return r.variant === "noise=10" && r.seed === 1 ? 3 : 0;
      },
    });
    assert.equal(peak, 2);
    assert.equal(launched.length, 8 - 1 - 2);
    assert.equal(summary.skipped.length, 3);
    assert.equal(summary.finished.length, 4);
    assert.deepEqual(summary.failed.map((f) => [f.run.variant, f.run.seed, f.code]), [[
      "noise=10",
      1,
      3,
    ]]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
