import { join } from "node:path";
import { assert } from "../testing.ts";
import { loadExperiment } from "./experiments.ts";
import { childArgs, childLauncher, planSweep, runSweep, type SweepRun } from "./sweep.ts";
import { TRAIN_ENTRY } from "./main.ts";
import { runDir } from "./run.ts";
import { runLockPath } from "./session.ts";
import { acquireLock, LockHeldError } from "../lock.ts";
import { failureExitCode, LOCK_HELD_EXIT } from "../args.ts";

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

Deno.test("sweep: a run finished under another experiment's folder is not trained again", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const exp = loadExperiment("table5-augment-noise");
    const overrides = { train: { resultsDir: tmp } };
    const plan = await planSweep(exp, { seeds: 1, overrides });
    const target = plan.find((r) => r.variant === "noise=10")!;
    // The same run id finished for another experiment (an identical config).
    const other = join(tmp, "another-study", target.runId);
    await Deno.mkdir(other, { recursive: true });
    await Deno.writeTextFile(join(other, "metrics.json"), "{}");
    // A partial run of the same id elsewhere does not count.
    const partial = plan.find((r) => r.variant === "augment")!;
    await Deno.mkdir(join(tmp, "another-study", partial.runId), { recursive: true });
    const again = await planSweep(exp, { seeds: 1, overrides });
    const t = again.find((r) => r.variant === "noise=10")!;
    assert.equal(t.status, "new");
    assert.equal(t.finishedIn, other);
    assert.equal(again.find((r) => r.variant === "augment")!.finishedIn, undefined);
    const launched: string[] = [];
    const summary = await runSweep(again, {
      parallel: 1,
      print: () => {},
      launch: (r) => {
        launched.push(r.variant);
        return Promise.resolve(0);
      },
    });
    assert.ok(!launched.includes("noise=10"), "the run finished elsewhere is not launched");
    assert.ok(summary.skipped.some((r) => r.variant === "noise=10"));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("sweep: a finished run of another data root is not reported finished, nor skipped", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const rootA = join(tmp, "A"), rootB = join(tmp, "B");
    await Deno.mkdir(rootA);
    await Deno.mkdir(rootB);
    const exp = loadExperiment("table2-rb");
    const overrides = (root: string) => ({
      train: { resultsDir: join(tmp, "r") },
      data: { dataset: "folder", root },
    });
    const [a] = await planSweep(exp, { overrides: overrides(rootA), variants: ["none"] });
    // data.root is not part of the run id: root B's plan names root A's finished run.
    await Deno.mkdir(a.dir, { recursive: true });
    await Deno.writeTextFile(
      join(a.dir, "config.json"),
      JSON.stringify({ dataset: { root: await Deno.realPath(rootA) } }),
    );
    await Deno.writeTextFile(join(a.dir, "metrics.json"), "{}");
    const [same] = await planSweep(exp, { overrides: overrides(rootA), variants: ["none"] });
    assert.equal(same.status, "finished");
    assert.equal(same.conflict, undefined);
    const [b] = await planSweep(exp, { overrides: overrides(rootB), variants: ["none"] });
    assert.equal(runDir(b.config), a.dir);
    assert.match(
      b.conflict!,
      /holds a run of the data at .*\/A, this config reads .*\/B \(data\.root\)/,
    );
    const lines: string[] = [];
    const s = await runSweep([b], {
      parallel: 1,
      launch: () => Promise.resolve(0),
      print: (l) => lines.push(l),
    });
    assert.deepEqual([s.skipped.length, s.finished.length, s.failed.length], [0, 0, 1]);
    assert.match(lines.join("\n"), /holds a run of the data at/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("sweep: a run's directory is the one it trains once model.classes follows the data", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const exp = loadExperiment("table5-augment-noise");
    const overrides = { train: { resultsDir: tmp } };
    let listed = 0;
    const plan = await planSweep(exp, {
      seeds: 1,
      overrides,
      forData: (c) => {
        listed++;
        return Promise.resolve({ ...c, model: { ...c.model, classes: 3 } });
      },
    });
    assert.ok(plan.every((r) => r.config.model.classes === 3));
    assert.ok(plan.every((r) => r.dir === runDir(r.config)));
    // One listing per distinct data section (augmentation on/off, noise 0/10%), not per run.
    assert.ok(listed <= new Set(plan.map((r) => JSON.stringify(r.config.data))).size, `${listed}`);
    // Data that cannot be listed keeps the config's classes.
    const failing = await planSweep(exp, {
      seeds: 1,
      overrides,
      forData: () => Promise.reject(new Error("no data here")),
    });
    assert.ok(failing.every((r) => r.config.model.classes === 8));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("sweep: a child process runs lib/train/main.ts with the train flags, never the CLI", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const exp = loadExperiment("table2-rb");
    const [run] = await planSweep(exp, {
      overrides: { train: { resultsDir: tmp } },
      variants: ["none"],
    });
    const args = childArgs(exp.name, run, ["--no-figures"]);
    assert.deepEqual(args, [
      "run",
      "-A",
      TRAIN_ENTRY,
      "--experiment",
      "table2-rb",
      "--variant",
      "none",
      "--seed",
      String(run.seed),
      "--progress",
      "lines",
      "--no-figures",
    ]);
    assert.ok(TRAIN_ENTRY.endsWith(join("lib", "train", "main.ts")), TRAIN_ENTRY);
    // A child whose flags do not name a run fails with the CLI's message and exit code; its
    // output goes to the run's train.log.
    const bogus = { ...run, variant: "bogus" };
    const code = await childLauncher(exp.name, ["--results", tmp])(bogus);
    assert.equal(code, 1);
    const log = await Deno.readTextFile(join(run.dir, "train.log"));
    assert.match(
      log,
      /^grefel train: invalid config:\n\s+variant: unknown variant "bogus" of experiment table2-rb/m,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("train entry: --help and usage errors in-process, as the CLI reports them", async () => {
  const { trainMain } = await import("./main.ts");
  const err: string[] = [], out: string[] = [];
  const e = console.error, l = console.log;
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  try {
    assert.equal(await trainMain(["--help"]), 0);
    assert.match(out.join("\n"), /usage: deno task grefel train/);
    assert.equal(await trainMain(["--variant", "x"]), 2);
    assert.match(err.join("\n"), /train: --variant needs --experiment/);
    assert.equal(await trainMain(["--seed", ""]), 2);
    assert.match(err.join("\n"), /grefel train: --seed: empty value/);
    assert.equal(await trainMain(["--seed=-1"]), 1);
    assert.match(err.join("\n"), /--seed -1: expected a non-negative integer/);
  } finally {
    console.error = e;
    console.log = l;
  }
});

Deno.test("sweep: a run another process trains is refused, not launched; a child refused by a lock is not a failure", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const exp = loadExperiment("table5-augment-noise");
    const plan = (await planSweep(exp, { seeds: 1, overrides: { train: { resultsDir: tmp } } }))
      .filter((r) => !r.sameAs);
    assert.ok(plan.length >= 3);
    // This process holds the first run's lock, as a second sweep's child training it would.
    const held = await acquireLock(runLockPath(plan[0].dir), { purpose: "a test" });
    const launched: string[] = [];
    const printed: string[] = [];
    try {
      const summary = await runSweep(plan, {
        parallel: 1,
        print: (l) => printed.push(l),
        launch: (r) => {
          launched.push(r.variant);
          return Promise.resolve(r === plan[1] ? LOCK_HELD_EXIT : r === plan[2] ? 1 : 0);
        },
      });
      assert.ok(!launched.includes(plan[0].variant), "the held run is not launched");
      assert.deepEqual(summary.refused.map((x) => x.run.variant), [
        plan[0].variant,
        plan[1].variant,
      ]);
      assert.match(summary.refused[0].reason, new RegExp(`trains elsewhere \\(pid ${Deno.pid} `));
      assert.deepEqual(summary.failed.map((f) => [f.run.variant, f.code]), [[plan[2].variant, 1]]);
      assert.equal(summary.finished.length, plan.length - 3);
      assert.ok(printed.some((l) => l.includes(`refused ${plan[1].variant} seed 0`)));
    } finally {
      await held.release();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("sweep: a lock refusal exits with LOCK_HELD_EXIT, other errors with 1", () => {
  const quiet = console.error;
  console.error = () => {};
  try {
    assert.equal(failureExitCode("train", new LockHeldError("/x.lock", null)), LOCK_HELD_EXIT);
    assert.equal(failureExitCode("train", new Error("boom")), 1);
    assert.notEqual(LOCK_HELD_EXIT, 1);
  } finally {
    console.error = quiet;
  }
});
