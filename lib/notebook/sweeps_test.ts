import { join } from "node:path";
import { assert } from "../testing.ts";
import { loadExperiment, parseSets, variantConfig } from "../train/experiments.ts";
import { runDir, runId } from "../train/run.ts";
import { experimentConfig } from "./runs.ts";
import {
  ensureRuns,
  findFinishedRun,
  profileFlags,
  readEmbeddings,
  readPredictions,
  setFlags,
} from "./sweeps.ts";

Deno.test("setFlags: --set flags that parseSets turns back into the same overrides", () => {
  const o = {
    data: { dataset: "synthetic", synthetic: { train: 48 } },
    train: { epochs: 2 },
    x: [1, 2],
    y: null,
  };
  const flags = setFlags(o);
  assert.deepEqual(flags.slice(0, 2), ["--set", 'data.dataset="synthetic"']);
  const sets = flags.filter((_, i) => i % 2 === 1);
  assert.deepEqual(parseSets(sets), o);
});

Deno.test("findFinishedRun: own folder first, else the same run id under another experiment", async () => {
  const root = await Deno.makeTempDir({ prefix: "grefel-sweeps-" });
  try {
    const both = experimentConfig("table2-rb", "both", { seed: 0, profile: "smoke" });
    const all = experimentConfig("table3-loss", "all", { seed: 0, profile: "smoke" });
    const other = experimentConfig("table2-rb", "none", { seed: 0, profile: "smoke" });
    assert.equal(runId(both), runId(all), "Table 3 'all' is Table 2 'both'");
    assert.notEqual(runId(both), runId(other));
    assert.equal(await findFinishedRun(all, root), null);
    const dir = runDir({ ...both, train: { ...both.train, resultsDir: root } });
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "metrics.json"), JSON.stringify({ accuracy: 0.5 }));
    const found = await findFinishedRun(all, root);
    assert.equal(found?.dir, dir);
    assert.equal(found?.metrics.accuracy, 0.5);
    assert.equal(await findFinishedRun(other, root), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readPredictions / readEmbeddings: parse run files, name the bad line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "grefel-runfiles-" });
  try {
    await Deno.writeTextFile(
      join(dir, "predictions.csv"),
      "id,label,primary,final,primary_a,primary_b,final_a,final_b\n" +
        '"x,1",1,0,1,0.6,0.4,0.3,0.7\ny,0,0,0,0.9,0.1,0.8,0.2\n',
    );
    const p = readPredictions(dir);
    assert.deepEqual(p.classNames, ["a", "b"]);
    assert.deepEqual(p.ids, ["x,1", "y"]);
    assert.deepEqual([...p.labels], [1, 0]);
    assert.deepEqual(p.primary, [[0.6, 0.4], [0.9, 0.1]]);
    assert.deepEqual(p.final, [[0.3, 0.7], [0.8, 0.2]]);
    await Deno.writeTextFile(join(dir, "embeddings.csv"), "id,label,e0,e1\nx,1,0.5,-1\ny,0,2,3\n");
    const e = readEmbeddings(dir);
    assert.equal(e.dim, 2);
    assert.deepEqual([...e.data], [0.5, -1, 2, 3]);
    await Deno.writeTextFile(join(dir, "embeddings.csv"), "id,label,e0,e1\nx,1,0.5,oops\n");
    assert.throws(
      () => readEmbeddings(dir),
      /embeddings\.csv line 2, column e1: "oops" is not a number/,
    );
    await Deno.remove(join(dir, "predictions.csv"));
    assert.throws(() => readPredictions(dir), /predictions\.csv is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ensureRuns in run mode none: reads the finished runs, lists the missing, trains nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "grefel-nbtrain-" });
  const old = Deno.env.get("GREFEL_RESULTS");
  try {
    Deno.env.set("GREFEL_RESULTS", root);
    const c = experimentConfig("table2-rb", "both", { seed: 1, profile: "smoke" });
    const dir = runDir({ ...c, train: { ...c.train, resultsDir: root } });
    await Deno.mkdir(dir, { recursive: true });
    const evaluation = { final: { accuracy: 0.75 } };
    await Deno.writeTextFile(join(dir, "metrics.json"), JSON.stringify({ evaluation }));
    const lines: string[] = [];
    const runs = await ensureRuns("table2-rb", ["none", "both"], {
      seeds: 2,
      profile: "smoke",
      train: "none",
      print: (l) => lines.push(l),
    });
    assert.deepEqual(runs.get("none"), []);
    assert.equal(runs.get("both")!.length, 1);
    assert.equal(runs.get("both")![0].dir, dir);
    assert.equal(runs.get("both")![0].status, "skipped");
    assert.equal(runs.get("both")![0].evaluation.final.accuracy, 0.75);
    assert.deepEqual(
      runs.missing.map((m) => `${m.variant}/${m.seed}`),
      ["none/0", "none/1", "both/0"],
    );
    const id = runId(experimentConfig("table2-rb", "none", { seed: 0, profile: "smoke" }));
    assert.equal(runs.missing[0].runId, id);
    assert.match(lines.join("\n"), /1 of 4 run\(s\) of table2-rb finished; not training the 3/);
    // Nothing was trained: no other run folder appeared.
    const made = [...Deno.readDirSync(join(root, "table2-rb"))].map((e) => e.name);
    assert.deepEqual(made, [runId(c)]);
    // Seeds per variant (an ablation plan's): one seed of `none`, three of `both`.
    const per = await ensureRuns("table2-rb", ["none", "both"], {
      seeds: (v) => (v === "none" ? 1 : 3),
      profile: "smoke",
      train: "none",
    });
    assert.deepEqual(
      per.missing.map((m) => `${m.variant}/${m.seed}`),
      ["none/0", "both/0", "both/2"],
    );
  } finally {
    if (old === undefined) Deno.env.delete("GREFEL_RESULTS");
    else Deno.env.set("GREFEL_RESULTS", old);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("profileFlags: a sweep with these flags trains the notebooks' quick runs", () => {
  const flags = profileFlags("quick");
  const sets = flags.filter((_, i) => i % 2 === 1);
  assert.ok(flags.every((f, i) => i % 2 === 1 || f === "--set"), "no --config in quick");
  const exp = loadExperiment("table6-anchors");
  for (const v of ["K=0", "K=10"]) {
    const viaFlags = variantConfig(exp, v, { seed: 3, overrides: parseSets(sets) });
    assert.equal(
      runId(viaFlags),
      runId(experimentConfig("table6-anchors", v, { seed: 3, profile: "quick" })),
    );
  }
  assert.deepEqual(profileFlags("smoke").slice(0, 2), ["--config", "tiny"]);
});
