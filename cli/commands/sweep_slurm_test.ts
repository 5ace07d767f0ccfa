/**
 * End to end on a real single-node Slurm cluster (scripts/slurm_local.sh): a 4-run tiny sweep
 * submitted as a job array with `sbatch --wait`, one task killed mid-run, the array resubmitted;
 * every run must finish exactly once with one consistent epoch log, and the notebook helpers must
 * read the runs. Skipped, saying why, where the cluster cannot be installed or started.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert } from "../../lib/testing.ts";
import { mergeConfig } from "../../lib/config.ts";
import { lockStatus } from "../../lib/lock.ts";
import { readLog } from "../../lib/run/mod.ts";
import { runLockPath } from "../../lib/train/session.ts";
import { readManifest, readTaskEvents } from "../../lib/train/slurm.ts";
import { PROFILE_OVERRIDES } from "../../lib/notebook/runs.ts";
import { ensureRuns, readPredictions, setFlags } from "../../lib/notebook/sweeps.ts";
import { cli } from "./test_cli.ts";

const SCRIPT = fileURLToPath(new URL("../../scripts/slurm_local.sh", import.meta.url));
/** Epochs per run: enough (0.3–1 s each on wasm, by load) to kill a task between checkpoints. */
const EPOCHS = 12;
/** Longest a submission may take before the test cancels it (a safety net against a hung cluster). */
const SUBMIT_TIMEOUT_MS = 240_000;

function onPath(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Why the test cannot run here, or null. */
function whySkip(): string | null {
  if (Deno.build.os !== "linux") return "needs Linux";
  if (Deno.env.get("GREFEL_SKIP_SLURM")) return "GREFEL_SKIP_SLURM is set";
  if (Deno.uid() !== 0) return "needs root (installs slurmctld/slurmd/munge, starts their daemons)";
  const installed = ["sbatch", "slurmctld", "slurmd", "munged"].every(onPath);
  if (!installed && !onPath("apt-get")) {
    return "Slurm is not installed and apt-get is unavailable to install it";
  }
  return null;
}

const skip = whySkip();
if (skip) console.error(`sweep_slurm_test: skipped: ${skip}`);

function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

async function sh(args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(args[0], { args: args.slice(1), env }).output();
  return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
}

/** Runs `cmd` (a submission with --wait), cancelling everything if it takes too long. */
async function submitAndWait(
  cmd: string[],
  env: Record<string, string>,
  whileRunning?: () => Promise<void>,
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    sh(["scancel", "--user=root"], env).catch(() => {});
  }, SUBMIT_TIMEOUT_MS);
  try {
    const [out] = await Promise.all([child.output(), whileRunning?.()]);
    return { code: out.code, out: text(out.stdout) + text(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("sweep --slurm writes the array (no cluster needed); --status reads it; bad uses are errors", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "grefel_slurm_cli_" });
  try {
    const sw = join(tmp, "sw");
    const w = await cli([
      "sweep",
      "table2-rb",
      "--slurm",
      sw,
      "--config",
      "tiny",
      "--seeds",
      "2",
      "--results",
      join(tmp, "results"),
      "--sbatch-args",
      "--partition gpu --gres=gpu:1",
      "--backend",
      "webgpu",
    ]);
    assert.equal(w.code, 0, w.err);
    assert.match(w.out, /table2-rb: 8 runs \(0 finished\) as a Slurm job array/);
    assert.match(w.out, /submit: bash \S+submit\.sh/);
    const script = await Deno.readTextFile(join(sw, "sweep.sbatch"));
    assert.match(script, /#SBATCH --array=0-7\n/);
    assert.match(script, /#SBATCH --partition=gpu\n#SBATCH --gres=gpu:1\n/);
    assert.equal((await readManifest(join(sw, "manifest.json"))).backend, "webgpu");
    let r = await cli(["sweep", "--status", sw]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^table2-rb: 8 runs: 0 done, 0 running, 0 failed, 8 missing\n/);
    r = await cli(["sweep", "table3-loss", "--status", sw]);
    assert.equal(r.code, 2);
    assert.match(r.err, /is a sweep of table2-rb, not table3-loss/);
    r = await cli(["sweep", "table2-rb", "--experiment", "table3-loss"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /one experiment expected, got table3-loss, table2-rb/);
    r = await cli(["sweep", "table2-rb", "--sbatch-args", "--time=1"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--sbatch-args needs --slurm DIR/);
    r = await cli(["run-index", join(sw, "manifest.json"), "8"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no entry 8 \(0 … 7\)/);
    r = await cli(["run-index"]);
    assert.equal(r.code, 2);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test({
  name: "slurm: a 4-run array, one task killed mid-run and resubmitted, finishes each run once" +
    (skip ? ` (skipped: ${skip})` : ""),
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t0 = performance.now();
    const install = await sh(["bash", SCRIPT, "install"]);
    assert.equal(install.code, 0, `slurm_local.sh install failed:\n${install.err}`);
    const tmp = await Deno.makeTempDir({ prefix: "grefel_slurm_e2e_" });
    const cluster = join(tmp, "cluster");
    const results = join(tmp, "results");
    const sw = join(tmp, "sweep");
    const env = { SLURM_CONF: join(cluster, "slurm.conf") };
    const pids: number[] = [];
    const oldResults = Deno.env.get("GREFEL_RESULTS");
    try {
      const started = await sh(["bash", SCRIPT, "start", cluster]);
      assert.equal(started.code, 0, `slurm_local.sh start failed:\n${started.err}`);
      for (const d of ["munged", "slurmctld", "slurmd"]) {
        pids.push(Number(await Deno.readTextFile(join(cluster, `${d}.pid`))));
      }
      const tStart = performance.now();

      // The smoke profile's tiny runs, with more epochs: the notebooks' configs, so that their
      // helpers find these runs.
      const smoke = PROFILE_OVERRIDES.smoke;
      const extra = { train: { epochs: EPOCHS } };
      const w = await cli([
        "sweep",
        "table2-rb",
        "--slurm",
        sw,
        "--config",
        smoke.preset!,
        ...setFlags(mergeConfig(mergeConfig({}, smoke.overrides), extra)),
        "--variant",
        "none",
        "--variant",
        "both",
        "--seeds",
        "2",
        "--results",
        results,
        "--backend",
        "wasm",
        "--sbatch-args",
        "--time=10 --partition debug",
      ]);
      assert.equal(w.code, 0, w.err);
      const manifestPath = join(sw, "manifest.json");
      const manifest = await readManifest(manifestPath);
      assert.equal(manifest.runs.length, 4);

      // First submission: the cache job, then the array; task 1 is killed (SIGKILL, as a node
      // failure would) once it has checkpointed epoch 1.
      const victim = manifest.runs[1];
      let killedAt = 0;
      const killVictim = async () => {
        const deadline = Date.now() + SUBMIT_TIMEOUT_MS;
        while (Date.now() < deadline) {
          const ck = await Deno.readTextFile(
            join(victim.dir, "checkpoints", "last", "checkpoint.json"),
          ).then(JSON.parse).catch(() => null);
          const lock = await lockStatus(runLockPath(victim.dir));
          if (ck?.epoch >= 1 && lock.owner?.slurmJob) {
            killedAt = ck.epoch;
            const r = await sh(
              ["scancel", "--full", "--signal=KILL", lock.owner.slurmJob],
              env,
            );
            assert.equal(r.code, 0, r.err);
            return;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const first = await submitAndWait(["bash", join(sw, "submit.sh"), "--wait"], env, killVictim);
      const tFirst = performance.now();
      console.error(
        `sweep_slurm_test: first submission ${((tFirst - tStart) / 1000).toFixed(1)} s`,
      );
      assert.ok(killedAt >= 1, `task 1 was never seen mid-run:\n${first.out}`);
      // sbatch --wait's exit code is no evidence here: it covers only the task records Slurm still
      // holds when the array ends (MinJobAge), and the killed task may have been purged by then.
      const afterKill = await readTaskEvents(manifestPath, 1);
      assert.deepEqual(afterKill.map((e) => e.event), ["start"]);
      await assert.rejects(() => Deno.stat(join(victim.dir, "metrics.json")), Deno.errors.NotFound);
      let st = await cli(["sweep", "table2-rb", "--status", sw]);
      assert.equal(st.code, 0, st.err);
      assert.match(st.out, /4 runs: 3 done, 0 running, 1 failed, 0 missing/);
      assert.match(st.out, /\n +1 {2}none seed 1 .* failed .*interrupted/);

      // Resubmission of the same array: only the killed run trains, resuming.
      const second = await submitAndWait(["sbatch", "--wait", join(sw, "sweep.sbatch")], env);
      const tSecond = performance.now();
      assert.equal(second.code, 0, second.out);
      st = await cli(["sweep", "--status", sw]);
      assert.match(st.out, /4 runs: 4 done, 0 running, 0 failed, 0 missing/);

      for (const run of manifest.runs) {
        const events = await readTaskEvents(manifestPath, run.index);
        const kinds = events.map((e) => e.event);
        assert.equal(kinds.filter((k) => k === "done").length, 1, `${run.index}: ${kinds}`);
        if (run.index === 1) {
          assert.deepEqual(kinds, ["start", "start", "done"]);
          assert.equal(events[1].status, "partial");
          assert.ok(events[1].fromEpoch! >= killedAt, JSON.stringify(events[1]));
          assert.equal(events[2].outcome, "resumed");
        } else {
          assert.deepEqual(kinds, ["start", "done", "skip"]);
          assert.equal(events[1].outcome, "trained");
        }
        assert.ok(events.every((e) => e.slurm?.job), "every attempt ran under Slurm");
        // One consistent log: every epoch exactly once, in order.
        const log = await readLog(run.dir);
        assert.deepEqual(log.map((e) => e.epoch), Array.from({ length: EPOCHS }, (_, i) => i + 1));
        assert.equal((await lockStatus(runLockPath(run.dir))).state, "free");
      }
      // The Slurm log of task 1 holds both attempts, appended.
      const taskLog = await Deno.readTextFile(join(sw, "logs", "task-1.log"));
      assert.equal(taskLog.match(/resuming from epoch \d+/g)?.length, 1, taskLog);
      assert.equal(taskLog.match(/: starting/g)?.length, 1, taskLog);

      // The notebooks read these runs as they read local ones: nothing is trained again.
      Deno.env.set("GREFEL_RESULTS", results);
      const nb = await ensureRuns("table2-rb", ["none", "both"], {
        profile: "smoke",
        seeds: 2,
        extra,
      });
      const got = [...nb.values()].flat();
      assert.deepEqual(got.map((r) => r.status), ["skipped", "skipped", "skipped", "skipped"]);
      assert.deepEqual(got.map((r) => r.dir).sort(), manifest.runs.map((r) => r.dir).sort());
      assert.equal(readPredictions(got[0].dir).ids.length, 32);
      console.error(
        `sweep_slurm_test: cluster up in ${((tStart - t0) / 1000).toFixed(1)} s (with install), ` +
          `first submission ${((tFirst - tStart) / 1000).toFixed(1)} s, resubmission ` +
          `${((tSecond - tFirst) / 1000).toFixed(1)} s`,
      );
    } catch (e) {
      // What the cluster and the tasks said, for the failure report.
      for (const dir of [join(sw, "logs"), join(cluster, "log")]) {
        for (const f of await Array.fromAsync(Deno.readDir(dir)).catch(() => [])) {
          const t = await Deno.readTextFile(join(dir, f.name)).catch(() => "");
          console.error(`--- ${join(dir, f.name)} (tail)\n${t.split("\n").slice(-15).join("\n")}`);
        }
      }
      throw e;
    } finally {
      if (oldResults === undefined) Deno.env.delete("GREFEL_RESULTS");
      else Deno.env.set("GREFEL_RESULTS", oldResults);
      const stop = await sh(["bash", SCRIPT, "stop", cluster]);
      // The daemons this test started are gone.
      for (const pid of pids) {
        assert.ok(
          !(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)),
          `daemon pid ${pid} still running after stop: ${stop.err}`,
        );
      }
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
