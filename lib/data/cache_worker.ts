/**
 * Worker thread of the feature cache build: loads the extractor by registry name on the parent's
 * backend, then turns batches of rendered pixels into encoded records ({@linkcode encodeBatch}).
 *
 * Messages in: `{ init: { extractor, layout, backend } }`, then `{ id, pixels, count }`.
 * Messages out: `{ ready: true }` or `{ error }`, then `{ id, bytes }` or `{ id, error }`.
 *
 * @module
 */
import { selectBackend } from "../backend.ts";
import { loadExtractor } from "../extractors/registry.ts";
import type { FeatureExtractor } from "../extractors/types.ts";
import { encodeBatch, type RecordLayout } from "./cache.ts";

let extractor: FeatureExtractor | null = null;
let layout: RecordLayout | null = null;

// deno-lint-ignore no-explicit-any
const scope = self as any;
scope.onmessage = async (e: MessageEvent) => {
  const msg = e.data;
  if (msg.init) {
    try {
      await selectBackend(msg.init.backend);
      extractor = await loadExtractor(msg.init.extractor);
      layout = msg.init.layout;
      scope.postMessage({ ready: true });
    } catch (err) {
      scope.postMessage({ error: String((err as Error).message ?? err) });
    }
    return;
  }
  const { id, pixels, count } = msg;
  try {
    if (!extractor || !layout) throw new Error("worker used before init");
    const bytes = await encodeBatch(extractor, layout, pixels, count);
    scope.postMessage({ id, bytes }, [bytes.buffer]);
  } catch (err) {
    scope.postMessage({ id, error: String((err as Error).message ?? err) });
  }
};
