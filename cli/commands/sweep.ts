/**
 * `grefel sweep --experiment NAME`: every variant × seed of an experiment, as parallel child
 * processes; finished runs are skipped and interrupted ones resumed.
 * @module
 */
import { parseArgs } from "node:util";
import type { Command } from "../command.ts";
import { loadExperiment } from "../../lib/train/experiments.ts";
import { childLauncher, planSweep, runSweep } from "../../lib/train/sweep.ts";
import { CONFIG_OPTIONS, flagOverrides, parseSeed } from "./train.ts";

const HELP = `usage: deno task grefel sweep --experiment NAME [options]

Runs every variant of experiments/NAME.json for each seed, PARALLEL child processes at a time
(wasm uses one core per process). Started again, finished runs are skipped and interrupted ones
resume from their last checkpoint. Each run's output goes to its directory's train.log.

options:
  --experiment NAME     experiment (file name in experiments/ without .json)
  --variant V           only this variant (repeatable)
  --seeds N             seeds per variant (default: the experiment's, usually 1)
  --parallel N          child processes at once (default train.parallel = 2)
  --config NAME|FILE    preset instead of the experiment's
  --set PATH=VALUE      override a config field in every run (repeatable)
  --data KIND, --data-root PATH, --results DIR, --seed N   as for train
  --backend NAME        backend of the child processes
  --dry-run             list the runs and their status, run nothing
  -h, --help            this help`;

/** The `sweep` command. */
export const sweepCommand: Command = {
  name: "sweep",
  summary: "run an experiment's variants × seeds in parallel processes (skips/resumes)",
  async run(args: string[]): Promise<number> {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        ...CONFIG_OPTIONS,
        experiment: { type: "string" },
        variant: { type: "string", multiple: true },
        seeds: { type: "string" },
        parallel: { type: "string" },
        backend: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.experiment) {
      console.error(`sweep: --experiment is required\n\n${HELP}`);
      return 2;
    }
    const exp = loadExperiment(values.experiment);
    const posInt = (s: string | undefined, flag: string) => {
      if (s === undefined) return undefined;
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${s}: expected an integer ≥ 1`);
      return n;
    };
    const seed = parseSeed(values.seed);
    let overrides = flagOverrides(values);
    if (seed !== undefined) overrides = { ...overrides, seed };
    const plan = await planSweep(exp, {
      seeds: posInt(values.seeds, "--seeds"),
      preset: values.config,
      overrides,
      variants: values.variant,
    });
    const parallel = posInt(values.parallel, "--parallel") ?? plan[0]?.config.train.parallel ?? 2;
    const counts = { finished: 0, partial: 0, new: 0 };
    for (const r of plan) if (!r.sameAs) counts[r.status]++;
    console.log(
      `${exp.name}: ${plan.length} runs (${counts.finished} finished, ${counts.partial} ` +
        `interrupted, ${counts.new} new${
          plan.some((r) => r.sameAs) ? ", duplicates shared" : ""
        })` +
        `, ${parallel} in parallel`,
    );
    if (values["dry-run"]) {
      for (const r of plan) {
        console.log(
          `  ${r.variant} seed ${r.seed}  ${r.sameAs ? `= ${r.sameAs}` : r.status}  ${r.dir}`,
        );
      }
      return 0;
    }
    // Children rebuild each run's config from the same flags.
    const extra: string[] = [];
    if (values.config) extra.push("--config", values.config);
    for (const s of values.set ?? []) extra.push("--set", s);
    if (values.data) extra.push("--data", values.data);
    if (values["data-root"]) extra.push("--data-root", values["data-root"]);
    if (values.results) extra.push("--results", values.results);
    if (values.backend) extra.push("--backend", values.backend);
    extra.push("--no-figures");
    const summary = await runSweep(plan, {
      parallel,
      launch: childLauncher(exp.name, extra),
      print: (l) => console.log(l),
    });
    console.log(
      `${exp.name}: ${summary.finished.length} trained, ${summary.skipped.length} skipped, ` +
        `${summary.failed.length} failed; results under ${
          plan[0]?.dir.split("/").slice(0, -1).join("/")
        }`,
    );
    return summary.failed.length ? 1 : 0;
  },
};
