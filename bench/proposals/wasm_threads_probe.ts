/**
 * Probe (not used by the library): starts tfjs-wasm's threaded SIMD build in Deno and times a
 * 1024² matMul. Run it in its own process (it replaces the global `Blob` and
 * `URL.createObjectURL` before the backend starts):
 *
 *   deno run -A bench/proposals/wasm_threads_probe.ts [--threads]
 *
 * Without `--threads` it times the single-threaded build for comparison. What it works around, in
 * order of the failures seen:
 * 1. Emscripten (node mode: `process` exists) starts its pthread pool with `worker_threads` on the
 *    worker script tfjs hands it as a `blob:` URL, which Deno rejects (ERR_WORKER_PATH): the
 *    script is written to a temporary `.cjs` file and its path returned instead.
 * 2. That script assigns `location` on the worker's global, a getter in Deno: the assignment is
 *    removed.
 * 3. It then loads the backend's main script from a Blob; it is written to a file too and the
 *    worker reads that file (`importScripts` → `fs.readFileSync` + indirect eval).
 * 4. The main script is a function's source text from tfjs' rollup bundle and refers to the
 *    bundle's module variables (`require$$0`…, `commonjsGlobal`): they are defined as globals in
 *    the worker.
 * Every step depends on the text of tfjs-backend-wasm 4.22's bundle; nothing checks that.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

/** Installs the shims described in the module doc. */
function installThreadShims(): void {
  const OrigBlob = globalThis.Blob;
  const texts = new WeakMap<Blob, string>();
  let mainScript = "";
  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobPart[], opts?: BlobPropertyBag) {
      super(parts, opts);
      const text = (parts ?? []).map(String).join("");
      texts.set(this, text);
      if (opts?.type === "text/javascript") {
        mainScript = Deno.makeTempFileSync({ suffix: ".js" });
        Deno.writeTextFileSync(mainScript, text);
      }
    }
  }
  globalThis.Blob = RecordingBlob;
  const create = URL.createObjectURL;
  URL.createObjectURL = (b: Blob) => {
    const text = texts.get(b);
    if (text === undefined || b.type !== "application/javascript") return create(b);
    const globals = ["fs", "path", "", "perf_hooks", "os"]
      .map((m, i) => (m ? `globalThis.require$$${i}=require(${JSON.stringify(m)});` : ""))
      .join("") + "globalThis.commonjsGlobal=globalThis;";
    const worker = globals + text.replace("location:{href:__filename},", "").replace(
      'if(typeof e.data.urlOrBlob=="string")',
      `if(true){importScripts(${JSON.stringify(mainScript)})}else if(0)`,
    );
    const path = Deno.makeTempFileSync({ suffix: ".cjs" });
    Deno.writeTextFileSync(path, worker);
    return path;
  };
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
}

if (import.meta.main) {
  const threads = Deno.args.includes("--threads");
  if (threads) installThreadShims();
  await tf.setBackend("wasm");
  await tf.ready();
  const a = tf.randomNormal([1024, 1024]);
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const p = tf.matMul(a, a);
    await p.data();
    ms.push(performance.now() - t0);
    p.dispose();
  }
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  console.log(JSON.stringify({ threads, backend: tf.getBackend(), matMulMs: ms, load }));
  Deno.exit(0); // the pthread pool keeps the process alive
}
