/**
 * The shape of a CLI command, and the option parsing every command shares (lib/args.ts: strict
 * parsing that refuses empty values, paths relative to the directory they were typed in).
 * @module
 */
export { cliPath, parseCommandArgs, UsageError } from "../lib/args.ts";

/** One `grefel` sub-command. */
export interface Command {
  /** Name typed after `grefel`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Runs the command with its arguments; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}
