import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert } from "../testing.ts";
import { loadCheckpoint, readLog } from "../run/mod.ts";

const CHILD = fileURLToPath(new URL("./testdata/resume_child.ts", import.meta.url));
const EPOCHS = 4;

function spawn(resultsDir: string) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", CHILD, resultsDir, String(EPOCHS), "40"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function findRunDir(resultsDir: string): Promise<string | null> {
  try {
    for await (const e of Deno.readDir(join(resultsDir, "default"))) {
      if (e.isDirectory) return join(resultsDir, "default", e.name);
    }
  } catch { /* not yet created */ }
  return null;
}

Deno.test("a run killed with SIGKILL mid-epoch resumes from its last checkpoint", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const child = spawn(tmp);
    // Wait until the checkpoint of epoch 1 is committed, then kill during epoch 2.
    let killedAfter = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const dir = await findRunDir(tmp);
      const ck = dir
        ? await loadCheckpoint(join(dir, "checkpoints", "last")).catch(() => null)
        : null;
      if (ck && ck.state.epoch >= 1) {
        killedAfter = ck.state.epoch;
        child.kill("SIGKILL");
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const st = await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();
    assert.ok(killedAfter >= 1, "child never wrote a checkpoint");
    assert.equal(st.signal, "SIGKILL", "child finished before it could be killed");
    const dir = (await findRunDir(tmp))!;
    const atKill = (await loadCheckpoint(join(dir, "checkpoints", "last")))!.state.epoch;
    assert.ok(atKill < EPOCHS, "the run had finished");
    await assert.rejects(() => Deno.stat(join(dir, "metrics.json")), Deno.errors.NotFound);

    const again = await spawn(tmp).output();
    const out = new TextDecoder().decode(again.stdout).trim().split("\n").pop()!;
    assert.equal(again.code, 0, new TextDecoder().decode(again.stderr));
    const res = JSON.parse(out);
    assert.equal(res.status, "resumed");
    assert.equal(res.epochs, EPOCHS);
    // Every epoch exactly once, in order; at most the epoch in flight was lost.
    const log = await readLog(dir);
    assert.deepEqual(log.map((e) => e.epoch), Array.from({ length: EPOCHS }, (_, i) => i + 1));
    assert.ok((await Deno.stat(join(dir, "metrics.json"))).size > 0);
    const names = [...Deno.readDirSync(join(dir, "checkpoints", "last"))].map((e) => e.name);
    assert.equal(names.filter((n) => n.includes(".tmp-")).length, 0, names.join(","));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
