/**
 * The feature-extractor interface. Extractors are pluggable: the model consumes three feature maps
 * per stream (landmark and image), at three scales, whatever network produced them.
 * @module
 */
import type { Tensor4D } from "../tensor.ts";

/** Three NHWC feature maps per stream, finest scale first: `[B, H_i, W_i, C_i]`. */
export interface FeatureMaps {
  /** Landmark stream (paper: MobileFaceNet landmark detector). */
  landmark: [Tensor4D, Tensor4D, Tensor4D];
  /** Image stream (paper: IR-50 face recognition ResNet). */
  image: [Tensor4D, Tensor4D, Tensor4D];
}

/** Shape of one stream's maps: `[side, channels]` per scale, finest first. */
export type StreamShape = [[number, number], [number, number], [number, number]];

/** A frozen (by default) pretrained network pair that turns face crops into {@linkcode FeatureMaps}. */
export interface FeatureExtractor {
  /** Stable name; part of the feature-cache key (and the registry name in `registry.ts`). */
  readonly name: string;
  /**
   * Version of the weights and pre-processing; part of the feature-cache key (bump it when the
   * output of `extract` changes for the same input). Absent means `0`.
   */
  readonly version?: number;
  /** Input side in pixels the extractor expects (images are resized to it). */
  readonly inputSize: number;
  /** Output shapes of the landmark stream. */
  readonly landmarkShape: StreamShape;
  /** Output shapes of the image stream. */
  readonly imageShape: StreamShape;
  /** Runs both networks on `[B, inputSize, inputSize, 3]` RGB in [0, 1]. The caller disposes the maps. */
  extract(batch: Tensor4D): FeatureMaps;
  /** Frees the weights. */
  dispose(): void;
}
