/**
 * Experiments as data: `experiments/<name>.json` holds the paper's ablations as partial configs
 * over a preset, so no library edit is needed for a run. A file is either a list of named
 * `variants`, or a `grid` of axes whose cartesian product gives the variants (named
 * `K=4,noise=10`). Each axis value is a named partial config, so one axis value may set several
 * fields (e.g. K = 0 switching the anchors off).
 *
 * ```json
 * { "description": "Table 2: reliability-balancing setups", "preset": "compact",
 *   "base": {}, "variants": { "none": { "model": { "rb": { "anchors": false } } } } }
 * ```
 *
 * A variant's config is `preset ⊕ base ⊕ variant ⊕ overrides ⊕ {seed}` (deep merge, later wins),
 * validated strictly: an unknown key names the experiment, the variant and the key.
 *
 * @module
 */
import { z } from "zod";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ConfigError,
  type GrefelConfig,
  mergeConfig,
  presetConfig,
  PRESETS,
  resolveConfig,
} from "../config.ts";

/** The `experiments/` directory of this repository. */
export const EXPERIMENTS_DIR: string = fileURLToPath(
  new URL("../../experiments/", import.meta.url),
);

const partial = z.record(z.string(), z.unknown());

/** Schema of an experiment file. */
const experimentSchema = z.strictObject({
  /** What the experiment reproduces (e.g. "Table 2: ..."). */
  description: z.string(),
  /** Preset the variants start from (overridable by the `--config` flag). */
  preset: z.string().default("compact"),
  /** Partial config applied to every variant. */
  base: partial.default({}),
  /** Named variants: partial configs. */
  variants: z.record(z.string(), partial).optional(),
  /** Grid axes: axis name → (value name → partial config); variants are their product. */
  grid: z.record(z.string(), z.record(z.string(), partial)).optional(),
  /** Seeds a sweep runs per variant unless `--seeds` says otherwise. */
  seeds: z.number().int().min(1).default(1),
}).refine((e) => (e.variants === undefined) !== (e.grid === undefined), {
  message: "an experiment has exactly one of `variants` or `grid`",
});

/** A parsed experiment with its variants expanded. */
export interface Experiment {
  /** File name without `.json`. */
  name: string;
  /** Description. */
  description: string;
  /** Preset name. */
  preset: string;
  /** Partial config shared by all variants. */
  base: Record<string, unknown>;
  /** Variant name → partial config (grids already expanded), in file order. */
  variants: Map<string, Record<string, unknown>>;
  /** Default number of seeds. */
  seeds: number;
}

/** Names of the experiments in `dir` (files `*.json`), sorted. */
export function listExperiments(dir = EXPERIMENTS_DIR): string[] {
  const names: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && e.name.endsWith(".json")) names.push(e.name.slice(0, -5));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names.sort();
}

/** Expands grid axes into named variants (`axis=value,axis=value`), first axis outermost. */
export function expandGrid(
  grid: Record<string, Record<string, Record<string, unknown>>>,
): Map<string, Record<string, unknown>> {
  let acc: [string, Record<string, unknown>][] = [["", {}]];
  for (const [axis, values] of Object.entries(grid)) {
    const next: [string, Record<string, unknown>][] = [];
    for (const [name, cfg] of acc) {
      for (const [value, over] of Object.entries(values)) {
        next.push([`${name ? name + "," : ""}${axis}=${value}`, mergeConfig(cfg, over)]);
      }
    }
    acc = next;
  }
  return new Map(acc);
}

/**
 * Loads and validates an experiment (every variant must resolve to a valid config).
 * @throws ConfigError naming an unknown experiment (and listing the known ones), an invalid
 *   file, or the variant and key of an invalid variant.
 */
export function loadExperiment(name: string, dir = EXPERIMENTS_DIR): Experiment {
  const path = join(dir, `${name}.json`);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError([
        `experiment: unknown experiment "${name}" (known: ${listExperiments(dir).join(", ")})`,
      ]);
    }
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`${path}: not valid JSON: ${(e as Error).message}`]);
  }
  const r = experimentSchema.safeParse(raw);
  if (!r.success) {
    throw new ConfigError(
      r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
      `experiment file ${path}`,
    );
  }
  const e = r.data;
  if (!PRESETS[e.preset]) {
    throw new ConfigError([`preset: unknown preset "${e.preset}"`], `experiment ${name}`);
  }
  const variants = e.variants ? new Map(Object.entries(e.variants)) : expandGrid(e.grid!);
  const exp: Experiment = {
    name,
    description: e.description,
    preset: e.preset,
    base: e.base,
    variants,
    seeds: e.seeds,
  };
  for (const v of variants.keys()) variantConfig(exp, v);
  return exp;
}

/** Options of {@linkcode variantConfig}. */
export interface VariantOptions {
  /** Preset to start from instead of the experiment's. */
  preset?: string;
  /** Overrides applied after the variant (e.g. from `--set`). */
  overrides?: Record<string, unknown>;
  /** Seed. */
  seed?: number;
}

/**
 * The resolved config of one variant of an experiment: preset ⊕ base ⊕ variant ⊕ overrides,
 * with `train.experiment` set to the experiment's name.
 * @throws ConfigError naming an unknown variant (listing the known ones) or an invalid key.
 */
export function variantConfig(
  exp: Experiment,
  variant: string,
  opts: VariantOptions = {},
): GrefelConfig {
  const v = exp.variants.get(variant);
  if (!v) {
    const known = [...exp.variants.keys()];
    throw new ConfigError([
      `variant: unknown variant "${variant}" of experiment ${exp.name} (known: ${
        known.slice(0, 20).join(", ")
      }${known.length > 20 ? ", …" : ""})`,
    ]);
  }
  let cfg: Record<string, unknown> = mergeConfig({}, exp.base);
  cfg = mergeConfig(cfg, v);
  cfg = mergeConfig(cfg, opts.overrides ?? {});
  cfg = mergeConfig(cfg, { train: { experiment: exp.name } });
  if (opts.seed !== undefined) cfg = mergeConfig(cfg, { seed: opts.seed });
  const preset = opts.preset ?? exp.preset;
  try {
    return presetConfig(preset, cfg);
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new ConfigError(e.issues, `config of experiment ${exp.name}, variant ${variant}`);
    }
    throw e;
  }
}

/**
 * Parses `--set path=value` assignments into a partial config. The value is read as JSON when it
 * parses (`4`, `true`, `[1,2]`, `"x"`), otherwise as a string.
 * @throws ConfigError naming an assignment without `=` or with an empty path.
 */
export function parseSets(sets: readonly string[]): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  for (const s of sets) {
    const eq = s.indexOf("=");
    const path = eq > 0 ? s.slice(0, eq).trim() : "";
    if (!path || path.split(".").some((p) => !p)) {
      throw new ConfigError([`--set ${s}: expected path.to.key=value`]);
    }
    const text = s.slice(eq + 1);
    if (text.trim() === "") {
      throw new ConfigError([
        `--set ${s}: empty value for ${path} (give a value, or null where the key takes null)`,
      ]);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    const obj: Record<string, unknown> = {};
    let node = obj;
    const parts = path.split(".");
    parts.forEach((p, i) => {
      if (i === parts.length - 1) node[p] = value;
      else node = (node[p] = {}) as Record<string, unknown>;
    });
    out = mergeConfig(out, obj);
  }
  return out;
}

/**
 * Resolves a plain (non-experiment) config: a preset name or a path to a JSON partial config,
 * with overrides.
 */
export function configFrom(
  presetOrFile: string,
  overrides: Record<string, unknown> = {},
): GrefelConfig {
  if (presetOrFile.endsWith(".json")) {
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(Deno.readTextFileSync(presetOrFile));
    } catch (e) {
      throw new ConfigError([`--config ${presetOrFile}: ${(e as Error).message}`]);
    }
    const preset = typeof raw.preset === "string" ? raw.preset : "compact";
    return presetConfig(preset, mergeConfig(raw, overrides));
  }
  return presetConfig(presetOrFile, overrides);
}

/** Re-validates a resolved config read back from a run's config.json. */
export function revalidate(config: unknown, context: string): GrefelConfig {
  return resolveConfig(config, context);
}
