/**
 * Landmark stream: the feature trunk of face-api.js's 68-point landmark network
 * (`@vladmandic/face-api/model/face_landmark_68_model`, 357 kB, uint8-quantised weights).
 *
 * Why this network (measured): it is the only pretrained
 * facial-landmark network shipped in an npm package here whose inner maps line up with the paper's
 * landmark stream (SPEC §2: 28²×64, 14²×128, 7²×512→256): its dense blocks 1–3 give exactly
 * 28²×64, 14²×128 and 7²×256 from a 112×112 crop, and it is cheap (≈ 0.1 GFLOPs), so it adds
 * little to the cache build. It plays the role of the paper's MobileFaceNet landmark detector.
 *
 * The network is run as pure functions over named tensors (face-api.js style), reproducing
 * face-api.js's `FaceFeatureExtractor.forwardInput` (`denseBlock4` ×4) and stopping before its
 * average pool and fully connected landmark regressor. Frozen: weights are plain tensors, never
 * variables, so no gradient reaches them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadWeightMap, npmFile } from "./weights.ts";

/** Input side of the network (face-api.js resizes every face to it). */
export const LANDMARK68_INPUT = 112;

/** Shapes of the three returned maps, finest first: `[side, channels]`. */
export const LANDMARK68_SHAPE: [[number, number], [number, number], [number, number]] = [
  [28, 64],
  [14, 128],
  [7, 256],
];

/**
 * face-api.js's per-channel mean (0–255 scale) that `FaceFeatureExtractor.forwardInput` subtracts
 * before dividing by 255 (`src/faceFeatureExtractor/FaceFeatureExtractor.ts`).
 */
export const FACE_API_MEAN_RGB: readonly [number, number, number] = [122.782, 117.001, 104.298];

/** A loaded landmark trunk. */
export interface Landmark68Net {
  /** `[B, 112, 112, 3]` in [0, 1] → maps `[B,28,28,64]`, `[B,14,14,128]`, `[B,7,7,256]`. */
  run(x: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  /** Frees the weights. */
  dispose(): void;
}

function sepConv(
  x: tf.Tensor4D,
  w: tf.NamedTensorMap,
  prefix: string,
  stride: 1 | 2,
): tf.Tensor4D {
  // face-api.js depthwiseSeparableConv: separable conv, 'same' padding, plus bias.
  const y = tf.separableConv2d(
    x,
    w[`${prefix}/depthwise_filter`] as tf.Tensor4D,
    w[`${prefix}/pointwise_filter`] as tf.Tensor4D,
    stride,
    "same",
  );
  return tf.add(y, w[`${prefix}/bias`]);
}

/** face-api.js `denseBlock4` (dense connections inside the block, stride-2 first conv). */
export function denseBlock4(x: tf.Tensor4D, w: tf.NamedTensorMap, name: string, first: boolean) {
  const out1 = tf.relu(
    first
      ? tf.add(
        tf.conv2d(x, w[`${name}/conv0/filters`] as tf.Tensor4D, 2, "same"),
        w[`${name}/conv0/bias`],
      )
      : sepConv(x, w, `${name}/conv0`, 2),
  ) as tf.Tensor4D;
  const out2 = sepConv(out1, w, `${name}/conv1`, 1);
  const in3 = tf.relu(tf.add(out1, out2)) as tf.Tensor4D;
  const out3 = sepConv(in3, w, `${name}/conv2`, 1);
  const in4 = tf.relu(tf.add(out1, tf.add(out2, out3))) as tf.Tensor4D;
  const out4 = sepConv(in4, w, `${name}/conv3`, 1);
  return tf.relu(tf.add(out1, tf.add(out2, tf.add(out3, out4)))) as tf.Tensor4D;
}

/**
 * face-api.js's `FaceFeatureExtractor` trunk (shared by its 68-point landmark net and its
 * expression net, which differ only in their weights and heads): resize to 112² (bilinear,
 * `alignCorners` false, as face-api's `toBatchTensor`), subtract {@linkcode FACE_API_MEAN_RGB}/255,
 * then `denseBlock4` ×4. Call inside `tf.tidy`.
 *
 * @param x `[B, H, W, 3]` in [0, 1]
 * @param w the net's named weights (`dense0/…` … `dense3/…`)
 * @returns the four dense-block outputs `[B,56,56,32]`, `[B,28,28,64]`, `[B,14,14,128]`,
 *   `[B,7,7,256]`
 */
export function faceFeatureTrunk(
  x: tf.Tensor4D,
  w: tf.NamedTensorMap,
): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  return faceFeatureTrunkUpTo(x, w, 4) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
}

/**
 * The first `blocks` dense-block outputs of {@linkcode faceFeatureTrunk} (the later blocks are
 * not run). Call inside `tf.tidy`.
 */
export function faceFeatureTrunkUpTo(
  x: tf.Tensor4D,
  w: tf.NamedTensorMap,
  blocks: 1 | 2 | 3 | 4,
): tf.Tensor4D[] {
  if (x.shape[1] !== LANDMARK68_INPUT || x.shape[2] !== LANDMARK68_INPUT) {
    x = tf.image.resizeBilinear(x, [LANDMARK68_INPUT, LANDMARK68_INPUT]);
  }
  // face-api.js: (x·255 − mean)/255 = x − mean/255.
  let y = tf.sub(x, tf.tensor1d(FACE_API_MEAN_RGB.map((m) => m / 255))) as tf.Tensor4D;
  const out: tf.Tensor4D[] = [];
  // [B, 56, 56, 32], [B, 28, 28, 64], [B, 14, 14, 128], [B, 7, 7, 256]
  for (let i = 0; i < blocks; i++) out.push(y = denseBlock4(y, w, `dense${i}`, i === 0));
  return out;
}

/** Options of {@linkcode loadLandmark68}. */
export interface Landmark68Options {
  /**
   * The third map: `dense3` (the trunk's last block, `[B, 7, 7, 256]`; default) or `dense2`,
   * that block's input (`[B, 14, 14, 128]`), for a model that fine-tunes `dense3` itself
   * (`model.finetune: "landmark-dense3"`, lib/model/finetune.ts); `dense3` is then not run.
   */
  third?: "dense3" | "dense2";
}

/** Loads the landmark trunk from the installed `@vladmandic/face-api` package. */
export async function loadLandmark68(opts: Landmark68Options = {}): Promise<Landmark68Net> {
  const third = opts.third ?? "dense3";
  const w = await loadWeightMap(
    await npmFile("@vladmandic/face-api", "model/face_landmark_68_model-weights_manifest.json"),
  );
  // The landmark regressor head is not used.
  for (const k of ["fc/weights", "fc/bias"]) {
    w[k]?.dispose();
    delete w[k];
  }
  return {
    run(x) {
      return tf.tidy(() => {
        if (third === "dense2") {
          const [, d1, d2] = faceFeatureTrunkUpTo(x, w, 3);
          return [d1, d2, d2.clone()];
        }
        const [, d1, d2, d3] = faceFeatureTrunk(x, w);
        return [d1, d2, d3];
      });
    },
    dispose() {
      tf.dispose(Object.values(w));
    },
  };
}
