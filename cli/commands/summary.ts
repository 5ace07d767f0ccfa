/**
 * `deno task grefel summary --config NAME|FILE [--set k=v]... [--json]`: parameters and FLOPs per
 * image of a configuration's model, with and without reliability balancing, analytically (no
 * weights are created or loaded).
 *
 * `params` is the total: the trainable GReFEL model plus the frozen extractors when their size is
 * known (the paper's IR-50 + MobileFaceNet, `model.extractor = "paper"`); `trainableParams` is the
 * trainable model alone. FLOPs follow thop's convention, as the paper's Table 2 (see
 * `lib/model/summary.ts`): multiply-accumulates of Linear/Conv layers for one image's forward.
 * For the `paper` preset the output compares the counts with Table 2.
 *
 * @module
 */
import { cliPath, type Command, parseCommandArgs } from "../command.ts";
import { configFrom, parseSets } from "../../lib/train/experiments.ts";
import {
  type ModelConfig,
  type SizeCount,
  summarizeModel,
  withoutReliabilityBalancing,
} from "../../lib/model/mod.ts";
import { countExtractors } from "../../lib/extractors/paper/mod.ts";

const HELP = `usage: deno task grefel summary [--config NAME|FILE] [--set PATH=VALUE]... [--json]

Counts parameters and FLOPs (multiply-accumulates per image forward, thop's convention as in the
paper's Table 2) of a configuration's model, with and without reliability balancing.

  --config NAME|FILE    preset (paper, compact, tiny) or a JSON partial config (default compact)
  --set PATH=VALUE      override a config field (repeatable), e.g. --set model.rb.anchorsPerClass=0
  --json                print one JSON object
  -h, --help            this text`;

/** Size of a frozen extractor pair, where known. */
interface ExtractorSize extends SizeCount {
  /** Extractor name. */
  name: string;
  /** Per part. */
  breakdown: Record<string, SizeCount>;
}

/**
 * Analytic sizes of frozen extractor pairs by `model.extractor` name. Extractors without an entry
 * are reported as not counted.
 */
const EXTRACTOR_SIZES: Record<string, () => Omit<ExtractorSize, "name">> = {
  paper: () => countExtractors(),
};

/** Table 2 of the paper: the `paper` preset's targets. */
export const TABLE2 = {
  withRB: { params: 43.84e6, flops: 8.51e9 },
  withoutRB: { params: 43.6e6, flops: 8.32e9 },
} as const;

/** What `summary --json` prints. */
export interface SummaryReport {
  /** The `--config` argument. */
  config: string;
  /** `model.extractor`. */
  extractor: string;
  /** Total parameters: trainable model + frozen extractors (when counted). */
  params: number;
  /** Parameters of the trainable model (all of it is trained; the extractors are frozen). */
  trainableParams: number;
  /** FLOPs (MACs) per image forward, extractors included when counted. */
  flops: number;
  /** MACs of the attention products QKᵀ and AV (not in `flops`, as in thop). */
  attentionFlops: number;
  /** Batch-norm running statistics (not parameters). */
  buffers: number;
  /** The same model with reliability balancing switched off. */
  withoutRB: { params: number; trainableParams: number; flops: number };
  /** What reliability balancing adds. */
  rb: SizeCount;
  /** Breakdown of the trainable model by part. */
  breakdown: Record<string, SizeCount>;
  /** The frozen extractors, or null when their size is not known to this command. */
  extractors: ExtractorSize | null;
  /** For `model.extractor = "paper"`: relative deviation from the paper's Table 2. */
  table2?: {
    withRB: { params: number; flops: number };
    withoutRB: { params: number; flops: number };
  };
}

/** Builds the summary of a resolved model config. */
export function summaryReport(configName: string, model: ModelConfig): SummaryReport {
  const s = summarizeModel(model);
  const s0 = summarizeModel(withoutReliabilityBalancing(model));
  const sizeOf = EXTRACTOR_SIZES[model.extractor];
  const ex = sizeOf ? { name: model.extractor, ...sizeOf() } : null;
  const exParams = ex?.params ?? 0;
  const exFlops = ex?.flops ?? 0;
  const report: SummaryReport = {
    config: configName,
    extractor: model.extractor,
    params: s.params + exParams,
    trainableParams: s.trainableParams,
    flops: s.flops + exFlops,
    attentionFlops: s.attentionFlops,
    buffers: s.buffers,
    withoutRB: {
      params: s0.params + exParams,
      trainableParams: s0.trainableParams,
      flops: s0.flops + exFlops,
    },
    rb: { params: s.params - s0.params, flops: s.flops - s0.flops },
    breakdown: s.breakdown,
    extractors: ex,
  };
  if (model.extractor === "paper") {
    const rel = (x: number, target: number) => (x - target) / target;
    report.table2 = {
      withRB: {
        params: rel(report.params, TABLE2.withRB.params),
        flops: rel(report.flops, TABLE2.withRB.flops),
      },
      withoutRB: {
        params: rel(report.withoutRB.params, TABLE2.withoutRB.params),
        flops: rel(report.withoutRB.flops, TABLE2.withoutRB.flops),
      },
    };
  }
  return report;
}

function human(r: SummaryReport): string {
  const m = (x: number) => `${(x / 1e6).toFixed(2)}M`;
  const g = (x: number) => `${(x / 1e9).toFixed(3)}G`;
  const pct = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}%`;
  const lines = [
    `config ${r.config} (extractor ${r.extractor})`,
    `  with RB     ${m(r.params).padStart(9)} params  ${g(r.flops).padStart(9)} FLOPs`,
    `  without RB  ${m(r.withoutRB.params).padStart(9)} params  ${
      g(r.withoutRB.flops).padStart(9)
    } FLOPs`,
    `  trainable   ${m(r.trainableParams).padStart(9)} params  (RB adds ${m(r.rb.params)}, ${
      (r.rb.flops / 1e6).toFixed(2)
    }M FLOPs)`,
    r.extractors
      ? `  extractors  ${m(r.extractors.params).padStart(9)} params  ${
        g(r.extractors.flops).padStart(9)
      } FLOPs (frozen)`
      : `  extractors  not counted (no size known for "${r.extractor}")`,
    `  attention products (not in FLOPs): ${g(r.attentionFlops)}`,
    "  trainable model by part:",
  ];
  for (const [k, v] of Object.entries(r.breakdown)) {
    lines.push(`    ${k.padEnd(14)} ${m(v.params).padStart(9)}  ${g(v.flops).padStart(9)}`);
  }
  if (r.table2) {
    lines.push(
      `  vs Table 2: with RB ${pct(r.table2.withRB.params)} params, ${
        pct(r.table2.withRB.flops)
      } FLOPs; without RB ${pct(r.table2.withoutRB.params)} params, ${
        pct(r.table2.withoutRB.flops)
      } FLOPs`,
    );
  }
  return lines.join("\n");
}

/** The `summary` command. */
export const summaryCommand: Command = {
  name: "summary",
  summary: "parameters and FLOPs of a configuration's model (with/without RB)",
  // deno-lint-ignore require-await
  async run(args: string[]): Promise<number> {
    const { values } = parseCommandArgs({
      args,
      options: {
        config: { type: "string" },
        set: { type: "string", multiple: true },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const name = values.config ?? "compact";
    const file = name.endsWith(".json") ? cliPath(name) : name;
    const config = configFrom(file, parseSets(values.set ?? []));
    const report = summaryReport(name, config.model);
    console.log(values.json ? JSON.stringify(report, null, 2) : human(report));
    return 0;
  },
};
