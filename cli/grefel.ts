/**
 * `deno task grefel <command> [options]`: the command-line entry. Each command lives in
 * `cli/commands/<name>.ts` and is registered in {@linkcode COMMANDS}.
 * @module
 */
import { type Command, UsageError } from "./command.ts";
import { adoptCommand } from "./commands/adopt.ts";
import { baselineCommand } from "./commands/baseline.ts";
import { clusterScoresCommand } from "./commands/cluster_scores.ts";
import { dataCommand } from "./commands/data.ts";
import { demoCommand } from "./commands/demo.ts";
import { evalCommand } from "./commands/eval.ts";
import { summaryCommand } from "./commands/summary.ts";
import { runIndexCommand } from "./commands/run_index.ts";
import { sweepCommand } from "./commands/sweep.ts";
import { trainCommand } from "./commands/train.ts";

/** Registered commands, in the order `help` lists them. */
export const COMMANDS: Command[] = [
  demoCommand,
  trainCommand,
  evalCommand,
  dataCommand,
  sweepCommand,
  adoptCommand,
  runIndexCommand,
  clusterScoresCommand,
  summaryCommand,
  baselineCommand,
];

function usage(): string {
  const lines = ["usage: deno task grefel <command> [options]", "", "commands:"];
  for (const c of COMMANDS) lines.push(`  ${c.name.padEnd(16)} ${c.summary}`);
  lines.push("", "Run `deno task grefel <command> --help` for a command's options.");
  return lines.join("\n");
}

/**
 * Gives the process a private runtime directory when `XDG_RUNTIME_DIR` is unset or not a
 * directory: Mesa's Vulkan driver (lavapipe, the software WebGPU adapter) otherwise prints
 * "XDG_RUNTIME_DIR is invalid or not set" on every backend probe. Must run before the backend is
 * initialised.
 */
export function ensureRuntimeDir(): void {
  try {
    const cur = Deno.env.get("XDG_RUNTIME_DIR");
    if (cur && Deno.statSync(cur).isDirectory) return;
  } catch { /* missing: make one */ }
  try {
    const dir = Deno.makeTempDirSync({ prefix: "grefel-runtime-" });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
  } catch { /* no permission: the message stays, nothing else changes */ }
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  ensureRuntimeDir();
  const [name, ...rest] = args;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(`grefel: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    console.error(`grefel ${name}: ${e instanceof Error ? e.message : e}`);
    if (Deno.env.get("GREFEL_DEBUG")) console.error(e);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
