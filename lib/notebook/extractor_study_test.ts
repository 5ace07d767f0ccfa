import { join } from "node:path";
import { assert } from "../testing.ts";
import { finetunePairs, finetuneRows, probeRows, readProbeStudy } from "./extractor_study.ts";
import type { StudyRun } from "./rb_study.ts";

Deno.test("probe study rows: cost, plain and prior-corrected accuracy, the leakage verdict", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readProbeStudy(join(dir, "absent.json")), null);
    const net = (name: string, provenance: string, flagged: boolean, acc: number) => ({
      name,
      provenance,
      leakage: flagged ? "fer2013" : "none-known",
      flagged,
      inputSize: 64,
      dims: 416,
      cpuMsPerImage: 9.6,
      probe: {
        c: 0.1,
        fit: { converged: !flagged },
        metrics: { accuracy: acc, balancedAccuracy: 0.5, macroF1: 0.4 },
        priorCorrected: flagged
          ? null
          : { accuracy: acc + 0.05, balancedAccuracy: 0.4, macroF1: 0.4 },
      },
    });
    const path = join(dir, "probe.json");
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        config: { folds: 3 },
        networks: [
          net("face-api landmark68", "face-api landmark68", false, 0.589),
          net("human emotion", "human emotion", true, 0.585),
        ],
        skipped: [],
      }),
    );
    const rows = probeRows((await readProbeStudy(path))!);
    assert.equal(rows.length, 2);
    assert.equal(rows[0]["acc %"], "58.9");
    assert.equal(rows[0]["acc prior-corr. %"], "63.9");
    assert.equal(rows[0]["CPU ms/image"], 10);
    assert.equal(rows[0].leakage, "none known");
    assert.match(String(rows[0]["training data (as documented)"]), /68 landmark points/);
    assert.equal(rows[1].leakage, "FLAGGED (fer2013)");
    assert.equal(rows[1]["acc prior-corr. %"], "");
    assert.equal(rows[1].converged, "no");
    await Deno.writeTextFile(path, JSON.stringify({ results: [] }));
    await assert.rejects(() => readProbeStudy(path), /no "networks" list/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fine-tuning pairs: each head's tuned cell against its frozen one; rows say when a seed is missing", () => {
  const variants = [
    "finetune=none,head=dropout-bn-0.5",
    "finetune=landmark-dense3,head=dropout-bn-0.5",
    "finetune=none,head=bn-dropout-0.5",
    "finetune=landmark-dense3,head=bn-dropout-0.5",
    "finetune=landmark-dense3,head=dropout-0", // no frozen partner: no pair
  ];
  const pairs = finetunePairs(variants);
  assert.deepEqual(pairs.map((p) => [p.head, p.tuned, p.frozen]), [
    ["dropout-bn-0.5", variants[1], variants[0]],
    ["bn-dropout-0.5", variants[3], variants[2]],
  ]);
  const run = (variant: string, seed: number, accuracy: number | null): StudyRun => ({
    dir: "/nonexistent",
    runId: `${variant}-${seed}`,
    variant,
    seed,
    log: [],
    metrics: accuracy === null ? null : { accuracy } as StudyRun["metrics"],
  });
  // Frozen seeds 0 and 1 finished, the tuned seed 0 still training: nothing to pair yet.
  const rows = finetuneRows(
    [run(variants[0], 0, 0.76), run(variants[0], 1, 0.78), run(variants[1], 0, null)],
    pairs.slice(0, 1),
  );
  assert.equal(rows[0]["fine-tuned cell"], "finetune=landmark-dense3");
  assert.equal(rows[0]["frozen: test L_final (seeds)"], "77.00 ± 1.41% (2)");
  assert.equal(rows[0]["fine-tuned: test L_final (seeds)"], "—");
  assert.equal(rows[0]["fine-tuned − frozen (95% CI)"], "no seed finished in both arms yet");
});

Deno.test("readExperimentRuns finds a variant's run by its config, also where another experiment finished it", async () => {
  const { loadExperiment, variantConfig } = await import("../train/experiments.ts");
  const { runId } = await import("../train/run.ts");
  const { readExperimentRuns } = await import("./extractor_study.ts");
  const root = await Deno.makeTempDir();
  try {
    assert.deepEqual(await readExperimentRuns("finetune", root, 2, "quick"), []);
    const variant = "finetune=none,head=bn-dropout-0.5";
    const cfg = variantConfig(loadExperiment("finetune"), variant, { seed: 1 });
    const dir = join(root, "rb-dynamics", runId(cfg));
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "metrics.json"), JSON.stringify({ accuracy: 0.8 }));
    await Deno.writeTextFile(join(dir, "log.jsonl"), "");
    const runs = await readExperimentRuns("finetune", root, 2, "quick");
    assert.equal(runs.length, 1);
    assert.equal(runs[0].variant, variant);
    assert.equal(runs[0].seed, 1);
    assert.equal(runs[0].dir, dir);
    assert.equal(runs[0].metrics?.accuracy, 0.8);
    // The smoke profile's config of the same variant is another run.
    assert.deepEqual(await readExperimentRuns("finetune", root, 2, "smoke"), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
