import { join } from "node:path";
import { assert } from "../testing.ts";
import { loadExperiment } from "../train/experiments.ts";
import { runDir } from "../train/run.ts";
import {
  ABLATION_SEEDS,
  ablationPlan,
  ablationRows,
  ABLATIONS,
  type AblationTable,
  claimLines,
  pairedRuns,
  readAblation,
  requiredSeeds,
} from "./ablation.ts";
import { experimentConfig } from "./runs.ts";

/** Test images of the synthetic runs. */
const N = 200;

/**
 * Writes a finished smoke-profile run of `experiment`/`variant`/`seed` under `root`: metrics.json
 * and a predictions.csv whose L_final is right on exactly the images `right(i)` says.
 */
async function writeRun(
  root: string,
  experiment: string,
  variant: string,
  seed: number,
  right: (i: number) => boolean,
  ids: (i: number) => string = (i) => `img${i}`,
): Promise<string> {
  const c = experimentConfig(experiment, variant, { seed, profile: "smoke" });
  const dir = runDir({ ...c, train: { ...c.train, resultsDir: root } });
  await Deno.mkdir(dir, { recursive: true });
  let correct = 0;
  const lines = ["id,label,primary,final,primary_a,primary_b,final_a,final_b"];
  for (let i = 0; i < N; i++) {
    const label = i % 2, ok = right(i);
    if (ok) correct++;
    const pred = ok ? label : 1 - label;
    const fin = pred === 0 ? "0.8,0.2" : "0.2,0.8";
    lines.push(`${ids(i)},${label},${pred},${pred},${fin},${fin}`);
  }
  await Deno.writeTextFile(join(dir, "predictions.csv"), lines.join("\n") + "\n");
  await Deno.writeTextFile(
    join(dir, "metrics.json"),
    JSON.stringify({
      evaluation: { final: { accuracy: correct / N } },
      stopped: { reason: "patience", epoch: 20 + seed, bestEpoch: 12 },
    }),
  );
  return dir;
}

const TABLE: AblationTable = {
  table: "T",
  experiment: "table2-rb",
  variants: ["none", "anchors", "mhsa", "both"],
  baseline: "none",
  seeds: 2,
  headline: { both: 3 },
  claims: [
    { claim: "both beats none", a: "both", b: "none", direction: 1 },
    { claim: "none beats both", a: "none", b: "both", direction: 1 },
    { claim: "anchors beat none", a: "anchors", b: "none", direction: 1 },
    { claim: "mhsa beats none", a: "mhsa", b: "none", direction: 1 },
  ],
};

Deno.test("readAblation: rows, paired differences and the three verdicts on synthetic runs", async () => {
  const root = await Deno.makeTempDir({ prefix: "grefel-ablation-" });
  try {
    // none: right on the first half of the images; both: right on all of them (+50 points, every
    // image in the second half fixed, nothing broken: the interval excludes zero).
    for (const s of [0, 1]) await writeRun(root, "table2-rb", "none", s, (i) => i < N / 2);
    for (const s of [0, 1, 2]) await writeRun(root, "table2-rb", "both", s, () => true);
    // anchors: +2 images on seed 0, −2 on seed 1: mean difference 0, the interval spans zero.
    await writeRun(root, "table2-rb", "anchors", 0, (i) => i < N / 2 + 2);
    await writeRun(root, "table2-rb", "anchors", 1, (i) => i < N / 2 - 2);
    // mhsa: one of the two seeds.
    await writeRun(root, "table2-rb", "mhsa", 0, (i) => i < N / 2);

    const r = await readAblation(TABLE, { profile: "smoke", root, replicates: 500 });
    const row = (v: string) => r.rows.find((x) => x.variant === v)!;
    assert.deepEqual(r.rows.map((x) => x.variant), ["none", "anchors", "mhsa", "both"]);
    assert.equal(row("none").accuracy.mean, 0.5);
    assert.equal(row("none").vsBaseline, null);
    assert.equal(row("both").seedsRequired, 3, "headline cell");
    assert.equal(row("both").seedsDone, 3);
    assert.equal(row("both").accuracy.mean, 1);
    assert.equal(row("both").accuracy.std, 0);
    // both − none over the 2 seeds both have: exactly +0.5.
    const d = row("both").vsBaseline!;
    assert.equal(d.seeds, 2);
    assert.ok(Math.abs(d.difference - 0.5) < 1e-12, `${d.difference}`);
    assert.ok(d.interval[0] > 0.4 && d.interval[1] < 0.6, `${d.interval}`);
    const a = row("anchors").vsBaseline!;
    assert.ok(Math.abs(a.difference) < 1e-12);
    assert.ok(a.interval[0] < 0 && a.interval[1] > 0, `${a.interval}`);
    assert.equal(row("mhsa").complete, false);
    assert.equal(r.cellsDone, 3);
    assert.equal(r.cellsTotal, 4);
    assert.equal(r.runsDone, 2 + 2 + 1 + 3);
    assert.equal(r.runsRequired, 2 + 2 + 2 + 3);

    const verdicts = Object.fromEntries(r.claims.map((c) => [c.claim, c.verdict]));
    assert.deepEqual(verdicts, {
      "both beats none": "holds",
      "none beats both": "is contradicted",
      "anchors beat none": "not resolved",
      "mhsa beats none": "pending",
    });
    const lines = claimLines(r).split("\n");
    assert.match(lines[0], /^both beats none: holds \(both − none: \+50\.00 points \[/);
    assert.match(lines[2], /^anchors beat none: not resolved \(anchors − none: [+-]0\.00 points/);
    assert.match(
      lines[3],
      /^mhsa beats none: pending \(mhsa 1 of 2 seeds, none 2 of 2 seeds; so far/,
    );

    const shown = ablationRows(r, { none: "Without RB" });
    assert.equal(shown[0].cell, "Without RB");
    assert.equal(shown[0]["vs Without RB"], "baseline");
    assert.equal(shown[2]["vs Without RB"], "pending (1 of 2 seeds)");
    assert.match(shown[3]["vs Without RB"], /^\+50\.00 points \[.*2 seeds/);
    assert.equal(shown[3]["test L_final %"], "100.00 ± 0.00");
    assert.equal(shown[3].seeds, "3 / 3");
    assert.equal(shown[0].stopped, "patience@20 (best 12); patience@21 (best 12)");

    // A subset of cells (smoke notebooks) with 1 seed: only the claims among them.
    const sub = await readAblation(TABLE, {
      profile: "smoke",
      root,
      variants: ["none", "mhsa"],
      seeds: 1,
      replicates: 100,
    });
    assert.deepEqual(sub.rows.map((x) => x.variant), ["none", "mhsa"]);
    assert.deepEqual(sub.claims.map((c) => [c.claim, c.verdict]), [[
      "mhsa beats none",
      "not resolved",
    ]]);
    assert.equal(sub.cellsDone, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readAblation: nothing finished is all pending; runs on other images are refused", async () => {
  const root = await Deno.makeTempDir({ prefix: "grefel-ablation-" });
  try {
    const r = await readAblation(TABLE, { profile: "smoke", root });
    assert.equal(r.cellsDone, 0);
    assert.equal(r.runsDone, 0);
    assert.ok(r.claims.every((c) => c.verdict === "pending" && c.difference === null));
    assert.ok(ablationRows(r).every((x) => x["test L_final %"] === ""));
    await writeRun(root, "table2-rb", "none", 0, () => true);
    await writeRun(root, "table2-rb", "both", 0, () => true, (i) => `other${i}`);
    const one = { ...TABLE, seeds: 1, headline: {} };
    const r1 = await readAblation(one, { profile: "smoke", root, variants: ["none"] });
    const none = r1.rows[0].runs;
    assert.equal(none.length, 1);
    await assert.rejects(
      () => readAblation(one, { profile: "smoke", root, variants: ["none", "both"] }),
      /tested on different images/,
    );
    assert.equal(pairedRuns(none, none, { replicates: 10 })?.difference, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ABLATIONS: every cell and claim exists, the paper's grids, ≥ 3 seeds, 5 for headlines", () => {
  for (const t of ABLATIONS) {
    const exp = loadExperiment(t.experiment);
    for (const v of t.variants) assert.ok(exp.variants.has(v), `${t.table}: ${v}`);
    assert.ok(t.variants.includes(t.baseline), `${t.table} baseline`);
    for (const c of t.claims) {
      assert.ok(t.variants.includes(c.a) && t.variants.includes(c.b), `${t.table}: ${c.claim}`);
    }
    for (const v of t.variants) assert.ok(requiredSeeds(t, v) >= 3, `${t.table} ${v}`);
  }
  const t2 = ablationPlan("Table 2"), t6 = ablationPlan("Table 6");
  assert.equal(requiredSeeds(t2, "none"), ABLATION_SEEDS.headline);
  assert.equal(requiredSeeds(t2, "both"), 5);
  assert.equal(requiredSeeds(t2, "anchors"), 3);
  assert.deepEqual([requiredSeeds(t6, "K=0"), requiredSeeds(t6, "K=10")], [5, 5]);
  assert.deepEqual(t6.variants, ["K=0", "K=1", "K=4", "K=6", "K=8", "K=10", "K=20"]);
  assert.equal(ablationPlan("Table 3").variants.length, 5);
  const t4 = ablationPlan("Table 4").variants;
  for (const l of ["cls", "a", "c"]) {
    for (const v of [0.1, 0.5]) assert.ok(t4.includes(`lambda_${l}=${v}`));
  }
  assert.deepEqual(
    ["Table 5 (augmentation)", "Table 5 (label noise)"].flatMap((n) => ablationPlan(n).variants),
    ["augment", "no-augment", "noise=0", "noise=10"],
  );
  for (const [name, axis] of [["Table 7", "noise"], ["Table 8", "smoothing"]]) {
    const cells = ablationPlan(name).variants.map((v) => v.split(","));
    const kVals = new Set(cells.map((c) => c[0])), other = new Set(cells.map((c) => c[1]));
    assert.ok(kVals.size >= 3 && other.size >= 4, name);
    assert.equal(cells.length, kVals.size * other.size, `${name}: a full sub-grid`);
    assert.ok([...other].every((o) => o.startsWith(`${axis}=`)));
  }
  assert.throws(() => ablationPlan("Table 9"), /unknown ablation table "Table 9"/);
});
