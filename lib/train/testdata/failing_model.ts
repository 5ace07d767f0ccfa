/**
 * Model functions for the data-parallel tests (lib/train/parallel_test.ts): the real ones, except
 * that the embedding throws in a worker thread once it has been called `FAIL_AFTER` times there.
 * @module
 */
import type { ModelFns } from "../train.ts";
import { MODEL_FNS } from "../model_fns.ts";

/** Embedding calls a worker completes before the next one throws. */
export const FAIL_AFTER = 1;

let calls = 0;

/** {@linkcode MODEL_FNS} whose `grefelEmbedding` throws in a worker after {@linkcode FAIL_AFTER} calls. */
export const FAILING_MODEL: ModelFns = {
  ...MODEL_FNS,
  grefelEmbedding(params, inputs, cfg) {
    const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !==
      "undefined";
    if (inWorker && ++calls > FAIL_AFTER) throw new Error("embedding failed on purpose");
    return MODEL_FNS.grefelEmbedding!(params, inputs, cfg);
  },
  workerModule: { url: import.meta.url, name: "FAILING_MODEL" },
};
