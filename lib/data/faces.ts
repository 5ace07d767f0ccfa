/**
 * Face crops from raw photos: the chosen detection of an image ({@linkcode pickFace}) becomes a
 * square crop around the face with a margin, rotated so that the eyes are level
 * ({@linkcode alignedFaceCrop}).
 *
 * Decisions:
 * - Face choice: the largest detected box (the photo's subject), ties by score.
 * - Crop: centred on the detector's box, side `max(w, h) · (1 + 2·margin)`; BlazeFace's box spans
 *   roughly brows to chin, so the default margin 0.2 (Human's enlargement 1.4) keeps the whole
 *   face and a little hair and background, as the aligned crops of FER+ and RAF-DB do.
 * - Alignment: rotation about the box centre by the angle of the line from the image-left eye to
 *   the image-right eye (the detector's two eye keypoints), so that it is horizontal.
 * - Sampling: bilinear, in plain TypeScript (backend-independent pixels); outside the image is
 *   black.
 * @module
 */
import type { FaceDetection } from "../extractors/blazeface.ts";
import type { RawImage } from "./types.ts";

/** Crop settings. */
export interface FaceCropParams {
  /** Fraction of the box side added on each side (default 0.2). */
  margin: number;
  /** Output side in pixels. */
  size: number;
  /** Rotate so that the eyes are level. */
  align: boolean;
}

/** The face to crop among detections: the largest box, ties by score; null when none. */
export function pickFace(faces: readonly FaceDetection[]): FaceDetection | null {
  let best: FaceDetection | null = null;
  for (const f of faces) {
    const a = f.box[2] * f.box[3];
    if (
      !best || a > best.box[2] * best.box[3] ||
      (a === best.box[2] * best.box[3] && f.score > best.score)
    ) {
      best = f;
    }
  }
  return best;
}

/** The in-plane angle (radians) of the eye line; 0 when the eyes coincide. */
export function eyeAngle(face: FaceDetection): number {
  const [[ax, ay], [bx, by]] = face.keypoints;
  // Keypoint 0 is the subject's right eye, usually the image-left one.
  const [l, r] = ax <= bx ? [[ax, ay], [bx, by]] : [[bx, by], [ax, ay]];
  const dx = r[0] - l[0], dy = r[1] - l[1];
  return dx === 0 && dy === 0 ? 0 : Math.atan2(dy, dx);
}

/**
 * The square, optionally eye-aligned crop of `face` in `image`, `p.size`² with the image's
 * channels.
 */
export function alignedFaceCrop(image: RawImage, face: FaceDetection, p: FaceCropParams): RawImage {
  const { width: w, height: h, channels: c, data } = image;
  const [bx, by, bw, bh] = face.box;
  const cx = bx + bw / 2, cy = by + bh / 2;
  const side = Math.max(bw, bh) * (1 + 2 * p.margin);
  const angle = p.align ? eyeAngle(face) : 0;
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const S = p.size;
  const out = new Uint8Array(S * S * c);
  const step = side / S;
  for (let v = 0; v < S; v++) {
    const dy = (v + 0.5) * step - side / 2;
    for (let u = 0; u < S; u++) {
      const dx = (u + 0.5) * step - side / 2;
      // Output axes rotated by the eye angle, in source pixel coordinates (pixel centres at +0.5).
      const sx = cx + dx * cos - dy * sin - 0.5;
      const sy = cy + dx * sin + dy * cos - 0.5;
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      for (let k = 0; k < c; k++) {
        let acc = 0;
        for (let j = 0; j < 2; j++) {
          const yy = y0 + j;
          if (yy < 0 || yy >= h) continue;
          const wy = j ? fy : 1 - fy;
          for (let i = 0; i < 2; i++) {
            const xx = x0 + i;
            if (xx < 0 || xx >= w) continue;
            acc += data[(yy * w + xx) * c + k] * wy * (i ? fx : 1 - fx);
          }
        }
        out[(v * S + u) * c + k] = Math.round(acc);
      }
    }
  }
  return { width: S, height: S, channels: c, data: out };
}
