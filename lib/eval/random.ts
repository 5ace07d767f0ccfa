/**
 * Seeded normal samples for lib/eval (t-SNE and PCA initialisation, benchmark data), built on the
 * TensorFlow.js-free `lib/random.ts` (loading TensorFlow.js would cost seconds of start-up for a
 * command that needs none of it).
 *
 * @module
 */
import { mulberry32, normalSampler } from "../random.ts";

/** Standard normal samples (Box–Muller) from mulberry32(`seed`); the same seed gives the same stream. */
export function seededNormal(seed: number): () => number {
  return normalSampler(mulberry32(seed >>> 0));
}
