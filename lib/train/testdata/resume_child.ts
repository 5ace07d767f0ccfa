/**
 * Child process of the SIGKILL resume test (lib/train/resume_test.ts): trains the real model on a
 * micro config with random features into `<resultsDir>` and prints the outcome as JSON.
 * Usage: `deno run -A resume_child.ts RESULTS_DIR EPOCHS STEP_DELAY_MS`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { presetConfig } from "../../config.ts";
import { MODEL_FNS } from "../model_fns.ts";
import { randomFeatureData } from "../test_helpers.ts";
import { trainRun } from "../train.ts";

/** A model config small enough to train in well under a second per epoch on a CPU. */
export const MICRO_MODEL = {
  classes: 4,
  landmarkShape: [[4, 4], [2, 4], [1, 4]],
  imageShape: [[4, 4], [2, 4], [1, 4]],
  imageConv: [null, null, null],
  tokens: 1,
  crossAttention: { heads: [1, 1, 1], headDim: 4, windowSize: [null, null, null], mlpRatio: 1 },
  embedDim: 8,
  fusion: { depth: 1, heads: 2, mlpRatio: 1 },
  head: { hidden: [8] },
  rb: { anchorsPerClass: 2, attentionTokens: 2, attentionHeads: 1 },
};

if (import.meta.main) {
  const [resultsDir, epochs, delay] = Deno.args;
  await tf.setBackend("cpu");
  const config = presetConfig("tiny", {
    model: MICRO_MODEL,
    train: { epochs: Number(epochs), batchSize: 8, progress: "off", resultsDir },
  });
  const data = randomFeatureData(config.model, 4, { train: 32, val: 8, test: 8 });
  const read = data.train.readBatch;
  data.train.readBatch = async (i, v) => {
    await new Promise((r) => setTimeout(r, Number(delay)));
    return read(i, v);
  };
  const r = await trainRun(config, data, { model: MODEL_FNS, print: () => {} });
  console.log(JSON.stringify({ status: r.status, dir: r.dir, epochs: r.epochs }));
}
