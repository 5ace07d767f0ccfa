/**
 * Test helper: runs the `grefel` CLI in-process and captures what it prints.
 * @module
 */
import { main } from "../grefel.ts";

/** What one in-process CLI call returned and printed. */
export interface CliResult {
  /** Exit code `main` returned. */
  code: number;
  /** Everything written with console.error, lines joined by "\n". */
  err: string;
  /** Everything written with console.log, lines joined by "\n". */
  out: string;
}

/** Runs `grefel <args>` in this process, capturing console.error/log (restored afterwards). */
export async function cli(args: string[]): Promise<CliResult> {
  const err: string[] = [], out: string[] = [];
  const e = console.error, l = console.log;
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, err: err.join("\n"), out: out.join("\n") };
  } finally {
    console.error = e;
    console.log = l;
  }
}
