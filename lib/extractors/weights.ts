/**
 * Loading pretrained weights that ship inside npm packages (`node_modules/@vladmandic/face-api/model`,
 * `node_modules/@vladmandic/human/models`). Nothing is downloaded at run time: the files are read
 * with `Deno.readFile` and handed to TensorFlow.js through its in-memory IO handler
 * (`tf.io.fromMemory`) or decoded into named tensors (`tf.io.decodeWeights`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Project root (the folder holding `node_modules/`), found from this file's location. */
export const PROJECT_ROOT: string = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * Absolute path of a file inside an installed npm package.
 * @throws Error naming the package and file when it is not installed.
 */
export async function npmFile(pkg: string, file: string): Promise<string> {
  const path = join(PROJECT_ROOT, "node_modules", pkg, file);
  try {
    await Deno.stat(path);
  } catch {
    throw new Error(
      `pretrained weights not found: ${path} (is the npm package ${pkg} installed? run the setup)`,
    );
  }
  return path;
}

/** One entry of a tfjs weights manifest. */
interface ManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

async function readGroups(dir: string, groups: ManifestGroup[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const g of groups) for (const p of g.paths) parts.push(await Deno.readFile(join(dir, p)));
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/**
 * Reads a face-api.js style weights manifest (`*-weights_manifest.json` + `.bin` shards, possibly
 * uint8-quantised) into named float32 tensors. The caller disposes them.
 */
export async function loadWeightMap(manifestPath: string): Promise<tf.NamedTensorMap> {
  const groups = JSON.parse(await Deno.readTextFile(manifestPath)) as ManifestGroup[];
  const bytes = await readGroups(dirname(manifestPath), groups);
  const specs = groups.flatMap((g) => g.weights);
  return tf.io.decodeWeights(bytes.buffer as ArrayBuffer, specs);
}

/**
 * Loads a tfjs graph model (`model.json` + `.bin`) from disk through `tf.io.fromMemory`.
 *
 * @param freeSpatial when true, the height and width of every input placeholder are made dynamic
 *   (`-1`), so a fully convolutional graph can run at another resolution than it was exported at.
 */
export async function loadGraphModelFile(
  modelJsonPath: string,
  freeSpatial = false,
): Promise<tf.GraphModel> {
  const json = JSON.parse(await Deno.readTextFile(modelJsonPath));
  if (freeSpatial) {
    type Dims = { size: string }[] | undefined;
    const nodes = json.modelTopology.node as {
      op: string;
      attr?: { shape?: { shape?: { dim?: Dims } } };
    }[];
    for (const node of nodes) {
      const dims = node.op === "Placeholder" ? node.attr?.shape?.shape?.dim : undefined;
      if (dims?.length === 4) dims[1].size = dims[2].size = "-1";
    }
    const sigs = Object.values(json.signature?.inputs ?? {}) as { tensorShape?: { dim?: Dims } }[];
    for (const sig of sigs) {
      const dims = sig.tensorShape?.dim;
      if (dims?.length === 4) dims[1].size = dims[2].size = "-1";
    }
  }
  const groups = json.weightsManifest as ManifestGroup[];
  const bytes = await readGroups(dirname(modelJsonPath), groups);
  const handler = tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: groups.flatMap((g) => g.weights),
    weightData: bytes.buffer as ArrayBuffer,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
  });
  return await tf.loadGraphModel(handler);
}
