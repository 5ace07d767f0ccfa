/**
 * The line protocol of a step server (bench/model_speed.ts `--serve`, bench/torch_grefel.py
 * `--serve`, driven by bench/ab_torch.ts). A server builds its model once and warms up, then prints
 * one line `{"ready": {...}}` describing itself. It then reads commands from stdin, one JSON line
 * each, `{"steps": k}`, runs k training steps and answers one JSON line
 * `{"wall": [s, ...], "cpu": [s, ...]}`: wall-clock and process CPU seconds per step (CPU time
 * sums all of the process's threads). A command it cannot run gets `{"error": "..."}`. It exits
 * when stdin closes. Other stdout lines (library warnings) are not JSON objects with these keys,
 * and the driver skips them.
 *
 * @module
 */

/** A command sent to a step server. */
export interface StepCommand {
  /** Training steps to run and time. */
  steps: number;
}

/** A step server's answer to one {@linkcode StepCommand}. */
export interface StepReply {
  /** Wall-clock seconds per step. */
  wall: number[];
  /** CPU seconds of the server process per step (all threads). */
  cpu: number[];
}

/** Splits a byte stream into lines (without the newline); the last line may lack one. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
    }
  }
  buffer += decoder.decode();
  if (buffer) yield buffer;
}

/** Parses a command line; throws on anything but `{"steps": k}` with k a positive integer. */
export function parseCommand(line: string): StepCommand {
  const v = JSON.parse(line);
  if (!v || !Number.isInteger(v.steps) || v.steps < 1) {
    throw new Error(`expected {"steps": k} with k ≥ 1, got ${line}`);
  }
  return { steps: v.steps };
}

/**
 * The server side of the protocol on stdin/stdout: prints `{"ready": info}`, then answers each
 * command by running `step` k times; returns when stdin closes.
 */
export async function serveSteps(
  info: Record<string, unknown>,
  step: () => Promise<{ wall: number; cpu: number }>,
  input: ReadableStream<Uint8Array> = Deno.stdin.readable,
  write: (line: string) => void = (line) => console.log(line),
): Promise<void> {
  write(JSON.stringify({ ready: info }));
  for await (const line of readLines(input)) {
    if (!line.trim()) continue;
    let reply: StepReply | { error: string };
    try {
      const { steps } = parseCommand(line);
      const wall: number[] = [], cpu: number[] = [];
      for (let i = 0; i < steps; i++) {
        const t = await step();
        wall.push(t.wall);
        cpu.push(t.cpu);
      }
      reply = { wall, cpu };
    } catch (e) {
      reply = { error: String(e instanceof Error ? e.message : e) };
    }
    write(JSON.stringify(reply));
  }
}
