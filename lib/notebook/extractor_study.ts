/**
 * The extractor study's results as notebook rows (notebook 11): the linear-probe study of every
 * npm-shipped face network (bench/extractor_study.ts, `results/extractor-study/probe*.json`), with
 * each network's leakage flag from lib/extractors/provenance.ts, and the partial fine-tuning cells
 * of `experiments/finetune.json` (fine-tuned against frozen, paired over seeds and test images).
 *
 * Rows only: the notebook displays them; the numbers are computed by the bench and the runs.
 *
 * @module
 */
import { basename, join } from "node:path";
import { NETWORKS } from "../extractors/provenance.ts";
import { formatDifference, type PairedDifference, verdict } from "../eval/paired.ts";
import { formatMeanStd, meanStd } from "./tables.ts";
import { pairedAgainst, type StudyMetrics, type StudyRun } from "./rb_study.ts";
import { findFinishedRun } from "./sweeps.ts";
import { loadExperiment, variantConfig } from "../train/experiments.ts";
import { readLog } from "../run/mod.ts";
import { readJsonIfExists } from "../run/atomic.ts";

/** One network's probe result as bench/extractor_study.ts writes it (the fields read here). */
export interface ProbeNetworkResult {
  /** Display name (`human faceres@160`). */
  name: string;
  /** Its lib/extractors/provenance.ts entry name. */
  provenance: string;
  /** Leakage class from the provenance entry. */
  leakage: string;
  /** Whether the leakage audit flags it. */
  flagged: boolean;
  /** Input side. */
  inputSize: number;
  /** Feature dimensions the probe reads. */
  dims: number;
  /** CPU milliseconds per image (one wasm thread). */
  cpuMsPerImage: number;
  /** The probe: chosen C, its fit, plain and prior-corrected metrics. */
  probe: {
    c: number;
    fit: { converged: boolean };
    metrics: { accuracy: number; balancedAccuracy: number; macroF1: number };
    priorCorrected: { accuracy: number; balancedAccuracy: number; macroF1: number } | null;
  };
}

/** A probe study file (`results/extractor-study/probe*.json`). */
export interface ProbeStudy {
  /** The design (subset sizes, folds, evaluation split). */
  config: Record<string, unknown>;
  /** Per-network results, in the order they were run. */
  networks: ProbeNetworkResult[];
  /** Networks not measured, with reasons. */
  skipped: { name: string; reason: string }[];
}

/**
 * Reads a probe study file, or null when it does not exist (a design not run yet).
 * @throws Error when the file exists but is not a probe study.
 */
export async function readProbeStudy(path: string): Promise<ProbeStudy | null> {
  const d = await readJsonIfExists<Partial<ProbeStudy>>(path);
  if (d === null) return null;
  if (!Array.isArray(d.networks)) throw new Error(`${path}: no "networks" list`);
  return { config: d.config ?? {}, networks: d.networks, skipped: d.skipped ?? [] };
}

/** What the provenance table says a network was trained on (its `trainingData` line). */
function trainingDataOf(provenance: string): string {
  const n = NETWORKS.find((x) => x.name === provenance);
  return n ? n.trainingData : "(not in lib/extractors/provenance.ts)";
}

/**
 * One display row per network: cost, probe accuracy (plain and prior-corrected), the leakage
 * verdict and what its source says of its training data. Percentages with one decimal.
 */
export function probeRows(study: ProbeStudy): Record<string, string | number>[] {
  const pct = (x: number | undefined) => (x === undefined ? "" : (100 * x).toFixed(1));
  return study.networks.map((n) => ({
    network: n.name,
    "input px": n.inputSize,
    dims: n.dims,
    "CPU ms/image": Math.round(n.cpuMsPerImage),
    "acc %": pct(n.probe.metrics.accuracy),
    "bal. acc %": pct(n.probe.metrics.balancedAccuracy),
    "macro-F1 %": pct(n.probe.metrics.macroF1),
    "acc prior-corr. %": pct(n.probe.priorCorrected?.accuracy),
    C: n.probe.c,
    converged: n.probe.fit.converged ? "yes" : "no",
    leakage: n.flagged ? `FLAGGED (${n.leakage})` : "none known",
    "training data (as documented)": trainingDataOf(n.provenance),
  }));
}

/** The two variants of a fine-tuning comparison: the same head, fine-tuned and frozen. */
export interface FinetunePair {
  /** Head label (`dropout-bn-0.5`). */
  head: string;
  /** Variant with the fine-tuned block. */
  tuned: string;
  /** The frozen variant. */
  frozen: string;
}

/** The pairs of `experiments/finetune.json` (variant names `finetune=…,head=…`). */
export function finetunePairs(variants: readonly string[]): FinetunePair[] {
  const heads = [...new Set(variants.map((v) => v.split(",head=")[1]).filter(Boolean))];
  return heads.flatMap((head) => {
    const frozen = `finetune=none,head=${head}`;
    return variants
      .filter((v) => v.endsWith(`,head=${head}`) && v !== frozen && variants.includes(frozen))
      .map((tuned) => ({ head, tuned, frozen }));
  });
}

/**
 * One row per fine-tuning pair: test accuracy of L_final (mean ± std over finished seeds) of
 * both arms, and the paired difference tuned − frozen (same seeds, same test images) with its
 * verdict, or why there is none yet.
 */
export function finetuneRows(
  runs: readonly StudyRun[],
  pairs: readonly FinetunePair[],
): Record<string, string>[] {
  return pairs.map((p) => {
    const acc = (v: string) => {
      const xs = runs.flatMap((r) => (r.variant === v && r.metrics ? [r.metrics.accuracy] : []));
      return xs.length
        ? `${formatMeanStd(meanStd(xs), { scale: 100, digits: 2 })}% (${xs.length})`
        : "—";
    };
    const done = (v: string) =>
      new Set(runs.flatMap((r) => (r.variant === v && r.metrics ? [r.seed] : [])));
    const frozenSeeds = done(p.frozen);
    const shared = [...done(p.tuned)].some((s) => frozenSeeds.has(s));
    const d: PairedDifference | null = shared ? pairedAgainst(runs, p.tuned, p.frozen) : null;
    return {
      head: p.head,
      "fine-tuned cell": p.tuned.replace(/,head=.*$/, ""),
      "frozen: test L_final (seeds)": acc(p.frozen),
      "fine-tuned: test L_final (seeds)": acc(p.tuned),
      "fine-tuned − frozen (95% CI)": d
        ? formatDifference(d, verdict(d))
        : "no seed finished in both arms yet",
    };
  });
}

/**
 * The finished runs of an experiment's variants × seeds 0 … `seeds` − 1, each found by its config
 * (its run id under the experiment's folder of `root`, or under another experiment's folder when
 * the same config finished there, e.g. a study cell), as {@linkcode StudyRun}s named by the
 * experiment's variant names. Runs not finished are left out.
 */
export async function readExperimentRuns(
  experiment: string,
  root: string,
  seeds = 5,
): Promise<StudyRun[]> {
  const exp = loadExperiment(experiment);
  const out: StudyRun[] = [];
  for (const variant of exp.variants.keys()) {
    for (let seed = 0; seed < seeds; seed++) {
      const found = await findFinishedRun(variantConfig(exp, variant, { seed }), root);
      if (!found) continue;
      out.push({
        dir: found.dir,
        runId: basename(found.dir),
        variant,
        seed,
        log: await readLog(found.dir),
        metrics: found.metrics as unknown as StudyMetrics,
      });
    }
  }
  return out;
}

/** The default study files under `dir` (the repository's `results/extractor-study`). */
export function probeStudyFiles(dir: string): { quick: string; full: string; cache: string } {
  return {
    quick: join(dir, "probe.json"),
    full: join(dir, "probe_full.json"),
    cache: join(dir, "probe_cache.json"),
  };
}
