/**
 * The paper's own feature extractors, as POSTER++ (and so GReFEL, paper §3.1) uses them:
 * IR-50 (stem + stages 1–3) for the image stream and the MobileFaceNet landmark detector for the
 * landmark stream, frozen, both at 112 × 112.
 *
 * **Weights.** Pretrained weights (IR-50 on MS-Celeb-1M, MobileFaceNet landmarks) cannot be
 * downloaded here, so the `paper` extractor starts from seeded random weights. It exists for
 * size/FLOP accounting (the `paper` configuration's `summary`) and for GPU runs where users bring
 * converted weights: {@linkcode PaperExtractor.loadPosterCheckpoint} takes a POSTER++ `state_dict`
 * (`ir_back.*`, `face_landback.*`) as a `Map<name, Float32Array>`; `loadWeights` in `weights.ts`
 * loads one network. Features of random weights carry no expression information.
 *
 * **Counting convention** ({@linkcode countExtractors}): thop 0.1.1's `profile()`, which
 * POSTER++'s reported 43.7M parameters / 8.4 GFLOPs follow (its `compute_param_flop()` calls
 * `thop.profile`; re-running those rules on POSTER++'s module definitions gives 43.72M / 8.48G):
 * "FLOPs" are multiply-accumulates of convolutions (`H_out·W_out·C_out·C_in/groups·k²`) and linear
 * maps (`in·out`), plus `4·numel` per affine batch norm and `numel` per PReLU; additions, pooling
 * by `MaxPool2d(1, s)` and bias terms count 0; one 112 × 112 image, forward. Parameters are those of
 * the layers that run (thop registers its parameter counter as a forward hook), excluding batch-norm
 * running statistics (reported as `buffers`). So IR-50's unused recognition head is not counted and
 * not built; MobileFaceNet's landmark head runs in POSTER++ and is counted and built.
 *
 * Reference values (re-computed with PyTorch from POSTER_V2's `models/ir50.py` and
 * `models/mobilefacenet.py`): IR-50 17,611,968 parameters,
 * 5,492,014,080 FLOPs; MobileFaceNet 1,007,248 parameters, 236,551,712 FLOPs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { FeatureExtractor, FeatureMaps, StreamShape } from "../types.ts";
import type { LayerKind, OpCount, PlanOps, WeightTree } from "./graph.ts";
import { initIr50, ir50, IR50_INPUT, planIr50 } from "./ir50.ts";
import {
  initMobileFaceNet,
  mobileFaceNet,
  MOBILEFACENET_INPUT,
  planMobileFaceNet,
} from "./mobilefacenet.ts";
import { disposeTree, type LoadReport, type PreparedLoad, prepareLoad } from "./weights.ts";

export { initIr50, ir50, ir50Graph, planIr50, renameFaceEvolveIr50Keys } from "./ir50.ts";
export type { Ir50Options } from "./ir50.ts";
export {
  initMobileFaceNet,
  mobileFaceNet,
  mobileFaceNetGraph,
  planMobileFaceNet,
} from "./mobilefacenet.ts";
export type { MobileFaceNetOptions } from "./mobilefacenet.ts";
export {
  countTree,
  disposeTree,
  exportWeights,
  flattenTree,
  loadWeights,
  prepareLoad,
  torchShapeOf,
} from "./weights.ts";
export type { LoadOptions, LoadReport, PreparedLoad, WeightLayout } from "./weights.ts";
export type {
  ConvOptions,
  LayerKind,
  OpCount,
  Ops,
  PlanOps,
  Shape3,
  WeightSpec,
  WeightTree,
} from "./graph.ts";
export type { MobileFaceNetOutputs } from "./mobilefacenet.ts";
export type { FeatureExtractor, FeatureMaps, StreamShape } from "../types.ts";

/**
 * Registry name of the extractor pair. The default extractor (seed 0, width 1, random weights) is
 * named exactly this; other seeds, widths and loaded weights get a suffix
 * (`paper:seed=7`, `paper:width=0.25`, `paper:weights=<fingerprint>`), so feature caches of
 * different weights never mix.
 */
export const PAPER_NAME = "paper";

/** Version; bump when pre-processing or the tapped layers change (invalidates feature caches). */
export const PAPER_VERSION = 1;

/** ImageNet mean and standard deviation POSTER++ normalises its RGB input with. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
/** See {@linkcode IMAGENET_MEAN}. */
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Parameters and FLOPs of one part. */
export interface PartCount {
  /** Parameters (batch-norm running statistics excluded). */
  params: number;
  /** FLOPs per 112 × 112 image, forward, by thop's rules (see the module doc). */
  flops: number;
}

/** Result of {@linkcode countExtractors}. */
export interface ExtractorCount extends PartCount {
  /** Batch-norm running statistics (held, not counted as parameters). */
  buffers: number;
  /**
   * Per top-level block, keyed `ir50/<block>` (`input_layer`, `body1`–`body3`) and
   * `mobilefacenet/<block>` (`conv1` … `conv_6_sep`, `output_layer`); the entries sum to the totals.
   */
  breakdown: Record<string, PartCount>;
  /**
   * Per layer kind (`conv`, `linear`, `bn`, `prelu`). `conv` + `linear` alone are the pure
   * multiply-accumulate count, for summaries that leave normalisation and activations out.
   */
  byKind: Record<LayerKind, PartCount>;
}

function emptyCount(): ExtractorCount {
  const zero = () => ({ params: 0, flops: 0 });
  return {
    params: 0,
    flops: 0,
    buffers: 0,
    breakdown: {},
    byKind: { conv: zero(), linear: zero(), bn: zero(), prelu: zero() },
  };
}

function summarise(prefix: string, ops: OpCount[], into: ExtractorCount): void {
  for (const op of ops) {
    const key = `${prefix}/${op.name.split("/")[0]}`;
    const part = into.breakdown[key] ??= { params: 0, flops: 0 };
    part.params += op.params;
    part.flops += op.flops;
    into.byKind[op.kind].params += op.params;
    into.byKind[op.kind].flops += op.flops;
    into.params += op.params;
    into.flops += op.flops;
    into.buffers += op.buffers;
  }
}

/** Analytic count of one network's plan (same structure as {@linkcode countExtractors}). */
export function countPlan(prefix: string, plan: PlanOps): ExtractorCount {
  const out = emptyCount();
  summarise(prefix, plan.ops, out);
  return out;
}

/**
 * Parameters and FLOPs of the two frozen extractors as POSTER++ builds them, per 112 × 112 image,
 * forward, counted by thop's rules (module doc). At `width` 1: 18,619,216 parameters and
 * 5,728,565,792 FLOPs (IR-50 stages 1–3 + MobileFaceNet with its landmark head).
 */
export function countExtractors(options: { width?: number } = {}): ExtractorCount {
  const out = emptyCount();
  summarise("ir50", planIr50(options).ops, out);
  summarise("mobilefacenet", planMobileFaceNet(options).ops, out);
  return out;
}

/** Options of {@linkcode createPaperExtractor}. */
export interface PaperExtractorOptions {
  /** Seed of the random initial weights (default 0). */
  seed?: number;
  /** Channel multiplier of both networks (default 1 = the paper's; smaller for fast tests). */
  width?: number;
}

/** The `paper` extractor pair, with access to its weights. */
export interface PaperExtractor extends FeatureExtractor {
  /** {@linkcode PAPER_VERSION}: version of the architecture taps and pre-processing. */
  readonly version: number;
  /** The weight trees (frozen plain tensors; replaced in place by the loaders). */
  readonly trees: { ir50: WeightTree; mobilefacenet: WeightTree };
  /**
   * Loads a POSTER++ `state_dict` (PyTorch layout): `ir_back.*` into IR-50 and `face_landback.*`
   * into MobileFaceNet (a leading `module.` from `nn.DataParallel` is accepted). Renames the
   * extractor (`paper:weights=<fingerprint>`), so feature caches of other weights are not reused.
   * @throws Error naming a missing or mis-sized weight; nothing is replaced then.
   */
  loadPosterCheckpoint(
    weights: Map<string, Float32Array>,
  ): { ir50: LoadReport; mobilefacenet: LoadReport };
}

/** FNV-1a over the bytes of all arrays (identity of loaded weights for the cache key). */
function fingerprint(weights: Map<string, Float32Array>): string {
  let h = 0x811c9dc5;
  for (const key of [...weights.keys()].sort()) {
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const v = weights.get(key)!;
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/**
 * Creates the `paper` extractor: input `[B, 112, 112, 3]` RGB in [0, 1] (another side is resized
 * with nearest-neighbour sampling, as POSTER++'s `F.interpolate(x, size=112)`), normalised with
 * the ImageNet mean/std as POSTER++'s data pipeline does, then fed to both networks.
 * Landmark maps: 28² × 64, 14² × 128, 7² × 512; image maps: 56² × 64, 28² × 128, 14² × 256 (× width).
 * Weights start seeded random; see the module doc and {@linkcode PAPER_NAME} for the name.
 */
export function createPaperExtractor(options: PaperExtractorOptions = {}): PaperExtractor {
  const { seed = 0, width = 1 } = options;
  const trees = {
    ir50: initIr50(seed, { width }),
    mobilefacenet: initMobileFaceNet(seed, { width }),
  };
  const c = (n: number) => n * width;
  const widthTag = width === 1 ? "" : `:width=${width}`;
  let name = `${PAPER_NAME}${seed === 0 ? "" : `:seed=${seed}`}${widthTag}`;
  const side = IR50_INPUT;
  if (side !== MOBILEFACENET_INPUT) throw new Error("paper: the two networks' input sides differ");
  const mean = tf.tensor1d([...IMAGENET_MEAN]);
  const std = tf.tensor1d([...IMAGENET_STD]);
  let disposed = false;
  return {
    get name() {
      return name;
    },
    version: PAPER_VERSION,
    inputSize: side,
    landmarkShape: [[28, c(64)], [14, c(128)], [7, c(512)]] as StreamShape,
    imageShape: [[56, c(64)], [28, c(128)], [14, c(256)]] as StreamShape,
    trees,
    extract(batch: tf.Tensor4D): FeatureMaps {
      if (disposed) throw new Error("paper: extractor used after dispose()");
      if (batch.rank !== 4 || batch.shape[3] !== 3) {
        throw new Error(`paper: expected [B, H, W, 3] RGB input, got [${batch.shape}]`);
      }
      const x = tf.tidy(() => {
        const sized = batch.shape[1] === side && batch.shape[2] === side
          ? batch
          : tf.image.resizeNearestNeighbor(batch, [side, side]);
        return tf.div(tf.sub(sized, mean), std) as tf.Tensor4D;
      });
      try {
        const image = ir50(trees.ir50, x);
        const { maps: landmark, landmarks } = mobileFaceNet(trees.mobilefacenet, x);
        landmarks.dispose();
        return { landmark, image };
      } finally {
        x.dispose();
      }
    },
    loadPosterCheckpoint(weights: Map<string, Float32Array>) {
      const dp = [...weights.keys()].some((k) => k.startsWith("module."));
      const p = dp ? "module." : "";
      const ir = prepareLoad(trees.ir50, weights, { prefix: `${p}ir_back.`, what: "ir50" });
      let mf: PreparedLoad;
      try {
        mf = prepareLoad(trees.mobilefacenet, weights, {
          prefix: `${p}face_landback.`,
          what: "mobilefacenet",
        });
      } catch (e) {
        ir.discard();
        throw e;
      }
      const r1 = ir.commit();
      const r2 = mf.commit();
      name = `${PAPER_NAME}:weights=${fingerprint(weights)}${widthTag}`;
      return { ir50: r1, mobilefacenet: r2 };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      disposeTree(trees.ir50);
      disposeTree(trees.mobilefacenet);
      mean.dispose();
      std.dispose();
    },
  };
}
export type * from "../../tensor.ts";
