/**
 * Whether a training batch fits in the backend's memory, checked before any feature extraction.
 *
 * The wasm backend keeps every tensor in one WebAssembly memory, which cannot grow past 4 GiB
 * (wasm32). A training step whose tensors outgrow it does not throw a JavaScript error: the module
 * traps with a bare `RuntimeError: memory access out of bounds`, after the feature cache has been
 * built. So before extraction, {@linkcode checkBatchFits} measures what one step needs: it runs two
 * steps of the configured model on random inputs of the configured shapes at two small batch
 * sizes under `tf.profile`, and fits the peak bytes as `base + perSample · B` (the peak is linear
 * in the batch: every activation and gradient has the batch as its leading dimension), scaled to
 * wasm bytes by {@linkcode PROFILE_PER_WASM_BYTE}. A batch whose estimate exceeds
 * {@linkcode WASM_BATCH_BUDGET} of the memory is an error naming the largest batch that fits. {@linkcode explainOutOfMemory} turns a trap that happens anyway
 * into the same kind of message.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createAdam } from "../wasm_adam.ts";
import type { GrefelConfig } from "../config.ts";
import type { GrefelInputs } from "../model/types.ts";
import { trainStep } from "./step.ts";
import type { ModelFns } from "./train.ts";

/** The largest WebAssembly memory of the wasm backend (wasm32: 65,535 pages of 64 KiB). */
export const WASM_MEMORY_BYTES = 4294901760;

/**
 * Profiled bytes per byte of wasm memory. `tf.profile`'s peak counts every live tensor's bytes,
 * also of tensors that share one buffer (reshapes), so it exceeds what the wasm memory holds.
 * Measured on `compact` (wasm, training steps on random inputs, 2026-12): the profiled peak is
 * 8.2 MB + 16.4 MB per sample; batch 392 runs (profiled 6.44 GB, 1.50× the 4 GiB memory), batch
 * 400 traps (6.57 GB, 1.53×; so do 416, 448 and 1024).
 */
export const PROFILE_PER_WASM_BYTE = 1.5;

/**
 * The share of {@linkcode WASM_MEMORY_BYTES} a training step may take by estimate: the margin
 * covers the error of the two-point fit and of {@linkcode PROFILE_PER_WASM_BYTE} (`compact`: the
 * largest batch allowed is 364, the largest that runs 392).
 */
export const WASM_BATCH_BUDGET = 0.93;

/** Peak tensor bytes of one training step: `base + perSample · batch`. */
export interface StepMemory {
  /** Bytes that do not grow with the batch (weights, Adam moments, constants). */
  base: number;
  /** Bytes per sample of the batch. */
  perSample: number;
}

/** Random inputs of the model's shapes, `[batch, side, side, channels]` per stream and scale. */
function randomInputs(config: GrefelConfig, batch: number): GrefelInputs {
  const make = ([s, c]: [number, number]) => tf.randomUniform([batch, s, s, c], -1, 1, "float32");
  return {
    landmark: config.model.landmarkShape.map(make) as GrefelInputs["landmark"],
    image: config.model.imageShape.map(make) as GrefelInputs["image"],
  };
}

/** Peak bytes of one training step of `config`'s model at `batch` (throwaway weights). */
async function stepPeak(model: ModelFns, config: GrefelConfig, batch: number): Promise<number> {
  const params = model.initGrefel(config.model, 0);
  const optimizer = createAdam(1e-3);
  const inputs = randomInputs(config, batch);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % config.model.classes);
  try {
    const p = await tf.profile(async () => {
      await trainStep(
        { model, params, optimizer, cfg: config.model, smoothing: 0 },
        { inputs, labels },
        { dropoutSeed: 1, progress: 0 },
      );
    });
    return p.peakBytes;
  } finally {
    tf.dispose([...inputs.landmark, ...inputs.image]);
    optimizer.dispose();
    model.disposeParams(params);
  }
}

/** Measures {@linkcode StepMemory} of `config`'s model on the current backend (two small steps). */
export async function measureStepMemory(
  model: ModelFns,
  config: GrefelConfig,
): Promise<StepMemory> {
  const [a, b] = [2, 4];
  const pa = await stepPeak(model, config, a);
  const pb = await stepPeak(model, config, b);
  const perSample = Math.max(1, (pb - pa) / (b - a));
  return { base: Math.max(0, pa - a * perSample), perSample };
}

/** The largest batch whose estimated peak fits in `budgetBytes`. */
export function largestBatch(m: StepMemory, budgetBytes: number): number {
  return Math.max(0, Math.floor((budgetBytes - m.base) / m.perSample));
}

/** A batch that does not fit in the backend's memory. */
export class BatchTooLargeError extends Error {
  /** The largest batch that fits, by estimate. */
  readonly largest: number;
  constructor(message: string, largest: number) {
    super(message);
    this.name = "BatchTooLargeError";
    this.largest = largest;
  }
}

const GIB = 2 ** 30;

/**
 * Checks, before extraction, that `train.batchSize` fits in the wasm backend's memory (other
 * backends: nothing to check, returns null). Batches of up to 4 samples are not measured.
 * @returns the estimate and the largest batch that fits, or null when nothing was checked.
 * @throws BatchTooLargeError naming `train.batchSize`, its estimated need and the largest batch
 *   that fits.
 */
export async function checkBatchFits(
  model: ModelFns,
  config: GrefelConfig,
  backend: string = tf.getBackend(),
): Promise<{ memory: StepMemory; largest: number } | null> {
  const bs = config.train.batchSize;
  if (backend !== "wasm" || bs <= 4) return null;
  const memory = await measureStepMemory(model, config);
  const budget = WASM_MEMORY_BYTES * WASM_BATCH_BUDGET * PROFILE_PER_WASM_BYTE;
  const largest = largestBatch(memory, budget);
  if (bs > largest) {
    const need = (memory.base + bs * memory.perSample) / PROFILE_PER_WASM_BYTE;
    throw new BatchTooLargeError(
      `train.batchSize=${bs} does not fit in the wasm backend's memory: one training step of ` +
        `this model needs about ${(need / GIB).toFixed(2)} GiB (${
          (memory.perSample / PROFILE_PER_WASM_BYTE / 2 ** 20).toFixed(1)
        } MiB per sample) by estimate, and wasm has at most ${
          (WASM_MEMORY_BYTES / GIB).toFixed(0)
        } GiB; ` +
        `the largest batch that fits is ${largest}: --set train.batchSize=${largest} or less ` +
        `(or --backend webgpu / cpu). Nothing was extracted.`,
      largest,
    );
  }
  return { memory, largest };
}

/** Whether `e` is the wasm module running out of memory (a trap, not a JavaScript error). */
export function isOutOfMemory(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  // Measured on compact: the step that outgrows the memory traps with "memory access out of
  // bounds" or, near the limit, a bare "Aborted()" of the allocator.
  return /memory access out of bounds|out of memory|Cannot enlarge memory|Aborted\(/i.test(m);
}

/**
 * The error to report for `e` thrown while training on `backend`: a wasm out-of-memory trap
 * becomes an error naming `train.batchSize`; anything else is returned as it is.
 */
export function explainOutOfMemory(e: unknown, config: GrefelConfig, backend: string): unknown {
  if (backend !== "wasm" || !isOutOfMemory(e)) return e;
  return new BatchTooLargeError(
    `the wasm backend ran out of memory (most likely; it stopped with ${
      e instanceof Error ? e.message : e
    }) at train.batchSize=${config.train.batchSize}: lower --set train.batchSize, or use ` +
      `--backend webgpu / cpu`,
    0,
  );
}
