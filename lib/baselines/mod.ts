/**
 * Reference models to compare GReFEL with: the pretrained expression network shipped with
 * `@vladmandic/face-api`.
 *
 * @module
 */
export * from "./faceapi_expression.ts";
