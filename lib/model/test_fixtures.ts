/**
 * Shared fixtures of the model tests: a micro configuration that exercises every code path
 * (input convs of both kinds, stride-2 embedding convs, windows smaller than the map) at a size
 * that trains in seconds, and seeded random inputs.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ModelConfig, parseModelConfig } from "./config.ts";
import type { GrefelInputs } from "./types.ts";
import { normalSampler, streamRng } from "./params.ts";

/** The micro configuration (3 classes, D = 8, 4 tokens per scale). */
export function microConfig(overrides: Record<string, unknown> = {}): ModelConfig {
  const base = {
    classes: 3,
    landmarkShape: [[8, 4], [4, 4], [2, 6]],
    imageShape: [[16, 3], [8, 5], [2, 6]],
    landmarkConv: [null, null, { channels: 4, kernel: 3, stride: 1 }],
    imageConv: [
      { channels: 4, kernel: 3, stride: 2 },
      { channels: 4, kernel: 3, stride: 2 },
      { channels: 4, kernel: 1, stride: 1 },
    ],
    crossAttention: { heads: [1, 2, 2], headDim: 2, windowSize: [4, null, null], mlpRatio: 1 },
    tokens: 4,
    embedDim: 8,
    fusion: { depth: 1, heads: 2, mlpRatio: 1 },
    head: { hidden: [8, 8], dropout: 0.1 },
    rb: { anchorsPerClass: 2, attentionTokens: 2, attentionHeads: 2, anchorInit: "random" },
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    const b = merged[k];
    merged[k] = b && typeof b === "object" && !Array.isArray(b) && v && typeof v === "object" &&
        !Array.isArray(v)
      ? { ...b, ...v }
      : v;
  }
  return parseModelConfig(merged);
}

/** Seeded N(0, 1) feature maps of batch size `b` for `cfg`'s input shapes. */
export function randomInputs(cfg: ModelConfig, b: number, seed = 1): GrefelInputs {
  const normal = normalSampler(streamRng(seed, "inputs"));
  const make = (side: number, ch: number) => {
    const v = new Float32Array(b * side * side * ch);
    for (let i = 0; i < v.length; i++) v[i] = normal();
    return tf.tensor4d(v, [b, side, side, ch]);
  };
  const stream = (shapes: ModelConfig["imageShape"]) =>
    shapes.map(([s, c]) => make(s, c)) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  return { landmark: stream(cfg.landmarkShape), image: stream(cfg.imageShape) };
}

/** Disposes every map of an input. */
export function disposeInputs(x: GrefelInputs): void {
  for (const t of [...x.landmark, ...x.image]) t.dispose();
}
