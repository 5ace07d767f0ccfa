/**
 * Backend selection for TensorFlow.js under Deno.
 *
 * Order of preference: `webgpu` (a real WebGPU adapter: a GPU, or Debian's software Vulkan driver
 * lavapipe on machines without one), then `wasm`, then `cpu`. The choice can be overridden by the
 * `--backend` flag of the CLI or the `GREFEL_BACKEND` environment variable. Every run records the
 * {@linkcode BackendInfo} it got.
 *
 * Library code never reads tensors synchronously: `dataSync()`/`arraySync()` throw on the WebGPU
 * backend in Deno. Use `await t.data()` / `await t.array()`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Tensor } from "./tensor.ts";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { patchWasmBatchMatMul, patchWasmIdentity } from "./wasm_matmul.ts";
import { registerWasmConvFilterGradients } from "./wasm_conv_grad.ts";
import { patchWasmScalarMinMax } from "./wasm_minmax.ts";
import { patchWasmSum } from "./wasm_sum.ts";
import { patchSoftmaxGradient } from "./wasm_softmax.ts";

/** The backends this project knows, in order of preference. */
export const BACKENDS = ["webgpu", "wasm", "cpu"] as const;

/** A backend name. */
export type BackendName = typeof BACKENDS[number];

/** What a run records about the backend it used. */
export interface BackendInfo {
  /** The tfjs backend in use. */
  backend: BackendName;
  /** Adapter description for webgpu (vendor, architecture, device, description); null otherwise. */
  adapter: Record<string, string> | null;
  /** Whether the adapter is a software rasteriser (lavapipe / llvmpipe / SwiftShader). */
  softwareAdapter: boolean | null;
  /** Threads the backend uses (wasm is single-threaded in Deno). */
  threads: number;
  /** Versions of tfjs and Deno. */
  versions: { tfjs: string; deno: string };
  /** Where the choice came from. */
  source: "flag" | "env" | "auto";
  /** Why automatic selection passed over a backend (e.g. a software WebGPU adapter), if it did. */
  note?: string;
}

/**
 * Gives the process a private runtime directory when `XDG_RUNTIME_DIR` is unset or not a
 * directory: Mesa's Vulkan driver (lavapipe, the software WebGPU adapter) otherwise prints
 * "XDG_RUNTIME_DIR is invalid or not set" on every backend probe. Must run before the backend is
 * initialised; every entry point calls it first.
 */
export function ensureRuntimeDir(): void {
  try {
    const cur = Deno.env.get("XDG_RUNTIME_DIR");
    if (cur && Deno.statSync(cur).isDirectory) return;
  } catch { /* missing: make one */ }
  try {
    const dir = Deno.makeTempDirSync({ prefix: "grefel-runtime-" });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
  } catch { /* no permission: the message stays, nothing else changes */ }
}

/** True if `name` is a known backend. */
export function isBackendName(name: string): name is BackendName {
  return (BACKENDS as readonly string[]).includes(name);
}

interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

async function webgpuAdapterInfo(): Promise<Record<string, string> | null> {
  // deno-lint-ignore no-explicit-any
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) return null;
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    const info: GpuAdapterInfoLike = adapter.info ?? {};
    return {
      vendor: info.vendor ?? "",
      architecture: info.architecture ?? "",
      device: info.device ?? "",
      description: info.description ?? "",
    };
  } catch {
    return null;
  }
}

function describeAdapter(adapter: Record<string, string>): string {
  return Object.values(adapter).filter((v) => v).join(", ");
}

/** True if a WebGPU adapter is a software rasteriser (lavapipe / llvmpipe / SwiftShader). */
export function isSoftwareAdapter(adapter: Record<string, string>): boolean {
  return /llvmpipe|lavapipe|swiftshader|software/i.test(describeAdapter(adapter));
}

/**
 * Selects and initialises a backend.
 *
 * @param requested explicit choice (from a flag); when absent, `GREFEL_BACKEND` is read, and
 *   when that is absent too the first backend of {@linkcode BACKENDS} that initialises is used.
 * @throws Error naming the backend if an explicitly requested backend is unknown or fails.
 */
export async function selectBackend(requested?: string): Promise<BackendInfo> {
  let source: BackendInfo["source"] = "auto";
  let wanted: string | undefined = requested;
  if (wanted) source = "flag";
  else {
    const env = Deno.env.get("GREFEL_BACKEND");
    if (env) {
      wanted = env;
      source = "env";
    }
  }
  const candidates: BackendName[] = [];
  if (wanted) {
    if (!isBackendName(wanted)) {
      throw new Error(
        `unknown backend "${wanted}" (from ${
          source === "flag" ? "--backend" : "GREFEL_BACKEND"
        }); ` +
          `expected one of ${BACKENDS.join(", ")}`,
      );
    }
    candidates.push(wanted);
  } else candidates.push(...BACKENDS);

  let adapter: Record<string, string> | null = null;
  let note: string | undefined;
  for (const name of candidates) {
    if (name === "webgpu") {
      adapter = await webgpuAdapterInfo();
      if (adapter && source === "auto" && isSoftwareAdapter(adapter)) {
        // Decision: automatic selection prefers WebGPU on a hardware adapter only. On a software
        // rasteriser (lavapipe on a machine without a GPU) WebGPU works but is several times slower
        // than wasm, so auto falls through to wasm; `--backend webgpu` still selects it.
        note = `skipped webgpu: software adapter (${describeAdapter(adapter)}); ` +
          "select it explicitly with --backend webgpu or GREFEL_BACKEND=webgpu";
        continue;
      }
      if (!adapter) {
        if (source !== "auto") {
          throw new Error(
            "backend webgpu requested but no WebGPU adapter is available (on Debian without a GPU, " +
              "install mesa-vulkan-drivers; Deno needs --unstable-webgpu or deno.json unstable webgpu)",
          );
        }
        continue;
      }
    }
    let ok = false;
    try {
      ok = await tf.setBackend(name);
      await tf.ready();
    } catch (e) {
      if (source !== "auto") throw new Error(`backend ${name} failed to initialise: ${e}`);
      ok = false;
    }
    if (ok && tf.getBackend() === name) {
      // tfjs-wasm's transposed matMul is 10-20x slower than transpose + matMul (lib/wasm_matmul.ts);
      // it has no filter gradients for conv2d and depthwise conv (lib/wasm_conv_grad.ts); its
      // maximum/minimum with a scalar are 4x slower than a clamp (lib/wasm_minmax.ts); its sum over
      // leading axes copies the input first (lib/wasm_sum.ts); its softmax gradient is four
      // kernels over the attention logits (lib/wasm_softmax.ts).
      if (name === "wasm") {
        patchWasmBatchMatMul();
        patchWasmIdentity();
        registerWasmConvFilterGradients();
        patchWasmScalarMinMax();
        patchWasmSum();
        patchSoftmaxGradient();
      }
      return {
        backend: name,
        adapter: name === "webgpu" ? adapter : null,
        softwareAdapter: name === "webgpu" && adapter ? isSoftwareAdapter(adapter) : null,
        threads: 1,
        versions: { tfjs: tf.version.tfjs, deno: Deno.version.deno },
        source,
        ...(note ? { note } : {}),
      };
    }
    if (source !== "auto") throw new Error(`backend ${name} failed to initialise`);
  }
  throw new Error(`no backend could be initialised (tried ${candidates.join(", ")})`);
}

/** Reads a tensor's values without a synchronous read (safe on webgpu). */
export async function readFloat(t: Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}
