import { join } from "node:path";
import { assert } from "../testing.ts";
import { acquireLock } from "../lock.ts";
import type { GrefelConfig } from "../config.ts";
import { loadExperiment } from "./experiments.ts";
import { runLockPath } from "./session.ts";
import {
  formatStatus,
  type ManifestRun,
  readManifest,
  readTaskEvents,
  runManifestEntry,
  sbatchOptions,
  splitWords,
  sweepStatus,
  writeSlurmSweep,
} from "./slurm.ts";
import { planSweep } from "./sweep.ts";
import { runDir, runId } from "./run.ts";
import type { TrainResult } from "./train.ts";

async function withTmp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "grefel_slurm_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("slurm: --sbatch-args are split like a shell and become one #SBATCH option each", () => {
  assert.deepEqual(splitWords(` -p gpu --time 4:00:00 --comment="a b" --x='c d'  `), [
    "-p",
    "gpu",
    "--time",
    "4:00:00",
    "--comment=a b",
    "--x=c d",
  ]);
  assert.throws(() => splitWords(`--comment="open`), /unterminated "/);
  assert.deepEqual(
    sbatchOptions(["-p", "gpu", "--time", "4:00:00", "--gres=gpu:1", "--exclusive", "-N", "1"]),
    ["-p gpu", "--time=4:00:00", "--gres=gpu:1", "--exclusive", "-N 1"],
  );
  assert.throws(() => sbatchOptions(["gpu"]), /"gpu" is not an sbatch option/);
  assert.throws(() => sbatchOptions(["--array=0-3"]), /--array is set by the sweep/);
});

/** A plan of table2-rb (tiny): variants none and both × 2 seeds, under `results`. */
async function tinyPlan(results: string) {
  const exp = loadExperiment("table2-rb");
  return await planSweep(exp, {
    seeds: 2,
    preset: "tiny",
    variants: ["none", "both"],
    overrides: { train: { resultsDir: results, epochs: 3, earlyStop: { startEpoch: 1 } } },
  });
}

Deno.test("slurm: writes a manifest (one entry per distinct run) and the array, cache and submit scripts", async () => {
  await withTmp(async (tmp) => {
    const plan = await tinyPlan("results-rel");
    const { manifest, files } = await writeSlurmSweep(plan, {
      dir: "sw",
      experiment: "table2-rb",
      workdir: tmp,
      backend: "webgpu",
      sbatchArgs: splitWords("--partition gpu --gres=gpu:1"),
    });
    assert.equal(files.manifest, join(tmp, "sw", "manifest.json"));
    assert.deepEqual(await readManifest(files.manifest), manifest);
    assert.equal(manifest.runs.length, 4);
    assert.deepEqual(manifest.runs.map((r) => [r.index, r.variant, r.seed]), [
      [0, "none", 0],
      [1, "none", 1],
      [2, "both", 0],
      [3, "both", 1],
    ]);
    // The results directory is made absolute; the run ids are the plan's.
    manifest.runs.forEach((r, i) => {
      assert.equal(r.runId, plan[i].runId);
      assert.equal(r.dir, join(tmp, "results-rel", "table2-rb", r.runId));
      assert.equal(r.config.train.resultsDir, join(tmp, "results-rel"));
      assert.equal(r.config.train.epochs, 3);
    });
    assert.equal(manifest.backend, "webgpu");
    const sweep = await Deno.readTextFile(files.sweep);
    assert.match(sweep, /^#!\/bin\/bash\n/);
    for (
      const line of [
        "#SBATCH --array=0-3",
        "#SBATCH --cpus-per-task=1",
        `#SBATCH --chdir=${tmp}`,
        `#SBATCH --output=${join(tmp, "sw", "logs", "task-%a.log")}`,
        "#SBATCH --open-mode=append",
        "#SBATCH --partition=gpu",
        "#SBATCH --gres=gpu:1",
      ]
    ) assert.ok(sweep.split("\n").includes(line), `${line} missing from\n${sweep}`);
    assert.match(
      sweep,
      new RegExp(`cli/grefel\\.ts run-index ${files.manifest} "\\$SLURM_ARRAY_TASK_ID"\\n`),
    );
    const cache = await Deno.readTextFile(files.cache);
    assert.match(cache, /run-index \S+manifest\.json --build-cache\n/);
    assert.ok(!cache.includes("--array"));
    const submit = await Deno.readTextFile(files.submit);
    assert.match(submit, /sbatch --dependency=afterok:"\$cache" .*"\$@" \S+sweep\.sbatch/);
    assert.equal((await Deno.stat(files.sweep)).mode! & 0o111, 0o111);
    // The scripts are valid bash.
    for (const f of [files.sweep, files.cache, files.submit]) {
      const r = await new Deno.Command("bash", { args: ["-n", f] }).output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
    }
  });
});

Deno.test("slurm: a task asks for one core per data-parallel worker", async () => {
  await withTmp(async (tmp) => {
    const plan = await planSweep(loadExperiment("table2-rb"), {
      preset: "tiny",
      variants: ["none"],
      overrides: { train: { resultsDir: tmp, workers: 2 } },
    });
    const { files } = await writeSlurmSweep(plan, {
      dir: join(tmp, "sw"),
      experiment: "table2-rb",
    });
    const sweep = await Deno.readTextFile(files.sweep);
    assert.ok(sweep.split("\n").includes("#SBATCH --cpus-per-task=2"), sweep);
  });
});

Deno.test("slurm: duplicate configs of a plan share one array entry", async () => {
  await withTmp(async (tmp) => {
    const plan = await planSweep(loadExperiment("table5-augment-noise"), {
      overrides: { train: { resultsDir: tmp } },
    });
    const dups = plan.filter((r) => r.sameAs).length;
    assert.ok(dups > 0);
    const { manifest } = await writeSlurmSweep(plan, {
      dir: join(tmp, "sw"),
      experiment: "table5-augment-noise",
    });
    assert.equal(manifest.runs.length, plan.length - dups);
    assert.deepEqual(manifest.runs.flatMap((r) => r.alsoAs ?? []), ["noise=0 seed 0"]);
  });
});

/** A stand-in for runTraining: takes the run's lock as it does, writes what a finished run has. */
function fakeTrain(calls: string[], fail?: string) {
  return async (config: GrefelConfig): Promise<TrainResult> => {
    const dir = runDir(config);
    await (await acquireLock(runLockPath(dir))).release();
    calls.push(config.train.experiment);
    if (fail) throw new Error(fail);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "metrics.json"), JSON.stringify({ accuracy: 0.5 }));
    await Deno.writeTextFile(join(dir, "log.jsonl"), '{"epoch":1}\n{"epoch":2}\n{"epoch":3}\n');
    return { dir, runId: runId(config), status: "trained", epochs: 3, log: [], metrics: {} };
  };
}

Deno.test("slurm: a task trains its entry once, skips it when finished; status per cell", async () => {
  await withTmp(async (tmp) => {
    const { files, manifest } = await writeSlurmSweep(await tinyPlan(join(tmp, "results")), {
      dir: join(tmp, "sw"),
      experiment: "table2-rb",
    });
    const print = () => {};
    const calls: string[] = [];
    let cells = await sweepStatus(files.manifest);
    assert.deepEqual(cells.map((c) => c.state), ["missing", "missing", "missing", "missing"]);

    // 0: trained, then skipped.
    let r = await runManifestEntry(files.manifest, 0, { train: fakeTrain(calls), print });
    assert.equal(r.outcome, "trained");
    r = await runManifestEntry(files.manifest, 0, { train: fakeTrain(calls), print });
    assert.equal(r.outcome, "skipped");
    assert.equal(calls.length, 1);
    assert.deepEqual((await readTaskEvents(files.manifest, 0)).map((e) => e.event), [
      "start",
      "done",
      "skip",
    ]);
    // 1: fails, with its message recorded.
    await assert.rejects(
      () => runManifestEntry(files.manifest, 1, { train: fakeTrain(calls, "NaN loss"), print }),
      /NaN loss/,
    );
    // 2: another live process trains it (holds its lock); a task for it is refused.
    const holder = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      const run2: ManifestRun = manifest.runs[2];
      await Deno.writeTextFile(
        runLockPath(run2.dir),
        JSON.stringify({
          pid: holder.pid,
          host: Deno.hostname(),
          token: "t",
          createdAt: new Date().toISOString(),
        }),
      );
      r = await runManifestEntry(files.manifest, 2, { train: fakeTrain(calls), print });
      assert.equal(r.outcome, "refused");
      assert.equal(calls.length, 2, "the refused task did not train");
      // 3: interrupted (a checkpoint, nobody training it).
      const ck = join(manifest.runs[3].dir, "checkpoints", "last");
      await Deno.mkdir(ck, { recursive: true });
      await Deno.writeTextFile(join(ck, "checkpoint.json"), JSON.stringify({ epoch: 2 }));

      cells = await sweepStatus(files.manifest);
      assert.deepEqual(cells.map((c) => c.state), ["done", "failed", "running", "failed"]);
      assert.equal(cells[0].epoch, 3);
      assert.match(cells[0].detail, /test accuracy 0\.5000/);
      assert.match(cells[1].detail, /^NaN loss/);
      assert.match(cells[2].detail, new RegExp(`pid ${holder.pid} on ${Deno.hostname()}`));
      assert.equal(cells[3].epoch, 2);
      assert.match(cells[3].detail, /interrupted .* resumes it/);
      const text = formatStatus("table2-rb", cells);
      assert.match(text, /^table2-rb: 4 runs: 1 done, 1 running, 2 failed, 0 missing\n/);
      assert.match(text, /\n +0 {2}none seed 0 +[0-9a-f]{10} {2}done {5}3\/3 epochs/);
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
    }
    // The holder is gone: its lock is stale, the cell counts as failed (a resubmission resumes).
    cells = await sweepStatus(files.manifest);
    assert.equal(cells[2].state, "failed");
    await assert.rejects(
      () => runManifestEntry(files.manifest, 9, { train: fakeTrain(calls), print }),
      RangeError,
    );
  });
});

Deno.test("slurm: a manifest whose run ids this code no longer computes is refused", async () => {
  await withTmp(async (tmp) => {
    const { files, manifest } = await writeSlurmSweep(await tinyPlan(join(tmp, "results")), {
      dir: join(tmp, "sw"),
      experiment: "table2-rb",
    });
    manifest.runs[0].runId = "0123456789";
    await Deno.writeTextFile(files.manifest, JSON.stringify(manifest));
    await assert.rejects(
      () => runManifestEntry(files.manifest, 0, { train: fakeTrain([]), print: () => {} }),
      /entry 0: this grefel gives its config run id [0-9a-f]{10}, the manifest says 0123456789/,
    );
    // The run lock is taken by runTraining itself; a held one is visible to the status.
    const lock = await acquireLock(runLockPath(manifest.runs[1].dir));
    try {
      assert.equal((await sweepStatus(files.manifest))[1].state, "running");
    } finally {
      await lock.release();
    }
  });
});
