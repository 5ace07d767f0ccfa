/**
 * Building the feature caches of many runs once, before they start: a sweep's runs share a few
 * caches (one per data set, extractor, split and seed), and since a cache has one writer at a time
 * (lib/data/cache.ts), parallel runs that found it missing would be refused. The local sweep, the
 * notebooks' parallel children and the Slurm cache job (`grefel run-index M --build-cache`) call
 * {@linkcode prepareCaches} first; afterwards every run only reads.
 *
 * @module
 */
import type { GrefelConfig } from "../config.ts";
import { canonicalJson } from "../run/mod.ts";
import { prepareData } from "./prepare.ts";
import { selectRunBackend } from "./session.ts";

/**
 * What decides which feature caches a run reads: the data section, the extractor and its shapes,
 * the seed (hold-out split, augmented views), the views and the cache directory. Label noise is
 * part of `data` although it changes no pixels: a few duplicate checks are cheaper than a wrong
 * guess.
 */
export function cacheKey(config: GrefelConfig, cacheDir?: string): string {
  const m = config.model;
  return canonicalJson({
    data: config.data,
    extractor: m.extractor,
    shapes: [m.landmarkShape, m.imageShape],
    seed: config.seed,
    valFraction: config.train.valFraction,
    featureViews: config.train.featureViews,
    mirrorViews: config.train.mirrorViews,
    cacheDir: cacheDir ?? config.train.resultsDir,
  });
}

/** Options of {@linkcode prepareCaches}. */
export interface PrepareCachesOptions {
  /** `--backend` flag (default: the first config's preference, then automatic). */
  backend?: string;
  /** Feature-cache parent directory (default `<resultsDir>/cache` of each config). */
  cacheDir?: string;
  /** Where messages go (default stderr). */
  print?: (line: string) => void;
}

/**
 * Builds (or verifies) the feature caches of `configs`, each distinct one once, in this process.
 * Returns how many distinct data preparations there were.
 * @throws LockHeldError (lib/lock.ts) when another process is building one of them now.
 */
export async function prepareCaches(
  configs: readonly GrefelConfig[],
  opts: PrepareCachesOptions = {},
): Promise<number> {
  const print = opts.print ?? ((l: string) => console.error(l));
  const seen = new Set<string>();
  const todo = configs.filter((c) => {
    const k = cacheKey(c, opts.cacheDir);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  if (!todo.length) return 0;
  await selectRunBackend(todo[0], opts.backend);
  for (const [i, config] of todo.entries()) {
    print(`feature caches ${i + 1}/${todo.length}: ${config.data.dataset}, seed ${config.seed}`);
    await prepareData(config, {
      cacheDir: opts.cacheDir,
      progress: config.train.progress !== "off",
      print,
    });
  }
  return todo.length;
}
