/**
 * Configuration section `data`: which data set, its pre-processing and augmentation (SPEC §5),
 * the epoch sampler (data refinement) and label noise. Every field has a documented default; the
 * default data set is the embedded synthetic one, so a fresh machine needs no download.
 * @module
 */
import { z } from "zod";
import type { AugmentParams } from "./augment.ts";
import { DATASET_KINDS, type DatasetKind } from "./datasets.ts";
import type { Assert, Equals } from "../type_check.ts";

const rgb = z.tuple([z.number(), z.number(), z.number()]);

/** Augmentation settings; defaults follow the paper (resize 256 → random crop 224, rotation, flip, colour jitter). */
export const augmentConfigSchema = z.strictObject({
  /** Apply random augmentation to training images (evaluation always uses the centre crop). */
  enabled: z.boolean().default(true),
  /** Side images are resized to before cropping (paper: 256). */
  resize: z.number().int().min(1).default(256),
  /** Crop side in resized pixels (paper: 224); the crop is scaled to `outputSize`. */
  crop: z.number().int().min(1).default(224),
  /**
   * Output side in pixels; `null` = the feature extractor's input size (the usual case: the paper's
   * 224 crop is scaled to what the extractor takes).
   */
  outputSize: z.number().int().min(1).nullable().default(null),
  /** Maximum rotation in degrees, uniform in ±rotation (paper: "rotation"; value ours). */
  rotation: z.number().min(0).max(180).default(10),
  /** Random horizontal flip, p = 0.5. */
  flip: z.boolean().default(true),
  /** Brightness jitter: factor in [1 − x, 1 + x] (value ours; SPEC gives none). */
  brightness: z.number().min(0).max(1).default(0.25),
  /** Contrast jitter. */
  contrast: z.number().min(0).max(1).default(0.25),
  /** Saturation jitter. */
  saturation: z.number().min(0).max(1).default(0.25),
});

/** Epoch sampler: data refinement (SPEC §5) or plain shuffling. */
export const samplerConfigSchema = z.strictObject({
  /** `"refine"`: N_pg per group then B per class (class-balanced epoch, paper); `"shuffle"`: all samples once. */
  mode: z.enum(["refine", "shuffle"]).default("refine"),
  /** N_pg: images drawn per group (video/subject) per epoch (paper: 512). */
  perGroup: z.number().int().min(1).default(512),
  /** B: images drawn per class per epoch (paper: 500). */
  perClass: z.number().int().min(1).default(500),
});

/** Generator settings of the embedded synthetic data set. */
export const syntheticConfigSchema = z.strictObject({
  /** Generator seed (independent of the run seed so the data stays fixed across runs). */
  seed: z.number().int().min(0).default(0),
  /** Image side in pixels. */
  size: z.number().int().min(16).max(512).default(64),
  /** Train / valid / test image counts. */
  train: z.number().int().min(1).default(2400),
  valid: z.number().int().min(0).default(400),
  test: z.number().int().min(1).default(400),
  /** Number of identities (disjoint across splits). */
  identities: z.number().int().min(3).default(80),
  /** Nuisance and expression noise scale (0 = clean prototypes). */
  difficulty: z.number().min(0).max(3).default(1),
});

/** Schema of the `data` section; every field has a documented default. */
export const dataConfigSchema = z.strictObject({
  /** Data-set kind (see `lib/data/datasets.ts`); `"synthetic"` is embedded and needs no files. */
  dataset: z.enum(DATASET_KINDS).default("synthetic"),
  /** Data-set root; `null` = the kind's environment variable (e.g. GREFEL_FERPLUS) or default path. */
  root: z.string().min(1, "empty path (null = the default root)").nullable().default(null),
  /** Split used for training. */
  trainSplit: z.string().default("train"),
  /** Split used for model selection / early evaluation. */
  validSplit: z.string().default("valid"),
  /** Split used for the reported test accuracy (never receives label noise). */
  testSplit: z.string().default("test"),
  /** FER+ label rule: the FER+ authors' `"majority"` or simple `"plurality"`. */
  labelMode: z.enum(["majority", "plurality"]).default("majority"),
  /** Fraction of train moved to a valid split for sets without one (0 = off). */
  validFromTrain: z.number().min(0).max(0.9).default(0),
  /** Pre-processing and augmentation. */
  augment: augmentConfigSchema.prefault({}),
  /** Per-channel mean subtracted from [0, 1] RGB (default 0: extractors take [0, 1] input). */
  mean: rgb.default([0, 0, 0]),
  /** Per-channel std divided by (default 1). */
  std: rgb.default([1, 1, 1]).refine((s) => s.every((v) => v > 0), "std must be positive"),
  /** Epoch sampler. */
  sampler: samplerConfigSchema.prefault({}),
  /** Fraction of training labels flipped to another class (Tables 5/7 ablations; 0 = none). */
  labelNoise: z.number().min(0).max(1).default(0),
  /** Seed of the label-noise draw. */
  noiseSeed: z.number().int().min(0).default(0),
  /** Synthetic data-set generator. */
  synthetic: syntheticConfigSchema.prefault({}),
  /**
   * Sets without their own splits (folders, JAFFE, FERG-DB): fraction assigned to valid
   * (stratified by class, whole groups where there are groups; lib/data/common.ts).
   */
  validFraction: z.number().min(0).max(0.9).default(0.1),
  /** Sets without their own splits: fraction assigned to test. */
  testFraction: z.number().min(0).max(0.9).default(0.2),
  /** Sets without their own splits: seed of the split assignment. */
  splitSeed: z.number().int().min(0).default(0),
  /**
   * Folders: group (subject) = the folder this many levels below the class folder
   * (`<class>/<subject>/img.png`: 1), for subject-independent splits; null = no groups.
   */
  groupLevel: z.number().int().min(1).nullable().default(null),
  /**
   * Folders: group = this regular expression's first capture group (else its match) on the path
   * below the class folder (e.g. `^(S\d+)_` for CK+-style names); null = no groups.
   */
  groupPattern: z.string().min(1).nullable().default(null),
  /**
   * Target classes in label order, e.g. FER+'s to train or evaluate another set in FER+'s label
   * space; each data-set class must match one (by name, case-insensitively, or by expression
   * synonym: happy = happiness). null = the data set's own classes and order.
   */
  classNames: z.array(z.string().min(1)).min(2).nullable().default(null),
  /**
   * Renames data-set classes before matching (`{"Happy": "happiness"}`); a class mapped to null is
   * dropped (its samples are skipped and listed). null = no renaming.
   */
  classMap: z.record(z.string(), z.string().min(1).nullable()).nullable().default(null),
  /**
   * Largest fraction of image files that may be skipped (unreadable, corrupt, truncated,
   * unsupported) before a run stops, before any feature extraction.
   */
  maxSkippedFraction: z.number().min(0).max(1).default(0.05),
  /**
   * Face detection and alignment before extraction (lib/data/faces.ts): `auto` = on for `folder`
   * data (raw photos), off for the sets that ship aligned face crops (FER+, FER2013, RAF-DB, ...)
   * and for synthetic faces.
   */
  faceCrop: z.enum(["auto", "on", "off"]).default("auto"),
  /** Face crop margin: fraction of the detected box side added on each side. */
  faceMargin: z.number().min(0).max(2).default(0.2),
  /** Smallest detector score that counts as a face. */
  faceMinScore: z.number().min(0).max(1).default(0.5),
  /** Side in pixels of the face crops (then pre-processed like any image). */
  faceSize: z.number().int().min(16).max(1024).default(224),
  /** Rotate face crops so that the eyes are level. */
  faceAlign: z.boolean().default(true),
});

/** Whether faces are detected and cropped for this config (`faceCrop`, `auto` by data-set kind). */
export function faceCropOn(cfg: Pick<DataConfig, "faceCrop" | "dataset">): boolean {
  return cfg.faceCrop === "on" || (cfg.faceCrop === "auto" && cfg.dataset === "folder");
}

/**
 * Augmentation settings, with defaults applied (validated by {@linkcode augmentConfigSchema});
 * defaults follow the paper (resize 256 → random crop 224, rotation, flip, colour jitter).
 */
export interface AugmentConfig {
  /**
   * Apply random augmentation to training images (evaluation always uses the centre crop).
   * Default: `true`.
   */
  enabled: boolean;
  /** Side images are resized to before cropping (paper: 256); integer ≥ 1. Default: `256`. */
  resize: number;
  /**
   * Crop side in resized pixels (paper: 224); the crop is scaled to `outputSize`. Integer ≥ 1.
   * Default: `224`.
   */
  crop: number;
  /**
   * Output side in pixels; `null` = the feature extractor's input size (the usual case: the paper's
   * 224 crop is scaled to what the extractor takes). Integer ≥ 1 or null. Default: `null`.
   */
  outputSize: number | null;
  /**
   * Maximum rotation in degrees, uniform in ±rotation (paper: "rotation"; value ours); in [0, 180].
   * Default: `10`.
   */
  rotation: number;
  /** Random horizontal flip, p = 0.5. Default: `true`. */
  flip: boolean;
  /**
   * Brightness jitter: factor in [1 − x, 1 + x] (value ours; SPEC gives none); x in [0, 1].
   * Default: `0.25`.
   */
  brightness: number;
  /** Contrast jitter, in [0, 1]. Default: `0.25`. */
  contrast: number;
  /** Saturation jitter, in [0, 1]. Default: `0.25`. */
  saturation: number;
}

/**
 * Epoch sampler: data refinement (SPEC §5) or plain shuffling, with defaults applied (validated
 * by {@linkcode samplerConfigSchema}).
 */
export interface SamplerConfig {
  /**
   * `"refine"`: N_pg per group then B per class (class-balanced epoch, paper); `"shuffle"`: all
   * samples once. Default: `"refine"`.
   */
  mode: "refine" | "shuffle";
  /** N_pg: images drawn per group (video/subject) per epoch (paper: 512); integer ≥ 1. Default: `512`. */
  perGroup: number;
  /** B: images drawn per class per epoch (paper: 500); integer ≥ 1. Default: `500`. */
  perClass: number;
}

/**
 * Generator settings of the embedded synthetic data set, with defaults applied (validated by
 * {@linkcode syntheticConfigSchema}).
 */
export interface SyntheticConfig {
  /**
   * Generator seed (independent of the run seed so the data stays fixed across runs); integer ≥ 0.
   * Default: `0`.
   */
  seed: number;
  /** Image side in pixels; integer in [16, 512]. Default: `64`. */
  size: number;
  /** Train image count; integer ≥ 1. Default: `2400`. */
  train: number;
  /** Valid image count; integer ≥ 0. Default: `400`. */
  valid: number;
  /** Test image count; integer ≥ 1. Default: `400`. */
  test: number;
  /** Number of identities (disjoint across splits); integer ≥ 3. Default: `80`. */
  identities: number;
  /** Nuisance and expression noise scale (0 = clean prototypes); in [0, 3]. Default: `1`. */
  difficulty: number;
}

/** The resolved `data` section (validated by {@linkcode dataConfigSchema}). */
export interface DataConfig {
  /**
   * Data-set kind (see `lib/data/datasets.ts`); `"synthetic"` is embedded and needs no files.
   * Default: `"synthetic"`.
   */
  dataset: DatasetKind;
  /**
   * Data-set root; `null` = the kind's environment variable (e.g. GREFEL_FERPLUS) or default path.
   * A non-empty path or null. Default: `null`.
   */
  root: string | null;
  /** Split used for training. Default: `"train"`. */
  trainSplit: string;
  /** Split used for model selection / early evaluation. Default: `"valid"`. */
  validSplit: string;
  /** Split used for the reported test accuracy (never receives label noise). Default: `"test"`. */
  testSplit: string;
  /** FER+ label rule: the FER+ authors' `"majority"` or simple `"plurality"`. Default: `"majority"`. */
  labelMode: "majority" | "plurality";
  /**
   * Fraction of train moved to a valid split for sets without one (0 = off); in [0, 0.9].
   * Default: `0`.
   */
  validFromTrain: number;
  /** Pre-processing and augmentation. Default: every {@linkcode AugmentConfig} default. */
  augment: AugmentConfig;
  /**
   * Per-channel mean subtracted from [0, 1] RGB (default 0: extractors take [0, 1] input).
   * Default: `[0, 0, 0]`.
   */
  mean: [number, number, number];
  /** Per-channel std divided by; each > 0. Default: `[1, 1, 1]`. */
  std: [number, number, number];
  /** Epoch sampler. Default: every {@linkcode SamplerConfig} default. */
  sampler: SamplerConfig;
  /**
   * Fraction of training labels flipped to another class (Tables 5/7 ablations; 0 = none); in
   * [0, 1]. Default: `0`.
   */
  labelNoise: number;
  /** Seed of the label-noise draw; integer ≥ 0. Default: `0`. */
  noiseSeed: number;
  /** Synthetic data-set generator. Default: every {@linkcode SyntheticConfig} default. */
  synthetic: SyntheticConfig;
  /**
   * Sets without their own splits (folders, JAFFE, FERG-DB): fraction assigned to valid
   * (stratified by class, whole groups where there are groups; lib/data/common.ts); in [0, 0.9].
   * Default: `0.1`.
   */
  validFraction: number;
  /** Sets without their own splits: fraction assigned to test; in [0, 0.9]. Default: `0.2`. */
  testFraction: number;
  /** Sets without their own splits: seed of the split assignment; integer ≥ 0. Default: `0`. */
  splitSeed: number;
  /**
   * Folders: group (subject) = the folder this many levels below the class folder
   * (`<class>/<subject>/img.png`: 1), for subject-independent splits; null = no groups. Integer
   * ≥ 1 or null. Default: `null`.
   */
  groupLevel: number | null;
  /**
   * Folders: group = this regular expression's first capture group (else its match) on the path
   * below the class folder (e.g. `^(S\d+)_` for CK+-style names); null = no groups. Default:
   * `null`.
   */
  groupPattern: string | null;
  /**
   * Target classes in label order, e.g. FER+'s to train or evaluate another set in FER+'s label
   * space; each data-set class must match one (by name, case-insensitively, or by expression
   * synonym: happy = happiness). null = the data set's own classes and order. At least 2
   * non-empty names, or null. Default: `null`.
   */
  classNames: string[] | null;
  /**
   * Renames data-set classes before matching (`{"Happy": "happiness"}`); a class mapped to null is
   * dropped (its samples are skipped and listed). null = no renaming. Default: `null`.
   */
  classMap: Record<string, string | null> | null;
  /**
   * Largest fraction of image files that may be skipped (unreadable, corrupt, truncated,
   * unsupported) before a run stops, before any feature extraction; in [0, 1]. Default: `0.05`.
   */
  maxSkippedFraction: number;
  /**
   * Face detection and alignment before extraction (lib/data/faces.ts): `auto` = on for `folder`
   * data (raw photos), off for the sets that ship aligned face crops (FER+, FER2013, RAF-DB, ...)
   * and for synthetic faces. Default: `"auto"`.
   */
  faceCrop: "auto" | "on" | "off";
  /**
   * Face crop margin: fraction of the detected box side added on each side; in [0, 2].
   * Default: `0.2`.
   */
  faceMargin: number;
  /** Smallest detector score that counts as a face; in [0, 1]. Default: `0.5`. */
  faceMinScore: number;
  /**
   * Side in pixels of the face crops (then pre-processed like any image); integer in [16, 1024].
   * Default: `224`.
   */
  faceSize: number;
  /** Rotate face crops so that the eyes are level. Default: `true`. */
  faceAlign: boolean;
}

// The interfaces above are the documented types; the schemas are the validators. These fail
// `deno check` if the two ever differ.
type _AugmentMatchesSchema = Assert<Equals<AugmentConfig, z.output<typeof augmentConfigSchema>>>;
type _SamplerMatchesSchema = Assert<Equals<SamplerConfig, z.output<typeof samplerConfigSchema>>>;
type _SyntheticMatchesSchema = Assert<
  Equals<SyntheticConfig, z.output<typeof syntheticConfigSchema>>
>;
type _DataMatchesSchema = Assert<Equals<DataConfig, z.output<typeof dataConfigSchema>>>;

/** The augmentation parameters of `cfg` for an extractor taking `inputSize`² images. */
export function augmentParams(cfg: DataConfig, inputSize: number): AugmentParams {
  const a = cfg.augment;
  const on = a.enabled;
  return {
    outputSize: a.outputSize ?? inputSize,
    resize: a.resize,
    crop: Math.min(a.crop, a.resize),
    rotation: on ? a.rotation : 0,
    flip: on && a.flip,
    brightness: on ? a.brightness : 0,
    contrast: on ? a.contrast : 0,
    saturation: on ? a.saturation : 0,
    mean: cfg.mean,
    std: cfg.std,
    randomCrop: on,
  };
}
