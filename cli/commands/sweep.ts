/**
 * `grefel sweep [--experiment] NAME`: every variant × seed of an experiment, as parallel child
 * processes; finished runs are skipped and interrupted ones resumed. `--slurm DIR` writes the
 * sweep as a Slurm job array instead (lib/train/slurm.ts); `--status DIR` reports on one.
 * @module
 */
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import { loadExperiment } from "../../lib/train/experiments.ts";
import { childLauncher, planSweep, runSweep } from "../../lib/train/sweep.ts";
import { prepareCaches } from "../../lib/train/caches.ts";
import {
  formatStatus,
  readManifest,
  splitWords,
  sweepStatus,
  writeSlurmSweep,
} from "../../lib/train/slurm.ts";
import { CONFIG_OPTIONS, configArg, flagOverrides, parseSeed } from "../../lib/train/main.ts";

const HELP = `usage: deno task grefel sweep [--experiment] NAME [options]
       deno task grefel sweep NAME --slurm DIR [--sbatch-args "..."] [options]
       deno task grefel sweep [NAME] --status DIR

Runs every variant of experiments/NAME.json for each seed, PARALLEL child processes at a time
(wasm uses one core per process), after building the feature caches they share. Started again,
finished runs are skipped and interrupted ones resume from their last checkpoint. Each run's
output goes to its directory's train.log.

With --slurm DIR nothing runs here: DIR gets manifest.json (one entry per run), sweep.sbatch (a
job array, one run per task), cache.sbatch (builds the feature caches once) and submit.sh
(submits cache.sbatch, then the array after it). Resubmitting sweep.sbatch finishes only what is
missing. --status DIR reports each run of DIR/manifest.json: done, running, failed or missing.

options:
  --experiment NAME     experiment (file name in experiments/ without .json; or the first word)
  --variant V           only this variant (repeatable)
  --seeds N             seeds per variant (default: the experiment's, usually 1)
  --parallel N          child processes at once (default train.parallel = 2)
  --config NAME|FILE    preset instead of the experiment's
  --set PATH=VALUE      override a config field in every run (repeatable)
  --data KIND, --data-root PATH, --results DIR, --seed N   as for train
  --backend NAME        backend of the child processes
  --dry-run             list the runs and their status, run nothing
  --slurm DIR           write a Slurm job array into DIR instead of running
  --sbatch-args "..."   sbatch options for --slurm, e.g. "--partition=gpu --gres=gpu:1 --time=4:00:00"
  --status DIR          report the runs of the Slurm sweep in DIR
  -h, --help            this help`;

/** The `sweep` command. */
export const sweepCommand: Command = {
  name: "sweep",
  summary: "run an experiment's variants × seeds in parallel processes (skips/resumes)",
  async run(args: string[]): Promise<number> {
    // `--sbatch-args "--partition=gpu ..."`: its value starts with a dash, which parseArgs
    // takes for a missing value; joined as `--sbatch-args=...` it is unambiguous.
    const argv = args.flatMap((a, i) =>
      a === "--sbatch-args" && i + 1 < args.length
        ? []
        : i > 0 && args[i - 1] === "--sbatch-args"
        ? [`--sbatch-args=${a}`]
        : [a]
    );
    const { values, positionals } = parseCommandArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        ...CONFIG_OPTIONS,
        experiment: { type: "string" },
        variant: { type: "string", multiple: true },
        seeds: { type: "string" },
        parallel: { type: "string" },
        backend: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        slurm: { type: "string" },
        "sbatch-args": { type: "string" },
        status: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length > 1 || (positionals.length && values.experiment)) {
      const what = [values.experiment, ...positionals].filter(Boolean).join(", ");
      console.error(`sweep: one experiment expected, got ${what}\n\n${HELP}`);
      return 2;
    }
    const name = values.experiment ?? positionals[0];
    if (values.status !== undefined) values.status = cliPath(values.status);
    if (values.slurm !== undefined) values.slurm = cliPath(values.slurm);
    if (values.status) {
      const path = `${values.status.replace(/\/$/, "")}/manifest.json`;
      const m = await readManifest(path);
      if (name && name !== m.experiment) {
        console.error(`sweep: ${path} is a sweep of ${m.experiment}, not ${name}`);
        return 2;
      }
      console.log(formatStatus(m.experiment, await sweepStatus(path)));
      return 0;
    }
    if (!name) {
      console.error(`sweep: an experiment is required\n\n${HELP}`);
      return 2;
    }
    if (values["sbatch-args"] && !values.slurm) {
      console.error("sweep: --sbatch-args needs --slurm DIR");
      return 2;
    }
    const exp = loadExperiment(name);
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
      preset: configArg(values.config),
      overrides,
      variants: values.variant,
    });
    const parallel = posInt(values.parallel, "--parallel") ?? plan[0]?.config.train.parallel ?? 2;
    const counts = { finished: 0, partial: 0, new: 0 };
    const conflicts = plan.filter((r) => r.conflict && !r.sameAs).length;
    for (const r of plan) {
      if (!r.sameAs && !r.conflict) counts[r.finishedIn ? "finished" : r.status]++;
    }
    console.log(
      `${exp.name}: ${plan.length} runs (${counts.finished} finished, ${counts.partial} ` +
        `interrupted, ${counts.new} new${conflicts ? `, ${conflicts} of other data` : ""}${
          plan.some((r) => r.sameAs) ? ", duplicates shared" : ""
        })` +
        `, ${parallel} in parallel`,
    );
    if (values.slurm) {
      const { manifest, files } = await writeSlurmSweep(plan, {
        dir: values.slurm,
        experiment: exp.name,
        backend: values.backend,
        sbatchArgs: splitWords(values["sbatch-args"] ?? ""),
      });
      const done = manifest.runs.filter((r) =>
        plan.find((p) => p.runId === r.runId)?.status ===
          "finished"
      ).length;
      console.log(
        `${exp.name}: ${manifest.runs.length} runs (${done} finished) as a Slurm job array in ` +
          `${files.sweep}\n  manifest ${files.manifest}\n` +
          `  submit: bash ${files.submit}     (feature caches first, then the array)\n` +
          `  or: build the caches here (deno task grefel run-index ${files.manifest} ` +
          `--build-cache), then sbatch ${files.sweep}\n` +
          `  status: deno task grefel sweep ${exp.name} --status ${values.slurm}`,
      );
      return 0;
    }
    if (values["dry-run"]) {
      for (const r of plan) {
        console.log(
          `  ${r.variant} seed ${r.seed}  ${
            r.sameAs
              ? `= ${r.sameAs}`
              : r.finishedIn
              ? `finished in ${r.finishedIn}`
              : r.conflict
              ? `other data: ${r.conflict}`
              : r.status
          }  ${r.dir}`,
        );
      }
      return 0;
    }
    // Children rebuild each run's config from the same flags.
    const extra: string[] = [];
    if (values.config) extra.push("--config", configArg(values.config)!);
    for (const s of values.set ?? []) extra.push("--set", s);
    if (values.data) extra.push("--data", values.data);
    if (values["data-root"]) extra.push("--data-root", cliPath(values["data-root"]));
    if (values.results) extra.push("--results", cliPath(values.results));
    if (values.backend) extra.push("--backend", values.backend);
    extra.push("--no-figures");
    // Build the shared feature caches once here: children that found one missing would all try
    // to write it, and all but one would be refused by its lock.
    const todo = plan.filter((r) => r.status !== "finished" && !r.sameAs && !r.conflict);
    if (todo.length > 1 && parallel > 1) {
      await prepareCaches(todo.map((r) => r.config), {
        backend: values.backend,
        print: (l) => console.log(l),
      });
    }
    const summary = await runSweep(plan, {
      parallel,
      launch: childLauncher(exp.name, extra),
      print: (l) => console.log(l),
    });
    console.log(
      `${exp.name}: ${summary.finished.length} trained, ${summary.skipped.length} skipped, ` +
        `${summary.failed.length} failed, ${summary.refused.length} refused (held by another ` +
        `process; a later sweep takes them up); results under ${
          plan[0]?.dir.split("/").slice(0, -1).join("/")
        }`,
    );
    return summary.failed.length ? 1 : 0;
  },
};
