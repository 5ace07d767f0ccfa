/**
 * Face detector: Human's BlazeFace (`@vladmandic/human/models/blazeface.json`, the MediaPipe
 * short-range face detector, 256×256 input), loaded from the installed npm package and decoded
 * here, so that raw photos can be cropped to the face before feature extraction.
 *
 * The graph returns, for 896 anchors (16×16 cells × 2 anchors at stride 16, then 8×8 cells × 6
 * anchors at stride 32), a face logit and 16 regression values: the box centre offset and size and
 * six keypoints (offsets from the anchor, in input pixels). Decoding follows Human's
 * `src/face/blazeface.ts` (`decodeBoxes`, `generateAnchors`); keypoint order is MediaPipe's:
 * subject's right eye, left eye, nose tip, mouth centre, right ear, left ear. Boxes overlapping a
 * better one (IoU above `iouThreshold`) are dropped.
 *
 * Pre-processing (Human's): the image is zero-padded to a centred square (so faces keep their
 * aspect), resized bilinearly to 256², and scaled to [−1, 1]. Coordinates are mapped back to the
 * original image's pixels here (Human's own mapping of padded inputs is approximate).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { RawImage } from "../data/types.ts";
import { loadGraphModelFile, npmFile } from "./weights.ts";

/** Input side of the network. */
export const BLAZEFACE_INPUT = 256;

/** Version of the decoding; part of the face-crop cache key. */
export const BLAZEFACE_VERSION = 1;

/** A detected face in image pixels. */
export interface FaceDetection {
  /** Box `[x, y, width, height]` as the network regresses it (tight around eyes to chin). */
  box: [number, number, number, number];
  /** Face probability (sigmoid of the logit). */
  score: number;
  /**
   * Six keypoints `[x, y]`: subject's right eye (image left), left eye, nose tip, mouth centre,
   * right ear, left ear.
   */
  keypoints: [number, number][];
}

/** Options of {@linkcode FaceDetector.detect}. */
export interface DetectOptions {
  /** Smallest score kept (default 0.5). */
  minScore?: number;
  /** Boxes overlapping a better one by more than this IoU are dropped (default 0.3). */
  iouThreshold?: number;
  /** At most this many faces, best first (default 5). */
  maxFaces?: number;
}

/** A loaded face detector. */
export interface FaceDetector {
  /** Name and version (part of cache keys). */
  readonly name: string;
  /** Bump when decoding changes. */
  readonly version: number;
  /** Faces in `image`, best score first. */
  detect(image: RawImage, opts?: DetectOptions): Promise<FaceDetection[]>;
  /** Frees the weights. */
  dispose(): void;
}

/** Anchor centres in input pixels (Human's `generateAnchors` for BlazeFace). */
export function blazeFaceAnchors(inputSize = BLAZEFACE_INPUT): Float32Array {
  const spec = [[inputSize / 16, 2], [inputSize / 8, 6]];
  const out: number[] = [];
  for (const [stride, per] of spec) {
    const cells = Math.floor((inputSize + stride - 1) / stride);
    for (let gy = 0; gy < cells; gy++) {
      for (let gx = 0; gx < cells; gx++) {
        for (let n = 0; n < per; n++) out.push(stride * (gx + 0.5), stride * (gy + 0.5));
      }
    }
  }
  return Float32Array.from(out);
}

/** Intersection over union of two `[x, y, w, h]` boxes. */
export function iou(a: readonly number[], b: readonly number[]): number {
  const x0 = Math.max(a[0], b[0]), y0 = Math.max(a[1], b[1]);
  const x1 = Math.min(a[0] + a[2], b[0] + b[2]), y1 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/** The image as a zero-padded, centred square `[1, S, S, 3]` in [−1, 1], and the padding used. */
function toInput(
  image: RawImage,
  size: number,
): { x: tf.Tensor4D; side: number; padX: number; padY: number } {
  const { width: w, height: h, channels: c } = image;
  const side = Math.max(w, h);
  const padX = Math.floor((side - w) / 2), padY = Math.floor((side - h) / 2);
  const x = tf.tidy(() => {
    const img = tf.tensor3d(image.data, [h, w, c], "int32").toFloat();
    const rgb = c === 1 ? tf.tile(img, [1, 1, 3]) : img;
    const sq = tf.pad(rgb, [[padY, side - h - padY], [padX, side - w - padX], [0, 0]]);
    const r = tf.image.resizeBilinear(sq.expandDims(0) as tf.Tensor4D, [size, size]);
    return tf.sub(tf.div(r, 127.5), 1) as tf.Tensor4D;
  });
  return { x, side, padX, padY };
}

/** Loads BlazeFace from the installed `@vladmandic/human` package (no network access). */
export async function loadBlazeFace(): Promise<FaceDetector> {
  const model = await loadGraphModelFile(
    await npmFile("@vladmandic/human", "models/blazeface.json"),
  );
  const anchors = blazeFaceAnchors(BLAZEFACE_INPUT);
  const n = anchors.length / 2;
  return {
    name: "blazeface",
    version: BLAZEFACE_VERSION,
    async detect(image, opts = {}) {
      const minScore = opts.minScore ?? 0.5;
      const iouThreshold = opts.iouThreshold ?? 0.3;
      const maxFaces = opts.maxFaces ?? 5;
      const S = BLAZEFACE_INPUT;
      const { x, side, padX, padY } = toInput(image, S);
      let out: tf.Tensor[] = [];
      let values: Float32Array;
      try {
        out = model.execute(x) as tf.Tensor[];
        // Outputs: [1,512,1] and [1,384,1] logits, [1,512,16] and [1,384,16] regressions.
        const bySize = [...out].sort((a, b) => a.size - b.size);
        const all = tf.tidy(() => {
          const a384 = tf.concat([bySize[0], bySize[2]], 2);
          const a512 = tf.concat([bySize[1], bySize[3]], 2);
          return tf.concat([a512, a384], 1).reshape([n, 17]);
        });
        values = await all.data() as Float32Array;
        all.dispose();
      } finally {
        x.dispose();
        tf.dispose(out);
      }
      const scale = side / S;
      const cands: FaceDetection[] = [];
      for (let i = 0; i < n; i++) {
        const r = values.subarray(i * 17, (i + 1) * 17);
        const score = 1 / (1 + Math.exp(-r[0]));
        if (!(score >= minScore)) continue;
        const ax = anchors[2 * i], ay = anchors[2 * i + 1];
        const cx = r[1] + ax, cy = r[2] + ay, bw = r[3], bh = r[4];
        const box: [number, number, number, number] = [
          (cx - bw / 2) * scale - padX,
          (cy - bh / 2) * scale - padY,
          bw * scale,
          bh * scale,
        ];
        const keypoints: [number, number][] = [];
        for (let k = 0; k < 6; k++) {
          keypoints.push([(r[5 + 2 * k] + ax) * scale - padX, (r[6 + 2 * k] + ay) * scale - padY]);
        }
        cands.push({ box, score, keypoints });
      }
      cands.sort((a, b) => b.score - a.score);
      const kept: FaceDetection[] = [];
      for (const c of cands) {
        if (kept.length >= maxFaces) break;
        if (kept.every((k) => iou(k.box, c.box) <= iouThreshold)) kept.push(c);
      }
      return kept;
    },
    dispose() {
      model.dispose();
    },
  };
}
