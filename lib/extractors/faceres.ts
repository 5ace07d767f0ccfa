/**
 * Image stream: Human's `faceres` face-description network (`@vladmandic/human/models/faceres`,
 * 7 MB; a MobileNet-v1 trunk from HSE-asavchenko/HSE_FaceRec_tf trained for face recognition,
 * age and gender, with a 1024-d descriptor).
 *
 * Why this network (measured): it is the face-recognition network
 * shipped in npm whose inner maps line up with the image stream's three scales without resampling
 * — 28²×256, 14²×512 and 7²×1024 from a 224×224 crop — playing the role of the paper's IR-50
 * (a face-recognition ResNet). face-api.js's `face_recognition` ResNet-34 was the alternative;
 * its stage maps are 35²/17²/8²/4² at its 150×150 input, so they would need resampling, and it costs
 * more per image on the 2-core CPU.
 *
 * Maps are read from inside the graph with `GraphModel.execute(input, nodeNames)`: the outputs of
 * the ReLU6 after pointwise convolutions 5, 11 and 13. Input scaling follows Human
 * (`image·255`, no mean subtraction: the graph folds its normalisation into the first conv).
 * Frozen: the graph's weights are constants.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadGraphModelFile, npmFile } from "./weights.ts";

/** Input side of the network. */
export const FACERES_INPUT = 224;

/** Shapes of the three returned maps, finest first: `[side, channels]`. */
export const FACERES_SHAPE: [[number, number], [number, number], [number, number]] = [
  [28, 256],
  [14, 512],
  [7, 1024],
];

/** Graph nodes whose outputs are the three maps (ReLU6 after pointwise convs 5, 11, 13). */
export const FACERES_NODES = [
  "conv_pw_5_relu/clip_by_value",
  "conv_pw_11_relu/clip_by_value",
  "conv_pw_13_relu/clip_by_value",
];

/** A loaded faceres trunk. */
export interface FaceResNet {
  /**
   * `[B, S, S, 3]` in [0, 1] (resized to the input size) → `[B,28,28,256]`, `[B,14,14,512]`,
   * `[B,7,7,1024]` at 224.
   */
  run(x: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  /** Frees the weights. */
  dispose(): void;
}

/**
 * Loads faceres from the installed `@vladmandic/human` package.
 *
 * @param inputSize side the network runs at (default 224, its native size). The graph is fully
 *   convolutional up to the tapped maps, so other sides work; the maps then have sides
 *   `ceil(inputSize / 8)`, `/16`, `/32` (e.g. 160 → 20, 10, 5), at about (inputSize/224)² the cost.
 */
export async function loadFaceRes(inputSize = FACERES_INPUT): Promise<FaceResNet> {
  const model = await loadGraphModelFile(
    await npmFile("@vladmandic/human", "models/faceres.json"),
    inputSize !== FACERES_INPUT,
  );
  return {
    run(x) {
      const input = tf.tidy(() => {
        const r = x.shape[1] === inputSize && x.shape[2] === inputSize
          ? x
          : tf.image.resizeBilinear(x, [inputSize, inputSize]);
        return tf.mul(r, 255);
      });
      try {
        return model.execute(input, FACERES_NODES) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      } finally {
        input.dispose();
      }
    },
    dispose() {
      model.dispose();
    },
  };
}
