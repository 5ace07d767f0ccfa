/**
 * Frozen feature extractors: the npm-shipped pretrained networks (face-api's 68-point landmark
 * trunk, Human's faceres) and the paper's IR-50 + MobileFaceNet (`paper/`), behind one registry.
 *
 * @module
 */
export * from "./types.ts";
export * from "./registry.ts";
export * from "./provenance.ts";
export type { DetectOptions, FaceDetection, FaceDetector } from "./blazeface.ts";
export type { RawImage } from "../data/types.ts";
export type * from "../tensor.ts";
