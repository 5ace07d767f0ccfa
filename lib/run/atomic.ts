/**
 * Crash-safe file writing: every file of a run is written to a temporary file in the same
 * directory, flushed to disk (fsync), and renamed over the target. A crash at any point leaves
 * either the old file or the new one, never a half-written one. A failed write (a full disk,
 * `ENOSPC`) removes the temporary file, leaves the previous file untouched, and throws a
 * {@linkcode WriteError} naming the file.
 *
 * Tests inject failures through {@linkcode setWriteHook}.
 *
 * @module
 */
import { dirname, join } from "node:path";

/** An error raised while writing a run file; the previous version of the file is intact. */
export class WriteError extends Error {
  /** The file that could not be written. */
  readonly path: string;
  /** True when the cause is a full disk (`ENOSPC`) or quota (`EDQUOT`). */
  readonly diskFull: boolean;
  /** The error for `path`, which could not be written because of `cause`. */
  constructor(path: string, cause: unknown) {
    const code = errorCode(cause);
    const diskFull = code === "ENOSPC" || code === "EDQUOT";
    super(
      diskFull
        ? `disk full while writing ${path}: nothing was replaced (the previous version, if any, ` +
          `is intact); free some space and run again to resume`
        : `could not write ${path}: ${cause instanceof Error ? cause.message : cause} ` +
          `(the previous version, if any, is intact)`,
      { cause },
    );
    this.name = "WriteError";
    this.path = path;
    this.diskFull = diskFull;
  }
}

function errorCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  // deno-lint-ignore no-explicit-any
  const code = (e as any).code;
  if (typeof code === "string") return code;
  const msg = String((e as Error).message ?? "");
  const m = msg.match(/\b(ENOSPC|EDQUOT|EACCES|EROFS)\b/) ??
    (/No space left on device/i.test(msg) ? ["", "ENOSPC"] : null);
  return m ? m[1] : undefined;
}

/**
 * Called with the target path and the bytes once the temporary file has been created, just
 * before the bytes are written to it; a hook that throws simulates a failed write (e.g. an
 * `ENOSPC` error), which must leave neither the temporary file nor a changed target behind.
 */
export type WriteHook = (path: string, bytes: Uint8Array) => void | Promise<void>;

let writeHook: WriteHook | null = null;

/** Installs (or with `null` removes) the test hook called before every atomic write. */
export function setWriteHook(hook: WriteHook | null): void {
  writeHook = hook;
}

let tmpCounter = 0;

/** Writes `data` to `path` atomically (temp file in the same directory, fsync, rename). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirname(path);
  const base = path.slice(dir.length + 1);
  const tmp = join(dir, `.${base}.tmp-${Deno.pid}-${tmpCounter++}`);
  let file: Deno.FsFile | null = null;
  try {
    await Deno.mkdir(dir, { recursive: true });
    file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    // The hook runs once the temporary file exists, as a real ENOSPC would strike mid-write.
    if (writeHook) await writeHook(path, bytes);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.sync();
    file.close();
    file = null;
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw e instanceof WriteError ? e : new WriteError(path, e);
  }
  await syncDir(dir);
}

/** Writes a value as pretty JSON (with a trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Flushes a directory entry (the rename) to disk; best effort where the OS does not allow it. */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* not supported on every platform; the rename itself is atomic */ }
}

/**
 * Removes temporary files (`.<name>.tmp-<pid>-<n>`) that a process killed mid-write left in `dir`
 * (not recursive). Only call it while no other process writes into `dir`.
 */
export async function removeStaleTemps(dir: string): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.startsWith(".") && /\.tmp-\d+-\d+$/.test(e.name)) {
        await Deno.remove(join(dir, e.name)).catch(() => {});
        n++;
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return n;
}

/** Reads a JSON file, or returns `null` when it does not exist. @throws Error naming a corrupt file. */
export async function readJsonIfExists<T = unknown>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
