/**
 * Small seeded pseudo-random generators for the data pipeline (synthetic faces, augmentation,
 * sampling, label noise). Written here rather than taken from npm because the pipeline needs
 * counter-based seeding — one independent stream per `(seed, epoch, sample)` tuple, identical on
 * every platform and backend — which is a few lines on top of a 32-bit mixer.
 * @module
 */
import { mulberry32 } from "../random.ts";

/** Mixes a 32-bit integer (the `lowbias32` finaliser by C. Wellons). */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Combines integers (each taken mod 2³²) into one 32-bit seed; order matters. */
export function seedOf(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) h = mix32((h ^ mix32(p >>> 0)) + 0x6d2b79f5);
  return h >>> 0;
}

/** A seeded generator of uniform and derived variates (mulberry32 core). */
export class Rng {
  #next: () => number;
  /**
   * A generator seeded with `seed`.
   * @param seed any 32-bit integer.
   */
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.#next();
  }
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** `true` with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}
