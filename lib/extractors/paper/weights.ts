/**
 * Weight trees of the paper's extractors: seeded random initialisation, loading converted PyTorch
 * weights by name, exporting, counting and disposing.
 *
 * No pretrained IR-50 (MS-Celeb-1M) or MobileFaceNet landmark weights can be downloaded here, so
 * the trees start from seeded random values, initialised as the PyTorch modules would be
 * ({@linkcode initialValues}). Users who have POSTER++'s `ir50.pth` /
 * `mobilefacenet_model_best.pth.tar` convert them to a `Map<name, Float32Array>` (PyTorch
 * `state_dict` keys and layouts, e.g. with `{k: v.numpy().ravel()}`) and call
 * {@linkcode loadWeights}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor } from "../../tensor.ts";
import { fnv1a, mulberry32, normalSampler } from "../../random.ts";
import type { WeightSpec, WeightTree } from "./graph.ts";

/** `n` standard normal samples (Box–Muller) from a generator seeded by `seed`. */
function normals(n: number, seed: number): Float32Array {
  const normal = normalSampler(mulberry32(seed));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = normal();
  return out;
}

/**
 * How convolution and linear weights are initialised: `kaiming-fan-out` = N(0, 2 / fan_out)
 * (MobileFaceNet's own `_initialize_weights`; PyTorch's fan-out of a `[out, in/g, kh, kw]` weight
 * is `out·kh·kw`); `torch-default` = U(±1/√fan_in) (PyTorch's default `Conv2d`/`Linear`
 * initialisation, which POSTER++'s `ir50.py` leaves in place; `fan_in = in/g·kh·kw`).
 */
export type ConvInit = "kaiming-fan-out" | "torch-default";

/**
 * Initial values of one weight, in tree layout. Convolutions and linear maps: see
 * {@linkcode ConvInit}; batch norm: weight 1, bias 0, running mean 0, running variance 1; PReLU:
 * 0.25 (PyTorch's default). Each weight has its own stream, seeded by `(seed, path)`, so values
 * do not depend on the order of creation and are the same on every backend.
 */
export function initialValues(spec: WeightSpec, seed: number, convInit: ConvInit): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const leaf = spec.path.slice(spec.path.lastIndexOf("/") + 1);
  if (spec.kind === "conv" || spec.kind === "linear") {
    const t = spec.torchShape;
    const receptive = t.slice(2).reduce((a, b) => a * b, 1);
    const streamSeed = fnv1a(`${seed}:${spec.path}`);
    if (convInit === "torch-default") {
      const bound = 1 / Math.sqrt(t[1] * receptive);
      const rand = mulberry32(streamSeed);
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = (2 * rand() - 1) * bound;
      return v;
    }
    const std = Math.sqrt(2 / (t[0] * receptive));
    const v = normals(n, streamSeed);
    for (let i = 0; i < n; i++) v[i] *= std;
    return v;
  }
  if (spec.kind === "prelu") return new Float32Array(n).fill(0.25);
  const one = leaf === "weight" || leaf === "running_var";
  return new Float32Array(n).fill(one ? 1 : 0);
}

/** Sets the leaf at a `/`-separated path, creating inner nodes. */
function setLeaf(tree: WeightTree, path: string, t: Tensor): void {
  const parts = path.split("/");
  let node = tree;
  for (const p of parts.slice(0, -1)) {
    const next = node[p];
    if (next instanceof tf.Tensor) throw new Error(`weight path ${path} runs through a leaf`);
    node = (next ?? (node[p] = {})) as WeightTree;
  }
  node[parts[parts.length - 1]] = t;
}

/** Builds a weight tree from specs with seeded initial values. */
export function buildTree(specs: WeightSpec[], seed: number, convInit: ConvInit): WeightTree {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const tree: WeightTree = {};
  for (const s of specs) {
    setLeaf(tree, s.path, tf.tensor(initialValues(s, seed, convInit), s.shape));
  }
  return tree;
}

/** Every leaf of a tree with its `/`-separated path, in insertion order. */
export function flattenTree(tree: WeightTree, prefix = ""): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  for (const [k, v] of Object.entries(tree)) {
    const path = prefix ? `${prefix}/${k}` : k;
    if (v instanceof tf.Tensor) out.push([path, v]);
    else out.push(...flattenTree(v, path));
  }
  return out;
}

/** Whether a leaf path names a batch-norm running statistic (a buffer, not a parameter). */
export function isBuffer(path: string): boolean {
  return /\/running_(mean|var)$/.test(path);
}

/** Number of parameter values and of buffer values actually held by a tree. */
export function countTree(tree: WeightTree): { params: number; buffers: number } {
  let params = 0, buffers = 0;
  for (const [p, t] of flattenTree(tree)) {
    if (isBuffer(p)) buffers += t.size;
    else params += t.size;
  }
  return { params, buffers };
}

/** Disposes every tensor of a tree. */
export function disposeTree(tree: WeightTree): void {
  for (const [, t] of flattenTree(tree)) t.dispose();
}

/** PyTorch shape of a tree leaf (tfjs layout → PyTorch layout). */
export function torchShapeOf(shape: readonly number[]): number[] {
  if (shape.length === 4) return [shape[3], shape[2], shape[0], shape[1]]; // HWIO → OIHW
  if (shape.length === 2) return [shape[1], shape[0]]; // [in, out] → [out, in]
  return [...shape];
}

/** Layout of the arrays handed to {@linkcode loadWeights} / returned by {@linkcode exportWeights}. */
export type WeightLayout = "torch" | "tfjs";

/** Options of {@linkcode loadWeights}. */
export interface LoadOptions {
  /**
   * `torch` (default): arrays are PyTorch tensors flattened in PyTorch's order (conv
   * `[out, in/groups, kh, kw]`, linear `[out, in]`) and are transposed on load; `tfjs`: arrays are
   * already in the tree's layout.
   */
  layout?: WeightLayout;
  /**
   * Key prefix to strip and require (e.g. `module.ir_back.` for a POSTER++ training checkpoint).
   * Keys without it are reported as unused.
   */
  prefix?: string;
  /** Network name used in error messages (default `weights`). */
  what?: string;
}

/** What {@linkcode loadWeights} did. */
export interface LoadReport {
  /** Tree paths that were replaced. */
  loaded: string[];
  /** Keys of the map that matched no weight (e.g. IR-50's unused `output_layer.*`, `body4.*`). */
  unused: string[];
}

/** A checked, not yet applied load (see {@linkcode prepareLoad}). */
export interface PreparedLoad {
  /** Replaces the tree's weights (disposing the old tensors) and reports what was loaded. */
  commit(): LoadReport;
  /** Drops the prepared tensors, leaving the tree unchanged. */
  discard(): void;
}

/**
 * Checks `weights` against `tree` and builds the new tensors without touching the tree, so that
 * several trees can be loaded all-or-nothing. {@linkcode loadWeights} is prepare + commit.
 *
 * @throws Error naming the missing weights, or the weight with the wrong size or a non-finite value
 *   (with the expected PyTorch shape).
 */
export function prepareLoad(
  tree: WeightTree,
  weights: Map<string, Float32Array>,
  options: LoadOptions = {},
): PreparedLoad {
  const { layout = "torch", prefix = "", what = "weights" } = options;
  const byPath = new Map<string, [string, Float32Array]>();
  const unused: string[] = [];
  for (const [key, value] of weights) {
    if (key.endsWith("num_batches_tracked")) continue;
    if (!key.startsWith(prefix)) {
      unused.push(key);
      continue;
    }
    byPath.set(key.slice(prefix.length).replaceAll(".", "/"), [key, value]);
  }
  const leaves = flattenTree(tree);
  const missing = leaves.filter(([p]) => !byPath.has(p)).map(([p]) => p.replaceAll("/", "."));
  if (missing.length > 0) {
    const shown = missing.slice(0, 8).map((m) => `${prefix}${m}`).join(", ");
    const more = missing.length > 8 ? ` and ${missing.length - 8} more` : "";
    throw new Error(
      `${what}: ${missing.length} weight(s) missing from the given map: ${shown}${more}`,
    );
  }
  const fresh: [string, Tensor][] = [];
  try {
    for (const [path, old] of leaves) {
      const [key, value] = byPath.get(path)!;
      const torchShape = torchShapeOf(old.shape);
      if (value.length !== old.size) {
        const shape = layout === "torch" ? torchShape : old.shape;
        throw new Error(
          `${what}: weight "${key}" has ${value.length} values, expected ${old.size} ` +
            `(${layout === "torch" ? "PyTorch" : "tfjs"} shape [${shape.join(", ")}])`,
        );
      }
      for (let i = 0; i < value.length; i++) {
        if (!Number.isFinite(value[i])) {
          throw new Error(`${what}: weight "${key}" has a non-finite value at index ${i}`);
        }
      }
      fresh.push([
        path,
        layout === "tfjs" || old.rank < 2 ? tf.tensor(value, old.shape) : tf.tidy(() => {
          const t = tf.tensor(value, torchShape);
          return old.rank === 4 ? tf.transpose(t, [2, 3, 1, 0]) : tf.transpose(t);
        }),
      ]);
    }
  } catch (e) {
    for (const [, t] of fresh) t.dispose();
    throw e;
  }
  const held = new Set(leaves.map(([p]) => p));
  for (const [path, [key]] of byPath) if (!held.has(path)) unused.push(key);
  let done = false;
  return {
    commit() {
      if (done) throw new Error(`${what}: prepared load already committed or discarded`);
      done = true;
      for (const [path, t] of fresh) {
        getParent(tree, path)[path.slice(path.lastIndexOf("/") + 1)].dispose();
        setLeaf(tree, path, t);
      }
      return { loaded: fresh.map(([p]) => p), unused };
    },
    discard() {
      if (done) return;
      done = true;
      for (const [, t] of fresh) t.dispose();
    },
  };
}

/**
 * Replaces every weight of `tree` by the array of the same name in `weights`. Keys may use `.`
 * (PyTorch) or `/` separators; `num_batches_tracked` entries are ignored. All-or-nothing: every
 * weight is checked (present, right number of values, finite) before anything is replaced.
 *
 * @throws Error naming the missing weights, or the weight with the wrong size or a non-finite value
 *   (with the expected PyTorch shape).
 */
export function loadWeights(
  tree: WeightTree,
  weights: Map<string, Float32Array>,
  options: LoadOptions = {},
): LoadReport {
  return prepareLoad(tree, weights, options).commit();
}

function getParent(tree: WeightTree, path: string): Record<string, Tensor> {
  let node = tree;
  for (const p of path.split("/").slice(0, -1)) node = node[p] as WeightTree;
  return node as Record<string, Tensor>;
}

/**
 * The tree's weights as a name → array map (PyTorch `.` keys), in PyTorch layout by default; the
 * inverse of {@linkcode loadWeights}.
 */
export async function exportWeights(
  tree: WeightTree,
  layout: WeightLayout = "torch",
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [path, t] of flattenTree(tree)) {
    const view = layout === "tfjs" || t.rank < 2
      ? t.clone()
      : t.rank === 4
      ? tf.transpose(t, [3, 2, 0, 1])
      : tf.transpose(t);
    out.set(path.replaceAll("/", "."), (await view.data()) as Float32Array);
    view.dispose();
  }
  return out;
}
