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
import { controlPairs, pairedRows } from "./averaging.ts";
import type { StudyMetrics, StudyRun } from "./rb_study.ts";
import { findFinishedRun } from "./sweeps.ts";
import { loadExperiment } from "../train/experiments.ts";
import { experimentConfig } from "./runs.ts";
import { notebookProfile, type Profile } from "./profile.ts";
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
  return controlPairs(variants, "finetune", "none")
    .map((p) => ({ head: p.group, tuned: p.treated, frozen: p.control }));
}

/**
 * One row per fine-tuning pair: test accuracy of L_final (mean ± std over finished seeds) of
 * both arms, and the paired difference tuned − frozen (same seeds, same test images) with its
 * verdict, or why there is none yet ({@linkcode pairedRows}).
 */
export function finetuneRows(
  runs: readonly StudyRun[],
  pairs: readonly FinetunePair[],
): Record<string, string>[] {
  return pairedRows(
    runs,
    pairs.map((p) => ({ group: p.head, treated: p.tuned, control: p.frozen })),
    { group: "head", treated: "fine-tuned", control: "frozen" },
  );
}

/**
 * The finished runs of an experiment's variants × seeds 0 … `seeds` − 1 under a notebook profile
 * (the profile's config of each variant, {@linkcode experimentConfig}; `quick` and `full` are the
 * sweep's own configs), each found by its config (its run id under the experiment's folder of
 * `root`, or under another experiment's folder when the same config finished there, e.g. a study
 * cell), as {@linkcode StudyRun}s named by the experiment's variant names. Runs not finished are
 * left out.
 */
export async function readExperimentRuns(
  experiment: string,
  root: string,
  seeds = 5,
  profile: Profile = notebookProfile(),
): Promise<StudyRun[]> {
  const exp = loadExperiment(experiment);
  const out: StudyRun[] = [];
  for (const variant of exp.variants.keys()) {
    for (let seed = 0; seed < seeds; seed++) {
      const found = await findFinishedRun(
        experimentConfig(experiment, variant, { seed, profile }),
        root,
      );
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
