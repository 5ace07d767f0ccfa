/**
 * Face cropping on uncropped photos (not a test): a folder of synthetic faces pasted at random
 * places and sizes into cluttered 320×240 frames (`framedFaces`, lib/data/test_fixtures.ts) is
 * trained twice with the same config, once with face detection and alignment
 * (`data.faceCrop=on`) and once without (`off`), and the test accuracies are compared with chance.
 *
 * Usage:
 *   deno run -A bench/face_crop.ts [--per-class 60] [--preset compact] [--epochs 30]
 *     [--out results/bench/face_crop.json] [--set key=value ...]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { presetConfig } from "../lib/config.ts";
import { parseSets } from "../lib/train/experiments.ts";
import { mergeConfig } from "../lib/config.ts";
import { runTraining } from "../lib/train/session.ts";
import { framedFaces } from "../lib/data/test_fixtures.ts";

const { values } = parseArgs({
  options: {
    "per-class": { type: "string", default: "60" },
    preset: { type: "string", default: "compact" },
    epochs: { type: "string", default: "30" },
    out: { type: "string", default: "results/bench/face_crop.json" },
    set: { type: "string", multiple: true, default: [] },
  },
});
const perClass = Number(values["per-class"]);
const tmp = await Deno.makeTempDir({ prefix: "grefel-face-crop-" });
const root = join(tmp, "photos");
try {
  const t0 = performance.now();
  await framedFaces(root, { perClass });
  console.error(
    `made ${4 * perClass} framed photos in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const results: Record<string, unknown> = {};
  for (const faceCrop of ["on", "off"]) {
    const cfg = presetConfig(
      values.preset!,
      mergeConfig({
        data: { dataset: "folder", root, faceCrop, sampler: { perClass } },
        train: {
          epochs: Number(values.epochs),
          resultsDir: join(tmp, "results"),
          progress: "off",
          backend: "wasm",
        },
      }, parseSets(values.set!)),
    );
    const t = performance.now();
    const r = await runTraining(cfg, { figures: false, print: (l) => console.error(l) });
    const m = r.metrics as { accuracy: number; primaryAccuracy: number };
    const data = JSON.parse(await Deno.readTextFile(join(r.dir, "data.json")));
    results[faceCrop] = {
      accuracy: m.accuracy,
      primaryAccuracy: m.primaryAccuracy,
      test: data.splits.test.total,
      faceRate: data.scan?.faces?.rate ?? null,
      seconds: (performance.now() - t) / 1000,
    };
    console.error(`faceCrop=${faceCrop}: ${JSON.stringify(results[faceCrop])}`);
  }
  const out = {
    fixture: { perClass, classes: 4, frame: [320, 240], faceSide: [56, 88], chance: 0.25 },
    preset: values.preset,
    epochs: Number(values.epochs),
    sets: values.set,
    results,
    createdAt: new Date().toISOString(),
  };
  await Deno.mkdir(dirname(values.out!), { recursive: true });
  await Deno.writeTextFile(values.out!, JSON.stringify(out, null, 1) + "\n");
  console.log(JSON.stringify(out));
} finally {
  await Deno.remove(tmp, { recursive: true });
}
