/**
 * `deno task grefel <command> [options]`: the command-line entry. Each command lives in
 * `cli/commands/<name>.ts` and is registered in {@linkcode COMMANDS}.
 * @module
 */
import type { Command } from "./command.ts";
import { ensureRuntimeDir } from "../lib/backend.ts";
import { failureExitCode } from "../lib/args.ts";
import { adoptCommand } from "./commands/adopt.ts";
import { baselineCommand } from "./commands/baseline.ts";
import { clusterScoresCommand } from "./commands/cluster_scores.ts";
import { dataCommand } from "./commands/data.ts";
import { demoCommand } from "./commands/demo.ts";
import { evalCommand } from "./commands/eval.ts";
import { summaryCommand } from "./commands/summary.ts";
import { progressCommand } from "./commands/progress.ts";
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
  progressCommand,
];

function usage(): string {
  const lines = ["usage: deno task grefel <command> [options]", "", "commands:"];
  for (const c of COMMANDS) lines.push(`  ${c.name.padEnd(16)} ${c.summary}`);
  lines.push("", "Run `deno task grefel <command> --help` for a command's options.");
  return lines.join("\n");
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
    return failureExitCode(name, e);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
