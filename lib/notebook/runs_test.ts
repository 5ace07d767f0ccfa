import { assert } from "../testing.ts";
import { presetConfig } from "../config.ts";
import { loadExperiment, variantConfig } from "../train/experiments.ts";
import { runId } from "../train/run.ts";
import { join } from "node:path";
import { trajectoryDifferences } from "../train/adopt.ts";
import { ablationPlan, ABLATIONS } from "./ablation.ts";
import {
  ABLATION_WARMUP,
  AVERAGED_RECIPE,
  CONVERGED_PROTOCOL,
  DEFAULT_TRAINING,
  ensureRun,
  experimentConfig,
  notebookTrainMode,
  PROFILE_OVERRIDES,
} from "./runs.ts";

const STUDY_DEFAULT = "training=aux-primary,head=dropout-bn-0.5";

Deno.test("quick: the study's converged protocol with the default training variant", () => {
  const c = experimentConfig("table2-rb", "both", { seed: 1, profile: "quick" });
  assert.equal(c.data.dataset, "ferplus");
  assert.equal(c.train.lr, 1e-3);
  assert.equal(c.train.epochs, 60);
  assert.deepEqual(c.train.earlyStop, {
    ...c.train.earlyStop,
    enabled: true,
    patience: 8,
    minEpochs: 12,
    window: 3,
  });
  // The trainer's default sampler and validation cadence, as the study leaves them.
  const preset = presetConfig("compact");
  assert.deepEqual(c.data.sampler, preset.data.sampler);
  assert.equal(c.train.evalEvery, preset.train.evalEvery);
  assert.equal(c.model.rb.training, DEFAULT_TRAINING.model.rb.training);
  assert.equal(c.model.head.dropout, DEFAULT_TRAINING.model.head.dropout);
  assert.equal(c.model.head.order, DEFAULT_TRAINING.model.head.order);
  assert.ok(c.model.rb.anchors && c.model.rb.attentive);
});

Deno.test("quick: Table 2 'both' is the study's default-variant run up to the table's warm-up", () => {
  const study = loadExperiment("rb-dynamics");
  // The study's base is the converged protocol, field for field.
  assert.deepEqual(study.base, JSON.parse(JSON.stringify(CONVERGED_PROTOCOL)));
  for (const seed of [0, 1, 2]) {
    // What `grefel sweep --experiment rb-dynamics` trains: no profile at all.
    const s = variantConfig(study, STUDY_DEFAULT, { seed });
    for (
      const [exp, v] of [["table2-rb", "both"], ["table3-loss", "all"], [
        "table4-lambda",
        "default",
      ]]
    ) {
      const c = experimentConfig(exp, v, { seed, profile: "quick" });
      // Another stopping rule, the same training path: `grefel adopt` carries the run over.
      assert.equal(c.train.earlyStop.startEpoch, ABLATION_WARMUP.train.earlyStop.startEpoch);
      assert.notEqual(runId(c), runId(s), `${exp} ${v} seed ${seed}`);
      assert.deepEqual(trajectoryDifferences(s, c), [], `${exp} ${v} seed ${seed}`);
      const strip = (x: typeof c) => ({
        ...x,
        train: { ...x.train, experiment: "", earlyStop: { ...x.train.earlyStop, startEpoch: 1 } },
      });
      assert.deepEqual(strip(c), strip(s));
      // The three tables share the cell: one run id.
      assert.equal(
        runId(c),
        runId(experimentConfig("table2-rb", "both", { seed, profile: "quick" })),
      );
    }
  }
  // The defaults go under the variants: a study variant keeps its own training and head.
  const paper = experimentConfig("rb-dynamics", "training=paper,head=bn-dropout-0.5", {
    profile: "quick",
  });
  assert.equal(paper.model.rb.training, "paper");
  assert.equal(paper.model.head.order, "bn-dropout");
  assert.equal(
    runId(paper),
    runId(variantConfig(study, "training=paper,head=bn-dropout-0.5")),
  );
  // Table 2 'none' differs from 'both' only in RB.
  const none = experimentConfig("table2-rb", "none", { profile: "quick" });
  assert.equal(none.model.rb.training, DEFAULT_TRAINING.model.rb.training);
  assert.ok(!none.model.rb.anchors && !none.model.rb.attentive);
});

Deno.test("the averaged-recipe tables: compact-averaged with the tables' warm-up and cells", () => {
  const t2 = ablationPlan("Table 2 (averaged recipe)"),
    t6 = ablationPlan("Table 6 (averaged recipe)");
  assert.deepEqual([t2.extra, t6.extra], [AVERAGED_RECIPE, AVERAGED_RECIPE]);
  for (const seed of [0, 1, 2]) {
    // Table 2 `both` under the recipe is the preset compact-averaged (the averaging and size
    // studies' run) up to the warm-up, so `grefel adopt` carries those runs over.
    const both = experimentConfig("table2-rb", "both", { seed, profile: "quick", extra: t2.extra });
    const preset = presetConfig("compact-averaged", { data: { dataset: "ferplus" }, seed });
    assert.equal(both.train.earlyStop.startEpoch, ABLATION_WARMUP.train.earlyStop.startEpoch);
    assert.deepEqual(trajectoryDifferences(preset, both), [], `seed ${seed}`);
    const atWarmup = presetConfig("compact-averaged", {
      data: { dataset: "ferplus" },
      seed,
      train: { earlyStop: ABLATION_WARMUP.train.earlyStop },
    });
    assert.equal(runId(both), runId(atWarmup));
    // `none` differs from it in RB alone; the Table 6 cells only in anchors and smoothing.
    const none = experimentConfig("table2-rb", "none", { seed, profile: "quick", extra: t2.extra });
    assert.deepEqual(
      { ...none.model, rb: both.model.rb },
      both.model,
    );
    assert.ok(!none.model.rb.anchors && !none.model.rb.attentive);
    for (const [v, k] of [["K=0", 0], ["K=10", 10]] as const) {
      const c = experimentConfig("table6-anchors", v, { seed, profile: "quick", extra: t6.extra });
      assert.equal(c.model.rb.anchorsPerClass, k);
      assert.equal(c.train.emaDecay, AVERAGED_RECIPE.train.emaDecay);
      assert.equal(c.model.head.dropout, 0);
      assert.equal(c.model.loss.labelSmoothing, 0);
      // Another run than the default-variant table's cell.
      assert.notEqual(
        runId(c),
        runId(experimentConfig("table6-anchors", v, { seed, profile: "quick" })),
      );
    }
  }
});

Deno.test("short: the former 128-step profile, unchanged", () => {
  const c = experimentConfig("table2-rb", "both", { profile: "short" });
  assert.equal(c.data.dataset, "ferplus");
  assert.equal(c.train.epochs, 16);
  assert.equal(c.train.evalEvery, 16);
  assert.equal(c.data.sampler.perClass, 64);
  assert.equal(c.model.head.dropout, 0);
  assert.equal(c.train.earlyStop.enabled, presetConfig("compact").train.earlyStop.enabled);
  assert.equal(PROFILE_OVERRIDES.short.defaults, undefined);
  // smoke keeps its tiny synthetic setup and the preset's training variant.
  const s = experimentConfig("table2-rb", "both", { profile: "smoke" });
  assert.equal(s.data.dataset, "synthetic");
  assert.equal(s.model.rb.training, presetConfig("tiny").model.rb.training);
});

Deno.test("notebookTrainMode: GREFEL_NB_TRAIN, else missing in smoke/short, none in quick/full", () => {
  const old = Deno.env.get("GREFEL_NB_TRAIN");
  try {
    Deno.env.delete("GREFEL_NB_TRAIN");
    assert.equal(notebookTrainMode("smoke"), "missing");
    assert.equal(notebookTrainMode("short"), "missing");
    assert.equal(notebookTrainMode("quick"), "none");
    assert.equal(notebookTrainMode("full"), "none");
    Deno.env.set("GREFEL_NB_TRAIN", "missing");
    assert.equal(notebookTrainMode("quick"), "missing");
    Deno.env.set("GREFEL_NB_TRAIN", "none");
    assert.equal(notebookTrainMode("smoke"), "none");
    Deno.env.set("GREFEL_NB_TRAIN", "all");
    assert.throws(
      () => notebookTrainMode("smoke"),
      /GREFEL_NB_TRAIN must be one of missing, none, got "all"/,
    );
  } finally {
    if (old === undefined) Deno.env.delete("GREFEL_NB_TRAIN");
    else Deno.env.set("GREFEL_NB_TRAIN", old);
  }
});

Deno.test("ensureRun: a run finished in another experiment's folder is read; with GREFEL_NB_TRAIN=none a missing one is an error", async () => {
  const root = await Deno.makeTempDir({ prefix: "grefel-ensure-run-" });
  const saved = ["GREFEL_RESULTS", "GREFEL_NB_TRAIN", "GREFEL_PROFILE"].map((
    k,
  ) => [k, Deno.env.get(k)] as const);
  try {
    Deno.env.set("GREFEL_RESULTS", root);
    Deno.env.set("GREFEL_NB_TRAIN", "none");
    Deno.env.set("GREFEL_PROFILE", "quick");
    const both = experimentConfig("table2-rb", "both", { seed: 0, profile: "quick" });
    const cfg = { ...both, train: { ...both.train, resultsDir: root } };
    // The study's copy of the same run id, finished.
    const there = join(root, "rb-dynamics", runId(cfg));
    await Deno.mkdir(there, { recursive: true });
    await Deno.writeTextFile(
      join(there, "metrics.json"),
      JSON.stringify({ accuracy: 0.75, evaluation: { numSamples: 3 } }),
    );
    const r = await ensureRun(both);
    assert.equal(r.dir, there);
    assert.equal(r.status, "skipped");
    const none = experimentConfig("table2-rb", "none", { seed: 0, profile: "quick" });
    await assert.rejects(() => ensureRun(none), /has not finished .* trains nothing/);
    // Nothing was started for it.
    await assert.rejects(() => Deno.stat(join(root, "table2-rb")), Deno.errors.NotFound);
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the warm-up: every paper-table experiment has it, the studies and the short profiles do not", () => {
  const tables = new Set(ABLATIONS.map((a) => a.experiment));
  assert.ok(tables.size >= 7);
  for (const name of tables) {
    const exp = loadExperiment(name);
    assert.deepEqual(
      (exp.base as { train?: { earlyStop?: unknown } }).train?.earlyStop,
      { ...ABLATION_WARMUP.train.earlyStop },
      name,
    );
    const v = [...exp.variants.keys()][0];
    assert.equal(experimentConfig(name, v, { profile: "quick" }).train.earlyStop.startEpoch, 12);
    assert.equal(experimentConfig(name, v, { profile: "full" }).train.earlyStop.startEpoch, 12);
    // Two and sixteen epochs: the profiles count every epoch, as their runs did.
    assert.equal(experimentConfig(name, v, { profile: "smoke" }).train.earlyStop.startEpoch, 1);
    assert.equal(experimentConfig(name, v, { profile: "short" }).train.earlyStop.startEpoch, 1);
  }
  for (const name of ["rb-dynamics", "averaging", "size", "finetune", "sampler", "mirror"]) {
    const exp = loadExperiment(name);
    const v = [...exp.variants.keys()][0];
    assert.equal(
      experimentConfig(name, v, { profile: "quick" }).train.earlyStop.startEpoch,
      1,
      name,
    );
  }
});
