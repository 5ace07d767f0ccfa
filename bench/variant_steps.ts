/**
 * Training-step and inference time of every variant of an experiment, on this machine, interleaved:
 * each round times every variant once (a fresh bench/model_speed.ts process per cell and mode, one
 * thread), in an order rotated from round to round, so that a drift of the machine's load spreads
 * over all variants alike. The notebooks turn an experiment's step and validation counts into
 * one-core hours with these times (lib/notebook/size_study.ts).
 *
 * Usage (writes the JSON to --out and prints a summary):
 *   deno run -A bench/variant_steps.ts --experiment size [--variant V]... [--rounds 3]
 *     [--batch 64] [--warmup 2] [--steps 10] [--backend wasm] [--preset NAME]
 *     [--out results/bench/size_steps.json]
 *
 * Each cell is the trainer's step from cached-feature shapes (bench/model_speed.ts `--mode train
 * --from features`) with the variant's resolved model config, and the eval-mode forward of a batch
 * of the same size (`--mode infer`, what validation runs per batch). The result per variant is the
 * median over rounds of each round's median.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadExperiment, variantConfig } from "../lib/train/experiments.ts";
import { machineInfo, runChild } from "./run.ts";
import { median, type ModelSpeedResult } from "./model_speed.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

/** Options of {@linkcode variantSteps}. */
export interface VariantStepsOptions {
  /** Experiment name (experiments/NAME.json). */
  experiment: string;
  /** Variants to time (default: all of the experiment's). */
  variants?: string[];
  /** Rounds (default 3). */
  rounds?: number;
  /** Batch size (default 64, the trainer's). */
  batch?: number;
  /** Untimed warm-up steps per cell (default 2). */
  warmup?: number;
  /** Timed steps per cell (default 10). */
  steps?: number;
  /** Backend (default wasm). */
  backend?: string;
  /** Preset instead of the experiment's (tests use `tiny`). */
  preset?: string;
  /** Seconds before a cell is killed (default 600). */
  timeoutSeconds?: number;
  /** Progress lines (default none). */
  log?: (line: string) => void;
}

/** One variant's times. */
export interface VariantStepTimes {
  /** Each round's median seconds per training step, in round order. */
  rounds: number[];
  /** Median over the rounds: seconds per training step. */
  seconds: number;
  /** Each round's median seconds per inference batch, in round order. */
  inferRounds: number[];
  /** Median over the rounds: seconds per inference (validation) batch. */
  inferSeconds: number;
  /** Trainable parameters of the variant's model. */
  trainableParams: number;
}

/** What {@linkcode variantSteps} measured. */
export interface VariantStepsResult {
  /** Experiment name. */
  experiment: string;
  /** The machine (bench/run.ts machineInfo). */
  machine: Record<string, unknown>;
  /** The options of the cells. */
  cell: { batch: number; warmup: number; steps: number; backend: string; preset: string };
  /** When the measurement finished. */
  finishedAt: string;
  /** Per variant. */
  variants: Record<string, VariantStepTimes>;
}

/** Times every variant's training step, interleaved over rounds (see the module doc). */
export async function variantSteps(o: VariantStepsOptions): Promise<VariantStepsResult> {
  const exp = loadExperiment(o.experiment);
  const names = o.variants?.length ? o.variants : [...exp.variants.keys()];
  const rounds = o.rounds ?? 3, batch = o.batch ?? 64, warmup = o.warmup ?? 2;
  const steps = o.steps ?? 10, backend = o.backend ?? "wasm", preset = o.preset ?? exp.preset;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds: ${rounds}, expected ≥ 1`);
  const models = new Map(names.map((v) => [v, variantConfig(exp, v, { preset }).model]));
  const times = new Map<string, { rounds: number[]; infer: number[]; params: number }>(
    names.map((v) => [v, { rounds: [], infer: [], params: 0 }]),
  );
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const v = names[(k + round) % names.length];
      const t = times.get(v)!;
      for (const mode of ["train", "infer"] as const) {
        const args = [
          "run",
          "-A",
          join(HERE, "model_speed.ts"),
          ...["--config", preset, "--backend", backend, "--mode", mode, "--from", "features"],
          ...["--batch", String(batch), "--warmup", String(warmup), "--steps", String(steps)],
          ...["--max-seconds", "600", "--set", `model=${JSON.stringify(models.get(v))}`],
        ];
        const r = await runChild(Deno.execPath(), args, o.timeoutSeconds ?? 600);
        if (!r.ok) throw new Error(`variant ${v}, ${mode}, round ${round + 1}: ${r.error}`);
        const value = r.value as ModelSpeedResult;
        (mode === "train" ? t.rounds : t.infer).push(value.medianSeconds);
        t.params = value.trainableParams;
        o.log?.(`round ${round + 1} ${v} ${mode}: ${value.medianSeconds.toFixed(3)} s`);
      }
    }
  }
  return {
    experiment: exp.name,
    machine: await machineInfo(),
    cell: { batch, warmup, steps, backend, preset },
    finishedAt: new Date().toISOString(),
    variants: Object.fromEntries(
      names.map((v) => {
        const t = times.get(v)!;
        return [v, {
          rounds: t.rounds,
          seconds: median(t.rounds),
          inferRounds: t.infer,
          inferSeconds: median(t.infer),
          trainableParams: t.params,
        }];
      }),
    ),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      experiment: { type: "string" },
      variant: { type: "string", multiple: true },
      rounds: { type: "string", default: "3" },
      batch: { type: "string", default: "64" },
      warmup: { type: "string", default: "2" },
      steps: { type: "string", default: "10" },
      backend: { type: "string", default: "wasm" },
      preset: { type: "string" },
      out: { type: "string" },
    },
  });
  if (!values.experiment) throw new Error("--experiment NAME is required");
  const r = await variantSteps({
    experiment: values.experiment,
    variants: values.variant,
    rounds: Number(values.rounds),
    batch: Number(values.batch),
    warmup: Number(values.warmup),
    steps: Number(values.steps),
    backend: values.backend,
    preset: values.preset,
    log: (l) => console.error(l),
  });
  const out = values.out ?? join(HERE, "..", "results", "bench", `${r.experiment}_steps.json`);
  await Deno.writeTextFile(out, JSON.stringify(r, null, 2) + "\n");
  for (const [v, t] of Object.entries(r.variants)) {
    console.log(
      `${v}: ${t.seconds.toFixed(3)} s/step (rounds ${t.rounds.map((s) => s.toFixed(3))})`,
    );
  }
  console.log(`wrote ${out}`);
}
