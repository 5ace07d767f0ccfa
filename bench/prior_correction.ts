/**
 * Does the class-prior correction that lifts the linear probes (lib/eval/probe.ts `priorCorrect`)
 * also lift trained GReFEL runs? (Not a test.)
 *
 * The runs train on class-balanced epochs, so their outputs estimate a posterior under a uniform
 * class prior, while FER+'s test split follows the natural, skewed one. The correction replaces
 * the uniform prior by the training split's class frequencies (no test label is used):
 * log p'(y) = log p(y) + log π_train(y) − log(1/C), applied to L_final and to the primary head's
 * distribution from each finished run's predictions.csv. Per cell (experiment variant), the paired
 * difference corrected − plain over its seeds and the test images (`pairedDifference`, the
 * two-level bootstrap of lib/eval/paired.ts) says whether the correction helps.
 *
 *   deno run -A bench/prior_correction.ts [--data-root ../shared/data/ferplus]
 *     [--experiments rb-dynamics,table2-rb] [--out results/bench/prior_correction.json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadFerPlus } from "../lib/data/ferplus.ts";
import { classPrior, priorCorrect } from "../lib/eval/probe.ts";
import { formatDifference, pairedDifference, verdict } from "../lib/eval/paired.ts";
import { configHash } from "../lib/train/run.ts";

/** Per-image correctness of one run, plain and prior-corrected, for both heads. */
interface RunCorrectness {
  dir: string;
  seed: number;
  final: Uint8Array;
  finalCorrected: Uint8Array;
  primary: Uint8Array;
  primaryCorrected: Uint8Array;
}

/** Reads one run's predictions.csv and scores it plain and corrected by `prior`. */
async function scoreRun(dir: string, prior: Float64Array): Promise<Omit<RunCorrectness, "seed">> {
  const C = prior.length;
  const uniform = new Float64Array(C).fill(1 / C);
  const rows = (await Deno.readTextFile(join(dir, "predictions.csv"))).trim().split("\n").slice(1);
  const n = rows.length;
  const out = {
    dir,
    final: new Uint8Array(n),
    finalCorrected: new Uint8Array(n),
    primary: new Uint8Array(n),
    primaryCorrected: new Uint8Array(n),
  };
  const argmax = (v: ArrayLike<number>) => {
    let best = 0;
    for (let k = 1; k < v.length; k++) if (v[k] > v[best]) best = k;
    return best;
  };
  rows.forEach((line, i) => {
    const f = line.split(",");
    const y = Number(f[1]);
    for (const [head, at] of [["primary", 4], ["final", 4 + C]] as const) {
      const p = f.slice(at, at + C).map(Number);
      if (p.length !== C || !p.every(Number.isFinite)) {
        throw new Error(`${dir}/predictions.csv row ${i + 2}: ${head} is not ${C} numbers`);
      }
      const logp = Float32Array.from(p, (x) => Math.log(Math.max(x, 1e-12)));
      out[head][i] = argmax(p) === y ? 1 : 0;
      out[`${head}Corrected`][i] = argmax(priorCorrect(logp, C, uniform, prior)) === y ? 1 : 0;
    }
  });
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "data-root": {
        type: "string",
        default: Deno.env.get("GREFEL_FERPLUS") ?? "../shared/data/ferplus",
      },
      experiments: { type: "string", default: "rb-dynamics,table2-rb" },
      out: { type: "string", default: "results/bench/prior_correction.json" },
    },
  });
  const ds = await loadFerPlus(values["data-root"]);
  const train = ds.samples.filter((s) => s.split === "train");
  const prior = classPrior(Int32Array.from(train.map((s) => s.label)), ds.classNames.length);
  const cells = new Map<string, RunCorrectness[]>();
  for (const exp of values.experiments!.split(",")) {
    for await (const e of Deno.readDir(join("results", exp))) {
      const dir = join("results", exp, e.name);
      if (!e.isDirectory) continue;
      try {
        await Deno.stat(join(dir, "metrics.json"));
        await Deno.stat(join(dir, "predictions.csv"));
      } catch {
        continue; // unfinished
      }
      const cfg = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
      if (cfg.config?.data?.dataset !== "ferplus") continue;
      // A cell is one configuration up to its seed (a variant name alone can cover runs of other
      // protocols, e.g. short runs recorded before the converged ones).
      const protocol = configHash({ ...cfg.config, seed: 0 }).slice(0, 8);
      const key = `${exp}: ${cfg.variant ?? "(no variant)"} [${protocol}]`;
      const runs = cells.get(key) ?? [];
      runs.push({ ...(await scoreRun(dir, prior)), seed: cfg.seed });
      cells.set(key, runs);
    }
  }
  const report = [];
  for (const [cell, runs] of [...cells].sort()) {
    runs.sort((a, b) => a.seed - b.seed);
    const row: Record<string, unknown> = { cell, seeds: runs.map((r) => r.seed) };
    for (const head of ["final", "primary"] as const) {
      const d = pairedDifference(
        runs.map((r) => r[`${head}Corrected`]),
        runs.map((r) => r[head]),
        { seed: 0 },
      );
      row[head] = { ...d, verdict: verdict(d) };
      console.log(`${cell} (${runs.length} seeds) ${head}: ${formatDifference(d, verdict(d))}`);
    }
    report.push(row);
  }
  await Deno.writeTextFile(
    values.out!,
    JSON.stringify({ prior: Array.from(prior), classes: ds.classNames, cells: report }, null, 2) +
      "\n",
  );
  console.log(`wrote ${values.out}`);
}
