import { join } from "node:path";
import { assert } from "./testing.ts";
import {
  acquireLock,
  EMPTY_LOCK_GRACE_MS,
  heldLocks,
  LockHeldError,
  type LockOwner,
  lockStatus,
  ownerAlive,
  processStartTicks,
  readLock,
  releaseHeldLocksSync,
  tryAcquireLock,
  withLock,
} from "./lock.ts";

async function withTmp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The pid of a process that has exited (so no process has it, barring quick reuse). */
async function deadPid(): Promise<number> {
  const p = new Deno.Command("true").spawn();
  await p.status;
  return p.pid;
}

/** The LockHeldError `fn` rejects with (fails when it resolves or throws something else). */
async function heldError(fn: () => Promise<unknown>): Promise<LockHeldError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof LockHeldError) return e;
    throw e;
  }
  throw new Error("expected a LockHeldError");
}

function owner(over: Partial<LockOwner>): LockOwner {
  return {
    pid: Deno.pid,
    host: Deno.hostname(),
    token: crypto.randomUUID(),
    createdAt: new Date().toISOString(),
    ...over,
  };
}

Deno.test("lock: a held lock refuses a second taker, naming pid and host; release frees it", async () => {
  await withTmp(async (dir) => {
    const path = join(dir, "sub", "x.lock");
    const a = await acquireLock(path, { purpose: "feature cache X" });
    const rec = await readLock(path);
    assert.equal(rec?.pid, Deno.pid);
    assert.equal(rec?.host, Deno.hostname());
    assert.equal(rec?.purpose, "feature cache X");
    assert.equal(rec?.startTicks ?? null, processStartTicks(Deno.pid));
    assert.deepEqual(heldLocks(), [path]);
    const err = await heldError(() =>
      acquireLock(path, { purpose: "feature cache X", hint: "build it first" })
    );
    assert.match(
      err.message,
      new RegExp(`feature cache X is locked by pid ${Deno.pid} on ${Deno.hostname()}`),
    );
    assert.match(err.message, /build it first/);
    assert.equal(await tryAcquireLock(path), null);
    assert.equal((await lockStatus(path)).state, "held");
    await a.release();
    await a.release(); // idempotent
    assert.equal((await lockStatus(path)).state, "free");
    assert.deepEqual(heldLocks(), []);
    assert.equal(await withLock(path, () => Promise.resolve(7)), 7);
    assert.equal((await lockStatus(path)).state, "free");
  });
});

Deno.test("lock: many concurrent takers, exactly one wins", async () => {
  await withTmp(async (dir) => {
    const path = join(dir, "race.lock");
    const got = await Promise.all(Array.from({ length: 16 }, () => tryAcquireLock(path)));
    const winners = got.filter((l) => l !== null);
    assert.equal(winners.length, 1);
    await winners[0]!.release();
  });
});

Deno.test("lock: stale locks (dead pid, reused pid, abandoned empty file) are broken", async () => {
  await withTmp(async (dir) => {
    const path = join(dir, "stale.lock");
    // The owner's process has exited.
    const dead = owner({ pid: await deadPid() });
    assert.equal(await ownerAlive(dead), false);
    await Deno.writeTextFile(path, JSON.stringify(dead));
    assert.equal((await lockStatus(path)).state, "stale");
    const a = await acquireLock(path);
    assert.notEqual((await readLock(path))?.token, dead.token);
    await a.release();
    // A live pid with another start time: the pid was reused by an unrelated process.
    const ticks = processStartTicks(Deno.pid);
    if (ticks !== null) {
      const reused = owner({ startTicks: ticks + 1 });
      assert.equal(await ownerAlive(reused), false);
      await Deno.writeTextFile(path, JSON.stringify(reused));
      const b = await acquireLock(path);
      await b.release();
    }
    // An empty lock file: being written (held) when fresh, abandoned (stale) when old.
    await Deno.writeTextFile(path, "");
    assert.equal((await lockStatus(path)).state, "held");
    const old = new Date(Date.now() - EMPTY_LOCK_GRACE_MS - 5_000);
    await Deno.utime(path, old, old);
    assert.equal((await lockStatus(path)).state, "stale");
    const c = await acquireLock(path);
    await c.release();
    // No leftovers of breaking.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
  });
});

Deno.test("lock: another host's lock without a Slurm job cannot be checked and counts as held", async () => {
  await withTmp(async (dir) => {
    const path = join(dir, "remote.lock");
    const remote = owner({ host: `not-${Deno.hostname()}`, pid: await deadPid() });
    assert.equal(await ownerAlive(remote), null);
    await Deno.writeTextFile(path, JSON.stringify(remote));
    const err = await heldError(() => acquireLock(path));
    assert.match(err.message, new RegExp(`on not-${Deno.hostname()}`));
    assert.equal(err.owner?.token, remote.token);
  });
});

Deno.test("lock: release removes only its own lock; releaseHeldLocksSync frees all held", async () => {
  await withTmp(async (dir) => {
    const p1 = join(dir, "a.lock"), p2 = join(dir, "b.lock");
    const a = await acquireLock(p1);
    // Someone broke our lock and took it: releasing must not remove theirs.
    const theirs = owner({ token: "theirs" });
    await Deno.writeTextFile(p1, JSON.stringify(theirs));
    await a.release();
    assert.equal((await readLock(p1))?.token, "theirs");
    await Deno.remove(p1);
    await acquireLock(p1);
    await acquireLock(p2);
    assert.equal(heldLocks().length, 2);
    releaseHeldLocksSync();
    assert.deepEqual(heldLocks(), []);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("lock: a process ended by SIGTERM or SIGINT frees its locks and exits 143 / 130", async () => {
  await withTmp(async (dir) => {
    const lockModule = new URL("./lock.ts", import.meta.url).href;
    for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const path = join(dir, `${signal}.lock`);
      const script = `import { acquireLock, releaseLocksOnSignal } from ${
        JSON.stringify(lockModule)
      };
await acquireLock(${JSON.stringify(path)});
releaseLocksOnSignal();
console.log("ready");
await new Promise(() => setInterval(() => {}, 1000));`;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", script],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      assert.match(new TextDecoder().decode(value), /ready/);
      assert.ok((await readLock(path)) !== null, "the child holds its lock");
      child.kill(signal);
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel();
      assert.equal(status.code, code, `${signal}: exit code`);
      assert.equal(await readLock(path), null, `${signal}: the lock file is gone`);
    }
  });
});

Deno.test("lock: another host's lock is stale once Slurm no longer runs its job", async () => {
  await withTmp(async (dir) => {
    // A stand-in squeue on PATH: job 7 is running, job 8 has ended (and been purged).
    const bin = join(dir, "bin");
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      join(bin, "squeue"),
      `#!/bin/sh\ncase "$*" in *" 7 "*) echo RUNNING ;; *) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1 ;; esac\n`,
    );
    await Deno.chmod(join(bin, "squeue"), 0o755);
    const path = Deno.env.get("PATH") ?? "";
    Deno.env.set("PATH", `${bin}:${path}`);
    try {
      const host = `not-${Deno.hostname()}`;
      assert.equal(await ownerAlive(owner({ host, slurmJob: "7" })), true);
      assert.equal(await ownerAlive(owner({ host, slurmJob: "8" })), false);
      const lock = join(dir, "run.lock");
      await Deno.writeTextFile(lock, JSON.stringify(owner({ host, slurmJob: "7" })));
      await heldError(() => acquireLock(lock));
      await Deno.writeTextFile(lock, JSON.stringify(owner({ host, slurmJob: "8" })));
      const l = await acquireLock(lock);
      await l.release();
    } finally {
      Deno.env.set("PATH", path);
    }
  });
});
