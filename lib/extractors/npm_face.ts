/**
 * The default extractor pair, `npm-face`: face-api.js's 68-point landmark trunk for the landmark
 * stream ({@linkcode loadLandmark68}) and Human's `faceres` for the image stream
 * ({@linkcode loadFaceRes}), both loaded from files inside installed npm packages.
 *
 * Input is `[B, 112, 112, 3]` RGB in [0, 1] (the landmark net's native size); the image stream
 * upsamples it to faceres's 224×224 internally. Decision: 112 rather than 224 as the shared input
 * side because the data sets' aligned crops are mostly ≤ 112 px (FER+ is 48 px), so a larger input
 * adds no information but quadruples the pre-processing and batch memory.
 *
 * Frozen: no weight is a variable, so gradients never reach the extractors.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { FeatureExtractor, FeatureMaps, StreamShape } from "./types.ts";
import { LANDMARK68_INPUT, LANDMARK68_SHAPE, loadLandmark68 } from "./face_landmark68.ts";
import { FACERES_INPUT, FACERES_SHAPE, loadFaceRes } from "./faceres.ts";

/** Name of this extractor pair (part of the feature-cache key). */
export const NPM_FACE_NAME = "npm-face";

/** Version of the pair; bump when pre-processing or the tapped nodes change (invalidates caches). */
export const NPM_FACE_VERSION = 1;

/** Options of {@linkcode loadNpmFaceExtractor}. */
export interface NpmFaceOptions {
  /** Registry name recorded in the extractor (default `npm-face`). */
  name?: string;
  /** Side faceres runs at (default 224, its native size; its maps scale with it). */
  imageInputSize?: number;
  /**
   * The landmark stream's third map: `dense3` (default) or `dense2`, the input of the landmark
   * trunk's last block at 14×14×128, for models that fine-tune that block
   * (`model.finetune: "landmark-dense3"`).
   */
  landmarkThird?: "dense3" | "dense2";
}

/** Loads the `npm-face` extractor pair. */
export async function loadNpmFaceExtractor(opts: NpmFaceOptions = {}): Promise<FeatureExtractor> {
  const third = opts.landmarkThird ?? "dense3";
  const landmark = await loadLandmark68({ third });
  const size = opts.imageInputSize ?? FACERES_INPUT;
  const image = await loadFaceRes(size);
  const landmarkShape = LANDMARK68_SHAPE.map((s) => [...s]) as StreamShape;
  if (third === "dense2") landmarkShape[2] = [...LANDMARK68_SHAPE[1]];
  // faceres has stride 8, 16, 32 at its three taps ('same'-style padding: ceil).
  const imageShape = FACERES_SHAPE.map((
    [, c],
    i,
  ) => [Math.ceil(size / (8 << i)), c]) as StreamShape;
  return {
    name: opts.name ?? NPM_FACE_NAME,
    version: NPM_FACE_VERSION,
    inputSize: LANDMARK68_INPUT,
    landmarkShape,
    imageShape,
    extract(batch: tf.Tensor4D): FeatureMaps {
      if (batch.rank !== 4 || batch.shape[3] !== 3) {
        throw new Error(`npm-face: expected [B, H, W, 3] RGB input, got [${batch.shape}]`);
      }
      return { landmark: landmark.run(batch), image: image.run(batch) };
    },
    dispose() {
      landmark.dispose();
      image.dispose();
    },
  };
}
