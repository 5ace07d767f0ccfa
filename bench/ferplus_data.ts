/**
 * The FER+ data of a preset as the trainer prepares it, for benchmarks that run on real features:
 * the preset's config on FER+ (no progress output), its prepared splits (the feature cache, built
 * by any FER+ run of that preset) and its model config sized to FER+'s classes.
 *
 * @module
 */
import { presetConfig } from "../lib/config.ts";
import type { GrefelConfig } from "../lib/config.ts";
import type { ModelConfig } from "../lib/model/config.ts";
import { prepareData } from "../lib/train/prepare.ts";

/** What {@linkcode ferplusData} prepared. */
export interface FerplusData {
  /** The preset's resolved config on FER+. */
  config: GrefelConfig;
  /** The prepared splits. */
  data: Awaited<ReturnType<typeof prepareData>>["data"];
  /** The model config with FER+'s number of classes. */
  cfg: ModelConfig;
}

/** Prepares FER+ for `preset` (default `compact`); reads `GREFEL_FERPLUS` like any run. */
export async function ferplusData(preset = "compact"): Promise<FerplusData> {
  const config = presetConfig(preset, { data: { dataset: "ferplus" }, train: { progress: "off" } });
  const { data } = await prepareData(config, { progress: false });
  const cfg = data.classNames.length === config.model.classes
    ? config.model
    : { ...config.model, classes: data.classNames.length };
  return { config, data, cfg };
}
