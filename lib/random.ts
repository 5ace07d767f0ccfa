/**
 * The project's seeded random primitives, in one TensorFlow.js-free module (so commands that
 * need no tensors do not pay for loading it): the mulberry32 generator, the FNV-1a string hash
 * used to derive per-name seeds, and a Box–Muller normal sampler. Hand-written because each is a
 * few lines and must give identical streams on every platform and backend.
 *
 * @example
 * ```ts
 * import { fnv1a, mulberry32, normalSampler } from "./random.ts";
 *
 * const rand = mulberry32(fnv1a("fusion/block0/attn/wq"));
 * const u = rand(); // uniform in [0, 1)
 * const z = normalSampler(mulberry32(7))(); // standard normal
 * ```
 *
 * @module
 */

/**
 * 32-bit FNV-1a hash of a string (over its UTF-16 code units).
 *
 * @param s The string to hash.
 * @param seed XOR-ed into the offset basis (default 0: standard FNV-1a), giving independent hashes.
 * @returns An unsigned 32-bit integer.
 */
export function fnv1a(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A small seeded generator (mulberry32): uniform floats in [0, 1).
 *
 * @param seed Any number; taken mod 2³² (`seed >>> 0`).
 * @returns A function returning the next value of the stream on each call.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Standard normal samples from a uniform generator (Box–Muller). Each pair of uniforms `u`, `v`
 * gives `r·cos(2πv)` then `r·sin(2πv)` with `r = √(−2 ln(1 − u))`.
 *
 * @param rand A uniform generator on [0, 1), e.g. {@linkcode mulberry32}.
 * @returns A function returning the next standard normal sample on each call.
 */
export function normalSampler(rand: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}
