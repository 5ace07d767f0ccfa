/**
 * Adam in one kernel per weight on tfjs-backend-wasm.
 *
 * tfjs 4.22's `AdamOptimizer.applyGradients` issues about 14 kernels per weight (two moments,
 * bias correction, square root, the update and three assignments), each a fresh tensor: 1,544
 * kernels and ≈ 30–38 ms for the compact model's 110 weights (444k values) here, which is ≈ 3% of
 * a training step and most of the step's kernel count. {@linkcode WasmAdamOptimizer} is tfjs'
 * `AdamOptimizer` whose update runs, per weight, as one pass of lib/wasm_gemm.ts's `adam` function
 * over the weight and its two moments on the wasm heap, into fresh tensors that it assigns as
 * tfjs does (never in place: tfjs-wasm caches packed matrix operands by tensor id). It performs
 * tfjs' float32 operations in tfjs' order, so weights and moments are bit-identical to tfjs'
 * (tested), and checkpoints (`getWeights` / `setWeights`) are tfjs' own.
 *
 * A weight whose data is not on the wasm heap takes tfjs' own operations for that step.
 * `lrScale` multiplies the learning rate of chosen weights (every backend; with no scale set, on
 * a backend other than wasm, the step is tfjs' own `applyGradients`).
 * `GREFEL_WASM_ADAM=0` in the environment, or {@linkcode setWasmAdam}(false), turns the kernel
 * off.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { adamUpdate, type WasmGemmBackend } from "./wasm_gemm.ts";

/** One moment slot of tfjs' `AdamOptimizer` (its private `accumulated*Moment` entries). */
interface MomentSlot {
  originalName: string;
  variable: tf.Variable;
}

/** What `applyGradients` takes (tfjs types it as variables; gradients are plain tensors). */
type Gradients = Parameters<tf.AdamOptimizer["applyGradients"]>[0];

/** The private state of tfjs' `AdamOptimizer` that the fused update reads and writes. */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: MomentSlot[];
  accumulatedSecondMoment: MomentSlot[];
  incrementIterations(): void;
}

let enabled = Deno.env.get("GREFEL_WASM_ADAM") !== "0";

/** Turns the fused wasm update on or off for optimizers' later steps (benchmarks and tests). */
export function setWasmAdam(on: boolean): void {
  enabled = on;
}

/** Whether the fused wasm update is on. */
export function wasmAdamEnabled(): boolean {
  return enabled;
}

/**
 * tfjs' `AdamOptimizer` with the update of each weight in one wasm kernel (see the module doc).
 * Its constructor, configuration, state and serialisation are tfjs'.
 */
export class WasmAdamOptimizer extends tf.AdamOptimizer {
  /**
   * Weights updated by the fused kernel in the last step, and those that took tfjs' operations
   * (`fallback` −1: the whole step was tfjs' own, the kernel being off or the backend not wasm).
   */
  lastStep: { fused: number; fallback: number } = { fused: 0, fallback: 0 };

  /**
   * Learning-rate multipliers by variable name (e.g. a fine-tuned pretrained block trained more
   * gently than the rest); a variable not listed takes the optimizer's learning rate. Empty by
   * default, which is exactly tfjs' Adam.
   */
  lrScale: Map<string, number> = new Map();

  /** One Adam step, as tfjs' `applyGradients`; see the module doc. */
  override applyGradients(variableGradients: Gradients): void {
    const fuse = enabled && tf.getBackend() === "wasm";
    if (!fuse && this.lrScale.size === 0) {
      this.lastStep = { fused: 0, fallback: -1 };
      return super.applyGradients(variableGradients);
    }
    const s = this as unknown as AdamState;
    const backend = fuse ? tf.backend() as unknown as WasmGemmBackend : null;
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    let fused = 0, fallback = 0;
    tf.tidy(() => {
      // tfjs: oneMinusAccBeta = 1 − accBeta, in float32; the other constants are float32 scalars.
      // Read synchronously only on wasm (dataSync is not available on every backend).
      const d1 = backend ? Math.fround(1 - s.accBeta1.dataSync()[0]) : NaN;
      const d2 = backend ? Math.fround(1 - s.accBeta2.dataSync()[0]) : NaN;
      const oneMinus1 = tf.sub(1, s.accBeta1), oneMinus2 = tf.sub(1, s.accBeta2);
      const f = Math.fround;
      const constants = [
        f(s.beta1),
        f(1 - s.beta1),
        f(s.beta2),
        f(1 - s.beta2),
        d1,
        d2,
        f(s.epsilon),
        f(-s.learningRate),
      ] as [number, number, number, number, number, number, number, number];
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        s.accumulatedFirstMoment[i] ??= {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        s.accumulatedSecondMoment[i] ??= {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        const gradient: tf.Tensor | undefined = Array.isArray(variableGradients)
          ? variableGradients[i].tensor
          : variableGradients[name];
        if (gradient == null) return;
        const m = s.accumulatedFirstMoment[i].variable;
        const v = s.accumulatedSecondMoment[i].variable;
        const scale = this.lrScale.get(name) ?? 1;
        const lr = scale === 1 ? s.learningRate : s.learningRate * scale;
        const c = scale === 1 ? constants : [...constants.slice(0, 7), f(-lr)] as typeof constants;
        const next = backend ? adamUpdate(backend, value, gradient, m, v, c) : null;
        if (next) {
          // Fresh tensors, assigned as tfjs' Adam assigns its results (see adamUpdate).
          const [p1, m1, v1] = next.map((t) => tf.engine().makeTensorFromTensorInfo(t));
          m.assign(m1);
          v.assign(v1);
          value.assign(p1);
          fused++;
          return;
        }
        fallback++;
        // tfjs' own operations (tfjs-core 4.22 AdamOptimizer.applyGradients), for this weight.
        const m1 = tf.add(tf.mul(m, s.beta1), tf.mul(gradient, 1 - s.beta1));
        const v1 = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(gradient), 1 - s.beta2));
        const mHat = tf.div(m1, oneMinus1);
        const vHat = tf.div(v1, oneMinus2);
        m.assign(m1);
        v.assign(v1);
        value.assign(tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), s.epsilon)), -lr), value));
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    s.incrementIterations();
    this.lastStep = { fused, fallback };
  }
}

/**
 * An Adam optimizer for training: {@linkcode WasmAdamOptimizer} (bit-identical to tfjs' Adam, one
 * kernel per weight on wasm, tfjs' own operations elsewhere). Arguments as `tf.train.adam`.
 */
export function createAdam(
  learningRate: number,
  beta1 = 0.9,
  beta2 = 0.999,
  epsilon?: number,
): WasmAdamOptimizer {
  return new WasmAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
