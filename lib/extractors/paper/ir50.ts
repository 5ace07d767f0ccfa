/**
 * IR-50, the face-recognition ResNet of InsightFace / face.evoLVe (`Backbone([112, 112], 50, 'ir')`
 * in face.evoLVe's `backbone/model_irse.py`), as POSTER++ builds it (POSTER_V2 `models/ir50.py`):
 * the input layer and the first three stages only,
 *
 * ```
 * input_layer: Conv3×3(3→64) · BN · PReLU                         112² × 64
 * body1: 3 × bottleneck_IR(64),  first with stride 2             →  56² × 64
 * body2: 4 × bottleneck_IR(128), first with stride 2             →  28² × 128
 * body3: 14 × bottleneck_IR(256), first with stride 2            →  14² × 256
 * bottleneck_IR(in → d, s) = res + shortcut,
 *   res = BN(in) · Conv3×3(in→d) · PReLU(d) · Conv3×3(d→d, stride s) · BN(d)
 *   shortcut = MaxPool2d(1, s) if in = d, else Conv1×1(in→d, stride s) · BN(d)
 * ```
 *
 * returning the three stage outputs. face.evoLVe's fourth stage (3 × 512) is commented out in
 * POSTER++ and not built here either. POSTER++ does instantiate the recognition head
 * `output_layer` (BN(512) · Linear(512·7·7 → 512) · BN1d(512), 12,847,616 parameters) but never
 * runs it, so thop does not count it and POSTER++'s checkpoint loader ignores it; it is not built
 * here (a converted checkpoint's `output_layer.*` keys are reported as unused).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor, Tensor4D } from "../../tensor.ts";
import { type Ops, PlanOps, RunOps, scaled, type Shape3, type WeightTree } from "./graph.ts";
import { buildTree } from "./weights.ts";

/** Input side IR-50 runs at (POSTER++ resizes its input to 112 × 112). */
export const IR50_INPUT = 112;

/** Options of the IR-50 builders. */
export interface Ir50Options {
  /**
   * Channel multiplier (1 = the paper's network: 64/128/256). Smaller values build a narrow
   * variant with the same structure, for fast tests; channels must stay integers.
   */
  width?: number;
}

/** One improved-residual unit (`bottleneck_IR`). */
function bottleneckIR<V>(ops: Ops<V>, name: string, x: V, inC: number, d: number, s: number): V {
  const shortcut = inC === d ? ops.subsample(x, s) : ops.batchNorm(
    `${name}/shortcut_layer/1`,
    ops.conv(`${name}/shortcut_layer/0`, x, { out: d, kernel: 1, stride: s }),
  );
  let r = ops.batchNorm(`${name}/res_layer/0`, x);
  r = ops.conv(`${name}/res_layer/1`, r, { out: d, kernel: 3, stride: 1, pad: 1 });
  r = ops.prelu(`${name}/res_layer/2`, r);
  r = ops.conv(`${name}/res_layer/3`, r, { out: d, kernel: 3, stride: s, pad: 1 });
  r = ops.batchNorm(`${name}/res_layer/4`, r);
  return ops.add(r, shortcut);
}

/** Stages POSTER++ builds: `[name, in channels, depth, units]` (face.evoLVe `get_blocks(50)`). */
const STAGES: [string, number, number, number][] = [
  ["body1", 64, 64, 3],
  ["body2", 64, 128, 4],
  ["body3", 128, 256, 14],
];

/** The IR-50 architecture over any {@linkcode Ops}; returns the three stage outputs. */
export function ir50Graph<V>(ops: Ops<V>, x: V, width = 1): [V, V, V] {
  const c = (n: number) => scaled(n, width, "ir50");
  let h = ops.conv("input_layer/0", x, { out: c(64), kernel: 3, stride: 1, pad: 1 });
  h = ops.batchNorm("input_layer/1", h);
  h = ops.prelu("input_layer/2", h);
  const outs: V[] = [];
  for (const [stage, inC, depth, units] of STAGES) {
    for (let u = 0; u < units; u++) {
      h = bottleneckIR(ops, `${stage}/${u}`, h, u === 0 ? c(inC) : c(depth), c(depth), u ? 1 : 2);
    }
    outs.push(h);
  }
  return outs as [V, V, V];
}

/** The analytic plan (weights, per-layer parameters and FLOPs) of IR-50 for one 112² image. */
export function planIr50(options: Ir50Options = {}): PlanOps {
  const plan = new PlanOps();
  ir50Graph<Shape3>(plan, [IR50_INPUT, IR50_INPUT, 3], options.width ?? 1);
  return plan;
}

/** A seeded random IR-50 weight tree (see `weights.ts` for the initialisers). */
export function initIr50(seed: number, options: Ir50Options = {}): WeightTree {
  return buildTree(planIr50(options).weights, seed, "torch-default");
}

/** The width multiplier of a tree, read from its first convolution (`[3, 3, 3, 64·width]`). */
export function ir50Width(params: WeightTree): number {
  const w = (((params.input_layer as WeightTree)?.["0"] as WeightTree)?.weight) as Tensor;
  if (!(w instanceof tf.Tensor)) throw new Error(`ir50: no weight named "input_layer/0/weight"`);
  return (w.shape[3] as number) / 64;
}

/**
 * IR-50 forward pass (inference; batch norms use running statistics).
 *
 * @param params weights from {@linkcode initIr50} (possibly overwritten by `loadWeights`)
 * @param x `[B, H, W, 3]`, normalised as the weights expect (POSTER++: ImageNet mean/std)
 * @returns `[x1, x2, x3]` = `[B, H/2, W/2, 64]`, `[B, H/4, W/4, 128]`, `[B, H/8, W/8, 256]`
 *   (×width); the caller disposes them.
 */
export function ir50(params: WeightTree, x: Tensor4D): [Tensor4D, Tensor4D, Tensor4D] {
  if (x.rank !== 4 || x.shape[3] !== 3) {
    throw new Error(`ir50: expected [B, H, W, 3], got [${x.shape}]`);
  }
  const width = ir50Width(params);
  return tf.tidy(() => ir50Graph(new RunOps(params, "ir50"), x, width));
}

/**
 * Renames a face.evoLVe / InsightFace_Pytorch IR-50 `state_dict` (one `body.<n>` sequence of 24
 * units) to POSTER++'s split naming (`body1.<0-2>`, `body2.<0-3>`, `body3.<0-13>`), which
 * {@linkcode initIr50}'s tree uses. Units 21–23 (the fourth stage) keep their `body.<n>` names and
 * are reported as unused by `loadWeights`; keys already in POSTER++ naming pass through.
 */
export function renameFaceEvolveIr50Keys(
  weights: Map<string, Float32Array>,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [key, value] of weights) {
    const m = /^(.*?)body\.(\d+)\.(.*)$/.exec(key);
    if (!m) {
      out.set(key, value);
      continue;
    }
    let unit = Number(m[2]);
    let stage = 0;
    for (const [, , , units] of STAGES) {
      if (unit < units) break;
      unit -= units;
      stage++;
    }
    out.set(stage < STAGES.length ? `${m[1]}body${stage + 1}.${unit}.${m[3]}` : key, value);
  }
  return out;
}
