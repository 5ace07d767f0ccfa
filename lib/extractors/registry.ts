/**
 * Extractors by name, so that configurations, the feature cache's worker processes and the CLI can
 * construct one from a string (`model.extractor`).
 *
 * - `npm-face`: face-api.js landmark trunk (112 px) + Human faceres at its native 224 px.
 * - `npm-face-fast`: the same with faceres at 160 px (maps 20²/10²/5²), about half the cost; the
 *   feature cache pools every map to its token grid anyway, so the model's input shapes do not
 *   change. Used by the `compact` preset so that caching FER+ train fits the 30-minute budget on
 *   a 2-core CPU.
 *
 * - `npm-face-fast-pre3`: `npm-face-fast` whose third landmark map is the input of the landmark
 *   trunk's last block (`dense2`'s output, 14×14×128) instead of that block's output, for
 *   `model.finetune: "landmark-dense3"` (the model runs and trains the block; preset
 *   `compact-ft`).
 *
 * - `paper`, `paper:seed=N`, `paper:width=W`, `paper:seed=N:width=W`: the paper's IR-50 +
 *   MobileFaceNet (lib/extractors/paper/, seeded weights), imported only when asked for.
 *   `paper:weights=…` names a loaded POSTER++ checkpoint and cannot be rebuilt from its name.
 *
 * Other extractors register themselves with {@linkcode registerExtractor}.
 *
 * @module
 */
import type { FeatureExtractor } from "./types.ts";
import { loadNpmFaceExtractor } from "./npm_face.ts";

/** A factory that loads an extractor. */
export type ExtractorFactory = () => Promise<FeatureExtractor>;

const FACTORIES = new Map<string, ExtractorFactory>([
  ["npm-face", () => loadNpmFaceExtractor({ name: "npm-face", imageInputSize: 224 })],
  ["npm-face-fast", () => loadNpmFaceExtractor({ name: "npm-face-fast", imageInputSize: 160 })],
  [
    "npm-face-fast-pre3",
    () =>
      loadNpmFaceExtractor({
        name: "npm-face-fast-pre3",
        imageInputSize: 160,
        landmarkThird: "dense2",
      }),
  ],
]);

/** Registers (or replaces) an extractor factory under `name`. */
export function registerExtractor(name: string, factory: ExtractorFactory): void {
  FACTORIES.set(name, factory);
}

/** Names of the registered extractors. */
export function extractorNames(): string[] {
  return [...FACTORIES.keys()];
}

/**
 * Loads a registered extractor by name.
 * @throws Error naming the unknown extractor and the known ones.
 */
export async function loadExtractor(name: string): Promise<FeatureExtractor> {
  const f = FACTORIES.get(name);
  if (!f && (name === "paper" || name.startsWith("paper:"))) return await loadPaper(name);
  if (!f) {
    throw new Error(`unknown feature extractor "${name}" (known: ${extractorNames().join(", ")})`);
  }
  return await f();
}

/** Parses `paper[:seed=N][:width=W]` and creates the paper extractor. */
async function loadPaper(name: string): Promise<FeatureExtractor> {
  const opts: { seed?: number; width?: number } = {};
  for (const part of name.split(":").slice(1)) {
    const [k, v] = part.split("=");
    const n = Number(v);
    if ((k === "seed" || k === "width") && v !== undefined && Number.isFinite(n)) opts[k] = n;
    else {
      throw new Error(
        `cannot build extractor "${name}" from its name: "${part}" is not seed=N or width=W` +
          (k === "weights" ? " (weights come from a POSTER++ checkpoint; load it explicitly)" : ""),
      );
    }
  }
  const { createPaperExtractor } = await import("./paper/mod.ts");
  return createPaperExtractor(opts);
}
