/**
 * One run's entry point: the `train` flags (a preset or config file, or one variant of an
 * experiment) turned into a config, trained by {@linkcode runTraining} into
 * `<resultsDir>/<experiment>/<run-id>/`. `grefel train` calls {@linkcode trainFromArgs} in-process;
 * a sweep starts this module as a child process ({@linkcode TRAIN_ENTRY}) with the same flags:
 *
 * ```sh
 * deno run -A lib/train/main.ts --experiment table2-rb --variant both --seed 1 --progress lines
 * ```
 *
 * Also the config-shaping flags every command that builds a config shares
 * ({@linkcode CONFIG_OPTIONS}, {@linkcode flagOverrides}, {@linkcode configArg},
 * {@linkcode parseSeed}).
 * @module
 */
import { fileURLToPath } from "node:url";
import { cliPath, failureExitCode, parseCommandArgs } from "../args.ts";
import { ensureRuntimeDir } from "../backend.ts";
import { releaseLocksOnSignal } from "../lock.ts";
import { type GrefelConfig, mergeConfig } from "../config.ts";
import { configFrom, loadExperiment, parseSets, variantConfig } from "./experiments.ts";
import { runTraining } from "./session.ts";

/** Path of this module: what a sweep runs as a child process, one run per child. */
export const TRAIN_ENTRY: string = fileURLToPath(import.meta.url);

/** The `train` flags' help text. */
export const TRAIN_HELP = `usage: deno task grefel train [options]

Trains one run into <resultsDir>/<experiment>/<run-id>/ (config.json, log.jsonl, checkpoints,
metrics.json, predictions.csv, embeddings.csv, figures/). Started again, a finished run is skipped
and an interrupted one resumes from checkpoints/last.

options:
  --config NAME|FILE    preset (paper, compact, tiny) or a JSON partial config (default compact)
  --experiment NAME     an experiment of experiments/ (with --variant)
  --variant V           the experiment's variant
  --seed N              seed
  --set PATH=VALUE      override a config field (repeatable), e.g. --set model.rb.anchorsPerClass=4
  --data KIND           data set (synthetic, ferplus, ...); sets data.dataset
  --data-root PATH      data-set root; sets data.root (FER+: or GREFEL_FERPLUS)
  --backend NAME        webgpu, wasm or cpu (default: train.backend, then automatic)
  --results DIR         results directory (train.resultsDir)
  --progress MODE       auto, bar, lines or off
  --no-figures          skip the confusion-matrix and t-SNE figures
  --force               retrain from scratch, deleting the run directory
  -h, --help            this help`;

/** Options shared by `train` and `sweep` (and other commands) that shape the config. */
export const CONFIG_OPTIONS = {
  config: { type: "string" },
  seed: { type: "string" },
  set: { type: "string", multiple: true },
  data: { type: "string" },
  "data-root": { type: "string" },
  results: { type: "string" },
  progress: { type: "string" },
} as const;

/** The `train` flags: {@linkcode CONFIG_OPTIONS} and the run's own. */
export const TRAIN_OPTIONS = {
  ...CONFIG_OPTIONS,
  experiment: { type: "string" },
  variant: { type: "string" },
  backend: { type: "string" },
  "no-figures": { type: "boolean", default: false },
  force: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The config-shaping flag values {@linkcode flagOverrides} reads. */
export interface ConfigFlagValues {
  /** `--set PATH=VALUE`, repeated. */
  set?: string[];
  /** `--data KIND`. */
  data?: string;
  /** `--data-root PATH`. */
  "data-root"?: string;
  /** `--results DIR`. */
  results?: string;
  /** `--progress MODE`. */
  progress?: string;
}

/**
 * Turns the config-shaping flags into overrides (applied after the preset/variant). Paths
 * (`--data-root`, `--results`, and `data.root` / `train.resultsDir` given with `--set`) are made
 * absolute against the caller's directory ({@linkcode cliPath}).
 */
export function flagOverrides(values: ConfigFlagValues): Record<string, unknown> {
  let o = parseSets(values.set ?? []);
  const d = o.data as Record<string, unknown> | undefined;
  if (typeof d?.root === "string" && d.root) d.root = cliPath(d.root);
  const t = o.train as Record<string, unknown> | undefined;
  if (typeof t?.resultsDir === "string" && t.resultsDir) t.resultsDir = cliPath(t.resultsDir);
  if (values.data !== undefined) o = mergeConfig(o, { data: { dataset: values.data } });
  if (values["data-root"] !== undefined) {
    o = mergeConfig(o, { data: { root: cliPath(values["data-root"]) } });
  }
  if (values.results !== undefined) {
    o = mergeConfig(o, { train: { resultsDir: cliPath(values.results) } });
  }
  if (values.progress !== undefined) o = mergeConfig(o, { train: { progress: values.progress } });
  return o;
}

/** `--config NAME|FILE`: a preset name as given, a `.json` file relative to the caller's directory. */
export function configArg(value: string | undefined): string | undefined {
  return value?.endsWith(".json") ? cliPath(value) : value;
}

/** Parses `--seed`. @throws Error naming a value that is not a non-negative integer. */
export function parseSeed(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`--seed ${s}: expected a non-negative integer`);
  }
  return n;
}

/** The `train` flag values {@linkcode trainConfig} reads. */
export interface TrainFlagValues extends ConfigFlagValues {
  /** `--config NAME|FILE`. */
  config?: string;
  /** `--seed N`. */
  seed?: string;
  /** `--experiment NAME`. */
  experiment?: string;
  /** `--variant V`. */
  variant?: string;
}

/**
 * The config the `train` flags describe, and what config.json records about how it was asked for
 * (`command`: `["train", ...args]`; `experiment` and `variant` for a variant of an experiment).
 * Resolves to a message instead when the flags do not name one run (a usage error, exit code 2).
 * @throws ConfigError naming an unknown experiment, variant, preset or key.
 */
export function trainConfig(
  values: TrainFlagValues,
  args: readonly string[],
): { config: GrefelConfig; meta: Record<string, unknown> } | { usage: string } {
  const overrides = flagOverrides(values);
  const seed = parseSeed(values.seed);
  const meta: Record<string, unknown> = { command: ["train", ...args] };
  if (values.experiment) {
    const exp = loadExperiment(values.experiment);
    if (!values.variant) {
      return {
        usage: `--experiment needs --variant (one of: ${[...exp.variants.keys()].join(", ")})`,
      };
    }
    const config = variantConfig(exp, values.variant, {
      preset: configArg(values.config),
      overrides,
      seed,
    });
    return { config, meta: { ...meta, experiment: exp.name, variant: values.variant } };
  }
  if (values.variant) return { usage: "--variant needs --experiment" };
  const config = configFrom(
    configArg(values.config) ?? "compact",
    seed === undefined ? overrides : mergeConfig(overrides, { seed }),
  );
  return { config, meta };
}

/**
 * Trains the run the `train` flags `args` describe (see {@linkcode TRAIN_HELP}) and prints one
 * line on how it ended, then the figures written; resolves to the exit code (2: the flags do not
 * name one run).
 * @throws Error from the flags, the config or training.
 */
export async function trainFromArgs(args: string[]): Promise<number> {
  const { values } = parseCommandArgs({ args, options: TRAIN_OPTIONS });
  if (values.help) {
    console.log(TRAIN_HELP);
    return 0;
  }
  const asked = trainConfig(values, args);
  if ("usage" in asked) {
    console.error(`train: ${asked.usage}`);
    return 2;
  }
  const r = await runTraining(asked.config, {
    backend: values.backend,
    meta: asked.meta,
    force: values.force,
    figures: !values["no-figures"],
  });
  const m = r.metrics as {
    accuracy?: number;
    primaryAccuracy?: number;
    evaluation?: { final?: { macroF1?: number } };
  };
  console.log(
    `${r.status} ${r.dir}: ${r.epochs} epochs, test accuracy ${fmt(m.accuracy)} ` +
      `(primary ${fmt(m.primaryAccuracy)}), macro-F1 ${fmt(m.evaluation?.final?.macroF1)}`,
  );
  for (const f of r.figures) console.log(`  ${f}`);
  return 0;
}

function fmt(x: number | undefined): string {
  return typeof x === "number" ? x.toFixed(4) : "n/a";
}

/**
 * The child-process entry: {@linkcode trainFromArgs} with the CLI's runtime directory and error
 * reporting (`grefel train: <message>`, exit code 1, 2 for a usage error, 75 when another process
 * holds the run's or its cache's lock: `LOCK_HELD_EXIT` of lib/args.ts).
 */
export async function trainMain(args: string[]): Promise<number> {
  ensureRuntimeDir();
  // A sweep stops its children with SIGTERM: the run's lock goes with the process.
  const removeListeners = releaseLocksOnSignal();
  try {
    return await trainFromArgs(args);
  } catch (e) {
    return failureExitCode("train", e);
  } finally {
    removeListeners();
  }
}

if (import.meta.main) Deno.exit(await trainMain(Deno.args));
