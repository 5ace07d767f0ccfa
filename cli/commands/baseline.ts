/**
 * `deno task grefel baseline --model faceapi-expression --data ferplus [options]`: scores a
 * pretrained off-the-shelf expression network on a data set's test split, to put beside GReFEL's
 * number. See `lib/baselines/faceapi_expression.ts` for the network, the pre-processing and the
 * class mapping.
 * @module
 */
import cliProgress from "cli-progress";
import process from "node:process";
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import { selectBackend } from "../../lib/backend.ts";
import {
  type BaselineScores,
  evaluateFaceApiExpressionFerPlus,
} from "../../lib/baselines/faceapi_expression.ts";
import type { FerPlusLabelMode } from "../../lib/data/ferplus.ts";
import { evaluateFaceApiExpressionOn } from "../../lib/baselines/faceapi_expression.ts";
import { DATASET_KINDS } from "../../lib/data/datasets.ts";
import { configFrom } from "../../lib/train/experiments.ts";
import { planData } from "../../lib/train/prepare.ts";
import { writeFileAtomic } from "../../lib/run/atomic.ts";
import { flagOverrides } from "../../lib/train/main.ts";

/** Baseline models this command knows. */
export const BASELINE_MODELS = ["faceapi-expression"] as const;

/** Data sets this command knows: every kind (FER+ with its two label rules). */
export const BASELINE_DATA: readonly string[] = DATASET_KINDS;

const HELP = `usage: deno task grefel baseline --model faceapi-expression --data KIND [options]

Scores a pretrained expression network on a data set split (accuracy, macro-F1, per-class recall,
confusion matrix). faceapi-expression: @vladmandic/face-api's 7-class expression net (no contempt):
reported over all images (classes it cannot predict always wrong) and over the shared classes.
Any data set: its classes are matched to face-api's by name or synonym (happy = happiness);
raw photos (folder data) are face-cropped first, as for training (data.faceCrop).

options:
  --model NAME          ${BASELINE_MODELS.join(", ")}
  --data NAME           ${BASELINE_DATA.join(", ")} (default ferplus)
  --data-root PATH      data root (default the kind's environment variable, data/<kind>/,
                        FER+: ../shared/data/ferplus)
  --set data.K=V        data settings for other kinds (repeatable), e.g. data.classMap
  --results DIR         results directory (its cache/ holds the scan cache)
  --split NAME          train, valid or test (default test)
  --label-mode MODE     majority, plurality or both (default both; FER+ label rule)
  --batch-size N        images per forward pass (default 64)
  --limit N             only N evenly spaced images (quick check)
  --backend NAME        webgpu, wasm or cpu (default: automatic)
  --out FILE            also write the JSON report to FILE
  --json                print the JSON report
  -h, --help            this help`;

function line(mode: string, set: string, s: BaselineScores): string {
  return `  ${mode.padEnd(10)} ${set.padEnd(18)} n ${String(s.n).padStart(5)}  accuracy ${
    s.accuracy.toFixed(4)
  }  macro-F1 ${s.macroF1.toFixed(4)}  balanced ${s.balancedAccuracy.toFixed(4)}`;
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--${name} must be a positive integer, got "${v}"`);
  }
  return n;
}

/** The `baseline` command. */
export const baselineCommand: Command = {
  name: "baseline",
  summary: "score a pretrained off-the-shelf expression net (face-api) on any data set",
  async run(args: string[]): Promise<number> {
    const { values } = parseCommandArgs({
      args,
      strict: true,
      options: {
        model: { type: "string" },
        data: { type: "string", default: "ferplus" },
        "data-root": { type: "string" },
        set: { type: "string", multiple: true },
        results: { type: "string" },
        split: { type: "string", default: "test" },
        "label-mode": { type: "string", default: "both" },
        "batch-size": { type: "string" },
        limit: { type: "string" },
        backend: { type: "string" },
        out: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.out !== undefined) values.out = cliPath(values.out);
    if (!values.model) {
      console.error(`baseline: --model is required\n\n${HELP}`);
      return 2;
    }
    if (!(BASELINE_MODELS as readonly string[]).includes(values.model)) {
      console.error(
        `baseline: unknown model "${values.model}" (known: ${BASELINE_MODELS.join(", ")})`,
      );
      return 2;
    }
    if (!(BASELINE_DATA as readonly string[]).includes(values.data!)) {
      console.error(`baseline: unknown data "${values.data}" (known: ${BASELINE_DATA.join(", ")})`);
      return 2;
    }
    const lm = values["label-mode"]!;
    const modes: FerPlusLabelMode[] | null = lm === "both"
      ? ["majority", "plurality"]
      : lm === "majority" || lm === "plurality"
      ? [lm]
      : null;
    if (!modes) {
      console.error(`baseline: --label-mode must be majority, plurality or both, got "${lm}"`);
      return 2;
    }
    let batchSize: number | undefined, limit: number | undefined;
    try {
      batchSize = positiveInt("batch-size", values["batch-size"]);
      limit = positiveInt("limit", values.limit);
    } catch (e) {
      console.error(`baseline: ${(e as Error).message}`);
      return 2;
    }
    const backendInfo = await selectBackend(values.backend);
    if (values.data !== "ferplus") {
      return await otherData(values, { batchSize, limit, backendInfo });
    }
    const bar = Deno.stderr.isTerminal() && !values.json
      ? new cliProgress.SingleBar({
        format: "faceapi-expression |{bar}| {value}/{total} images | ETA {eta_formatted}",
        stream: process.stderr,
        hideCursor: true,
      }, cliProgress.Presets.shades_classic)
      : null;
    let started = false;
    const report = await evaluateFaceApiExpressionFerPlus({
      root: values["data-root"],
      split: values.split,
      modes,
      batchSize,
      limit,
      onProgress(done, total) {
        if (!bar) return;
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
    });
    if (started) bar?.stop();
    const out = { ...report, backendInfo, createdAt: new Date().toISOString() };
    const text = JSON.stringify(out, (_k, v) => (Number.isNaN(v) ? null : v), 2);
    if (values.out) {
      await writeFileAtomic(values.out, text + "\n");
    }
    if (values.json) {
      console.log(text);
      return 0;
    }
    console.log(
      `faceapi-expression on FER+ ${report.split}: ${report.images} images in ${
        report.seconds.toFixed(1)
      } s (${report.backend})` +
        (report.decodeErrors.length ? `, ${report.decodeErrors.length} undecodable (skipped)` : ""),
    );
    for (const m of modes) {
      const r = report.results[m]!;
      console.log(line(m, "all 8 classes", r.all));
      console.log(line(m, "7 shared (no con.)", r.shared));
    }
    console.log("  contempt has no face-api counterpart: always wrong in 'all 8 classes'.");
    if (values.out) console.log(`wrote ${values.out}`);
    return 0;
  },
};

/** `baseline` on a data set other than FER+: planned like training data, scored in its classes. */
async function otherData(
  values: {
    data?: string;
    "data-root"?: string;
    set?: string[];
    results?: string;
    split?: string;
    out?: string;
    json?: boolean;
  },
  o: { batchSize?: number; limit?: number; backendInfo: unknown },
): Promise<number> {
  const config = configFrom("compact", flagOverrides(values));
  const plan = await planData(config, { print: (l) => console.error(l) });
  const split = values.split ?? "test";
  const samples = [...plan.train, ...plan.val, ...plan.test].filter((s) => s.split === split);
  if (!samples.length) throw new Error(`data set ${plan.dataset.name} has no "${split}" split`);
  const report = await evaluateFaceApiExpressionOn(plan.dataset, samples, {
    batchSize: o.batchSize,
    limit: o.limit,
  });
  const out = {
    ...report,
    backendInfo: o.backendInfo,
    faces: plan.report.faces,
    createdAt: new Date().toISOString(),
  };
  const text = JSON.stringify(out, (_k, v) => (Number.isNaN(v) ? null : v), 2);
  if (values.out) {
    await writeFileAtomic(values.out, text + "\n");
  }
  if (values.json) {
    console.log(text);
    return 0;
  }
  console.log(
    `faceapi-expression on ${report.dataset} ${split}: ${report.images} images in ` +
      `${report.seconds.toFixed(1)} s (${report.backend})`,
  );
  console.log(line("", `all ${report.all.classNames.length} classes`, report.all));
  console.log(line("", `${report.shared.classNames.length} shared`, report.shared));
  if (report.unpredictable.length) {
    console.log(
      `  face-api cannot predict: ${report.unpredictable.join(", ")} (always wrong in 'all')`,
    );
  }
  if (values.out) console.log(`wrote ${values.out}`);
  return 0;
}
