/**
 * The other face-api.js networks of `@vladmandic/face-api` as frozen multi-scale trunks, for the
 * extractor study (bench/extractor_study.ts): each returns its inner maps, finest first, and stops
 * before its head. Each forward pass reproduces the face-api.js source it names (as re-packaged by
 * @vladmandic/face-api, `src/…`), with face-api's input normalisation (`x − mean/255`, the
 * per-channel mean {@linkcode FACE_API_MEAN_RGB}) and bilinear resize to the net's input side.
 *
 * - `landmark68-tiny` (`TinyFaceFeatureExtractor`, 112 px): `denseBlock3` ×3 → 56²×32, 28²×64,
 *   14²×128.
 * - `recognition` (`FaceRecognitionNet`, dlib's ResNet-34-like, 150 px): the outputs of its four
 *   residual stages and of its last down-sampling block → 35²×32, 17²×64, 8²×128, 4²×256, 2²×256
 *   (the 128-d descriptor is a linear map of the last map's global average, so a linear probe on
 *   that average subsumes it).
 * - `age-gender` (`TinyXception(2)` of `AgeGenderNet`, 112 px): entry reduction block 0, the
 *   middle flow and the exit separable conv → 28²×64, 14²×128, 7²×512.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadWeightMap, npmFile } from "./weights.ts";
import { FACE_API_MEAN_RGB } from "./face_landmark68.ts";

/** A loaded trunk: maps of a `[B, H, W, 3]` batch in [0, 1], finest first. */
export interface Trunk {
  /** Input side the net runs at. */
  inputSize: number;
  /** Runs the trunk; the caller disposes the maps. */
  run(x: tf.Tensor4D): tf.Tensor4D[];
  /** Frees the weights. */
  dispose(): void;
}

type W = tf.NamedTensorMap;

function normalized(x: tf.Tensor4D, side: number): tf.Tensor4D {
  const r = x.shape[1] === side && x.shape[2] === side
    ? x
    : tf.image.resizeBilinear(x, [side, side]);
  return tf.sub(r, tf.tensor1d(FACE_API_MEAN_RGB.map((m) => m / 255))) as tf.Tensor4D;
}

function sep(x: tf.Tensor4D, w: W, p: string, stride: 1 | 2 = 1): tf.Tensor4D {
  const y = tf.separableConv2d(
    x,
    w[`${p}/depthwise_filter`] as tf.Tensor4D,
    w[`${p}/pointwise_filter`] as tf.Tensor4D,
    stride,
    "same",
  );
  return tf.add(y, w[`${p}/bias`]);
}

/** face-api.js `denseBlock3` (`src/faceFeatureExtractor/denseBlock.ts`). */
function denseBlock3(x: tf.Tensor4D, w: W, name: string, first: boolean): tf.Tensor4D {
  const out1 = tf.relu(
    first
      ? tf.add(
        tf.conv2d(x, w[`${name}/conv0/filters`] as tf.Tensor4D, 2, "same"),
        w[`${name}/conv0/bias`],
      )
      : sep(x, w, `${name}/conv0`, 2),
  ) as tf.Tensor4D;
  const out2 = sep(out1, w, `${name}/conv1`);
  const in3 = tf.relu(tf.add(out1, out2)) as tf.Tensor4D;
  const out3 = sep(in3, w, `${name}/conv2`);
  return tf.relu(tf.add(out1, tf.add(out2, out3))) as tf.Tensor4D;
}

/** face-api.js recognition net conv + scale layer (`src/faceRecognitionNet/convLayer.ts`). */
function convLayer(
  x: tf.Tensor4D,
  w: W,
  p: string,
  stride: 1 | 2,
  relu: boolean,
  padding: "same" | "valid" = "same",
): tf.Tensor4D {
  let out = tf.add(
    tf.conv2d(x, w[`${p}/conv/filters`] as tf.Tensor4D, stride, padding),
    w[`${p}/conv/bias`],
  );
  out = tf.add(tf.mul(out, w[`${p}/scale/weights`]), w[`${p}/scale/biases`]);
  return (relu ? tf.relu(out) : out) as tf.Tensor4D;
}

/** `residual` of `src/faceRecognitionNet/residualLayer.ts`. */
function residual(x: tf.Tensor4D, w: W, p: string): tf.Tensor4D {
  const out = convLayer(convLayer(x, w, `${p}/conv1`, 1, true), w, `${p}/conv2`, 1, false);
  return tf.relu(tf.add(out, x)) as tf.Tensor4D;
}

/** `residualDown` of `src/faceRecognitionNet/residualLayer.ts` (zero-padded shortcut). */
function residualDown(x: tf.Tensor4D, w: W, p: string): tf.Tensor4D {
  let out = convLayer(x, w, `${p}/conv1`, 2, true, "valid");
  out = convLayer(out, w, `${p}/conv2`, 1, false);
  let pooled = tf.avgPool(x, 2, 2, "valid") as tf.Tensor4D;
  if (pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2]) {
    const [b, h, wd, c] = out.shape;
    out = tf.concat([out, tf.zeros([b, 1, wd, c])], 1) as tf.Tensor4D;
    out = tf.concat([out, tf.zeros([b, h + 1, 1, c])], 2) as tf.Tensor4D;
  }
  if (pooled.shape[3] !== out.shape[3]) {
    pooled = tf.concat([pooled, tf.zeros(pooled.shape)], 3) as tf.Tensor4D;
  }
  return tf.relu(tf.add(pooled, out)) as tf.Tensor4D;
}

/** TinyXception conv with bias (`src/xception/TinyXception.ts`). */
function xconv(x: tf.Tensor4D, w: W, p: string, stride: 1 | 2): tf.Tensor4D {
  return tf.add(tf.conv2d(x, w[`${p}/filters`] as tf.Tensor4D, stride, "same"), w[`${p}/bias`]);
}

function reductionBlock(x: tf.Tensor4D, w: W, p: string, activateInput = true): tf.Tensor4D {
  let out = activateInput ? tf.relu(x) as tf.Tensor4D : x;
  out = sep(out, w, `${p}/separable_conv0`);
  out = sep(tf.relu(out) as tf.Tensor4D, w, `${p}/separable_conv1`);
  out = tf.maxPool(out, 3, 2, "same");
  return tf.add(out, xconv(x, w, `${p}/expansion_conv`, 2));
}

function mainBlock(x: tf.Tensor4D, w: W, p: string): tf.Tensor4D {
  let out = sep(tf.relu(x) as tf.Tensor4D, w, `${p}/separable_conv0`);
  out = sep(tf.relu(out) as tf.Tensor4D, w, `${p}/separable_conv1`);
  out = sep(tf.relu(out) as tf.Tensor4D, w, `${p}/separable_conv2`);
  return tf.add(out, x);
}

async function weights(manifest: string, drop: (name: string) => boolean): Promise<W> {
  const w = await loadWeightMap(await npmFile("@vladmandic/face-api", `model/${manifest}`));
  for (const k of Object.keys(w)) {
    if (drop(k)) {
      w[k].dispose();
      delete w[k];
    }
  }
  return w;
}

function trunk(inputSize: number, w: W, forward: (x: tf.Tensor4D) => tf.Tensor4D[]): Trunk {
  return {
    inputSize,
    run: (x) => tf.tidy(() => forward(normalized(x, inputSize))),
    dispose: () => tf.dispose(Object.values(w)),
  };
}

/** face-api.js's tiny 68-point landmark trunk (112 px): 56²×32, 28²×64, 14²×128. */
export async function loadLandmark68Tiny(): Promise<Trunk> {
  const w = await weights(
    "face_landmark_68_tiny_model-weights_manifest.json",
    (k) => k.startsWith("fc/"),
  );
  return trunk(112, w, (x) => {
    const d0 = denseBlock3(x, w, "dense0", true);
    const d1 = denseBlock3(d0, w, "dense1", false);
    return [d0, d1, denseBlock3(d1, w, "dense2", false)];
  });
}

/** face-api.js's recognition ResNet (150 px): 35²×32, 17²×64, 8²×128, 4²×256, 2²×256. */
export async function loadRecognitionTrunk(): Promise<Trunk> {
  const w = await weights("face_recognition_model-weights_manifest.json", (k) => k === "fc");
  return trunk(150, w, (x) => {
    let out = convLayer(x, w, "conv32_down", 2, true, "valid");
    out = tf.maxPool(out, 3, 2, "valid");
    for (const p of ["conv32_1", "conv32_2", "conv32_3"]) out = residual(out, w, p);
    const s1 = out;
    out = residualDown(out, w, "conv64_down");
    for (const p of ["conv64_1", "conv64_2", "conv64_3"]) out = residual(out, w, p);
    const s2 = out;
    out = residualDown(out, w, "conv128_down");
    for (const p of ["conv128_1", "conv128_2"]) out = residual(out, w, p);
    const s3 = out;
    out = residualDown(out, w, "conv256_down");
    for (const p of ["conv256_1", "conv256_2"]) out = residual(out, w, p);
    return [s1, s2, s3, out, residualDown(out, w, "conv256_down_out")];
  });
}

/** face-api.js's age-gender TinyXception trunk (112 px): 28²×64, 14²×128, 7²×512. */
export async function loadAgeGenderTrunk(): Promise<Trunk> {
  const w = await weights("age_gender_model-weights_manifest.json", (k) => k.startsWith("fc/"));
  return trunk(112, w, (x) => {
    let out = tf.relu(xconv(x, w, "entry_flow/conv_in", 2)) as tf.Tensor4D;
    out = reductionBlock(out, w, "entry_flow/reduction_block_0", false);
    const s1 = out;
    out = reductionBlock(out, w, "entry_flow/reduction_block_1");
    out = mainBlock(out, w, "middle_flow/main_block_0");
    out = mainBlock(out, w, "middle_flow/main_block_1");
    const s2 = out;
    out = reductionBlock(out, w, "exit_flow/reduction_block");
    return [s1, s2, tf.relu(sep(out, w, "exit_flow/separable_conv")) as tf.Tensor4D];
  });
}
