import { join } from "node:path";
import { assert, assertClose } from "../testing.ts";
import { presetConfig } from "../config.ts";
import { summarizeModel } from "../model/summary.ts";
import {
  chooseSizes,
  costHours,
  readSizeStudy,
  runCostHours,
  sizeDisplayRow,
  sizeRows,
} from "./size_study.ts";

const IMAGES = 400;

/**
 * Writes one finished fake run of `epochs` epochs (`steps` steps and `seconds` wall seconds each)
 * whose L_final gets the first `right` of IMAGES two-class test images right.
 */
async function fakeRun(
  root: string,
  o: {
    id: string;
    variant: string;
    seed: number;
    embedDim: number;
    right: number;
    epochs?: number;
    steps?: number;
    seconds?: number;
  },
) {
  const d = join(root, o.id);
  await Deno.mkdir(d, { recursive: true });
  const model = presetConfig("tiny", { model: { embedDim: o.embedDim } }).model;
  await Deno.writeTextFile(
    join(d, "config.json"),
    JSON.stringify({
      runId: o.id,
      variant: o.variant,
      seed: o.seed,
      config: { model, train: { batchSize: 64 } },
      dataset: { sizes: { val: 128 } }, // two validation batches
    }),
  );
  const epochs = o.epochs ?? 10;
  // Every epoch but the first is validated.
  const log = Array.from({ length: epochs }, (_, i) =>
    JSON.stringify({
      epoch: i + 1,
      steps: o.steps ?? 50,
      seconds: o.seconds ?? 36,
      valAccuracy: i ? 0.5 : null,
      ...(i ? { machine: "CPU ×2" } : {}), // the first epoch predates the field
    }));
  await Deno.writeTextFile(join(d, "log.jsonl"), log.join("\n") + "\n");
  const acc = o.right / IMAGES;
  await Deno.writeTextFile(
    join(d, "metrics.json"),
    JSON.stringify({
      accuracy: acc,
      primaryAccuracy: acc,
      best: { metric: "valAccuracy", value: acc, epoch: epochs - 3 },
      stopped: { reason: "early-stop", epoch: epochs, bestEpoch: epochs - 3, patience: 3 },
      epochs,
      evaluation: { final: { balancedAccuracy: acc - 0.1 } },
    }),
  );
  const rows = ["id,label,primary,final,primary_a,primary_b,final_a,final_b"];
  for (let i = 0; i < IMAGES; i++) {
    const y = i % 2, p = i < o.right === (y === 0) ? [0.8, 0.2] : [0.2, 0.8];
    rows.push(`s${i},${y},0,0,${p[0]},${p[1]},${p[0]},${p[1]}`);
  }
  await Deno.writeTextFile(join(d, "predictions.csv"), rows.join("\n") + "\n");
}

/** Three seeds of `variant`, the seed-s run getting `right[s]` images right. */
async function cell(root: string, variant: string, embedDim: number, right: number[], extra = {}) {
  for (const [seed, r] of right.entries()) {
    await fakeRun(root, {
      id: `${variant}-${seed}`,
      variant,
      seed,
      embedDim,
      right: r,
      ...extra,
    });
  }
}

Deno.test("size rows: model size, steps and hours, and the paired difference to the baseline", async () => {
  const root = await Deno.makeTempDir();
  try {
    await cell(root, "small", 16, [300, 304, 296]);
    await cell(root, "wide", 32, [340, 344, 336], { epochs: 12, steps: 40, seconds: 72 });
    const runs = await readSizeStudy(root);
    const timing = { small: { step: 0.5, infer: 0.2 }, wide: { step: 0.9, infer: 0.3 } };
    const rows = sizeRows(runs, { baseline: "small", timing });
    assert.deepEqual(rows.map((r) => r.variant), ["small", "wide"]);
    const [small, wide] = rows;
    const size = summarizeModel(presetConfig("tiny", { model: { embedDim: 32 } }).model);
    assert.equal(wide.params, size.trainableParams);
    assert.equal(wide.macs, size.flops + size.attentionFlops);
    assert.ok(wide.params > small.params);
    assert.equal(wide.seeds, 3);
    assertClose(wide.test.mean, 340 / IMAGES, 1e-12);
    assertClose(wide.balanced.mean, 340 / IMAGES - 0.1, 1e-12);
    assert.equal(wide.steps.mean, 12 * 40);
    // 12 epochs of 40 steps, 11 validations of 2 batches.
    assertClose(wide.computeHours!.mean, (12 * 40 * 0.9 + 11 * 2 * 0.3) / 3600, 1e-12);
    assertClose(
      runCostHours(runs.find((r) => r.variant === "wide")!, timing.wide),
      wide.computeHours!.mean,
      1e-12,
    );
    assertClose(wide.recordedHours.mean, 12 * 72 / 3600, 1e-12);
    assertClose(costHours(wide), wide.computeHours!.mean, 1e-12);
    assert.equal(small.vsBaseline, null);
    assertClose(wide.vsBaseline!.difference, 40 / IMAGES, 1e-12);
    assert.ok(wide.vsBaseline!.interval[0] > 0, "10 points on 400 images, 3 seeds: resolved");
    assert.equal(wide.stops[0], "early-stop@12 (best 9)");
    assert.deepEqual(wide.machines, ["unrecorded", "CPU ×2"]);
    assert.match(sizeDisplayRow(wide)["− baseline (95% CI)"], /holds/);
    const all = chooseSizes(runs, rows, { baseline: "small", budgetHours: 1 });
    assert.equal(all.provisional, false, "every variant has its seeds");
    assert.equal(all.compactLarge, "wide");
    // Without step times the cost is the recorded hours.
    const bare = sizeRows(runs, { baseline: "small" });
    assert.equal(bare[1].computeHours, null);
    assertClose(costHours(bare[1]), 12 * 72 / 3600, 1e-12);
    assert.throws(() => sizeRows(runs, { baseline: "absent" }), /no run of the baseline/);
    // A planned variant without runs gets an empty row, sized from its config.
    const model = presetConfig("tiny", { model: { embedDim: 48 } }).model;
    const planned = sizeRows(runs, { baseline: "small", planned: { huge: model } });
    const huge = planned.find((r) => r.variant === "huge")!;
    assert.equal(huge.seeds, 0);
    assert.equal(huge.params, summarizeModel(model).trainableParams);
    const c = chooseSizes(runs, planned, { baseline: "small", budgetHours: 10 });
    assert.equal(c.provisional, true);
    assert.ok(c.reasons[0].includes("huge (0)"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("chooseSizes: compact per hour, compact-large only when resolved, budget and seeds", async () => {
  const root = await Deno.makeTempDir();
  try {
    await cell(root, "small", 16, [300, 304, 296]);
    await cell(root, "wide", 32, [340, 344, 336]); // resolved better, same cost per step
    await cell(root, "same", 24, [301, 303, 297]); // not resolved against small
    await cell(root, "huge", 48, [380, 380, 380]); // best, but over the budget
    await fakeRun(root, { id: "new-0", variant: "new", seed: 0, embedDim: 40, right: 390 });
    const runs = await readSizeStudy(root);
    const t = (step: number) => ({ step, infer: 0.1 });
    const timing = { small: t(0.5), wide: t(1.0), same: t(0.6), huge: t(10), new: t(0.5) };
    const rows = sizeRows(runs, { baseline: "small", timing });
    const c = chooseSizes(runs, rows, { baseline: "small", budgetHours: 1 });
    assert.equal(c.compact, "small", "the cheapest per accuracy point");
    assert.equal(c.provisional, true, "`new` lacks seeds");
    assert.equal(c.compactLarge, "wide");
    assert.ok(c.reasons.some((r) => r.startsWith("undecided") && r.includes("new (1)")));
    assert.ok(c.reasons.some((r) => r.startsWith("huge:") && r.includes("over the 1 h budget")));
    assert.ok(c.reasons.some((r) => r.includes("wide − small") && r.includes("holds")));

    // Without `wide`, the most accurate other variant is not resolved better: no compact-large.
    const noWide = runs.filter((r) => r.variant !== "wide");
    const c2 = chooseSizes(noWide, sizeRows(noWide, { baseline: "small", timing }), {
      baseline: "small",
      budgetHours: 1,
    });
    assert.equal(c2.compact, "small");
    assert.equal(c2.provisional, true);
    assert.equal(c2.compactLarge, null);
    assert.ok(c2.reasons.some((r) => r.includes("no larger configuration is resolved better")));

    // A budget nothing fits chooses nothing.
    const c3 = chooseSizes(runs, rows, { baseline: "small", budgetHours: 0.01 });
    assert.equal(c3.compact, null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
