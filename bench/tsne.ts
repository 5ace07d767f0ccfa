/**
 * Benchmark (not a test): t-SNE time against the number of points for each engine, embedding
 * quality on a small clustered set where the exact engine is feasible, and Davies–Bouldin /
 * Calinski–Harabasz time for 10,000 × 768 embeddings. Writes
 * `results/bench/tsne.json` and prints a table.
 *
 * Usage:
 *   deno run -A bench/tsne.ts [--sizes 500,1000,2000,5000,10000] [--tsnejs-sizes 100,300,500]
 *     [--dim 768] [--repeats 3] [--quality-n 300] [--iterations 1000] [--out results/bench/tsne.json]
 *
 * Data: seeded synthetic embeddings, 10 Gaussian clusters in `dim` dimensions (unit noise around
 * centres drawn from N(0, 0.5²) per coordinate, so clusters overlap partly, like real embeddings).
 * Each timing runs in its own child process (`--single`), so its peak RSS (Linux VmHWM) is its own.
 * The default engine rule: the faster engine at the largest size both ran, unless its
 * trustworthiness on the quality set is more than 0.01 below the other's.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { seededNormal } from "../lib/eval/random.ts";
import { clusterScores } from "../lib/eval/cluster.ts";
import { knnLabelAgreement, knnPreservation, trustworthiness } from "../lib/eval/neighbors.ts";
import { getTsneEngine, TSNE_ENGINES } from "../lib/eval/tsne.ts";

/** Seeded clustered data: `[n, dim]` Float32 and labels. */
export function clusteredData(
  n: number,
  dim: number,
  clusters = 10,
  seed = 42,
): { x: Float32Array; labels: Int32Array } {
  const r = seededNormal(seed);
  const centers = new Float64Array(clusters * dim);
  for (let i = 0; i < centers.length; i++) centers[i] = 0.5 * r();
  const x = new Float32Array(n * dim), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    labels[i] = c;
    for (let d = 0; d < dim; d++) x[i * dim + d] = centers[c * dim + d] + r();
  }
  return { x, labels };
}

function peakRssMB(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+)\s+kB/);
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 2 ** 20;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One timed run in this process; returns seconds, peak RSS and kNN label agreement. */
async function single(
  engine: string,
  n: number,
  dim: number,
  iterations: number,
  quality: boolean,
) {
  const { x, labels } = clusteredData(n, dim);
  const t = performance.now();
  const y = await getTsneEngine(engine).run(x, n, dim, { seed: 0, iterations });
  const seconds = (performance.now() - t) / 1000;
  const out: Record<string, number> = {
    seconds,
    peakRssMB: peakRssMB(),
    knnLabelAgreement: knnLabelAgreement(y, 2, labels, 10),
  };
  if (quality) {
    out.trustworthiness = trustworthiness(x, dim, y, 2, 10);
    out.knnPreservation = knnPreservation(x, dim, y, 2, 10);
  }
  return out;
}

async function child(
  engine: string,
  n: number,
  dim: number,
  iterations: number,
  quality: boolean,
): Promise<Record<string, number>> {
  const args = ["run", "-A", new URL(import.meta.url).pathname, "--single", engine, "--n", `${n}`];
  args.push("--dim", `${dim}`, "--iterations", `${iterations}`);
  if (quality) args.push("--quality");
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  if (out.code !== 0) {
    throw new Error(`${engine} n=${n} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

/** Options of {@linkcode runBench}. */
export interface BenchOptions {
  /** Sizes for the Barnes–Hut engine. */
  sizes: number[];
  /** Sizes for tsne-js (exact, O(N²)). */
  tsnejsSizes: number[];
  /** Embedding dimension. */
  dim: number;
  /** Timed runs per (engine, size); the median is reported. */
  repeats: number;
  /** Size of the quality set (both engines). */
  qualityN: number;
  /** t-SNE iterations. */
  iterations: number;
  /** Points for the cluster-score timing (10,000 in the issue). */
  clusterN: number;
  /** Output JSON path. */
  out: string;
  /** Print progress. */
  log?: (s: string) => void;
}

/** Runs the benchmark and writes the JSON; returns the document. */
export async function runBench(o: BenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const timings: {
    engine: string;
    n: number;
    dim: number;
    seconds: number[];
    medianSeconds: number;
    peakRssMB: number;
    knnLabelAgreement: number;
  }[] = [];
  const plan: [string, number[]][] = [["barnes-hut", o.sizes], ["tsne-js", o.tsnejsSizes]];
  for (const [engine, sizes] of plan) {
    for (const n of sizes) {
      const runs = [];
      for (let r = 0; r < o.repeats; r++) {
        runs.push(await child(engine, n, o.dim, o.iterations, false));
      }
      const row = {
        engine,
        n,
        dim: o.dim,
        seconds: runs.map((x) => x.seconds),
        medianSeconds: median(runs.map((x) => x.seconds)),
        peakRssMB: Math.max(...runs.map((x) => x.peakRssMB)),
        knnLabelAgreement: runs[0].knnLabelAgreement,
      };
      log(
        `${engine.padEnd(10)} n=${`${n}`.padStart(6)}  ${row.medianSeconds.toFixed(2)} s  ` +
          `peak ${row.peakRssMB.toFixed(0)} MB  kNN-label ${row.knnLabelAgreement.toFixed(3)}`,
      );
      timings.push(row);
    }
  }
  const quality: ({ engine: string; n: number; dim: number } & Record<string, number>)[] = [];
  for (const engine of Object.keys(TSNE_ENGINES)) {
    const q = await child(engine, o.qualityN, o.dim, o.iterations, true);
    quality.push({ ...q, engine, n: o.qualityN, dim: o.dim } as (typeof quality)[number]);
    log(
      `quality ${engine.padEnd(10)} n=${o.qualityN}: T(10) ${q.trustworthiness.toFixed(4)}  ` +
        `kNN-pres ${q.knnPreservation.toFixed(3)}  kNN-label ${q.knnLabelAgreement.toFixed(3)}`,
    );
  }
  // Cluster scores on clusterN × dim.
  const { x, labels } = clusteredData(o.clusterN, o.dim);
  const ms = [];
  for (let r = 0; r < Math.max(3, o.repeats); r++) {
    const t = performance.now();
    clusterScores(x, labels, o.dim);
    ms.push(performance.now() - t);
  }
  log(`cluster scores ${o.clusterN} × ${o.dim}: ${median(ms).toFixed(0)} ms`);
  // Default engine by the rule in the module doc.
  const both = o.sizes.filter((n) => o.tsnejsSizes.includes(n));
  const at = both.length ? Math.max(...both) : NaN;
  const t = (e: string) => timings.find((r) => r.engine === e && r.n === at)?.medianSeconds ?? NaN;
  const tw = (e: string) => quality.find((q) => q.engine === e)?.trustworthiness ?? NaN;
  let fastest = Number.isNaN(at)
    ? "barnes-hut"
    : (t("barnes-hut") <= t("tsne-js") ? "barnes-hut" : "tsne-js");
  const other = fastest === "barnes-hut" ? "tsne-js" : "barnes-hut";
  if (tw(fastest) < tw(other) - 0.01) fastest = other;
  const doc = {
    benchmark: "tsne",
    date: new Date().toISOString(),
    machine: {
      cpu: (() => {
        try {
          return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1];
        } catch {
          return undefined;
        }
      })(),
      cores: navigator.hardwareConcurrency,
      os: `${Deno.build.os} ${Deno.build.arch}`,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      loadavg: Deno.loadavg(),
    },
    config: { ...o, log: undefined },
    tsne: timings,
    quality,
    clusterScores: { n: o.clusterN, dim: o.dim, milliseconds: ms, medianMilliseconds: median(ms) },
    defaultEngine: {
      chosen: fastest,
      comparedAtN: at,
      rule: "faster at the largest common size unless trustworthiness is > 0.01 lower",
    },
  };
  await Deno.mkdir(dirname(o.out), { recursive: true });
  await Deno.writeTextFile(o.out, JSON.stringify(doc, null, 2) + "\n");
  log(`default engine by measurement: ${fastest}; wrote ${o.out}`);
  return doc;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      single: { type: "string" },
      n: { type: "string" },
      quality: { type: "boolean", default: false },
      sizes: { type: "string", default: "500,1000,2000,5000,10000" },
      "tsnejs-sizes": { type: "string", default: "100,300,500" },
      dim: { type: "string", default: "768" },
      repeats: { type: "string", default: "3" },
      "quality-n": { type: "string", default: "300" },
      iterations: { type: "string", default: "1000" },
      "cluster-n": { type: "string", default: "10000" },
      out: { type: "string", default: "results/bench/tsne.json" },
    },
  });
  const nums = (s: string) => s.split(",").filter(Boolean).map(Number);
  if (values.single) {
    const r = await single(
      values.single,
      Number(values.n),
      Number(values.dim),
      Number(values.iterations),
      values.quality,
    );
    console.log(JSON.stringify(r));
  } else {
    await runBench({
      sizes: nums(values.sizes),
      tsnejsSizes: nums(values["tsnejs-sizes"]),
      dim: Number(values.dim),
      repeats: Number(values.repeats),
      qualityN: Number(values["quality-n"]),
      iterations: Number(values.iterations),
      clusterN: Number(values["cluster-n"]),
      out: values.out,
      log: console.log,
    });
  }
}
