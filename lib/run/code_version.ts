/**
 * Which code trained a run: the git commit of this checkout and whether the library's sources
 * differ from it. Recorded in a run's config.json and on every epoch of its log, so that a run
 * resumed on newer code (for example after a speed change that alters float rounding) says which
 * epochs each version trained.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";

/** The code version of a checkout. */
export interface CodeVersion {
  /** Full commit hash of HEAD (null outside a git checkout or without git). */
  commit: string | null;
  /** Whether lib/ or cli/ have uncommitted changes (null when unknown). */
  dirty: boolean | null;
}

let cached: CodeVersion | undefined;

function git(root: string, args: string[]): string | null {
  try {
    const out = new Deno.Command("git", {
      args: ["-C", root, ...args],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** This checkout's {@linkcode CodeVersion} (asked of git once per process). */
export function codeVersion(): CodeVersion {
  if (cached) return cached;
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const commit = git(root, ["rev-parse", "HEAD"]);
  const status = commit === null ? null : git(root, ["status", "--porcelain", "--", "lib", "cli"]);
  cached = { commit, dirty: status === null ? null : status.length > 0 };
  return cached;
}

/** Short form for logs: 12 hex digits, `+dirty` when the sources differ, null when unknown. */
export function codeLabel(v: CodeVersion = codeVersion()): string | null {
  if (!v.commit) return null;
  return v.commit.slice(0, 12) + (v.dirty ? "+dirty" : "");
}
