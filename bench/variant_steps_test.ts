import assert from "node:assert/strict";
import { variantSteps } from "./variant_steps.ts";
import { loadExperiment, variantConfig } from "../lib/train/experiments.ts";
import { summarizeModel } from "../lib/model/summary.ts";

Deno.test("variantSteps: every variant timed once per round, with its own model", async () => {
  const variants = ["D=64,depth=1", "D=128,depth=1"];
  const order: string[] = [];
  const r = await variantSteps({
    experiment: "size",
    variants,
    rounds: 2,
    batch: 4,
    warmup: 0,
    steps: 1,
    backend: "cpu",
    preset: "tiny",
    log: (l) => order.push(l.split(":")[0]),
  });
  // Rotated order: round 2 starts with the second variant.
  assert.deepEqual(order, [
    "round 1 D=64,depth=1 train",
    "round 1 D=64,depth=1 infer",
    "round 1 D=128,depth=1 train",
    "round 1 D=128,depth=1 infer",
    "round 2 D=128,depth=1 train",
    "round 2 D=128,depth=1 infer",
    "round 2 D=64,depth=1 train",
    "round 2 D=64,depth=1 infer",
  ]);
  const exp = loadExperiment("size");
  for (const v of variants) {
    const t = r.variants[v];
    assert.equal(t.rounds.length, 2);
    assert.ok(t.rounds.every((s) => s > 0) && t.seconds > 0);
    assert.equal(t.inferRounds.length, 2);
    assert.ok(t.inferSeconds > 0);
    const want = summarizeModel(variantConfig(exp, v, { preset: "tiny" }).model).trainableParams;
    assert.equal(t.trainableParams, want, v);
  }
  assert.ok(
    r.variants["D=128,depth=1"].trainableParams > r.variants["D=64,depth=1"].trainableParams,
  );
  assert.equal(r.cell.preset, "tiny");
});
