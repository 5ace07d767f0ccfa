/**
 * Command-line arguments as every entry point reads them (the `grefel` CLI and the training entry
 * `lib/train/main.ts` that sweeps start as child processes). Options are parsed with `node:util`'s
 * `parseArgs` (built in, strict: unknown flags are errors) through {@linkcode parseCommandArgs},
 * which also refuses empty option values and empty positional arguments, naming them: an empty
 * `--data-root ""` would otherwise fall back to the default root, and an empty `--results ""` to
 * the default results directory, without a word.
 *
 * Paths typed on the command line are relative to the directory the user typed them in
 * ({@linkcode cliPath}): `deno task` runs the CLI in the repository root and passes the user's
 * directory as `INIT_CWD`.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { LockHeldError } from "./lock.ts";

export type { ParseArgsConfig };

/** A command line that cannot be run as typed (exit code 2). */
export class UsageError extends Error {
  /** An error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What {@linkcode parseCommandArgs} returns for the option set `T`. */
export type ParsedArgs<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;

/**
 * `parseArgs` (strict) that also rejects an empty or blank value of any string option (repeated
 * ones included) and an empty positional argument.
 * @throws UsageError naming the option (`--data-root: empty value`) or the argument's position.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ParsedArgs<T> {
  const parsed = parseArgs<T>({ strict: true, ...config });
  const values = parsed.values as Record<string, unknown>;
  for (const [name, v] of Object.entries(values)) {
    for (const x of Array.isArray(v) ? v : [v]) {
      if (typeof x === "string" && x.trim() === "") {
        throw new UsageError(`--${name}: empty value (give a value or leave the option out)`);
      }
    }
  }
  (parsed.positionals ?? []).forEach((p, i) => {
    if (p.trim() === "") throw new UsageError(`argument ${i + 1} is empty`);
  });
  return parsed;
}

/**
 * A path typed on the command line, made absolute against the directory it was typed in:
 * `INIT_CWD` when set (`deno task` and `npm run` set it to the caller's directory, while the
 * process itself runs in the repository root), else the working directory.
 */
export function cliPath(path: string): string {
  if (isAbsolute(path)) return path;
  let base: string | undefined;
  try {
    base = Deno.env.get("INIT_CWD") || undefined;
  } catch { /* no --allow-env: the working directory */ }
  return resolve(base ?? Deno.cwd(), path);
}

/**
 * Exit code of a command refused because another live process holds a lock it needs (a run it
 * would train, a feature cache it would build): `EX_TEMPFAIL` of sysexits.h, "try again later".
 * Sweeps read it as "refused", not as a failed run.
 */
export const LOCK_HELD_EXIT = 75;

/**
 * Reports the error a command `name` failed with (`grefel <name>: <message>`, and the stack with
 * `GREFEL_DEBUG` set) and returns its exit code: 2 for a {@linkcode UsageError},
 * {@linkcode LOCK_HELD_EXIT} for a {@linkcode LockHeldError}, else 1.
 */
export function failureExitCode(name: string, e: unknown): number {
  console.error(`grefel ${name}: ${e instanceof Error ? e.message : e}`);
  if (Deno.env.get("GREFEL_DEBUG")) console.error(e);
  if (e instanceof LockHeldError) return LOCK_HELD_EXIT;
  return e instanceof UsageError ? 2 : 1;
}
