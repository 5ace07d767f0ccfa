/**
 * The named weight tree: a declarative plan of every parameter (path, shape, initialiser) and
 * every multiply-accumulate, shared by initialisation ({@linkcode buildParams}) and the analytic
 * size count (`summarizeModel`), so the two cannot drift apart; and the tree utilities
 * (flatten, assign, trainable variables, dispose).
 *
 * Initial values come from a seeded JS generator, one stream per parameter path (so adding a
 * parameter never changes another's initial value, and every backend starts from the same bits).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Variable } from "../tensor.ts";
import { fnv1a, mulberry32, normalSampler } from "../random.ts";
import type { ParamTree } from "./types.ts";

export { mulberry32, normalSampler };

/** How a parameter is initialised. */
export type Init =
  | { kind: "zeros" }
  | { kind: "ones" }
  /** Normal truncated at ±2σ (timm's ViT initialisation). */
  | { kind: "trunc"; std: number }
  /** U(−bound, bound) (PyTorch's default for Linear/Conv: bound = 1/√fan_in). */
  | { kind: "uniform"; bound: number }
  | { kind: "normal"; std: number };

/** One parameter tensor of the plan. */
export interface ParamSpec {
  /** Tree path, `/`-separated (`fusion/block0/attn/wq`). */
  path: string;
  /** Shape. */
  shape: number[];
  /** Initialiser. */
  init: Init;
  /** Updated by the optimiser. */
  trainable: boolean;
  /** A buffer (batch-norm running statistic): not counted as a parameter (PyTorch convention). */
  buffer: boolean;
  /** Group for the summary breakdown. */
  group: string;
}

/** Multiply-accumulates of one operation, per image. */
export interface MacSpec {
  /** Operation name (path-like). */
  name: string;
  /** Group for the summary breakdown. */
  group: string;
  /** Multiply-accumulates for one image. */
  macs: number;
  /** A product of two activations (attention QKᵀ, AV) rather than of an activation and a weight. */
  activationProduct: boolean;
}

/** The full plan of a model: its parameters and its multiply-accumulates. */
export class Plan {
  /** Parameter tensors, in creation order. */
  readonly params: ParamSpec[] = [];
  /** Multiply-accumulates, in forward order. */
  readonly macs: MacSpec[] = [];
  /** Group of the layers being planned. */
  group = "model";

  /** Declares a trainable parameter. */
  param(path: string, shape: number[], init: Init): void {
    this.params.push({ path, shape, init, trainable: true, buffer: false, group: this.group });
  }

  /** Declares a non-trainable buffer. */
  buffer(path: string, shape: number[], init: Init): void {
    this.params.push({ path, shape, init, trainable: false, buffer: true, group: this.group });
  }

  /** Declares multiply-accumulates per image. */
  mac(name: string, macs: number, activationProduct = false): void {
    this.macs.push({ name, group: this.group, macs, activationProduct });
  }
}

/** A seeded generator for one named stream (`seed` × `name`). */
export function streamRng(seed: number, name: string): () => number {
  return mulberry32((fnv1a(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0);
}

/** Initial values of one parameter. */
export function initValues(spec: Pick<ParamSpec, "path" | "shape" | "init">, seed: number) {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const init = spec.init;
  if (init.kind === "zeros") return out;
  if (init.kind === "ones") return out.fill(1);
  const rand = streamRng(seed, spec.path);
  if (init.kind === "uniform") {
    for (let i = 0; i < n; i++) out[i] = (2 * rand() - 1) * init.bound;
    return out;
  }
  const normal = normalSampler(rand);
  for (let i = 0; i < n; i++) {
    let z = normal();
    if (init.kind === "trunc") { while (Math.abs(z) > 2) z = normal(); }
    out[i] = z * init.std;
  }
  return out;
}

let instanceCounter = 0;

/**
 * Creates the variables of a plan as a tree. Each variable's tfjs name is `<path>#<n>` with `n`
 * unique per call, so several models can live in one engine; the tree path (what
 * {@linkcode flattenParams} returns and checkpoints store) is the name without the suffix.
 */
export function buildParams(plan: Plan, seed: number): ParamTree {
  const root: ParamTree = {};
  const n = instanceCounter++;
  for (const spec of plan.params) {
    const parts = spec.path.split("/");
    let node = root;
    for (const p of parts.slice(0, -1)) {
      const next = node[p];
      if (next === undefined) node = node[p] = {};
      else if (next instanceof tf.Variable) throw new Error(`param path clash at ${spec.path}`);
      else node = next;
    }
    const leaf = parts[parts.length - 1];
    if (node[leaf] !== undefined) throw new Error(`duplicate param path ${spec.path}`);
    const values = initValues(spec, seed);
    node[leaf] = tf.tidy(() =>
      tf.variable(tf.tensor(values, spec.shape), spec.trainable, `${spec.path}#${n}`)
    );
  }
  return root;
}

/** All leaves of a tree keyed by their path (`fusion/block0/attn/wq`), in tree order. */
export function flattenParams(params: ParamTree): Map<string, Variable> {
  const out = new Map<string, Variable>();
  const walk = (node: ParamTree, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const path = prefix ? `${prefix}/${k}` : k;
      if (v instanceof tf.Variable) out.set(path, v);
      else walk(v, path);
    }
  };
  walk(params, "");
  return out;
}

/** The variables the optimiser updates (batch-norm running statistics excluded). */
export function trainableVariables(params: ParamTree): Variable[] {
  return [...flattenParams(params).values()].filter((v) => v.trainable);
}

/** Disposes every variable of a tree. */
export function disposeParams(params: ParamTree): void {
  for (const v of flattenParams(params).values()) v.dispose();
}

/** Reads every leaf's values (async, webgpu-safe), keyed by path, e.g. to write a checkpoint. */
export async function readParams(params: ParamTree): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of flattenParams(params)) out.set(k, (await v.data()) as Float32Array);
  return out;
}

/**
 * Assigns named values to a tree (e.g. from a checkpoint). Every leaf must be given, no extra
 * names are allowed, and each array's length must match the leaf's size: a checkpoint of another
 * configuration is rejected naming the differences.
 * @throws Error listing missing, unexpected and mis-sized names.
 */
export function assignParams(
  params: ParamTree,
  named: Map<string, Float32Array> | Record<string, Float32Array>,
): void {
  const given = named instanceof Map ? named : new Map(Object.entries(named));
  const leaves = flattenParams(params);
  const missing = [...leaves.keys()].filter((k) => !given.has(k));
  const extra = [...given.keys()].filter((k) => !leaves.has(k));
  const misShaped: string[] = [];
  for (const [k, v] of leaves) {
    const g = given.get(k);
    if (g && g.length !== v.size) {
      misShaped.push(`${k} (expected ${v.size} values [${v.shape}], got ${g.length})`);
    }
  }
  const problems: string[] = [];
  const list = (xs: string[]) => xs.slice(0, 10).join(", ") + (xs.length > 10 ? ", ..." : "");
  if (missing.length) problems.push(`missing ${missing.length}: ${list(missing)}`);
  if (extra.length) problems.push(`unexpected ${extra.length}: ${list(extra)}`);
  if (misShaped.length) problems.push(`wrong size ${misShaped.length}: ${list(misShaped)}`);
  if (problems.length) {
    throw new Error(
      `weights do not match this model configuration: ${problems.join("; ")}`,
    );
  }
  for (const [k, v] of leaves) {
    tf.tidy(() => v.assign(tf.tensor(given.get(k)!, v.shape, "float32")));
  }
}

/** Looks up a subtree. @throws Error naming the path if absent or a leaf. */
export function sub(params: ParamTree, name: string): ParamTree {
  const v = params[name];
  if (v === undefined || v instanceof tf.Variable) throw new Error(`no param group "${name}"`);
  return v;
}

/** Looks up a leaf. @throws Error naming the path if absent or a group. */
export function leaf(params: ParamTree, name: string): Variable {
  const v = params[name];
  if (!(v instanceof tf.Variable)) throw new Error(`no parameter "${name}"`);
  return v;
}
