/**
 * `grefel data --data KIND --data-root DIR [--json]`: what the loader sees, without training —
 * per-split, per-class counts, skipped items with their reasons, the face-detection rate and
 * warnings. Runs everything a training run does before feature extraction
 * (`planData` in lib/train/prepare.ts), so its scan cache is reused by the run.
 * @module
 */
import { dirname } from "node:path";
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import { selectBackend } from "../../lib/backend.ts";
import { faceCropOn } from "../../lib/data/config.ts";
import { checkSkippedFraction, formatDataReport } from "../../lib/data/report.ts";
import { configFrom } from "../../lib/train/experiments.ts";
import { planData } from "../../lib/train/prepare.ts";
import { CONFIG_OPTIONS, configArg, flagOverrides } from "../../lib/train/main.ts";

const HELP = `usage: deno task grefel data --data KIND [--data-root DIR] [options]

Shows what the loader sees, without training: counts per split and class, skipped files with
their reasons, the detected-face rate (when face cropping is on) and warnings (an empty class in
a split, few faces, images that look like crops already). Decodes every image once (cached in
<results>/cache/scan/, which training reuses).

options:
  --data KIND           data set (folder, ferplus, fer2013, rafdb, affectnet, jaffe, ferg,
                        affwild2, synthetic); sets data.dataset
  --data-root PATH      data-set root; sets data.root (else the kind's environment variable)
  --config NAME|FILE    preset or JSON partial config (default compact)
  --set PATH=VALUE      override a config field (repeatable), e.g. --set data.faceCrop=off,
                        --set data.testFraction=0.3, --set 'data.classNames=["happy","sad"]'
  --results DIR         results directory (its cache/ holds the scan cache)
  --backend NAME        webgpu, wasm or cpu, for face detection (default: automatic)
  --items N             skipped items to print (default 20; --json lists all)
  --out FILE            also write the JSON report to FILE
  --json                print the report as JSON
  -h, --help            this help`;

/** The `data` command. */
export const dataCommand: Command = {
  name: "data",
  summary: "what the loader sees: counts per split and class, skipped files, face rate",
  async run(args: string[]): Promise<number> {
    const { values } = parseCommandArgs({
      args,
      strict: true,
      options: {
        ...CONFIG_OPTIONS,
        backend: { type: "string" },
        items: { type: "string", default: "20" },
        out: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const items = Number(values.items);
    if (!Number.isInteger(items) || items < 0) {
      console.error(`data: --items must be a whole number, got "${values.items}"`);
      return 2;
    }
    const config = configFrom(configArg(values.config) ?? "compact", flagOverrides(values));
    const outPath = values.out === undefined ? undefined : cliPath(values.out);
    if (faceCropOn(config.data)) await selectBackend(values.backend);
    const lines: string[] = [];
    const plan = await planData(config, {
      checkSkipped: false,
      progress: !values.json && Deno.stderr.isTerminal(),
      print: (l) => lines.push(l),
    });
    let stops: string | null = null;
    try {
      checkSkippedFraction(plan.report, config.data.maxSkippedFraction);
    } catch (e) {
      stops = (e as Error).message;
    }
    const out = {
      ...plan.report,
      modelClasses: plan.config.model.classes,
      maxSkippedFraction: config.data.maxSkippedFraction,
      stopsRun: stops,
    };
    if (outPath) {
      await Deno.mkdir(dirname(outPath), { recursive: true });
      const tmp = `${outPath}.tmp-${Deno.pid}`;
      await Deno.writeTextFile(tmp, JSON.stringify(out, null, 1) + "\n");
      await Deno.rename(tmp, outPath);
    }
    if (values.json) {
      console.log(JSON.stringify(out));
      return 0;
    }
    for (const l of formatDataReport(plan.report, items)) console.log(l);
    console.log(`model.classes: ${plan.config.model.classes}`);
    if (stops) console.log(`a training run would stop: ${stops}`);
    if (outPath) console.log(`wrote ${outPath}`);
    return 0;
  },
};
