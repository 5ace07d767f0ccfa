/**
 * Assembles lib/wasm_gemm_wat.ts's module text with the `wabt` package and writes the binary,
 * base64-encoded, to lib/wasm_gemm_binary.ts (committed, so that running grefel needs no
 * assembler). lib/wasm_gemm_test.ts checks that the committed binary equals a fresh assembly.
 *
 *   node_modules/.bin/deno run -A scripts/build_gemm_wasm.ts
 *
 * @module
 */
import { assembleGemm, binaryModuleSource } from "../lib/wasm_gemm_build.ts";

const bytes = await assembleGemm();
const path = new URL("../lib/wasm_gemm_binary.ts", import.meta.url);
await Deno.writeTextFile(path, binaryModuleSource(bytes));
console.log(`wrote ${path.pathname} (${bytes.length} bytes of wasm)`);
