/**
 * Any TensorFlow.js graph model (Human's `models/*.json`) as a frozen multi-scale trunk, for the
 * extractor study (bench/extractor_study.ts).
 *
 * **Which maps.** Unless nodes are named, the trunk taps the *deepest node at each spatial
 * resolution* (longest path from the input, so graph files whose node list is not in execution
 * order are handled) — the output of each stage, where a stride-2 layer is about to halve the
 * map — at the given `sides`, or else at the `stages` coarsest resolutions with side ≥ 2
 * ({@linkcode pickStageNodes}). `sides` matters where a head ends in a small spatial map (a
 * classifier conv with 2 or 7 channels) or a padding node sits at its own side. The candidate
 * nodes' shapes are found by running the graph once on a blank image. For Human's
 * faceres at 224 px this picks exactly the nodes the `npm-face` image stream taps
 * (lib/extractors/faceres.ts; checked by the test).
 *
 * **Input.** `[B, H, W, 3]` RGB in [0, 1], resized (bilinear) to the model's input side, then
 * scaled as Human's own code does before calling that model ({@linkcode GraphInput}); a model
 * whose input has one channel gets the grayscale image (Human's weights 0.2989, 0.5870, 0.1140).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadGraphModelFile } from "./weights.ts";
import type { Trunk } from "./face_api_trunks.ts";

/**
 * Input scaling, from Human's `src/` for each model:
 * - `x255`: values × 255 (faceres, faceres-deep, ssrnet age);
 * - `unit`: [0, 1] as is (gear, mobilefacenet, insightface, antispoof, liveness);
 * - `pm1`: (x − 0.5)·2, range −1…1 (ssrnet gender, emotion);
 * - `caffe`: x·255 − (103.939, 116.779, 123.68) per channel (Human's AffectNet emotion models).
 */
export type GraphInput = "x255" | "unit" | "pm1" | "caffe";

/** Options of {@linkcode loadGraphTrunk}. */
export interface GraphTrunkOptions {
  /** Input scaling (see {@linkcode GraphInput}). */
  input: GraphInput;
  /** Input side; default: the model's own (its input placeholder's), else 224. */
  inputSize?: number;
  /** Nodes to tap, finest first; default {@linkcode pickStageNodes}. */
  nodes?: string[];
  /** How many stage outputs to keep when picking (default 3). */
  stages?: number;
  /** Map sides to tap (the deepest node at each); default the `stages` smallest ≥ 2. */
  sides?: number[];
}

/** A loaded graph trunk: a {@linkcode Trunk} that also says which nodes it taps. */
export interface GraphTrunk extends Trunk {
  /** Tapped nodes, finest first. */
  nodes: string[];
  /** Their map shapes `[side, channels]` at `inputSize`. */
  shapes: [number, number][];
  /** The model JSON's `generatedBy` (the project the weights come from). */
  generatedBy: string | null;
}

/**
 * From `(name, shape, depth)` triples, the deepest square 4-D node at each side (ties: the later
 * one), at `sides` or else at the `stages` smallest sides ≥ 2, returned finest first.
 * @throws Error when a requested side has no node.
 */
export function pickStageNodes(
  nodes: readonly { name: string; shape: readonly number[]; depth: number }[],
  stages = 3,
  sides?: readonly number[],
): string[] {
  const deepest = new Map<number, { name: string; depth: number }>();
  for (const { name, shape, depth } of nodes) {
    if (shape.length !== 4 || shape[1] !== shape[2] || shape[1] < 2) continue;
    const cur = deepest.get(shape[1]);
    if (!cur || depth >= cur.depth) deepest.set(shape[1], { name, depth });
  }
  const chosen = sides
    ? [...sides].sort((a, b) => b - a)
    : [...deepest.keys()].sort((a, b) => b - a).slice(-stages);
  return chosen.map((s) => {
    const hit = deepest.get(s);
    if (!hit) throw new Error(`no square map of side ${s} (sides: ${[...deepest.keys()]})`);
    return hit.name;
  });
}

/** Longest-path depth of every node from the graph's inputs (its `input` lists). */
export function nodeDepths(
  topo: readonly { name: string; input?: string[] }[],
): Map<string, number> {
  const inputs = new Map(
    topo.map((
      n,
    ) => [n.name, (n.input ?? []).map((i) => i.replace(/^\^/, "").replace(/:\d+$/, ""))]),
  );
  const depth = new Map<string, number>();
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    depth.set(name, 0); // guards against cycles
    let d = 0;
    for (const i of inputs.get(name) ?? []) if (inputs.has(i)) d = Math.max(d, visit(i) + 1);
    depth.set(name, d);
    return d;
  };
  for (const n of topo) visit(n.name);
  return depth;
}

const SKIP_OPS = new Set(["Const", "Placeholder", "NoOp"]);

/** Loads a graph model file as a trunk. */
export async function loadGraphTrunk(path: string, opts: GraphTrunkOptions): Promise<GraphTrunk> {
  const json = JSON.parse(await Deno.readTextFile(path));
  const topo = json.modelTopology.node as {
    name: string;
    op: string;
    input?: string[];
    attr?: { shape?: { shape?: { dim?: { size: string }[] } } };
  }[];
  const placeholder = topo.find((n) => n.op === "Placeholder");
  const dims = placeholder?.attr?.shape?.shape?.dim?.map((d) => Number(d.size));
  const own = dims && dims.length === 4 && dims[1] > 0 ? dims[1] : null;
  const inputSize = opts.inputSize ?? own ?? 224;
  const channels = dims && dims.length === 4 && dims[3] > 0 ? dims[3] : 3;
  const model = await loadGraphModelFile(path, inputSize !== own);
  const prep = (x: tf.Tensor4D) =>
    tf.tidy(() => {
      let r: tf.Tensor4D = x.shape[1] === inputSize && x.shape[2] === inputSize
        ? x
        : tf.image.resizeBilinear(x, [inputSize, inputSize]);
      if (channels === 1) r = tf.sum(tf.mul(r, [0.2989, 0.587, 0.114]), 3, true);
      switch (opts.input) {
        case "x255":
          return tf.mul(r, 255);
        case "unit":
          return r.clone();
        case "pm1":
          return tf.mul(tf.sub(r, 0.5), 2);
        case "caffe":
          return tf.sub(tf.mul(r, 255), [103.939, 116.779, 123.68]);
      }
    }) as tf.Tensor4D;
  const run = (x: tf.Tensor4D, names: string[]) => {
    const input = prep(x);
    try {
      const out = model.execute(input, names);
      return (Array.isArray(out) ? out : [out]) as tf.Tensor4D[];
    } finally {
      input.dispose();
    }
  };
  let nodes = opts.nodes;
  if (!nodes) {
    const names = topo.filter((n) => !SKIP_OPS.has(n.op)).map((n) => n.name);
    const blank = tf.zeros([1, inputSize, inputSize, 3]) as tf.Tensor4D;
    const outs = run(blank, names);
    blank.dispose();
    const depth = nodeDepths(topo);
    nodes = pickStageNodes(
      names.map((name, i) => ({ name, shape: outs[i].shape, depth: depth.get(name) ?? 0 })),
      opts.stages,
      opts.sides,
    );
    tf.dispose(outs);
  }
  const probe = tf.zeros([1, inputSize, inputSize, 3]) as tf.Tensor4D;
  const maps = run(probe, nodes);
  const shapes = maps.map((m) => [m.shape[1], m.shape[3]] as [number, number]);
  tf.dispose([probe, ...maps]);
  return {
    inputSize,
    nodes,
    shapes,
    generatedBy: json.generatedBy ?? null,
    run: (x) => run(x, nodes),
    dispose: () => model.dispose(),
  };
}
