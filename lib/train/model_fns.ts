/**
 * The real model functions (lib/model) in the shape the trainer takes ({@linkcode ModelFns}).
 * @module
 */
import * as M from "../model/mod.ts";
import type { ModelFns } from "./train.ts";

/** GReFEL's model functions for {@linkcode trainRun}. */
export const MODEL_FNS: ModelFns = {
  initGrefel: M.initGrefel,
  grefelForward: M.grefelForward,
  grefelLoss: M.grefelLoss,
  smoothLabels: M.smoothLabels,
  flattenParams: M.flattenParams,
  trainableVariables: M.trainableVariables,
  assignParams: M.assignParams,
  disposeParams: M.disposeParams,
  anchorsOn: M.anchorsOn,
  loadPretrained: M.loadFinetuneWeights,
  grefelEmbedding: M.grefelEmbedding,
  grefelFromEmbedding: M.grefelFromEmbedding,
  workerModule: { url: import.meta.url, name: "MODEL_FNS" },
  initAnchorsFromEmbeddings: (params, embeddings, labels, cfg, seed) =>
    M.initAnchorsFromEmbeddings(params, embeddings, labels, seed, cfg.rb.anchorInitNoise),
};
