import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert } from "../testing.ts";
import { readMetrics, type RunMetrics, writeMetrics } from "./files.ts";
import type { EvaluationReport } from "../eval/metrics.ts";

type Metrics = RunMetrics & { evaluation: EvaluationReport };

const RESULTS = fileURLToPath(new URL("../../results/", import.meta.url));

Deno.test("readMetrics: a committed run's L_final evaluation (stored as `corrected`) reads as `final`", async () => {
  const dir = join(RESULTS, "table2-rb", "ae7110cfc6");
  const raw = JSON.parse(await Deno.readTextFile(join(dir, "metrics.json")));
  assert.ok("corrected" in raw.evaluation && !("final" in raw.evaluation), "the old key on disk");
  const m = (await readMetrics<Metrics>(dir))!;
  assert.ok(!("corrected" in m.evaluation));
  assert.deepEqual(m.evaluation.final, raw.evaluation.corrected);
  assert.deepEqual(m.evaluation.primary, raw.evaluation.primary);
  assert.equal(m.evaluation.final.accuracy, m.accuracy);
});

Deno.test("readMetrics: `final` as written now; no evaluation, no file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readMetrics(dir), null);
    const final = { accuracy: 0.5 }, corrected = { accuracy: 0.25 };
    await writeMetrics(dir, { runId: "x", evaluation: { primary: {}, final, corrected } });
    // Both keys: `final` wins, nothing is renamed.
    const both = (await readMetrics<{ evaluation: Record<string, unknown> }>(dir))!;
    assert.deepEqual(both.evaluation.final, final);
    assert.deepEqual(both.evaluation.corrected, corrected);
    await writeMetrics(dir, { runId: "x" });
    assert.deepEqual(await readMetrics(dir), { runId: "x" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
