/**
 * The shape of a CLI command. Options are parsed with `node:util`'s `parseArgs` (built in, strict:
 * unknown flags are errors).
 * @module
 */

/** One `grefel` sub-command. */
export interface Command {
  /** Name typed after `grefel`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Runs the command with its arguments; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}
