/**
 * `grefel train`: trains one run (a preset or config file, or one variant of an experiment) into
 * `<resultsDir>/<experiment>/<run-id>/`; a finished run is skipped, an interrupted one resumed.
 * @module
 */
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import type { GrefelConfig } from "../../lib/config.ts";
import { mergeConfig } from "../../lib/config.ts";
import {
  configFrom,
  loadExperiment,
  parseSets,
  variantConfig,
} from "../../lib/train/experiments.ts";
import { runTraining } from "../../lib/train/session.ts";

const HELP = `usage: deno task grefel train [options]

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

/** Options shared by `train` and `sweep` that shape the config. */
export const CONFIG_OPTIONS = {
  config: { type: "string" },
  seed: { type: "string" },
  set: { type: "string", multiple: true },
  data: { type: "string" },
  "data-root": { type: "string" },
  results: { type: "string" },
  progress: { type: "string" },
} as const;

/**
 * Turns the config-shaping flags into overrides (applied after the preset/variant). Paths
 * (`--data-root`, `--results`, and `data.root` / `train.resultsDir` given with `--set`) are made
 * absolute against the caller's directory ({@linkcode cliPath}).
 */
export function flagOverrides(values: {
  set?: string[];
  data?: string;
  "data-root"?: string;
  results?: string;
  progress?: string;
}): Record<string, unknown> {
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

/** The `train` command. */
export const trainCommand: Command = {
  name: "train",
  summary: "train one run (preset, config file or experiment variant); resumes or skips",
  async run(args: string[]): Promise<number> {
    const { values } = parseCommandArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        experiment: { type: "string" },
        variant: { type: "string" },
        backend: { type: "string" },
        "no-figures": { type: "boolean", default: false },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const overrides = flagOverrides(values);
    const seed = parseSeed(values.seed);
    let config: GrefelConfig;
    const meta: Record<string, unknown> = { command: ["train", ...args] };
    if (values.experiment) {
      const exp = loadExperiment(values.experiment);
      if (!values.variant) {
        console.error(
          `train: --experiment needs --variant (one of: ${[...exp.variants.keys()].join(", ")})`,
        );
        return 2;
      }
      config = variantConfig(exp, values.variant, {
        preset: configArg(values.config),
        overrides,
        seed,
      });
      Object.assign(meta, { experiment: exp.name, variant: values.variant });
    } else {
      if (values.variant) {
        console.error("train: --variant needs --experiment");
        return 2;
      }
      config = configFrom(
        configArg(values.config) ?? "compact",
        seed === undefined ? overrides : mergeConfig(overrides, { seed }),
      );
    }
    const r = await runTraining(config, {
      backend: values.backend,
      meta,
      force: values.force,
      figures: !values["no-figures"],
    });
    const m = r.metrics as {
      accuracy?: number;
      primaryAccuracy?: number;
      evaluation?: { corrected?: { macroF1?: number } };
    };
    console.log(
      `${r.status} ${r.dir}: ${r.epochs} epochs, test accuracy ${fmt(m.accuracy)} ` +
        `(primary ${fmt(m.primaryAccuracy)}), macro-F1 ${fmt(m.evaluation?.corrected?.macroF1)}`,
    );
    for (const f of r.figures) console.log(`  ${f}`);
    return 0;
  },
};

function fmt(x: number | undefined): string {
  return typeof x === "number" ? x.toFixed(4) : "n/a";
}
