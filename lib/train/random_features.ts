/**
 * Random-feature data for smoke runs: model inputs of a config's shapes drawn on the fly from
 * (seed, index), with a class-dependent shift so a model can learn something. Needs no data set,
 * no extractor and no feature cache (notebook 00 and the trainer's tests use it).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { GrefelInputs } from "../model/types.ts";
import type { FeatureSplit, TrainData } from "./train.ts";
import { mulberry32 } from "./schedule.ts";
import { datasetFingerprint } from "../run/hash.ts";

/**
 * Random features of a model config's input shapes, with a class-dependent shift so a model can
 * learn something: `n` samples, labels cycling over `classes`. Values are generated on the fly per
 * read from (seed, index), so large shapes cost no memory.
 */
export function randomFeatureSplit(
  shapes: { landmarkShape: [number, number][]; imageShape: [number, number][] },
  n: number,
  classes: number,
  seed: number,
  prefix: string,
): FeatureSplit {
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const make = (
    [s, c]: [number, number],
    indices: number[],
    view: number | number[],
    k: number,
  ) => {
    const size = s * s * c;
    const buf = new Float32Array(indices.length * size);
    indices.forEach((i, r) => {
      const v = Array.isArray(view) ? view[r] : view;
      const rand = mulberry32(seed * 1000003 + i * 17 + k);
      for (let j = 0; j < size; j++) {
        buf[r * size + j] = rand() - 0.5 + (j % classes === labels[i] ? 0.8 : 0) + 0.01 * v;
      }
    });
    return tf.tensor4d(buf, [indices.length, s, s, c]);
  };
  return {
    ids: Array.from({ length: n }, (_, i) => `${prefix}${i}`),
    labels,
    views: 2,
    readBatch: (indices, view = 0) => ({
      landmark: shapes.landmarkShape.map((sh, k) =>
        make(sh, indices, view, k)
      ) as GrefelInputs["landmark"],
      image: shapes.imageShape.map((sh, k) =>
        make(sh, indices, view, k + 3)
      ) as GrefelInputs["image"],
    }),
  };
}

/** Random-feature train/val/test data for a model config (see {@linkcode randomFeatureSplit}). */
export function randomFeatureData(
  shapes: { landmarkShape: [number, number][]; imageShape: [number, number][] },
  classes: number,
  sizes = { train: 32, val: 8, test: 8 },
  seed = 1,
): TrainData {
  const train = randomFeatureSplit(shapes, sizes.train, classes, seed, "train/");
  const val = randomFeatureSplit(shapes, sizes.val, classes, seed + 1, "val/");
  const test = randomFeatureSplit(shapes, sizes.test, classes, seed + 2, "test/");
  const all = [
    ...train.ids.map((id, i) => ({ id, split: "train", label: train.labels[i] })),
    ...val.ids.map((id, i) => ({ id, split: "val", label: val.labels[i] })),
    ...test.ids.map((id, i) => ({ id, split: "test", label: test.labels[i] })),
  ];
  return {
    name: "random-features",
    classNames: Array.from({ length: classes }, (_, i) => `class${i}`),
    fingerprint: datasetFingerprint(all),
    train,
    val,
    test,
  };
}
