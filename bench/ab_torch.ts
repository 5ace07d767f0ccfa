/**
 * Benchmark (not a test): tfjs-wasm's training step against PyTorch's, interleaved, for a shared
 * machine whose load drifts. Every measured setting is a long-lived step server (bench/model_speed.ts
 * `--serve`, bench/torch_grefel.py `--serve`; protocol in bench/step_protocol.ts) that builds its
 * model once and warms up. Then, for R rounds, each server in turn runs k training steps, the order
 * rotating by one each round, so every setting sees the same load and no setting always goes first.
 * Per round, the ratio wasm / torch is taken for each PyTorch setting (seconds per image, median of
 * the round's k steps); the result is the median ratio over rounds with a 95% interval.
 *
 * PyTorch settings: glibc malloc and tcmalloc (`LD_PRELOAD` of Debian's libtcmalloc.so.4), each at
 * 1 and 2 threads (`torch.set_num_threads`, with `OMP_NUM_THREADS` and `OPENBLAS_NUM_THREADS`
 * matching), with `OMP_WAIT_POLICY=PASSIVE` by default: on a machine shared with other processes,
 * OpenMP's spinning workers of a 2-thread step burn several times the step's CPU time waiting for
 * a core and slow it further (measured here at load ≈ 10: CPU per step ≈ 7 s ACTIVE, ≈ 0.6 s
 * PASSIVE); with one thread the policy has nothing to act on. Each server reports what it really runs with: torch version, the BLAS libraries mapped
 * into the process, whether libtcmalloc is mapped. A setting whose prerequisite is missing
 * (python3-torch, libgoogle-perftools4) is skipped, with the reason in the result.
 *
 * Usage (writes the JSON document, prints progress):
 *   deno run -A bench/ab_torch.ts [--config compact] [--batch 64] [--rounds 8] [--steps 2]
 *     [--warmup 2] [--omp-wait-policy PASSIVE|ACTIVE] [--out results/bench/ab_torch.json]
 *
 * `deno task bench` runs it as its `abtorch` section. Prerequisites: `scripts/setup.sh --bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { presetConfig } from "../lib/config.ts";
import { mulberry32 } from "../lib/random.ts";
import { summarizeModel } from "../lib/model/summary.ts";
import { median } from "./model_speed.ts";
import { readLines, type StepReply } from "./step_protocol.ts";

const HERE = new URL(".", import.meta.url).pathname;

/** The Python with Debian's python3-torch (a `python3` on PATH may be another one). */
export const PYTHON = "/usr/bin/python3";
/** Debian's tcmalloc (libgoogle-perftools4). */
export const TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4";
/** How to install the PyTorch settings' prerequisites. */
export const SETUP_HINT =
  "scripts/setup.sh --bench (apt-get install python3-torch libgoogle-perftools4 libopenblas0-pthread)";

/** One measured setting: how to start its step server. */
export interface ServerSpec {
  /** Unique name, e.g. `wasm` or `torch-1t-tcmalloc`. */
  name: string;
  /** `tfjs` or `torch`. */
  kind: "tfjs" | "torch";
  /** Threads the setting computes with. */
  threads: number;
  /** Memory allocator (PyTorch settings). */
  allocator?: "glibc" | "tcmalloc";
  /** Batch size of a step (ratios are per image). */
  batch: number;
  /** Executable. */
  cmd: string;
  /** Its arguments. */
  args: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Set when a prerequisite is missing: the setting is skipped for this reason. */
  skip?: string;
  /** Checks the server's ready info; a string is why the server is not what it claims to be. */
  verify?: (ready: Record<string, unknown>) => string | null;
}

/** Options of {@linkcode runInterleaved}. */
export interface InterleaveOptions {
  /** Rounds; each server runs `steps` steps per round. */
  rounds: number;
  /** Steps per server per round. */
  steps: number;
  /** Name of the numerator setting (the tfjs-wasm server). */
  reference: string;
  /** Seconds a server may take to build and warm up. */
  startTimeoutSeconds?: number;
  /** Seconds one command may take before its server is killed. */
  commandTimeoutSeconds?: number;
  /** Seconds a server may take to exit once its stdin is closed before it is killed. */
  closeGraceSeconds?: number;
  /** Seed of the bootstrap. */
  seed?: number;
  /** Progress lines. */
  log?: (s: string) => void;
}

/** `list` rotated left by `r` places: round r's order of the servers. */
export function rotate<T>(list: readonly T[], r: number): T[] {
  const n = list.length;
  if (!n) return [];
  const k = ((r % n) + n) % n;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** P(X ≤ j) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n: number, j: number): number {
  let term = 0.5 ** n, sum = 0;
  for (let i = 0; i <= j; i++) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/**
 * Distribution-free interval for the median from order statistics: the narrowest
 * [x₍ⱼ₎, x₍ₙ₊₁₋ⱼ₎] whose coverage 1 − 2·P(Bin(n, ½) ≤ j − 1) is at least `level`; null when even
 * [min, max] covers less (n ≤ 5 for 95%).
 */
export function orderStatisticInterval(
  values: number[],
  level = 0.95,
): { lo: number; hi: number; coverage: number } | null {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  let best: { lo: number; hi: number; coverage: number } | null = null;
  for (let j = 1; j <= Math.floor(n / 2); j++) {
    const coverage = 1 - 2 * binomialHalfCdf(n, j - 1);
    if (coverage < level) break;
    best = { lo: s[j - 1], hi: s[n - j], coverage };
  }
  return best;
}

/** Percentile bootstrap interval of the median (seeded, so reruns on the same data agree). */
export function bootstrapMedianInterval(
  values: number[],
  o: { level?: number; resamples?: number; seed?: number } = {},
): { lo: number; hi: number } {
  const level = o.level ?? 0.95, B = o.resamples ?? 2000;
  const rand = mulberry32(o.seed ?? 1);
  const n = values.length;
  const medians = new Float64Array(B);
  const sample = new Array<number>(n);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) sample[i] = values[Math.floor(rand() * n)];
    medians[b] = median(sample);
  }
  medians.sort();
  const q = (p: number) => medians[Math.min(B - 1, Math.max(0, Math.round(p * (B - 1))))];
  return { lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2) };
}

/** Median of per-round values with its 95% intervals. */
export interface RatioSummary {
  /** Rounds that gave a value. */
  n: number;
  /** Median over rounds. */
  median: number | null;
  /** Smallest and largest value. */
  min: number | null;
  max: number | null;
  /** Order-statistic interval (null when n is too small for 95%). */
  orderStatistic95: { lo: number; hi: number; coverage: number } | null;
  /** Percentile bootstrap interval of the median (null without values). */
  bootstrap95: { lo: number; hi: number } | null;
}

/** Summarises per-round ratios: median, range, order-statistic and bootstrap 95% intervals. */
export function summarizeRatios(values: number[], seed = 1): RatioSummary {
  const v = values.filter(Number.isFinite);
  if (!v.length) {
    return { n: 0, median: null, min: null, max: null, orderStatistic95: null, bootstrap95: null };
  }
  return {
    n: v.length,
    median: median(v),
    min: Math.min(...v),
    max: Math.max(...v),
    orderStatistic95: orderStatisticInterval(v),
    bootstrap95: bootstrapMedianInterval(v, { seed }),
  };
}

/** Reads the last stderr lines of a child (kept for error messages) while draining the pipe. */
async function drainTail(stream: ReadableStream<Uint8Array>, tail: string[]): Promise<void> {
  try {
    for await (const line of readLines(stream)) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 5) tail.shift();
    }
  } catch { /* the child is gone */ }
}

/** A running step server. */
export class StepServer {
  /** The child process. */
  readonly proc: Deno.ChildProcess;
  /** Its process id. */
  readonly pid: number;
  readonly #lines: AsyncGenerator<string>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stderr: string[] = [];
  readonly #stderrDone: Promise<void>;
  #closed = false;

  /** Starts `spec`'s command (throws when it cannot be started). */
  constructor(readonly spec: ServerSpec) {
    this.proc = new Deno.Command(spec.cmd, {
      args: spec.args,
      env: spec.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.proc.pid;
    this.#lines = readLines(this.proc.stdout);
    this.#stdin = this.proc.stdin.getWriter();
    this.#stderrDone = drainTail(this.proc.stderr, this.#stderr);
  }

  /** The next protocol line (a JSON object with `ready`, `wall` or `error`); skips other lines. */
  async #next(timeoutSeconds: number, what: string): Promise<Record<string, unknown>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: no answer in ${timeoutSeconds} s`)),
        timeoutSeconds * 1000,
      );
    });
    const read = (async () => {
      while (true) {
        const r = await this.#lines.next();
        if (r.done) {
          const status = await this.proc.status;
          await this.#stderrDone;
          throw new Error(
            `${what}: exited (code ${status.code}${status.signal ? `, ${status.signal}` : ""})` +
              (this.#stderr.length ? `: ${this.#stderr.slice(-3).join(" | ")}` : ""),
          );
        }
        let v: unknown;
        try {
          v = JSON.parse(r.value);
        } catch {
          continue;
        }
        if (v && typeof v === "object" && ("ready" in v || "wall" in v || "error" in v)) {
          return v as Record<string, unknown>;
        }
      }
    })();
    try {
      return await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the ready line and returns its info. */
  async ready(timeoutSeconds: number): Promise<Record<string, unknown>> {
    const v = await this.#next(timeoutSeconds, `${this.spec.name} start`);
    if (!("ready" in v)) {
      throw new Error(`${this.spec.name}: expected ready, got ${JSON.stringify(v)}`);
    }
    return v.ready as Record<string, unknown>;
  }

  /** Runs `steps` steps and returns their times. */
  async ask(steps: number, timeoutSeconds: number): Promise<StepReply> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify({ steps }) + "\n"));
    const v = await this.#next(timeoutSeconds, `${this.spec.name} steps`);
    if ("error" in v) throw new Error(`${this.spec.name}: ${v.error}`);
    const wall = v.wall as number[], cpu = v.cpu as number[];
    if (!Array.isArray(wall) || wall.length !== steps || !Array.isArray(cpu)) {
      throw new Error(`${this.spec.name}: malformed answer ${JSON.stringify(v)}`);
    }
    return { wall, cpu };
  }

  /** Closes stdin (the server exits), killing it after `graceSeconds`; waits for its exit. */
  async close(graceSeconds = 10): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#stdin.close();
    } catch { /* the pipe is already broken */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          this.proc.kill("SIGKILL");
        } catch { /* already gone */ }
        resolve();
      }, graceSeconds * 1000);
    });
    await Promise.race([this.proc.status.then(() => {}), killed]);
    clearTimeout(timer);
    await this.proc.status;
    await this.#lines.return(undefined).catch(() => {});
    await this.#stderrDone;
  }

  /** Kills the server at once and waits for its exit. */
  async kill(): Promise<void> {
    try {
      this.proc.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.close(0);
  }
}

/** One server's times in one round. */
export interface RoundTimes {
  /** Wall seconds per step. */
  wall: number[];
  /** CPU seconds per step. */
  cpu: number[];
}

/** One round of the interleaving. */
export interface Round {
  /** Round index. */
  round: number;
  /** The order the servers ran in. */
  order: string[];
  /** 1-minute load average when the round began. */
  loadavg1: number;
  /** Times per server name (absent for a server that failed). */
  times: Record<string, RoundTimes>;
}

/** What {@linkcode runInterleaved} measured. */
export interface InterleaveResult {
  /** Rounds and steps asked for. */
  rounds: number;
  steps: number;
  /** The numerator setting. */
  reference: string;
  /** Load average (1, 5, 15 min) before starting the servers and after closing them. */
  loadavgStart: number[];
  loadavgEnd: number[];
  /** Started servers: spec summary, pid, ready info, seconds to ready, and error if it failed. */
  servers: Record<string, unknown>[];
  /** Settings that did not run, with the reason. */
  skipped: { name: string; reason: string }[];
  /** Per-round times. */
  perRound: Round[];
  /** Per PyTorch setting: its median step, and the per-round ratios wasm / setting. */
  settings: Record<string, unknown>[];
  /** tfjs settings other than the reference (the data-parallel step), each against every PyTorch one. */
  otherTfjs: Record<string, unknown>[];
  /** Ratio against the fastest setting overall, at 1 thread and at 2 threads. */
  fastest: Record<string, unknown>;
  /** Why the measurement stopped early, if it did. */
  error?: string;
}

/** Seconds per image of a server in a round: median of its steps over its batch. */
function perImage(t: RoundTimes | undefined, batch: number, k: "wall" | "cpu"): number {
  return t && t[k].length ? median(t[k]) / batch : NaN;
}

/**
 * Starts every server (one after the other, each warming up alone), interleaves `rounds` rounds of
 * `steps` steps each (order rotated every round) and summarises the ratios reference / setting.
 * A server that cannot start, fails its check or fails during the rounds is reported and dropped;
 * if the reference fails the rounds stop. Every server is closed (killed if needed) before this
 * returns, also when it throws.
 */
export async function runInterleaved(
  specs: ServerSpec[],
  o: InterleaveOptions,
): Promise<InterleaveResult> {
  const log = o.log ?? (() => {});
  const startTimeout = o.startTimeoutSeconds ?? 300;
  const commandTimeout = o.commandTimeoutSeconds ?? 120 * o.steps;
  const loadavgStart = Deno.loadavg();
  const skipped: { name: string; reason: string }[] = [];
  const servers: { spec: ServerSpec; server: StepServer; info: Record<string, unknown> }[] = [];
  const failed = new Map<string, string>();
  const perRound: Round[] = [];
  let error: string | undefined;
  const all: StepServer[] = [];
  try {
    for (const spec of specs) {
      if (spec.skip) {
        skipped.push({ name: spec.name, reason: spec.skip });
        log(`${spec.name}: skipped: ${spec.skip}`);
        continue;
      }
      let server: StepServer;
      try {
        server = new StepServer(spec);
      } catch (e) {
        skipped.push({ name: spec.name, reason: `cannot start ${spec.cmd}: ${e}` });
        log(`${spec.name}: skipped: cannot start ${spec.cmd}`);
        continue;
      }
      all.push(server);
      const t0 = performance.now();
      try {
        const ready = await server.ready(startTimeout);
        const bad = spec.verify?.(ready) ?? null;
        if (bad) throw new Error(bad);
        const startSeconds = (performance.now() - t0) / 1000;
        servers.push({ spec, server, info: { ...ready, startSeconds } });
        log(`${spec.name}: ready in ${startSeconds.toFixed(1)} s (pid ${server.pid})`);
      } catch (e) {
        await server.kill();
        const reason = e instanceof Error ? e.message : String(e);
        skipped.push({ name: spec.name, reason });
        log(`${spec.name}: skipped: ${reason}`);
      }
    }
    if (!servers.some((s) => s.spec.name === o.reference)) {
      error = `the reference setting ${o.reference} did not start`;
    } else {
      for (let r = 0; r < o.rounds && !error; r++) {
        const order = rotate(servers, r).filter((s) => !failed.has(s.spec.name));
        const round: Round = {
          round: r,
          order: order.map((s) => s.spec.name),
          loadavg1: Deno.loadavg()[0],
          times: {},
        };
        for (const s of order) {
          try {
            round.times[s.spec.name] = await s.server.ask(o.steps, commandTimeout);
          } catch (e) {
            const reason = e instanceof Error ? e.message : String(e);
            failed.set(s.spec.name, `round ${r}: ${reason}`);
            log(`${s.spec.name}: failed in round ${r}: ${reason}`);
            await s.server.kill();
            if (s.spec.name === o.reference) {
              error = `the reference setting failed in round ${r}: ${reason}`;
              break;
            }
          }
        }
        perRound.push(round);
        log(
          `round ${r} (load ${round.loadavg1.toFixed(1)}): ` +
            round.order.map((n) =>
              `${n} ${round.times[n] ? median(round.times[n].wall).toFixed(3) : "—"} s`
            ).join(", "),
        );
      }
    }
  } finally {
    await Promise.all(all.map((s) => s.close(o.closeGraceSeconds ?? 10)));
  }
  const ref = servers.find((s) => s.spec.name === o.reference);
  // Other tfjs settings (the data-parallel step): their own ratio against every PyTorch setting.
  const torchServers = servers.filter((s) => s !== ref && s.spec.kind === "torch");
  const tfjsOthers = servers.filter((s) => s !== ref && s.spec.kind === "tfjs").map((s, i) => {
    const own = perRound.map((r) => perImage(r.times[s.spec.name], s.spec.batch, "wall"))
      .filter(Number.isFinite);
    return {
      name: s.spec.name,
      threads: s.spec.threads,
      batch: s.spec.batch,
      medianSecondsPerImage: own.length ? median(own) : null,
      against: torchServers.map((t, j) => {
        const ratios = perRound.map((r) =>
          perImage(r.times[s.spec.name], s.spec.batch, "wall") /
          perImage(r.times[t.spec.name], t.spec.batch, "wall")
        ).filter(Number.isFinite);
        return {
          setting: t.spec.name,
          threads: t.spec.threads,
          wallRatio: summarizeRatios(ratios, (o.seed ?? 1) + 100 * (i + 1) + j),
        };
      }),
      ...(failed.has(s.spec.name) ? { error: failed.get(s.spec.name) } : {}),
    };
  });
  const settings = servers.filter((s) => s !== ref && s.spec.kind === "torch").map((s, i) => {
    const ratio = (k: "wall" | "cpu") =>
      perRound.map((r) =>
        perImage(r.times[o.reference], ref!.spec.batch, k) /
        perImage(r.times[s.spec.name], s.spec.batch, k)
      ).filter(Number.isFinite);
    const own = perRound.map((r) => perImage(r.times[s.spec.name], s.spec.batch, "wall"))
      .filter(Number.isFinite);
    const wallRatios = ratio("wall"), cpuRatios = ratio("cpu");
    return {
      name: s.spec.name,
      kind: s.spec.kind,
      threads: s.spec.threads,
      allocator: s.spec.allocator ?? null,
      batch: s.spec.batch,
      medianSecondsPerImage: own.length ? median(own) : null,
      wallRatios,
      wallRatio: summarizeRatios(wallRatios, (o.seed ?? 1) + i),
      cpuRatio: summarizeRatios(cpuRatios, (o.seed ?? 1) + i),
      ...(failed.has(s.spec.name) ? { error: failed.get(s.spec.name) } : {}),
    };
  });
  const fastestOf = (pick: (t: (typeof settings)[number]) => boolean) => {
    const c = settings.filter((t) => pick(t) && t.medianSecondsPerImage !== null);
    if (!c.length) return null;
    const best = c.reduce((a, b) => (b.medianSecondsPerImage! < a.medianSecondsPerImage! ? b : a));
    return { setting: best.name, threads: best.threads, wallRatio: best.wallRatio };
  };
  const referenceMedian = ref
    ? perRound.map((r) => perImage(r.times[o.reference], ref.spec.batch, "wall"))
      .filter(Number.isFinite)
    : [];
  return {
    rounds: o.rounds,
    steps: o.steps,
    reference: o.reference,
    loadavgStart,
    loadavgEnd: Deno.loadavg(),
    servers: servers.map((s) => ({
      name: s.spec.name,
      kind: s.spec.kind,
      threads: s.spec.threads,
      allocator: s.spec.allocator ?? null,
      batch: s.spec.batch,
      env: s.spec.env ?? {},
      pid: s.server.pid,
      ready: s.info,
      ...(s.spec.name === o.reference && referenceMedian.length
        ? { medianSecondsPerImage: median(referenceMedian) }
        : {}),
      ...(failed.has(s.spec.name) ? { error: failed.get(s.spec.name) } : {}),
    })),
    skipped,
    perRound,
    settings,
    otherTfjs: tfjsOthers,
    fastest: {
      overall: fastestOf(() => true),
      oneThread: fastestOf((t) => t.threads === 1),
      twoThreads: fastestOf((t) => t.threads === 2),
    },
    ...(error ? { error } : {}),
  };
}

/** Options of {@linkcode abTorch}. */
export interface AbTorchOptions {
  /** Preset (default `compact`). */
  config?: string;
  /** Batch of every setting (default 64, the trainer's). */
  batch?: number;
  /** Warm-up steps of each server before it reports ready (default 2). */
  warmup?: number;
  /** Rounds (default 8). */
  rounds?: number;
  /** Steps per server per round (default 2). */
  steps?: number;
  /** `OMP_WAIT_POLICY` of the PyTorch settings (default `PASSIVE`; see the module doc). */
  ompWaitPolicy?: "PASSIVE" | "ACTIVE";
  /** Progress lines. */
  log?: (s: string) => void;
}

/** Whether `path` exists. */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Why PyTorch cannot run here (null: it can): no /usr/bin/python3, or it has no torch. */
export async function torchMissing(python = PYTHON): Promise<string | null> {
  if (!exists(python)) return `${python} not found; install: ${SETUP_HINT}`;
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    if (out.success) return null;
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-1)[0];
    return `${python} cannot import torch (${err}); install: ${SETUP_HINT}`;
  } catch (e) {
    return `${python} did not run (${e}); install: ${SETUP_HINT}`;
  }
}

/**
 * The measured settings: the tfjs-wasm training step (bench/model_speed.ts) and PyTorch's with
 * glibc malloc and tcmalloc at 1 and 2 threads, each skipped with a reason when a prerequisite
 * is missing.
 */
export async function abTorchPlan(
  o: {
    config: string;
    batch: number;
    warmup: number;
    configFile: string;
    ompWaitPolicy?: "PASSIVE" | "ACTIVE";
  },
  prerequisites?: { torch: string | null; tcmalloc: string | null },
): Promise<ServerSpec[]> {
  const pre = prerequisites ?? {
    torch: await torchMissing(),
    tcmalloc: exists(TCMALLOC) ? null : `${TCMALLOC} not found; install: ${SETUP_HINT}`,
  };
  const cfg = presetConfig(o.config).model;
  const expect = summarizeModel(cfg).trainableParams;
  await Deno.writeTextFile(o.configFile, JSON.stringify(cfg));
  const specs: ServerSpec[] = [{
    name: "wasm",
    kind: "tfjs",
    threads: 1,
    batch: o.batch,
    cmd: Deno.execPath(),
    args: [
      "run",
      "-A",
      join(HERE, "model_speed.ts"),
      ...["--config", o.config, "--backend", "wasm", "--mode", "train", "--from", "features"],
      ...["--batch", `${o.batch}`, "--warmup", `${o.warmup}`, "--serve"],
    ],
    verify: (r) => (r.backend === "wasm" ? null : `backend is ${r.backend}, not wasm`),
  }, {
    // One run on both cores: the trainer's data-parallel step over two worker threads.
    name: "wasm-2workers",
    kind: "tfjs",
    threads: 2,
    batch: o.batch,
    cmd: Deno.execPath(),
    args: [
      "run",
      "-A",
      join(HERE, "model_speed.ts"),
      ...["--config", o.config, "--backend", "wasm", "--mode", "train", "--from", "features"],
      ...["--batch", `${o.batch}`, "--warmup", `${o.warmup}`, "--serve", "--workers", "2"],
    ],
    verify: (r) =>
      r.backend !== "wasm"
        ? `backend is ${r.backend}, not wasm`
        : r.threads !== 2
        ? `runs ${r.threads} worker(s), not 2`
        : null,
  }];
  for (const allocator of ["glibc", "tcmalloc"] as const) {
    for (const threads of [1, 2]) {
      const env: Record<string, string> = {
        OMP_NUM_THREADS: `${threads}`,
        OPENBLAS_NUM_THREADS: `${threads}`,
        MKL_NUM_THREADS: `${threads}`,
        OMP_WAIT_POLICY: o.ompWaitPolicy ?? "PASSIVE",
      };
      if (allocator === "tcmalloc") env.LD_PRELOAD = TCMALLOC;
      specs.push({
        name: `torch-${threads}t-${allocator}`,
        kind: "torch",
        threads,
        allocator,
        batch: o.batch,
        cmd: PYTHON,
        args: [
          join(HERE, "torch_grefel.py"),
          ...["--config", o.configFile, "--expect-params", `${expect}`, "--batch", `${o.batch}`],
          ...["--threads", `${threads}`, "--warmup", `${o.warmup}`, "--mode", "train", "--serve"],
        ],
        env,
        skip: pre.torch ?? (allocator === "tcmalloc" ? pre.tcmalloc ?? undefined : undefined),
        verify: (r) => {
          if (r.threads !== threads) return `runs ${r.threads} threads, not ${threads}`;
          if ((r.tcmalloc === true) !== (allocator === "tcmalloc")) {
            return `libtcmalloc ${r.tcmalloc ? "is" : "is not"} mapped into the process`;
          }
          return null;
        },
      });
    }
  }
  return specs;
}

/** The CPU's model name (Linux), else null. */
function cpuModel(): string | null {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Runs the interleaved comparison and returns its JSON document. */
export async function abTorch(o: AbTorchOptions = {}): Promise<Record<string, unknown>> {
  const config = o.config ?? "compact", batch = o.batch ?? 64, warmup = o.warmup ?? 2;
  const rounds = o.rounds ?? 8, steps = o.steps ?? 2;
  const ompWaitPolicy = o.ompWaitPolicy ?? "PASSIVE";
  const tmp = await Deno.makeTempDir({ prefix: "grefel-abtorch-" });
  const date = new Date().toISOString();
  try {
    const specs = await abTorchPlan({
      config,
      batch,
      warmup,
      configFile: join(tmp, `${config}.json`),
      ompWaitPolicy,
    });
    const r = await runInterleaved(specs, { rounds, steps, reference: "wasm", log: o.log });
    const torch = r.servers.find((s) => s.kind === "torch")?.ready as
      | Record<string, unknown>
      | undefined;
    const warnings: string[] = [];
    const blas = (torch?.blasLibraries as string[] | undefined) ?? [];
    if (torch && !blas.some((p) => p.includes("openblas"))) {
      warnings.push(
        `PyTorch's BLAS is ${blas.join(", ") || "unknown"}, not OpenBLAS: its step is several ` +
          `times slower than it can be; install libopenblas0-pthread`,
      );
    }
    return {
      benchmark: "ab_torch",
      date,
      finished: new Date().toISOString(),
      config,
      batch,
      warmup,
      ompWaitPolicy,
      command: `deno run -A bench/ab_torch.ts --config ${config} --batch ${batch} --rounds ` +
        `${rounds} --steps ${steps} --warmup ${warmup} --omp-wait-policy ${ompWaitPolicy}`,
      environment: {
        cpu: cpuModel(),
        cores: navigator.hardwareConcurrency,
        os: `${Deno.build.os} ${Deno.build.arch} ${Deno.osRelease()}`,
        torch: torch?.torch ?? null,
        blasLibraries: blas,
        blasBuild: torch?.blasBuild ?? null,
      },
      warnings,
      ...r,
    };
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      config: { type: "string", default: "compact" },
      batch: { type: "string", default: "64" },
      warmup: { type: "string", default: "2" },
      rounds: { type: "string", default: "8" },
      steps: { type: "string", default: "2" },
      "omp-wait-policy": { type: "string", default: "PASSIVE" },
      out: { type: "string", default: "results/bench/ab_torch.json" },
    },
  });
  const policy = values["omp-wait-policy"]!.toUpperCase();
  if (policy !== "PASSIVE" && policy !== "ACTIVE") {
    throw new Error(`--omp-wait-policy must be PASSIVE or ACTIVE, got ${policy}`);
  }
  const doc = await abTorch({
    ompWaitPolicy: policy,
    config: values.config,
    batch: Number(values.batch),
    warmup: Number(values.warmup),
    rounds: Number(values.rounds),
    steps: Number(values.steps),
    log: (s) => console.log(s),
  });
  await Deno.writeTextFile(values.out!, JSON.stringify(doc, null, 1) + "\n");
  console.log(`wrote ${values.out}`);
}
