/**
 * A config's run: its id and its folder `<resultsDir>/<experiment>/<run-id>/` (the folder's
 * format is `lib/run/`).
 *
 * The run id is a short hash of the canonical resolved config minus the fields that do not change
 * results ({@linkcode RUN_ID_EXCLUDED}), so a restarted sweep finds its runs again.
 *
 * @module
 */
import { join } from "node:path";
import type { GrefelConfig } from "../config.ts";
import { RUN_ID_EXCLUDED, RUN_ID_LEGACY_VALUES } from "./config.ts";
import { canonicalJson, sha256, withoutPaths } from "../run/hash.ts";

/** The paths of {@linkcode RUN_ID_LEGACY_VALUES} whose value in `config` is the legacy one. */
function atLegacyValues(config: GrefelConfig): string[] {
  return Object.entries(RUN_ID_LEGACY_VALUES).filter(([path, legacy]) => {
    let node: unknown = config;
    for (const part of path.split(".")) {
      node = node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined;
    }
    return node === legacy;
  }).map(([path]) => path);
}

/**
 * Full hash of the result-relevant part of a resolved config (checkpoints record it): without
 * {@linkcode RUN_ID_EXCLUDED} and without the fields at their {@linkcode RUN_ID_LEGACY_VALUES}.
 */
export function configHash(config: GrefelConfig): string {
  return sha256(
    canonicalJson(withoutPaths(config, [...RUN_ID_EXCLUDED, ...atLegacyValues(config)])),
  );
}

/**
 * The run id: the first 10 hex digits of {@linkcode configHash}. Stable across key order, and
 * unchanged by fields that do not change results (progress display, parallelism, backend
 * preference, results directory, experiment name, preset label, checkpoint cadence).
 */
export function runId(config: GrefelConfig): string {
  return configHash(config).slice(0, 10);
}

/** The directory of a run: `<resultsDir>/<experiment>/<run-id>`. */
export function runDir(config: GrefelConfig): string {
  return join(config.train.resultsDir, config.train.experiment, runId(config));
}

/**
 * The folder of a finished run (metrics.json present) with `config`'s run id under another
 * experiment folder of the same results directory, or null (folders in name order). Run ids leave
 * the experiment name out, so the same config trained for another experiment (a study cell that is
 * also a table cell) is the same run.
 */
export async function finishedElsewhere(config: GrefelConfig): Promise<string | null> {
  const root = config.train.resultsDir, id = runId(config);
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(root)]
      .filter((e) => e.isDirectory && e.name !== config.train.experiment)
      .map((e) => e.name)
      .sort();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const name of names) {
    const dir = join(root, name, id);
    try {
      if ((await Deno.stat(join(dir, "metrics.json"))).isFile) return dir;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return null;
}
