/**
 * MobileFaceNet as POSTER++ uses it (POSTER_V2 `models/mobilefacenet.py`, `MobileFaceNet([112,
 * 112], 136)`): the 68-point facial-landmark detector whose inner maps feed the landmark stream.
 *
 * ```
 * conv1      Conv_block 3×3 s2 (3→64)                            56² × 64
 * conv2_dw   Conv_block 3×3 depthwise (64)                       56² × 64
 * conv_23    Depth_Wise 64→64, expand 128, s2                    28² × 64
 * conv_3     Residual 4 × Depth_Wise 64, expand 128          →   28² × 64   (map 1)
 * conv_34    Depth_Wise 64→128, expand 256, s2                   14² × 128
 * conv_4     Residual 6 × Depth_Wise 128, expand 256         →   14² × 128  (map 2)
 * conv_45    Depth_Wise 128→128, expand 512, s2                   7² × 128
 * conv_5     Residual 2 × Depth_Wise 128, expand 256              7² × 128
 * conv_6_sep Conv_block 1×1 (128→512)                        →    7² × 512  (map 3)
 * output_layer (GDC): Linear_block 7×7 depthwise (512) · Linear(512→136) · BN1d → 136 landmarks
 * Conv_block = Conv · BN · PReLU;  Linear_block = Conv · BN;
 * Depth_Wise(in→out, expand g, s) = Conv_block 1×1 (in→g) · Conv_block 3×3 depthwise s (g) ·
 *   Linear_block 1×1 (g→out), plus the input when residual.
 * ```
 *
 * The whole network is built and run, the landmark head included: POSTER++'s forward pass computes
 * the 136 landmark coordinates (and discards them), so thop counts the head, and the frozen
 * checkpoint holds it. Here {@linkcode mobileFaceNet} returns them too.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor, Tensor2D, Tensor4D } from "../../tensor.ts";
import {
  type ConvOptions,
  type Ops,
  PlanOps,
  RunOps,
  scaled,
  type Shape3,
  type WeightTree,
} from "./graph.ts";
import { buildTree } from "./weights.ts";

/** Input side of MobileFaceNet (fixed: the GDC head's 7×7 kernel needs a 7×7 last map). */
export const MOBILEFACENET_INPUT = 112;

/** Landmark outputs of the detector head: 68 points × (x, y). */
export const MOBILEFACENET_LANDMARKS = 136;

/** Options of the MobileFaceNet builders. */
export interface MobileFaceNetOptions {
  /** Channel multiplier (1 = the paper's network); channels must stay integers. */
  width?: number;
}

function convBlock<V>(ops: Ops<V>, name: string, x: V, o: ConvOptions): V {
  return ops.prelu(`${name}/prelu`, ops.batchNorm(`${name}/bn`, ops.conv(`${name}/conv`, x, o)));
}

function linearBlock<V>(ops: Ops<V>, name: string, x: V, o: ConvOptions): V {
  return ops.batchNorm(`${name}/bn`, ops.conv(`${name}/conv`, x, o));
}

function depthWise<V>(
  ops: Ops<V>,
  name: string,
  x: V,
  out: number,
  groups: number,
  stride: number,
  residual: boolean,
): V {
  let y = convBlock(ops, `${name}/conv`, x, { out: groups, kernel: 1 });
  y = convBlock(ops, `${name}/conv_dw`, y, { out: groups, kernel: 3, stride, pad: 1, groups });
  y = linearBlock(ops, `${name}/project`, y, { out, kernel: 1 });
  return residual ? ops.add(x, y) : y;
}

function residual<V>(ops: Ops<V>, name: string, x: V, c: number, n: number, groups: number): V {
  for (let i = 0; i < n; i++) x = depthWise(ops, `${name}/model/${i}`, x, c, groups, 1, true);
  return x;
}

/** Outputs of MobileFaceNet: the three maps the landmark stream uses, and the landmarks. */
export interface MobileFaceNetOutputs<V> {
  /** `conv_3`, `conv_4` and `conv_6_sep` outputs (28² × 64, 14² × 128, 7² × 512 at width 1). */
  maps: [V, V, V];
  /** The GDC head's 136 landmark coordinates, `[B, 1, 1, 136]` when running. */
  landmarks: V;
}

/** The MobileFaceNet architecture over any {@linkcode Ops}. */
export function mobileFaceNetGraph<V>(ops: Ops<V>, x: V, width = 1): MobileFaceNetOutputs<V> {
  const c = (n: number) => scaled(n, width, "mobilefacenet");
  let h = convBlock(ops, "conv1", x, { out: c(64), kernel: 3, stride: 2, pad: 1 });
  h = convBlock(ops, "conv2_dw", h, { out: c(64), kernel: 3, stride: 1, pad: 1, groups: c(64) });
  h = depthWise(ops, "conv_23", h, c(64), c(128), 2, false);
  const out3 = residual(ops, "conv_3", h, c(64), 4, c(128));
  h = depthWise(ops, "conv_34", out3, c(128), c(256), 2, false);
  const out4 = residual(ops, "conv_4", h, c(128), 6, c(256));
  h = depthWise(ops, "conv_45", out4, c(128), c(512), 2, false);
  h = residual(ops, "conv_5", h, c(128), 2, c(256));
  const features = convBlock(ops, "conv_6_sep", h, { out: c(512), kernel: 1 });
  // GDC head: 7×7 depthwise "global" conv, flatten, bias-free linear, BatchNorm1d.
  let g = linearBlock(ops, "output_layer/conv_6_dw", features, {
    out: c(512),
    kernel: 7,
    groups: c(512),
  });
  g = ops.linear("output_layer/linear", g, MOBILEFACENET_LANDMARKS);
  const landmarks = ops.batchNorm("output_layer/bn", g);
  return { maps: [out3, out4, features], landmarks };
}

/** The analytic plan (weights, per-layer parameters and FLOPs) for one 112² image. */
export function planMobileFaceNet(options: MobileFaceNetOptions = {}): PlanOps {
  const plan = new PlanOps();
  const side = MOBILEFACENET_INPUT;
  mobileFaceNetGraph<Shape3>(plan, [side, side, 3], options.width ?? 1);
  return plan;
}

/** A seeded random MobileFaceNet weight tree. */
export function initMobileFaceNet(seed: number, options: MobileFaceNetOptions = {}): WeightTree {
  return buildTree(planMobileFaceNet(options).weights, seed, "kaiming-fan-out");
}

/** The width multiplier of a tree, read from its first convolution (`[3, 3, 3, 64·width]`). */
export function mobileFaceNetWidth(params: WeightTree): number {
  const w = (((params.conv1 as WeightTree)?.conv as WeightTree)?.weight) as Tensor;
  if (!(w instanceof tf.Tensor)) {
    throw new Error(`mobilefacenet: no weight named "conv1/conv/weight"`);
  }
  return (w.shape[3] as number) / 64;
}

/**
 * MobileFaceNet forward pass (inference).
 *
 * @param params weights from {@linkcode initMobileFaceNet} (possibly overwritten by `loadWeights`)
 * @param x `[B, 112, 112, 3]`, normalised as the weights expect
 * @returns the three maps and the landmarks `[B, 136]`; the caller disposes them.
 */
export function mobileFaceNet(
  params: WeightTree,
  x: Tensor4D,
): { maps: [Tensor4D, Tensor4D, Tensor4D]; landmarks: Tensor2D } {
  const side = MOBILEFACENET_INPUT;
  if (x.rank !== 4 || x.shape[1] !== side || x.shape[2] !== side || x.shape[3] !== 3) {
    throw new Error(`mobilefacenet: expected [B, ${side}, ${side}, 3], got [${x.shape}]`);
  }
  const width = mobileFaceNetWidth(params);
  return tf.tidy(() => {
    const out = mobileFaceNetGraph(new RunOps(params, "mobilefacenet"), x, width);
    return {
      maps: out.maps,
      landmarks: tf.reshape(out.landmarks, [x.shape[0], MOBILEFACENET_LANDMARKS]) as Tensor2D,
    };
  });
}
