/**
 * Seeded normal samples for lib/eval (t-SNE and PCA initialisation, benchmark data). Uses the
 * project's mulberry32 from `lib/train/schedule.ts`, which, unlike `lib/model/params.ts`, does not
 * load TensorFlow.js (seconds of start-up for a command that needs none of it).
 *
 * @module
 */
import { mulberry32 } from "../train/schedule.ts";

/** Standard normal samples (Box–Muller) from mulberry32(`seed`); the same seed gives the same stream. */
export function seededNormal(seed: number): () => number {
  const rand = mulberry32(seed >>> 0);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - rand(), v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}
