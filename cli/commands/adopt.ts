/**
 * `grefel adopt [--experiment] NAME`: after an experiment's stopping rule (early stopping or the
 * epoch cap) changed, carries its recorded runs over to the new run ids instead of training the
 * same epochs again (lib/train/adopt.ts).
 * @module
 */
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import { adoptIntoPlan } from "../../lib/train/adopt.ts";
import { loadExperiment } from "../../lib/train/experiments.ts";
import { planSweep } from "../../lib/train/sweep.ts";
import { CONFIG_OPTIONS, configArg, flagOverrides } from "../../lib/train/main.ts";

const HELP = `usage: deno task grefel adopt [--experiment] NAME [options]

For each run of the sweep of experiments/NAME.json that does not exist yet, finds a recorded run
in the same experiment folder (or --from DIR) that differs from it only in the stopping rule
(train.earlyStop, train.epochs) and copies it to the new run's directory, checkpoints re-labelled,
so \`sweep\` resumes it from its last epoch. A finished run that the new rule stops at the same
epoch with the same best epoch is copied whole (test results included; no checkpoint needed). Early stopping and the epoch cap decide when training
ends, never what an epoch computes, so the adopted run is the one the new rule trains. A run the
new rule would have stopped earlier than its last recorded epoch is not adopted (it is listed).
The old runs are left as they are.

options:
  --experiment NAME     experiment (or the first word)
  --variant V           only this variant (repeatable)
  --seeds N             seeds per variant (default: the experiment's)
  --from DIR            look for the recorded runs in DIR (default: the experiment's folder)
  --set PATH=VALUE, --config NAME, --results DIR   as for sweep
  --dry-run             list the matches, copy nothing
  -h, --help            this help`;

/** The `adopt` command. */
export const adoptCommand: Command = {
  name: "adopt",
  summary: "carry recorded runs over to an experiment's changed stopping rule",
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        ...CONFIG_OPTIONS,
        experiment: { type: "string" },
        variant: { type: "string", multiple: true },
        seeds: { type: "string" },
        from: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const name = values.experiment ?? positionals[0];
    if (!name || positionals.length > (values.experiment ? 0 : 1)) {
      console.error(`adopt: one experiment expected\n\n${HELP}`);
      return 2;
    }
    const seeds = values.seeds === undefined ? undefined : Number(values.seeds);
    if (seeds !== undefined && (!Number.isInteger(seeds) || seeds < 1)) {
      console.error(`adopt: --seeds ${values.seeds}: expected an integer ≥ 1`);
      return 2;
    }
    const plan = await planSweep(loadExperiment(name), {
      seeds,
      preset: configArg(values.config),
      overrides: flagOverrides(values),
      variants: values.variant,
    });
    const outcomes = await adoptIntoPlan(plan, {
      fromDir: values.from === undefined ? undefined : cliPath(values.from),
      dryRun: values["dry-run"],
    });
    let failed = 0;
    for (const o of outcomes) {
      if (!o.from) console.log(`  ${o.run}: no recorded run matches (${o.dir} stays new)`);
      else if (o.error) failed++, console.log(`  ${o.run}: not adopted from ${o.from}: ${o.error}`);
      else if (!o.result) console.log(`  ${o.run}: would adopt ${o.from} into ${o.dir}`);
      else {
        const s = o.result.stopped;
        console.log(
          `  ${o.run}: adopted ${o.from} into ${o.dir} after epoch ${o.result.epochs}` +
            (o.result.finished
              ? ` (finished: the new rule stops there too and tests the same weights)`
              : s
              ? ` (stops there: ${s.reason}; only the test split is left)`
              : " (resumes)"),
        );
      }
    }
    const adopted = outcomes.filter((o) => o.result).length;
    console.log(
      `${name}: ${adopted} adopted, ${failed} refused, ${outcomes.length} new runs looked at`,
    );
    return failed ? 1 : 0;
  },
};
