/**
 * Benchmark worker (not a test): feature-extraction throughput of one registered extractor on one
 * backend (random RGB images of the extractor's input side, batch B; all six maps read back, as
 * the feature cache does). One measurement per process; `bench/run.ts` starts these.
 *
 * Usage (prints one JSON line):
 *   deno run -A bench/extract_speed.ts --extractor npm-face-fast [--backend wasm] [--batch 16]
 *     [--warmup 1] [--steps 5] [--max-seconds 60]
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../lib/backend.ts";
import { loadExtractor } from "../lib/extractors/registry.ts";
import { median, peakRssBytes, timeIterations } from "./model_speed.ts";

/** Options of one extractor measurement. */
export interface ExtractSpeedOptions {
  /** Registry name (`npm-face`, `npm-face-fast`, `paper`, ...). */
  extractor: string;
  /** Backend name. */
  backend: string;
  /** Images per call. */
  batch: number;
  /** Untimed calls. */
  warmup: number;
  /** Timed calls (at most). */
  steps: number;
  /** Stop timing after this many seconds (at least one timed call runs). */
  maxSeconds: number;
}

/** Runs one extractor measurement in this process. */
export async function measureExtractor(o: ExtractSpeedOptions) {
  const backend = await selectBackend(o.backend);
  const t0 = performance.now();
  const ex = await loadExtractor(o.extractor);
  const loadSeconds = (performance.now() - t0) / 1000;
  const images = tf.randomUniform([o.batch, ex.inputSize, ex.inputSize, 3], 0, 1, "float32", 3);
  const run = async () => {
    const m = ex.extract(images as tf.Tensor4D);
    const maps = [...m.landmark, ...m.image];
    for (const t of maps) await t.data();
    tf.dispose(maps);
  };
  const { seconds, first, capped } = await timeIterations(run, o);
  const mem = tf.memory();
  const result = {
    options: o,
    backend,
    extractorName: ex.name,
    inputSize: ex.inputSize,
    landmarkShape: ex.landmarkShape,
    imageShape: ex.imageShape,
    loadSeconds,
    seconds,
    medianSeconds: median(seconds),
    imagesPerSecond: o.batch / median(seconds),
    firstIterationSeconds: first,
    peakRssBytes: peakRssBytes(),
    tfMemory: { numBytes: mem.numBytes, numTensors: mem.numTensors },
    capped,
  };
  images.dispose();
  ex.dispose();
  return result;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      extractor: { type: "string", default: "npm-face-fast" },
      backend: { type: "string", default: "wasm" },
      batch: { type: "string", default: "16" },
      warmup: { type: "string", default: "1" },
      steps: { type: "string", default: "5" },
      "max-seconds": { type: "string", default: "60" },
    },
  });
  const r = await measureExtractor({
    extractor: values.extractor!,
    backend: values.backend!,
    batch: Number(values.batch),
    warmup: Number(values.warmup),
    steps: Number(values.steps),
    maxSeconds: Number(values["max-seconds"]),
  });
  console.log(JSON.stringify(r));
  Deno.exit(0);
}
