/**
 * `grefel eval --run DIR`: re-evaluates a run's best (or last) checkpoint on its test split and
 * writes `eval-<weights>.json` and the figures into the run directory.
 * @module
 */
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import { evaluateRun } from "../../lib/train/session.ts";
import { parseSets } from "../../lib/train/experiments.ts";

const HELP = `usage: deno task grefel eval --run DIR [options]

Re-evaluates a trained run on its test split: accuracy, macro-F1, balanced accuracy, ECE,
per-class scores and confusion matrices for the primary and the final prediction, cluster
scores of the embeddings; writes DIR/eval-<weights>.json and DIR/figures/.

options:
  --run DIR             run directory (results/<experiment>/<run-id>)
  --weights best|last   checkpoint to evaluate (default best)
  --backend NAME        webgpu, wasm or cpu
  --no-figures          skip the figures
  --recalibrate-bn N    first re-estimate the head's batch-norm statistics on N training
                        samples with dropout off (writes DIR/eval-<weights>-bnrecal.json,
                        no figures); measures dropout's variance shift in the primary head
  --recalibrate-sampling balanced|natural
                        how those samples are drawn: equally many per class, as the
                        class-balanced epochs that trained the statistics (default), or
                        with the training split's class prior (-bnrecal-natural.json)
  --tta flip            test-time flip: also predict every validation and test image
                        mirrored left to right (cached apart) and score the mean of the two
                        views' distributions; writes DIR/eval-<weights>-tta.json (each view's
                        accuracy on validation and test) and DIR/predictions-tta.csv
  --prior train         class-prior correction: move the predicted distributions from the
                        class prior of the run's training epochs (uniform for the paper's
                        class-balanced epochs) to that of its training split, on validation
                        and test (after --tta flip when given too); writes
                        DIR/eval-<weights>[-tta]-prior.json (both priors, scores with and
                        without) and DIR/predictions[-tta]-prior.csv
  --data KIND           evaluate on another data set's test split instead (any kind; its
                        classes are mapped into the run's by name or synonym, e.g. FER2013's
                        happy → FER+'s happiness); writes DIR/eval-<weights>-on-<data>.json
  --data-root PATH      that data set's root
  --set data.K=V        its data settings (repeatable), e.g. data.classMap, data.faceCrop
  --split NAME          with --data: the split to score (default test)
  --json                print the evaluation as JSON
  -h, --help            this help`;

/** The `eval` command. */
export const evalCommand: Command = {
  name: "eval",
  summary: "re-evaluate a run's checkpoint on its test split (metrics, figures)",
  async run(args: string[]): Promise<number> {
    const { values } = parseCommandArgs({
      args,
      strict: true,
      options: {
        run: { type: "string" },
        weights: { type: "string", default: "best" },
        backend: { type: "string" },
        "no-figures": { type: "boolean", default: false },
        "recalibrate-bn": { type: "string", default: "0" },
        "recalibrate-sampling": { type: "string", default: "balanced" },
        tta: { type: "string", default: "none" },
        prior: { type: "string", default: "none" },
        data: { type: "string" },
        "data-root": { type: "string" },
        set: { type: "string", multiple: true },
        split: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.run) {
      console.error(`eval: --run is required\n\n${HELP}`);
      return 2;
    }
    if (values.weights !== "best" && values.weights !== "last") {
      console.error(`eval: --weights must be best or last, got "${values.weights}"`);
      return 2;
    }
    const recalibrate = Number(values["recalibrate-bn"]);
    if (!Number.isInteger(recalibrate) || recalibrate < 0) {
      console.error(
        `eval: --recalibrate-bn must be a whole number of samples, got "${
          values["recalibrate-bn"]
        }"`,
      );
      return 2;
    }
    const sampling = values["recalibrate-sampling"];
    if (sampling !== "balanced" && sampling !== "natural") {
      console.error(`eval: --recalibrate-sampling must be balanced or natural, got "${sampling}"`);
      return 2;
    }
    const otherData = Boolean(values.data || values["data-root"] || values.set?.length);
    for (
      const [flag, value, allowed] of [
        ["tta", values.tta, ["none", "flip"]],
        ["prior", values.prior, ["none", "train"]],
      ] as const
    ) {
      if (!(allowed as readonly string[]).includes(value)) {
        console.error(`eval: --${flag} must be ${allowed.join(" or ")}, got "${value}"`);
        return 2;
      }
      if (value !== "none" && otherData) {
        console.error(
          `eval: --${flag} ${value} scores the run's own splits; it does not combine with --data`,
        );
        return 2;
      }
    }
    let data: Record<string, unknown> | undefined;
    if (otherData) {
      const sets = parseSets(values.set ?? []);
      const bad = Object.keys(sets).filter((k) => k !== "data");
      if (bad.length) {
        console.error(`eval: --set takes data.* fields only, got ${bad.join(", ")}`);
        return 2;
      }
      data = { ...(sets.data as Record<string, unknown> ?? {}) };
      if (values.data) data.dataset = values.data;
      if (values["data-root"]) data.root = cliPath(values["data-root"]);
      if (typeof data.root === "string") data.root = cliPath(data.root);
    }
    const r = await evaluateRun(cliPath(values.run), {
      data,
      split: values.split,
      recalibrate,
      recalibrateSampling: sampling,
      tta: values.tta === "flip",
      ...(values.prior === "train" ? { prior: "train" as const } : {}),
      weights: values.weights,
      backend: values.backend,
      figures: !values["no-figures"],
    });
    if (values.json) {
      console.log(JSON.stringify(r.evaluation));
      return 0;
    }
    const e = r.evaluation;
    const on = "evaluatedOn" in r ? ` of ${(r.evaluatedOn as { dataset: string }).dataset}` : "";
    console.log(
      `run ${r.runId}, ${r.weights} weights (epoch ${r.epoch}), ${e.numSamples} test samples${on}`,
    );
    for (
      const [name, p] of [["primary head (arg-max l)", e.primary], [
        "final (L_final)",
        e.final,
      ]] as const
    ) {
      console.log(
        `  ${name.padEnd(24)} accuracy ${p.accuracy.toFixed(4)}  macro-F1 ${
          p.macroF1.toFixed(4)
        }  ` +
          `balanced ${p.balancedAccuracy.toFixed(4)}  ECE ${p.ece.toFixed(4)}`,
      );
    }
    if (r.tta) {
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      for (const [split, t] of [["valid", r.tta.valid], ["test", r.tta.test]] as const) {
        if (!t) continue;
        console.log(
          `  flip TTA, ${split}: L_final centre ${pct(t.centre.final)}, mirrored ` +
            `${pct(t.mirrored.final)}, averaged ${pct(t.averaged.final)}`,
        );
      }
    }
    if (r.prior) {
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      for (const [split, t] of [["valid", r.prior.valid], ["test", r.prior.test]] as const) {
        if (!t) continue;
        console.log(
          `  prior correction, ${split}: L_final ${pct(t.plain.final)} → ${
            pct(t.corrected.final)
          }` +
            `, balanced ${pct(t.plain.finalBalanced)} → ${pct(t.corrected.finalBalanced)}`,
        );
      }
    }
    if (r.cluster) {
      console.log(
        `  embeddings: Davies–Bouldin ${r.cluster.daviesBouldin.toFixed(4)}, ` +
          `Calinski–Harabasz ${r.cluster.calinskiHarabasz.toFixed(2)}`,
      );
    }
    console.log(`wrote ${r.path}`);
    for (const f of r.figures) console.log(`  ${f}`);
    return 0;
  },
};
