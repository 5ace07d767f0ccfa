/**
 * Data: loaders for FER+, FER2013, RAF-DB, AffectNet, JAFFE, FERG-DB, Aff-Wild2 and class-per-folder
 * sets, the embedded synthetic faces, image decoding, augmentation, the data-refinement sampler,
 * label noise and the frozen-extractor feature cache.
 *
 * @module
 */
export * from "./types.ts";
// The zod schemas (`*Schema`) stay internal to the config modules: zod's types are not part of the
// documented API. Validate through resolveConfig / presetConfig / parseModelConfig.
export {
  type AugmentConfig,
  augmentParams,
  type DataConfig,
  faceCropOn,
  type SamplerConfig,
  type SyntheticConfig,
} from "./config.ts";
export * from "./datasets.ts";
export * from "./common.ts";
export * from "./image.ts";
export * from "./augment.ts";
export * from "./sampler.ts";
export * from "./noise.ts";
export * from "./synthetic.ts";
export * from "./cache.ts";
export * from "./ferplus.ts";
export * from "./fer2013.ts";
export * from "./rafdb.ts";
export * from "./affectnet.ts";
export * from "./jaffe.ts";
export * from "./ferg.ts";
export * from "./affwild2.ts";
export * from "./folder.ts";
export * from "./report.ts";
export { Rng, seedOf } from "./rng.ts";
export type { FeatureExtractor, StreamShape } from "../extractors/types.ts";
export type { GrefelInputs } from "../model/types.ts";
export type { FeatureMaps } from "../extractors/types.ts";
export type { ScanStats } from "./scan.ts";
export type { DetectOptions, FaceDetection, FaceDetector } from "../extractors/blazeface.ts";
export type * from "../tensor.ts";
