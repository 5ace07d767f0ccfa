/**
 * Advisory lock files: one writer at a time for a directory that several processes (sweep
 * children, Slurm array tasks, notebooks) may want to write, such as a feature cache or a run
 * directory.
 *
 * A lock is a small JSON file created with `O_CREAT | O_EXCL` (atomic on local file systems and on
 * NFSv3+), holding its owner: process id, host name, a random token, the process's start time (so
 * a reused pid is not mistaken for the owner) and, under Slurm, the job id. Taking a held lock
 * throws {@linkcode LockHeldError}, which names the owner. A lock is **stale** when its owner is
 * gone:
 *
 * - same host: the pid no longer exists, or exists with another start time;
 * - other host, with a Slurm job id and `squeue` available: the job is no longer pending, running,
 *   suspended or completing (a task killed with its node, or pre-empted, leaves such a lock);
 * - a lock file that stays empty or unreadable for {@linkcode EMPTY_LOCK_GRACE_MS} (its writer died
 *   between creating and writing it).
 *
 * Otherwise (another host, no way to check) the lock counts as held. A stale lock is broken by
 * renaming it to a unique name and checking that the renamed file is the one judged stale, so two
 * processes breaking the same stale lock cannot remove each other's fresh one.
 *
 * Locks are advisory: they only exclude processes that take them.
 *
 * @module
 */
import { dirname } from "node:path";

/** Who holds a lock (the lock file's content). */
export interface LockOwner {
  /** Process id. */
  pid: number;
  /** Host name (`Deno.hostname()`). */
  host: string;
  /** Random token identifying this acquisition. */
  token: string;
  /** When the lock was taken (ISO 8601). */
  createdAt: string;
  /** Start time of the process in clock ticks since boot (Linux `/proc/<pid>/stat`), if known. */
  startTicks?: number;
  /** `SLURM_JOB_ID` of the owner, when it runs under Slurm. */
  slurmJob?: string;
  /** What the lock protects, for messages (e.g. "feature cache results/cache/x"). */
  purpose?: string;
}

/** Thrown when a lock is held by a live (or uncheckable) owner. */
export class LockHeldError extends Error {
  /** The lock file. */
  readonly path: string;
  /** Its owner (null when the file could not be read yet). */
  readonly owner: LockOwner | null;
  /** The error for the lock file `path` held by `owner`; `hint` says what to do about it. */
  constructor(path: string, owner: LockOwner | null, hint?: string) {
    const who = owner
      ? `pid ${owner.pid} on ${owner.host}${
        owner.slurmJob ? ` (Slurm job ${owner.slurmJob})` : ""
      } since ${owner.createdAt}`
      : "a process that is writing the lock file now";
    super(
      `${owner?.purpose ?? path} is locked by ${who} (lock file ${path})` +
        (hint ? `; ${hint}` : "") +
        `. If that process is gone and this message repeats, remove ${path}.`,
    );
    this.name = "LockHeldError";
    this.path = path;
    this.owner = owner;
  }
}

/** How long an empty or unreadable lock file counts as being written (then it is stale). */
export const EMPTY_LOCK_GRACE_MS = 30_000;

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /** What the lock protects (recorded, and named in messages). */
  purpose?: string;
  /** Appended to the message of {@linkcode LockHeldError} (what to do instead). */
  hint?: string;
}

const held = new Set<FileLock>();

/** A lock this process holds. */
export class FileLock {
  /** The lock file. */
  readonly path: string;
  /** What was written into it. */
  readonly owner: LockOwner;
  #released = false;

  /** @internal use {@linkcode acquireLock}. */
  constructor(path: string, owner: LockOwner) {
    this.path = path;
    this.owner = owner;
    held.add(this);
  }

  /** Whether {@linkcode release} has run. */
  get released(): boolean {
    return this.#released;
  }

  /** Removes the lock file, if it is still this lock's (idempotent). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    held.delete(this);
    const now = await readLock(this.path);
    if (now?.token === this.owner.token) await Deno.remove(this.path).catch(() => {});
  }

  /** {@linkcode release}, synchronously (for signal handlers and exit paths). */
  releaseSync(): void {
    if (this.#released) return;
    this.#released = true;
    held.delete(this);
    try {
      const now = JSON.parse(Deno.readTextFileSync(this.path)) as LockOwner;
      if (now.token === this.owner.token) Deno.removeSync(this.path);
    } catch { /* gone or replaced: nothing of ours to remove */ }
  }

  /** Releases the lock at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/**
 * Releases every lock this process holds, synchronously. For SIGTERM/SIGINT handlers: Slurm sends
 * SIGTERM when it cancels or pre-empts a task, and `finally` blocks do not run on `Deno.exit`.
 */
export function releaseHeldLocksSync(): void {
  for (const l of [...held]) l.releaseSync();
}

/**
 * Frees this process's locks when it is ended by SIGTERM or SIGINT (a sweep stopping its children,
 * Slurm cancelling a task, Ctrl-C), then exits with 128 + the signal number (143 or 130), as the
 * default action would. `finally` blocks do not run when a signal ends the process, so without this
 * a killed run leaves its lock for the stale-lock check to break. Returns the function that removes
 * the listeners (call it when the guarded work is done: a listener keeps the process alive).
 */
export function releaseLocksOnSignal(): () => void {
  const codes: [Deno.Signal, number][] = [["SIGTERM", 143], ["SIGINT", 130]];
  const listeners = codes.map(([signal, code]) => {
    const listener = () => {
      releaseHeldLocksSync();
      Deno.exit(code);
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}

/** The locks this process holds now (paths). */
export function heldLocks(): string[] {
  return [...held].map((l) => l.path);
}

/** Start time (clock ticks since boot) of a process, from `/proc/<pid>/stat`; null if unknown. */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Field 2 (the command) is in parentheses and may contain spaces; field 22 is the start time.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const t = Number(rest[19]);
    return Number.isFinite(t) ? t : null;
  } catch {
    return null;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** Whether a process with this pid exists on this host. */
function pidExists(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return true;
  }
  // No /proc (macOS): ask kill(1), which exits 0 when the process exists.
  try {
    Deno.statSync("/proc/self");
    return false; // /proc exists, so the missing entry means no such process
  } catch {
    try {
      return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync()
        .success;
    } catch {
      return true;
    }
  }
}

/** Slurm job states in which a job's processes may still be running. */
const SLURM_LIVE_STATES = new Set([
  "PENDING",
  "CONFIGURING",
  "RUNNING",
  "COMPLETING",
  "SUSPENDED",
  "RESIZING",
  "SIGNALING",
  "STAGE_OUT",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
]);

/** Whether Slurm still runs `job`: true / false, or null when `squeue` cannot tell. */
async function slurmJobAlive(job: string): Promise<boolean | null> {
  try {
    const out = await new Deno.Command("squeue", {
      args: ["-h", "-j", job, "-o", "%T"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    const err = new TextDecoder().decode(out.stderr);
    if (!out.success) return /invalid job id/i.test(err) ? false : null;
    if (!text) return false;
    return text.split("\n").some((s) => SLURM_LIVE_STATES.has(s.trim()));
  } catch {
    return null; // no squeue here
  }
}

/**
 * Whether the owner of a lock is alive: true, false, or null when it cannot be checked (another
 * host without a Slurm job to ask about).
 */
export async function ownerAlive(owner: LockOwner): Promise<boolean | null> {
  if (owner.host === hostname()) {
    if (!pidExists(owner.pid)) return false;
    if (owner.startTicks === undefined) return true;
    const now = processStartTicks(owner.pid);
    return now === null || now === owner.startTicks;
  }
  if (owner.slurmJob) return await slurmJobAlive(owner.slurmJob);
  return null;
}

/** Reads a lock file; null when it does not exist or is not (yet) a complete owner record. */
export async function readLock(path: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await Deno.readTextFile(path)) as LockOwner;
    return typeof o?.pid === "number" && typeof o.token === "string" ? o : null;
  } catch {
    return null;
  }
}

/** What a lock file says now. */
export interface LockStatus {
  /** `free`: no file; `held`: a live or uncheckable owner; `stale`: the owner is gone. */
  state: "free" | "held" | "stale";
  /** The owner, when the file could be read. */
  owner: LockOwner | null;
}

/** The state of the lock at `path` (nothing is changed). */
export async function lockStatus(path: string): Promise<LockStatus> {
  let mtime: Date | null;
  try {
    mtime = (await Deno.stat(path)).mtime;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { state: "free", owner: null };
    throw e;
  }
  const owner = await readLock(path);
  if (!owner) {
    const age = mtime ? Date.now() - mtime.getTime() : Infinity;
    return { state: age > EMPTY_LOCK_GRACE_MS ? "stale" : "held", owner: null };
  }
  return { state: (await ownerAlive(owner)) === false ? "stale" : "held", owner };
}

function newOwner(purpose?: string): LockOwner {
  const token = crypto.randomUUID();
  let slurmJob: string | undefined;
  try {
    slurmJob = Deno.env.get("SLURM_JOB_ID") || undefined;
  } catch { /* no env permission */ }
  const startTicks = processStartTicks(Deno.pid) ?? undefined;
  return {
    pid: Deno.pid,
    host: hostname(),
    token,
    createdAt: new Date().toISOString(),
    ...(startTicks !== undefined ? { startTicks } : {}),
    ...(slurmJob ? { slurmJob } : {}),
    ...(purpose ? { purpose } : {}),
  };
}

async function createExclusive(path: string, owner: LockOwner): Promise<boolean> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  }
  try {
    await f.write(new TextEncoder().encode(JSON.stringify(owner) + "\n"));
  } finally {
    f.close();
  }
  return true;
}

/**
 * Moves a stale lock out of the way. Returns false when the file at `path` turned out to be
 * another (fresh) lock, which is put back.
 */
async function breakStale(path: string, stale: LockOwner | null): Promise<boolean> {
  const aside = `${path}.stale-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.rename(path, aside);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true; // someone else broke it
    throw e;
  }
  const moved = await readLock(aside);
  if ((moved?.token ?? null) === (stale?.token ?? null)) {
    await Deno.remove(aside).catch(() => {});
    return true;
  }
  // A fresh lock was taken between our check and the rename: restore it (unless yet another one
  // exists by now, in which case both processes see a held lock and back off).
  try {
    await Deno.link(aside, path);
  } catch { /* path exists again */ }
  await Deno.remove(aside).catch(() => {});
  return false;
}

/**
 * Takes the lock at `path`, or returns null when a live owner holds it. A stale lock is broken.
 * The parent directory is created if missing.
 */
export async function tryAcquireLock(
  path: string,
  opts: LockOptions = {},
): Promise<FileLock | null> {
  await Deno.mkdir(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 5; attempt++) {
    const owner = newOwner(opts.purpose);
    if (await createExclusive(path, owner)) return new FileLock(path, owner);
    const st = await lockStatus(path);
    if (st.state === "held") return null;
    if (st.state === "stale" && !(await breakStale(path, st.owner))) return null;
  }
  return null;
}

/**
 * Takes the lock at `path`.
 * @throws LockHeldError naming the owner when a live (or uncheckable) process holds it.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<FileLock> {
  const lock = await tryAcquireLock(path, opts);
  if (lock) return lock;
  const owner = await readLock(path);
  throw new LockHeldError(
    path,
    owner ? { ...owner, purpose: opts.purpose ?? owner.purpose } : null,
    opts.hint,
  );
}

/** Runs `fn` holding the lock at `path`, releasing it afterwards. @throws LockHeldError */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const lock = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
