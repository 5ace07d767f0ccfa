/**
 * `deno task bench [--quick]`: the benchmark suite. Runs each measurement in its own
 * child process (so each peak RSS is its own, and a slow backend can be stopped), one after the
 * other, and writes `results/bench/bench.json` (every figure with the machine, backend, adapter
 * and versions), `results/bench/profiles.json` (per-kernel profiles of one training step) and
 * `BENCHMARKS.md` (Markdown tables).
 *
 * Measured:
 * - training step and inference throughput of the `compact` and `paper` trainable parts on cpu,
 *   wasm and webgpu, from inputs of the cached features' shapes (bench/model_speed.ts), and end to
 *   end from images (extractor + pooling + model);
 * - the same training step in PyTorch (bench/torch_grefel.py, Debian's python3-torch, CPU, 1 and 2
 *   threads), with its parameter count checked against `summarizeModel`, one cell after another;
 * - the ratio tfjs-wasm / PyTorch, interleaved (bench/ab_torch.ts, section `abtorch`): long-lived
 *   step servers for wasm and for PyTorch with glibc malloc or tcmalloc at 1 and 2 threads, asked
 *   for a few steps each in turn, round after round, so that both sides see the same load; also
 *   written to `results/bench/ab_torch.json`. Settings whose prerequisites are missing
 *   (`scripts/setup.sh --bench`) are skipped and listed with the reason;
 * - feature-extraction throughput per extractor on wasm (bench/extract_speed.ts), FER+ cache build
 *   time (results/bench/cache_ferplus.json when a full build was recorded, else a 512-image build
 *   extrapolated, labelled so);
 * - t-SNE time against n (results/bench/tsne.json from bench/tsne.ts) and DB/CH time for
 *   10,000 × 768 (bench/cluster_speed.ts);
 * - peak RSS and tf.memory() bytes for each.
 *
 * Usage:
 *   deno task bench [--quick] [--only model,torch,abtorch,extractors,cache,cluster,tsne]
 *     [--out-dir results/bench] [--md BENCHMARKS.md] [--tiny]
 *   deno task bench --render-only [--out-dir results/bench] [--md BENCHMARKS.md]
 *
 * `--render-only` measures nothing: it writes the Markdown from the recorded bench.json,
 * profiles.json and ab_torch.json (for instance after rerunning bench/ab_torch.ts alone).
 *
 * `--tiny` (the smoke test's size): the `tiny` preset only, cpu + wasm, one step, no extractors,
 * no cache build, small cluster set; seconds.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { presetConfig } from "../lib/config.ts";
import { summarizeModel } from "../lib/model/summary.ts";
import { median, type ModelSpeedOptions } from "./model_speed.ts";
import { abTorch } from "./ab_torch.ts";

const HERE = new URL(".", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";
/** Section names of `--only`. */
const SECTIONS = ["model", "torch", "abtorch", "extractors", "cache", "cluster", "tsne"];

/** A child measurement's outcome: its JSON, or why there is none. */
// deno-lint-ignore no-explicit-any
export type ChildResult = { ok: true; value: any; wallSeconds: number } | {
  ok: false;
  error: string;
  wallSeconds: number;
};

/** Runs a command, returns the last stdout line parsed as JSON (or the error / timeout). */
export async function runChild(
  cmd: string,
  args: string[],
  timeoutSeconds: number,
  env?: Record<string, string>,
): Promise<ChildResult> {
  const t0 = performance.now();
  let proc: Deno.ChildProcess;
  try {
    proc = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  } catch (e) {
    return { ok: false, error: `cannot start ${cmd}: ${e}`, wallSeconds: 0 };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      proc.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutSeconds * 1000);
  const out = await proc.output();
  clearTimeout(timer);
  const wallSeconds = (performance.now() - t0) / 1000;
  if (timedOut) return { ok: false, error: `timed out after ${timeoutSeconds} s`, wallSeconds };
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
  if (out.code !== 0) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    return { ok: false, error: `exit ${out.code}: ${err}`, wallSeconds };
  }
  try {
    return { ok: true, value: JSON.parse(stdout[stdout.length - 1]), wallSeconds };
  } catch {
    return { ok: false, error: `no JSON on stdout: ${stdout.slice(-1)[0]}`, wallSeconds };
  }
}

/** Machine description recorded with every run. */
export async function machineInfo(): Promise<Record<string, unknown>> {
  const read = (p: string) => {
    try {
      return Deno.readTextFileSync(p);
    } catch {
      return "";
    }
  };
  const cpuinfo = read("/proc/cpuinfo");
  const memKb = Number(read("/proc/meminfo").match(/MemTotal:\s+(\d+)/)?.[1] ?? NaN);
  let torch: string | null = null;
  const t = await runChild(
    PYTHON,
    ["-c", "import json,torch;print(json.dumps(torch.__version__))"],
    60,
  );
  if (t.ok) torch = t.value;
  return {
    cpu: cpuinfo.match(/model name\s*:\s*(.*)/)?.[1] ?? Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    memoryGB: Number.isFinite(memKb) ? +(memKb / 2 ** 20).toFixed(1) : null,
    os: `${Deno.build.os} ${Deno.build.arch} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    tfjs: tf.version.tfjs,
    torch,
    python: PYTHON,
  };
}

/** Options of {@linkcode runBench}. */
export interface RunOptions {
  /** Smaller batches and fewer steps; skips the slowest cells. */
  quick?: boolean;
  /** Smoke-test size (see the module doc). */
  tiny?: boolean;
  /** Sections to run (default: all). */
  only?: string[];
  /** Output directory of the JSON files. */
  outDir: string;
  /** Markdown path (null: none). */
  md: string | null;
  /** Progress lines. */
  log?: (s: string) => void;
}

/** One model measurement of the plan: bench/model_speed.ts's options and the child's timeout. */
interface ModelCell extends ModelSpeedOptions {
  /** Seconds before the child process is killed. */
  timeout: number;
}

function modelPlan(o: RunOptions): ModelCell[] {
  const c = (
    config: string,
    backend: string,
    mode: "train" | "infer",
    batch: number,
    extra: Partial<ModelCell> = {},
  ): ModelCell => ({
    config,
    backend,
    mode,
    from: "features",
    batch,
    warmup: 2,
    steps: 7,
    maxSeconds: 40,
    timeout: 300,
    ...extra,
  });
  if (o.tiny) {
    const t = { warmup: 1, steps: 2, timeout: 120 };
    return [
      c("tiny", "cpu", "train", 4, t),
      c("tiny", "wasm", "train", 4, { ...t, profile: true }),
      c("tiny", "wasm", "infer", 4, t),
    ];
  }
  const q = o.quick;
  const cb = q ? 16 : 64; // compact batch on wasm (the trainer's default is 64)
  const sb = 16; // compact batch on the slow backends (cpu: plain JS; webgpu: lavapipe here)
  const pb = 2; // paper batch: a training step of the paper part is ~33 GFLOP per 2 images
  const slow = { warmup: 1, steps: q ? 1 : 3, maxSeconds: 30, timeout: q ? 150 : 240 };
  const slower = { warmup: 1, steps: q ? 1 : 2, maxSeconds: 20, timeout: q ? 100 : 150 };
  const cells: ModelCell[] = [
    c("compact", "wasm", "train", cb, { profile: true }),
    c("compact", "wasm", "train", cb, { ...slow, stockMatMul: true, profile: true }),
    c("compact", "wasm", "infer", cb),
    c("compact", "cpu", "train", sb, slow),
    c("compact", "cpu", "infer", sb, slow),
    // lavapipe (software Vulkan): slow; capped by maxSeconds and the child timeout.
    c("compact", "webgpu", "train", sb, slower),
    c("compact", "webgpu", "infer", sb, slower),
    c("compact", "wasm", "infer", 16, { from: "images", ...slow }),
    c("compact", "wasm", "train", 16, { from: "images", ...slow }),
    c("paper", "wasm", "train", pb, slow),
    c("paper", "wasm", "infer", pb, slow),
  ];
  if (!q) {
    cells.push(
      c("paper", "wasm", "infer", pb, { from: "images", ...slow }),
      c("paper", "cpu", "train", 1, { ...slower, warmup: 0, steps: 1, timeout: 120 }),
      c("paper", "cpu", "infer", 1, { ...slower, warmup: 0, steps: 1, timeout: 90 }),
      c("paper", "webgpu", "train", 1, { ...slower, warmup: 0, steps: 1, timeout: 120 }),
      c("paper", "webgpu", "infer", 1, { ...slower, warmup: 0, steps: 1, timeout: 90 }),
    );
  }
  return cells;
}

const mb = (b: number | null | undefined) => (b == null ? "—" : (b / 2 ** 20).toFixed(0));
const fx = (x: number | null | undefined, d = 2) =>
  x == null || !Number.isFinite(x) ? "—" : x.toFixed(d);

/** Runs the benchmark; writes the JSON (and Markdown) and returns the document. */
export async function runBench(o: RunOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const want = (s: string) => !o.only || o.only.includes(s);
  const deno = Deno.execPath();
  const started = new Date().toISOString();
  const loadStart = Deno.loadavg();
  const machine = await machineInfo();
  const doc: Record<string, unknown> = {
    benchmark: "grefel",
    date: started,
    profile: o.tiny ? "tiny" : o.quick ? "quick" : "full",
    machine,
    loadavgStart: loadStart,
  };
  const tmp = await Deno.makeTempDir({ prefix: "grefel-bench-" });
  const profiles: Record<string, unknown>[] = [];
  try {
    // ---- model throughput (tfjs) ----
    const modelRows: Record<string, unknown>[] = [];
    if (want("model")) {
      for (const cell of modelPlan(o)) {
        const args = ["run", "-A", join(HERE, "model_speed.ts")];
        args.push("--config", cell.config, "--backend", cell.backend, "--mode", cell.mode);
        args.push("--from", cell.from, "--batch", `${cell.batch}`, "--warmup", `${cell.warmup}`);
        args.push("--steps", `${cell.steps}`, "--max-seconds", `${cell.maxSeconds}`);
        if (cell.profile) args.push("--profile");
        if (cell.stockMatMul) args.push("--stock-matmul");
        const la = Deno.loadavg()[0];
        const r = await runChild(deno, args, cell.timeout);
        const { timeout: _t, ...cellInfo } = cell;
        const row: Record<string, unknown> = { ...cellInfo, loadavg1Before: la };
        if (r.ok) {
          const v = r.value;
          if (v.profile) {
            profiles.push({ ...cellInfo, ...v.profile });
            delete v.profile;
          }
          Object.assign(row, {
            medianSeconds: v.medianSeconds,
            imagesPerSecond: v.imagesPerSecond,
            seconds: v.seconds,
            firstIterationSeconds: v.firstIterationSeconds,
            peakRssBytes: v.peakRssBytes,
            tfMemory: v.tfMemory,
            trainableParams: v.trainableParams,
            backendInfo: v.backend,
            patchedMatMul: v.patchedMatMul,
            capped: v.capped,
          });
        } else row.error = r.error;
        modelRows.push(row);
        log(
          `${cell.config}/${cell.from} ${cell.mode} ${cell.backend}${
            cell.stockMatMul ? " (stock matMul)" : ""
          } b=${cell.batch}: ` +
            (r.ok
              ? `${fx(r.value.medianSeconds, 3)} s/step, ${fx(r.value.imagesPerSecond, 1)} img/s`
              : r.error),
        );
      }
      doc.model = modelRows;
    }

    // ---- PyTorch reference ----
    if (want("torch")) {
      const torchRows: Record<string, unknown>[] = [];
      const cells: { config: string; batch: number; threads: number; mode: string }[] = o.tiny
        ? [{ config: "tiny", batch: 4, threads: 1, mode: "train" }]
        : [
          { config: "compact", batch: o.quick ? 16 : 64, threads: 1, mode: "train" },
          { config: "compact", batch: o.quick ? 16 : 64, threads: 2, mode: "train" },
          { config: "compact", batch: o.quick ? 16 : 64, threads: 1, mode: "infer" },
          { config: "paper", batch: 2, threads: 1, mode: "train" },
          { config: "paper", batch: 2, threads: 2, mode: "train" },
        ];
      for (const cell of cells) {
        const cfg = presetConfig(cell.config).model;
        const file = join(tmp, `${cell.config}.json`);
        await Deno.writeTextFile(file, JSON.stringify(cfg));
        const expect = summarizeModel(cfg).trainableParams;
        const args = [join(HERE, "torch_grefel.py"), "--config", file, "--expect-params"];
        args.push(`${expect}`, "--batch", `${cell.batch}`, "--threads", `${cell.threads}`);
        args.push("--mode", cell.mode);
        if (o.tiny) args.push("--warmup", "1", "--steps", "2");
        else if (cell.config === "paper") args.push("--warmup", "1", "--steps", "3");
        else args.push("--warmup", "2", "--steps", o.quick ? "3" : "7");
        const la = Deno.loadavg()[0];
        // OpenBLAS keeps its own thread pool: its size must match torch's. Spinning OpenMP workers
        // would burn the shared cores while they wait (bench/ab_torch.ts).
        const threads = `${cell.threads}`;
        const r = await runChild(PYTHON, args, 300, {
          OMP_NUM_THREADS: threads,
          OPENBLAS_NUM_THREADS: threads,
          OMP_WAIT_POLICY: "PASSIVE",
        });
        torchRows.push({
          ...cell,
          expectedParams: expect,
          loadavg1Before: la,
          ...(r.ok ? r.value : { error: r.error }),
        });
        log(
          `torch ${cell.config} ${cell.mode} threads=${cell.threads} b=${cell.batch}: ` +
            (r.ok ? `${fx(r.value.medianSeconds, 3)} s/step` : r.error),
        );
      }
      doc.torch = torchRows;
    }

    // ---- tfjs-wasm against PyTorch, interleaved (bench/ab_torch.ts) ----
    if (want("abtorch")) {
      const size = o.tiny
        ? { config: "tiny", batch: 4, warmup: 1, rounds: 2, steps: 1 }
        : o.quick
        ? { config: "compact", batch: 16, warmup: 1, rounds: 6, steps: 1 }
        : { config: "compact", batch: 64, warmup: 2, rounds: 10, steps: 2 };
      const ab = await abTorch({ ...size, log: (s) => log(`abtorch: ${s}`) });
      await Deno.mkdir(o.outDir, { recursive: true });
      await Deno.writeTextFile(join(o.outDir, "ab_torch.json"), JSON.stringify(ab, null, 1) + "\n");
      doc.abTorch = ab;
    }

    // ---- extractors ----
    if (want("extractors") && !o.tiny) {
      const rows: Record<string, unknown>[] = [];
      const cells = [
        { extractor: "npm-face-fast", batch: 16 },
        { extractor: "npm-face", batch: 16 },
        { extractor: "paper", batch: 4 },
      ];
      for (const cell of cells) {
        const args = ["run", "-A", join(HERE, "extract_speed.ts"), "--extractor", cell.extractor];
        args.push("--backend", "wasm", "--batch", `${cell.batch}`, "--warmup", "1");
        args.push("--steps", o.quick ? "2" : "5", "--max-seconds", "40");
        const la = Deno.loadavg()[0];
        const r = await runChild(deno, args, 300);
        const row: Record<string, unknown> = { ...cell, backend: "wasm", loadavg1Before: la };
        if (r.ok) {
          const { options: _o, ...v } = r.value;
          Object.assign(row, v);
        } else row.error = r.error;
        rows.push(row);
        log(
          `extractor ${cell.extractor} b=${cell.batch}: ` +
            (r.ok ? `${fx(r.value.imagesPerSecond, 1)} img/s` : r.error),
        );
      }
      doc.extractors = rows;
    }

    // ---- FER+ cache build ----
    if (want("cache") && !o.tiny) {
      doc.cache = await cacheSection(o, deno, tmp, log);
    }

    // ---- cluster scores ----
    if (want("cluster")) {
      const n = o.tiny ? 300 : 10000, dim = o.tiny ? 8 : 768;
      const r = await runChild(deno, [
        "run",
        "-A",
        join(HERE, "cluster_speed.ts"),
        "--n",
        `${n}`,
        "--dim",
        `${dim}`,
        "--repeats",
        "5",
      ], 300);
      doc.cluster = r.ok ? r.value : { n, dim, error: r.error };
      log(`DB+CH ${n}×${dim}: ${r.ok ? fx(r.value.medianMilliseconds, 0) + " ms" : r.error}`);
    }

    // ---- t-SNE (bench/tsne.ts's own results) ----
    if (want("tsne") && !o.tiny) {
      try {
        const t = JSON.parse(await Deno.readTextFile(join(o.outDir, "tsne.json")));
        doc.tsne = {
          source: "results/bench/tsne.json (bench/tsne.ts)",
          date: t.date,
          machine: t.machine,
          repeats: t.config?.repeats,
          rows: t.tsne.map((r: Record<string, unknown>) => ({
            engine: r.engine,
            n: r.n,
            dim: r.dim,
            medianSeconds: r.medianSeconds,
            peakRssBytes: (r.peakRssMB as number) * 2 ** 20,
          })),
          clusterScores: t.clusterScores,
        };
      } catch (e) {
        doc.tsne = { error: `no tsne.json (run deno run -A bench/tsne.ts): ${e}` };
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  doc.loadavgEnd = Deno.loadavg();
  doc.finished = new Date().toISOString();
  if (o.only) {
    // A partial run keeps the other sections of the previous bench.json (each section records
    // its own load averages; `sections` says when each was measured).
    try {
      const prev = JSON.parse(await Deno.readTextFile(join(o.outDir, "bench.json")));
      for (const k of ["model", "torch", "abTorch", "extractors", "cache", "cluster", "tsne"]) {
        if (!(k in doc) && k in prev) doc[k] = prev[k];
      }
      doc.sections = { ...(prev.sections ?? {}) };
      if (!o.only.includes("model")) {
        const pp = JSON.parse(await Deno.readTextFile(join(o.outDir, "profiles.json")));
        profiles.push(...pp.profiles);
      }
    } catch { /* nothing to merge */ }
  }
  if (!want("abtorch")) {
    // bench/ab_torch.ts may have been rerun alone since: its own file is the latest.
    try {
      doc.abTorch = JSON.parse(await Deno.readTextFile(join(o.outDir, "ab_torch.json")));
    } catch { /* keep what bench.json had */ }
  }
  doc.sections = {
    ...(doc.sections as Record<string, unknown> ?? {}),
    ...Object.fromEntries(
      SECTIONS.filter(want).map((k) => [
        k,
        { date: started, loadavgStart: loadStart, loadavgEnd: doc.loadavgEnd },
      ]),
    ),
  };
  doc.acceptance = acceptance(doc);
  await Deno.mkdir(o.outDir, { recursive: true });
  await Deno.writeTextFile(join(o.outDir, "bench.json"), JSON.stringify(doc, null, 1) + "\n");
  await Deno.writeTextFile(
    join(o.outDir, "profiles.json"),
    JSON.stringify({ date: started, machine, profiles }, null, 1) + "\n",
  );
  if (o.md) await Deno.writeTextFile(o.md, markdown(doc, profiles));
  log(`wrote ${join(o.outDir, "bench.json")}${o.md ? ` and ${o.md}` : ""}`);
  return doc;
}

async function cacheSection(
  o: RunOptions,
  deno: string,
  tmp: string,
  log: (s: string) => void,
): Promise<Record<string, unknown>> {
  const full = join(o.outDir, "cache_ferplus.json");
  try {
    const v = JSON.parse(await Deno.readTextFile(full));
    if (v.images > 20000) {
      log(`cache: full build recorded in ${full}`);
      return { source: full, extrapolated: false, ...v };
    }
  } catch { /* no full build recorded */ }
  const root = Deno.env.get("GREFEL_FERPLUS") ?? join(HERE, "../../shared/data/ferplus");
  try {
    await Deno.stat(root);
  } catch {
    return { error: `FER+ not found at ${root} (set GREFEL_FERPLUS)` };
  }
  const limit = o.quick ? 128 : 512;
  const out = join(tmp, "cache_subset.json");
  const args = ["run", "-A", join(HERE, "cache_ferplus.ts"), "--ferplus", root];
  args.push("--limit", `${limit}`, "--workers", "2", "--fresh", "--out", out);
  args.push("--cache-dir", join(tmp, "cache"));
  const la = Deno.loadavg()[0];
  const r = await runChild(deno, args, 900);
  // cache_ferplus.ts pretty-prints its result (not one JSON line); the file is what counts.
  let v;
  try {
    v = JSON.parse(await Deno.readTextFile(out));
  } catch {
    return { error: r.ok ? `no result file ${out}` : r.error, limit };
  }
  const total = 25045; // FER+ train, majority labels (lib/data/ferplus.ts; extractors.md)
  const row = {
    source: `bench/cache_ferplus.ts --limit ${limit} (extrapolated to ${total} images)`,
    extrapolated: true,
    loadavg1Before: la,
    subsetImages: v.images,
    subsetWallSeconds: v.buildWallSeconds,
    imagesPerSecond: v.imagesPerSecond,
    cpuMsPerImage: v.cpuMsPerImage,
    workers: v.workers,
    extractor: v.extractor,
    backend: v.backend,
    peakRssBytes: v.peakRssBytes,
    recordBytes: v.recordBytes,
    readMsPerBatch64: v.readMsPerBatch64,
    estimatedFullImages: total,
    estimatedFullWallSeconds: total / v.imagesPerSecond,
    estimatedFullUncontendedSeconds: v.cpuMsPerImage ? (total * v.cpuMsPerImage) / 1000 / 2 : null,
    estimatedFullDiskGB: (total * v.recordBytes) / 1e9,
    loadavg: [v.machine?.loadavgStart, v.machine?.loadavgEnd],
  };
  log(`cache: ${fx(v.imagesPerSecond, 1)} img/s on ${v.images} images`);
  return row;
}

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

/**
 * The speed target for one tfjs-wasm process against PyTorch's fastest 1-thread CPU setting:
 * within about 10% of the floor that wasm's matrix-product rate alone sets (≈ 2.7×).
 */
const ACCEPT_ONE_PROCESS = 3.0;

function acceptance(doc: Row): Row {
  const model: Row[] = doc.model ?? [];
  const torch: Row[] = doc.torch ?? [];
  const cfg = doc.profile === "tiny" ? "tiny" : "compact";
  const wasm = model.find((r) =>
    r.config === cfg && r.backend === "wasm" && r.mode === "train" && r.from === "features" &&
    !r.stockMatMul && r.medianSeconds
  );
  const per = (r: Row | undefined) => (r?.medianSeconds ? r.medianSeconds / r.batch : null);
  const out: Row = { config: cfg, wasmSecondsPerImage: per(wasm) };
  for (const th of [1, 2]) {
    const t = torch.find((r) =>
      r.config === cfg && r.mode === "train" && r.threads === th && r.medianSeconds
    );
    const w = per(wasm), p = per(t);
    out[`torch${th}SecondsPerImage`] = p;
    out[`ratioWasmOverTorch${th}`] = w !== null && p !== null ? w / p : null;
  }
  const best = [out.ratioWasmOverTorch1, out.ratioWasmOverTorch2].filter((x) => x !== null);
  out.method = "sequential";
  out.ratioAgainstFasterTorch = best.length ? Math.max(...best) : null;
  // The interleaved comparison, when it measured the same preset, is the one that counts: both
  // sides ran under the same load.
  const ab = doc.abTorch;
  // The target compares one wasm process with PyTorch's fastest 1-thread setting.
  const fastest = ab?.fastest?.oneThread ?? ab?.fastest?.overall;
  if (ab?.config === cfg && fastest?.wallRatio?.median != null) {
    out.method = "interleaved";
    out.setting = fastest.setting;
    out.batch = ab.batch;
    out.ratioAgainstFasterTorch = fastest.wallRatio.median;
    out.interval95 = fastest.wallRatio.orderStatistic95 ?? fastest.wallRatio.bootstrap95;
  }
  out.target = ACCEPT_ONE_PROCESS;
  out.met = out.ratioAgainstFasterTorch !== null
    ? out.ratioAgainstFasterTorch <= ACCEPT_ONE_PROCESS
    : null;
  out.intervalBelowTarget = out.interval95 ? out.interval95.hi <= ACCEPT_ONE_PROCESS : null;
  return out;
}

function markdown(doc: Row, profiles: Row[]): string {
  const m = doc.machine;
  const L: string[] = [];
  L.push("# Benchmarks");
  L.push("");
  L.push(
    `Generated by \`deno task bench${
      doc.profile === "quick" ? " --quick" : ""
    }\` (bench/run.ts) on ${doc.date.slice(0, 16)} UTC; raw numbers in ` +
      "`results/bench/bench.json`, per-kernel profiles in `results/bench/profiles.json`. Every " +
      "figure is the median of the timed runs listed in the JSON (the first, warm-up run is " +
      "excluded and reported separately where it matters).",
  );
  L.push("");
  L.push("## Machine");
  L.push("");
  L.push(
    "| CPU | cores | memory | OS | Deno | V8 | tfjs | PyTorch | load avg (1 min) start → end |",
  );
  L.push("|---|---|---|---|---|---|---|---|---|");
  L.push(
    `| ${m.cpu} | ${m.cores} | ${m.memoryGB} GB | ${m.os} | ${m.deno} | ${m.v8} | ${m.tfjs} | ` +
      `${m.torch ?? "—"} (Debian python3-torch, CPU) | ${fx(doc.loadavgStart?.[0])} → ${
        fx(doc.loadavgEnd?.[0])
      } |`,
  );
  const webgpu = (doc.model ?? []).find((r: Row) => r.backendInfo?.adapter)?.backendInfo;
  L.push("");
  L.push(
    "Backends: `cpu` (tfjs' plain-JS kernels), `wasm` (tfjs-backend-wasm, SIMD, single-threaded " +
      "in Deno), `webgpu` (tfjs-backend-webgpu on " +
      (webgpu
        ? `adapter ${Object.values(webgpu.adapter).filter(Boolean).join(", ")}${
          webgpu.softwareAdapter
            ? ": a **software** Vulkan rasteriser (lavapipe) — no GPU here, " +
              "so its numbers measure a CPU emulating a GPU and are not representative of WebGPU " +
              "on real hardware"
            : ""
        }`
        : "no adapter in this run") +
      "). The machine is a 2-core VM shared with other processes; the load average " +
      "before each cell is in the JSON (`loadavg1Before`). Load above ~1 slows every figure.",
  );
  L.push("");
  const model: Row[] = doc.model ?? [];
  const table = (rows: Row[], title: string) => {
    L.push(`## ${title}`);
    L.push("");
    L.push(
      "| config | input | backend | batch | s / step | images/s | first step (s) | peak RSS (MB) | tf.memory (MB) | load before | note |",
    );
    L.push("|---|---|---|---|---|---|---|---|---|---|---|");
    for (const r of rows) {
      const note = [
        r.stockMatMul ? "tfjs' own BatchMatMul (unpatched)" : "",
        r.backend === "wasm" && r.patchedMatMul ? "patched BatchMatMul" : "",
        r.backend === "webgpu" && r.backendInfo?.softwareAdapter ? "software adapter" : "",
        r.capped ? "capped by time" : "",
        r.error ? `**failed**: ${String(r.error).slice(0, 120)}` : "",
      ].filter(Boolean).join("; ");
      L.push(
        `| ${r.config} | ${
          r.from === "images" ? "images (extractor + model)" : "cached-feature shapes"
        } | ${r.backend} | ${r.batch} | ${fx(r.medianSeconds, 3)} | ${fx(r.imagesPerSecond, 1)} | ${
          fx(r.firstIterationSeconds, 2)
        } | ${mb(r.peakRssBytes)} | ${mb(r.tfMemory?.numBytes)} | ${
          fx(r.loadavg1Before, 1)
        } | ${note} |`,
      );
    }
    L.push("");
  };
  table(
    model.filter((r) => r.mode === "train"),
    "Training step (forward + loss + backward + Adam)",
  );
  table(model.filter((r) => r.mode === "infer"), "Inference (forward, eval mode)");

  const torch: Row[] = doc.torch ?? [];
  if (torch.length) {
    L.push("## PyTorch reference (bench/torch_grefel.py)");
    L.push("");
    L.push(
      "Same trainable part, layer for layer (parameter count asserted equal to " +
        "`summarizeModel(cfg).trainableParams`), same batch, same step (forward, loss, backward, " +
        "read-back of the five loss/accuracy scalars, Adam), CPU, float32.",
    );
    L.push("");
    L.push(
      "| config | mode | threads | batch | params | s / step | images/s | peak RSS (MB) | load before | tfjs-wasm / torch (cells run minutes apart) |",
    );
    L.push("|---|---|---|---|---|---|---|---|---|---|");
    for (const t of torch) {
      const w = model.find((r) =>
        r.config === t.config && r.backend === "wasm" && r.mode === t.mode &&
        r.from === "features" && !r.stockMatMul && r.medianSeconds
      );
      const ratio = w && t.medianSeconds
        ? (w.medianSeconds / w.batch) / (t.medianSeconds / t.batch)
        : null;
      L.push(
        `| ${t.config} | ${t.mode} | ${t.threads} | ${t.batch} | ${t.trainableParams ?? "—"} | ${
          fx(t.medianSeconds, 3)
        } | ${fx(t.imagesPerSecond, 1)} | ${mb(t.peakRssBytes)} | ${fx(t.loadavg1Before, 1)} | ${
          t.error ? `**failed**: ${String(t.error).slice(0, 100)}` : fx(ratio, 2)
        } |`,
      );
    }
    L.push("");
    L.push(
      "The ratios in this table compare cells measured minutes apart, under different load; " +
        "the interleaved comparison below is the one to read.",
    );
    L.push("");
  }
  if (doc.abTorch) abTorchMarkdown(L, doc.abTorch);
  const a = doc.acceptance;
  if (a && (torch.length || doc.abTorch)) {
    const iv = a.interval95
      ? ` (95% interval ${fx(a.interval95.lo, 2)}–${fx(a.interval95.hi, 2)})`
      : "";
    L.push(
      `Acceptance (${a.config} training step, one wasm process vs the fastest 1-thread PyTorch setting${
        a.method === "interleaved" ? `, ${a.setting}, interleaved` : ", cells run apart"
      }): ratio **${fx(a.ratioAgainstFasterTorch, 2)}**${iv} — ${
        a.met === null
          ? "not measured"
          : a.met
          ? `met (≤ ${a.target ?? ACCEPT_ONE_PROCESS}${
            a.intervalBelowTarget
              ? "; the whole 95% interval is below it"
              : a.intervalBelowTarget === false
              ? "; the 95% interval reaches above it"
              : ""
          })`
          : `**not met** (> ${a.target ?? ACCEPT_ONE_PROCESS}); see below`
      }.`,
    );
    L.push("");
  }

  if (profiles.length) {
    L.push("## Where the time goes: one training step, per kernel (tf.profile)");
    L.push("");
    for (const p of profiles) {
      const total = p.kernelMs || 1;
      L.push(
        `**${p.config} ${p.mode} on ${p.backend}, batch ${p.batch}${
          p.stockMatMul ? ", tfjs' own BatchMatMul" : ""
        }**: ${p.kernels} kernels, kernel time ${fx(p.kernelMs, 0)} ms (wall ${
          fx(p.wallMs, 0)
        } ms with profiling), peak ${mb(p.peakBytes)} MB of tensors.`,
      );
      L.push("");
      L.push("| kernel | count | ms | share |");
      L.push("|---|---|---|---|");
      for (const k of p.byName.slice(0, 10)) {
        L.push(`| ${k.name} | ${k.count} | ${fx(k.ms, 1)} | ${fx((100 * k.ms) / total, 1)}% |`);
      }
      L.push("");
    }
  }

  const ex: Row[] = doc.extractors ?? [];
  if (ex.length) {
    L.push("## Feature extraction (wasm, random images, all six maps read back)");
    L.push("");
    L.push(
      "| extractor | input side | batch | s / batch | images/s | first batch (s) | load (s) | peak RSS (MB) | tf.memory (MB) | load before |",
    );
    L.push("|---|---|---|---|---|---|---|---|---|---|");
    for (const r of ex) {
      L.push(
        `| ${r.extractor} | ${r.inputSize ?? "—"} | ${r.batch} | ${fx(r.medianSeconds, 3)} | ${
          fx(r.imagesPerSecond, 1)
        } | ${fx(r.firstIterationSeconds)} | ${fx(r.loadSeconds)} | ${mb(r.peakRssBytes)} | ${
          mb(r.tfMemory?.numBytes)
        } | ${fx(r.loadavg1Before, 1)} |${r.error ? ` **failed**: ${r.error}` : ""}`,
      );
    }
    L.push("");
  }
  const c = doc.cache;
  if (c) {
    L.push("## FER+ feature-cache build (train split, npm-face-fast, wasm, 2 workers, uint8, 7×7)");
    L.push("");
    if (c.error) L.push(`Not measured: ${c.error}`);
    else if (c.extrapolated) {
      L.push(
        `**Extrapolated** from a ${c.subsetImages}-image build (${fx(c.subsetWallSeconds, 1)} s, ` +
          `${fx(c.imagesPerSecond, 2)} images/s, ${
            fx(c.cpuMsPerImage, 0)
          } ms CPU per image, peak ` +
          `RSS ${mb(c.peakRssBytes)} MB, load ${fx(c.loadavg1Before, 1)}): the full ` +
          `${c.estimatedFullImages} images would take ≈ ${
            fx(c.estimatedFullWallSeconds / 60, 0)
          } min at this rate, ≈ ${
            fx((c.estimatedFullUncontendedSeconds ?? NaN) / 60, 0)
          } min with both cores free (CPU time / 2); ≈ ${
            fx(c.estimatedFullDiskGB, 2)
          } GB on disk. ` +
          `Reading a batch of 64 back from the cache (uint8 → float32 tensors): ${
            fx(c.readMsPerBatch64, 1)
          } ms.`,
      );
    } else {
      L.push(
        `Full build (${c.images} images): ${fx(c.buildWallSeconds / 60, 1)} min, ${
          fx(c.imagesPerSecond, 2)
        } images/s, peak RSS ${mb(c.peakRssBytes)} MB, ${fx(c.diskGB, 2)} GB.`,
      );
    }
    L.push("");
  }
  const ts = doc.tsne;
  if (ts && !ts.error) {
    L.push(
      `## t-SNE time against n (768-d embeddings; ${ts.source}, ${String(ts.date).slice(0, 16)})`,
    );
    L.push("");
    const engines = [...new Set(ts.rows.map((r: Row) => r.engine))] as string[];
    const ns = [...new Set(ts.rows.map((r: Row) => r.n))].sort((a, b) =>
      (a as number) - (b as number)
    ) as number[];
    L.push(`| engine | ${ns.map((n) => `n = ${n}`).join(" | ")} |`);
    L.push(`|---|${ns.map(() => "---").join("|")}|`);
    for (const e of engines) {
      const cell = (n: number) => {
        const r = ts.rows.find((x: Row) => x.engine === e && x.n === n);
        return r ? `${fx(r.medianSeconds, 1)} s (${mb(r.peakRssBytes)} MB)` : "—";
      };
      L.push(`| ${e} | ${ns.map(cell).join(" | ")} |`);
    }
    L.push("");
    L.push(
      `Seconds (peak RSS). Median of ${ts.repeats} run(s) per cell; load average then ${
        (ts.machine?.loadavg ?? []).map((x: number) => fx(x, 1)).join(", ")
      }. Rerun: \`deno run -A bench/tsne.ts --repeats 3\`.`,
    );
    L.push("");
  }
  if (doc.cluster && !doc.cluster.error) {
    L.push(
      `## Cluster scores\n\nDavies–Bouldin + Calinski–Harabasz on ${doc.cluster.n} × ${doc.cluster.dim}: ` +
        `**${
          fx(doc.cluster.medianMilliseconds, 0)
        } ms** (median of ${doc.cluster.milliseconds.length}), ` +
        `peak RSS ${mb(doc.cluster.peakRssBytes)} MB.`,
    );
    L.push("");
  }
  L.push("## Rerun");
  L.push("");
  L.push("```sh");
  L.push("deno task bench            # everything (~20 min on 2 idle cores)");
  L.push("deno task bench --quick    # smaller batches, fewer cells");
  L.push(
    "deno task bench --only model,torch   # sections: model,torch,abtorch,extractors,cache,cluster,tsne",
  );
  L.push("deno task bench --render-only      # this file from the JSON in results/bench, no runs");
  L.push("deno run -A bench/ab_torch.ts --rounds 10 --steps 2   # wasm vs PyTorch, interleaved");
  L.push("deno run -A bench/model_speed.ts --config compact --backend wasm --mode train --profile");
  L.push("/usr/bin/python3 bench/torch_grefel.py --config CFG.json --expect-params N --threads 1");
  L.push("```");
  L.push("");
  const notes = ANALYSIS.trim();
  if (notes) {
    L.push(notes);
    L.push("");
  }
  return L.join("\n");
}

/** A ratio summary's 95% interval, labelled with how it was computed. */
function intervalText(w: Row | undefined): string {
  if (!w || w.median == null) return "—";
  if (w.orderStatistic95) {
    return `${fx(w.orderStatistic95.lo, 2)}–${fx(w.orderStatistic95.hi, 2)} (order statistics, ${
      fx(100 * w.orderStatistic95.coverage, 1)
    }%)`;
  }
  return w.bootstrap95
    ? `${fx(w.bootstrap95.lo, 2)}–${
      fx(w.bootstrap95.hi, 2)
    } (bootstrap: too few rounds for order statistics)`
    : "—";
}

/** The interleaved tfjs-wasm / PyTorch section (bench/ab_torch.ts's document). */
function abTorchMarkdown(L: string[], ab: Row): void {
  L.push("## tfjs-wasm against PyTorch, interleaved (bench/ab_torch.ts)");
  L.push("");
  const env = ab.environment ?? {};
  const blas = (env.blasLibraries ?? []).map((p: string) => p.split("/").slice(-2).join("/"));
  L.push(
    `${ab.config} training step, batch ${ab.batch}, measured ${
      String(ab.date).slice(0, 16)
    } UTC. ` +
      "Each setting is a long-lived step server that built its model once and ran " +
      `${ab.warmup} warm-up step(s); then, for ${ab.rounds} rounds, each server in turn ran ${ab.steps} ` +
      "step(s), the order rotating by one each round, so all settings ran under the same load. " +
      "Per round, ratio = wasm seconds per image / the setting's (median of the round's steps); " +
      "the table gives the median over rounds and its 95% interval. Load average (1, 5, 15 min) " +
      `${(ab.loadavgStart ?? []).map((x: number) => fx(x, 1)).join(", ")} before → ${
        (ab.loadavgEnd ?? []).map((x: number) => fx(x, 1)).join(", ")
      } after. PyTorch ${env.torch ?? "—"}, BLAS ${blas.join(", ") || "—"} (build: ${
        env.blasBuild ?? "—"
      }); \`OMP_NUM_THREADS\` and \`OPENBLAS_NUM_THREADS\` equal the thread count, ` +
      `\`OMP_WAIT_POLICY=${ab.ompWaitPolicy ?? "(unset)"}\`.`,
  );
  L.push("");
  const servers: Row[] = ab.servers ?? [];
  const ref = servers.find((s) => s.name === ab.reference);
  if (ref?.medianSecondsPerImage) {
    L.push(
      `tfjs-wasm (1 thread): **${fx(ref.medianSecondsPerImage * ref.batch, 3)} s/step** (median ` +
        `over rounds; ${fx(1 / ref.medianSecondsPerImage, 1)} images/s).`,
    );
    L.push("");
  }
  const settings: Row[] = ab.settings ?? [];
  if (settings.length) {
    L.push(
      "| PyTorch setting | threads | allocator | tcmalloc mapped | s / step | wasm / setting | 95% interval | rounds | wasm / setting, CPU time |",
    );
    L.push("|---|---|---|---|---|---|---|---|---|");
    for (const t of settings) {
      const sv = servers.find((s) => s.name === t.name);
      L.push(
        `| ${t.name} | ${t.threads} | ${t.allocator ?? "—"} | ${
          sv?.ready?.tcmalloc === undefined ? "—" : sv.ready.tcmalloc ? "yes" : "no"
        } | ${
          fx(t.medianSecondsPerImage == null ? null : t.medianSecondsPerImage * t.batch, 3)
        } | ${fx(t.wallRatio?.median, 2)} | ${intervalText(t.wallRatio)} | ${
          t.wallRatio?.n ?? 0
        } | ${fx(t.cpuRatio?.median, 2)} |${
          t.error ? ` **failed**: ${String(t.error).slice(0, 100)}` : ""
        }`,
      );
    }
    L.push("");
    const f = ab.fastest ?? {};
    const line = (label: string, x: Row | null | undefined) =>
      x
        ? `- ${label}: ${x.setting}, ratio **${fx(x.wallRatio?.median, 2)}**, 95% interval ${
          intervalText(x.wallRatio)
        }`
        : `- ${label}: not measured`;
    L.push(line("Against the fastest PyTorch setting", f.overall));
    L.push(line("Against the fastest 1-thread setting (tfjs-wasm uses one thread)", f.oneThread));
    L.push(line("Against the fastest 2-thread setting", f.twoThreads));
    for (const t of (ab.otherTfjs ?? []) as Row[]) {
      const sec = t.medianSecondsPerImage == null ? null : t.medianSecondsPerImage * t.batch;
      const vs = (t.against ?? []).map((a: Row) =>
        `${a.setting} **${fx(a.wallRatio?.median, 2)}** (${intervalText(a.wallRatio)})`
      ).join("; ");
      L.push(
        `- ${t.name} (one run on ${t.threads} threads, \`train.workers = ${t.threads}\`): ` +
          `${fx(sec, 3)} s/step; ${t.name} / setting: ${vs || "—"}${
            t.error ? `; **failed**: ${String(t.error).slice(0, 100)}` : ""
          }`,
      );
    }
    L.push("");
    L.push(
      "CPU-time ratios use each process's CPU seconds (all its threads), which other load " +
        "inflates less than wall time; a 2-thread setting's CPU time counts both threads.",
    );
    L.push("");
  }
  for (const s of ab.skipped ?? []) L.push(`- Skipped **${s.name}**: ${s.reason}`);
  for (const w of ab.warnings ?? []) L.push(`- Warning: ${w}`);
  if (ab.error) L.push(`- Stopped early: ${ab.error}`);
  if ((ab.skipped ?? []).length || (ab.warnings ?? []).length || ab.error) L.push("");
  const rounds: Row[] = ab.perRound ?? [];
  if (rounds.length) {
    const names = servers.map((s) => s.name);
    L.push(`| round | first | load (1 min) | ${names.map((n) => `${n} s/step`).join(" | ")} |`);
    L.push(`|---|---|---|${names.map(() => "---").join("|")}|`);
    for (const r of rounds) {
      L.push(
        `| ${r.round} | ${r.order[0]} | ${fx(r.loadavg1, 1)} | ${
          names.map((n) => (r.times[n] ? fx(median(r.times[n].wall), 3) : "—")).join(" | ")
        } |`,
      );
    }
    L.push("");
  }
  L.push(
    `Rerun: \`${
      ab.command ?? "deno run -A bench/ab_torch.ts"
    }\` (then \`deno task bench --render-only\`).`,
  );
  L.push("");
}

/**
 * Writes the Markdown from the recorded JSON alone, measuring nothing: `bench.json` and
 * `profiles.json` of the last run plus `ab_torch.json` (bench/ab_torch.ts) when it is there.
 */
export async function renderMarkdown(outDir: string, md: string): Promise<void> {
  const doc = JSON.parse(await Deno.readTextFile(join(outDir, "bench.json")));
  let profiles: Row[] = [];
  try {
    profiles = JSON.parse(await Deno.readTextFile(join(outDir, "profiles.json"))).profiles;
  } catch { /* no profiles recorded */ }
  try {
    doc.abTorch = JSON.parse(await Deno.readTextFile(join(outDir, "ab_torch.json")));
  } catch { /* no interleaved comparison recorded */ }
  doc.acceptance = acceptance(doc);
  await Deno.writeTextFile(md, markdown(doc, profiles));
}

/** Hand-written analysis appended to BENCHMARKS.md (kept in bench/analysis.md). */
let ANALYSIS = "";
try {
  ANALYSIS = Deno.readTextFileSync(join(HERE, "analysis.md"));
} catch { /* optional */ }

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      quick: { type: "boolean", default: false },
      tiny: { type: "boolean", default: false },
      only: { type: "string" },
      "out-dir": { type: "string", default: "results/bench" },
      md: { type: "string", default: "BENCHMARKS.md" },
      "render-only": { type: "boolean", default: false },
    },
  });
  if (values["render-only"]) {
    await renderMarkdown(values["out-dir"]!, values.md!);
    console.log(`wrote ${values.md} from ${values["out-dir"]}`);
    Deno.exit(0);
  }
  await runBench({
    quick: values.quick,
    tiny: values.tiny,
    only: values.only?.split(",").map((s) => s.trim()).filter(Boolean),
    outDir: values["out-dir"]!,
    md: values.md === "" ? null : values.md!,
    log: (s) => console.log(s),
  });
  void median;
}
