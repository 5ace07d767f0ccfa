import { assert } from "../testing.ts";
import { presetConfig } from "../config.ts";
import type { DatasetSample } from "../data/types.ts";
import { join } from "node:path";
import { cacheSource, holdOutValidation } from "./prepare.ts";
import { augmentPipeline } from "../data/cache.ts";
import { augmentParams } from "../data/config.ts";
import { featureCacheKey } from "../data/cache.ts";
import { exists, REPO_ROOT } from "../data/common.ts";
import { FERPLUS_DEFAULT } from "../data/ferplus.ts";
import { LANDMARK68_INPUT, LANDMARK68_SHAPE } from "../extractors/face_landmark68.ts";
import { FACERES_SHAPE } from "../extractors/faceres.ts";
import { NPM_FACE_VERSION } from "../extractors/npm_face.ts";

Deno.test("validation hold-out: stratified, seeded, only from train", () => {
  const samples: DatasetSample[] = [];
  for (let i = 0; i < 60; i++) samples.push({ id: `t${i}`, split: "train", label: i % 3 });
  for (let i = 0; i < 5; i++) samples.push({ id: `x${i}`, split: "test", label: 0 });
  const a = holdOutValidation(samples, "train", "valid", 0.1, 7);
  const valid = a.filter((s) => s.split === "valid");
  assert.equal(valid.length, 6);
  for (let c = 0; c < 3; c++) assert.equal(valid.filter((s) => s.label === c).length, 2);
  assert.equal(a.filter((s) => s.split === "test").length, 5);
  assert.deepEqual(holdOutValidation(samples, "train", "valid", 0.1, 7), a);
  assert.notDeepEqual(
    holdOutValidation(samples, "train", "valid", 0.1, 8).map((s) => s.split),
    a.map((s) => s.split),
  );
  assert.equal(samples[0].split, "train", "input not mutated");
});

Deno.test("augment pipeline: key follows the settings; view 0 is the centre crop", () => {
  const pipeline = (c: ReturnType<typeof presetConfig>) =>
    augmentPipeline(augmentParams(c.data, 32));
  const on = pipeline(presetConfig("tiny"));
  const off = pipeline(presetConfig("tiny", { data: { augment: { enabled: false } } }));
  // The key the feature caches of runs were built under.
  assert.equal(
    off.key,
    'augment:{"brightness":0,"contrast":0,"crop":224,"flip":false,"mean":[0,0,0],"outputSize":32,' +
      '"randomCrop":false,"resize":256,"rotation":0,"saturation":0,"std":[1,1,1]}',
  );
  assert.ok(on.augments && !off.augments);
  assert.notEqual(on.key, off.key);
  const img = {
    width: 8,
    height: 8,
    channels: 1 as const,
    data: Uint8Array.from({ length: 64 }, (_, i) => i * 4),
  };
  const c1 = on.render(img, 16, 0, 1), c2 = off.render(img, 16, 0, 5);
  assert.equal(c1.length, 16 * 16 * 3);
  assert.deepEqual(c1, c2, "centre view does not depend on augmentation or seed");
  assert.notDeepEqual(on.render(img, 16, 1, 1), c1);
});

Deno.test("feature-cache key: FER+ at its default root keeps its folder; other roots get their own", async () => {
  const config = presetConfig("compact", { data: { dataset: "ferplus" } });
  // npm-face-fast as the registry loads it: faceres at 160 px (maps 20², 10², 5²).
  const extractor = {
    name: "npm-face-fast",
    version: NPM_FACE_VERSION,
    inputSize: LANDMARK68_INPUT,
    landmarkShape: LANDMARK68_SHAPE,
    imageShape: FACERES_SHAPE.map((
      [, c],
      i,
    ) => [Math.ceil(160 / (8 << i)), c]) as typeof FACERES_SHAPE,
  };
  const pipeline = {
    ...augmentPipeline(augmentParams(config.data, extractor.inputSize)),
    augments: false,
  };
  const key = (source?: string) =>
    featureCacheKey(extractor, { grid: [7, 7, 7], pipeline, views: 1, seed: 0, source }).key;
  // The folders results/cache/ferplus-train-05b849e21edf6b86 and ferplus-eval-… were built under.
  assert.equal(key(), "05b849e21edf6b86");
  const ferplus = join(REPO_ROOT, FERPLUS_DEFAULT);
  if (await exists(ferplus) && !Deno.env.get("GREFEL_FERPLUS")) {
    assert.equal(await cacheSource(config.data, []), undefined, "FER+ at its default root");
    assert.equal(
      await cacheSource({ ...config.data, root: ferplus }, []),
      undefined,
      "the default root given explicitly",
    );
  }
  const a = await Deno.makeTempDir({ prefix: "grefel-root-a-" });
  const b = await Deno.makeTempDir({ prefix: "grefel-root-b-" });
  try {
    const folder = (root: string) => ({ ...config.data, dataset: "folder" as const, root });
    const s = [{ id: "x/1.png", split: "train", label: 0 }];
    const sa = await cacheSource(folder(a), s.map((x) => ({ ...x, path: join(a, x.id) })));
    const sb = await cacheSource(folder(b), s.map((x) => ({ ...x, path: join(b, x.id) })));
    assert.ok(sa && sb && sa !== sb, `${sa} vs ${sb}`);
    assert.match(sa!, /^folder \/.*grefel-root-a-.* files [0-9a-f]{16}$/);
    assert.notEqual(key(sa), key(sb));
    assert.notEqual(key(sa), key());
    // The synthetic set: its default settings need no source, other settings get one.
    const syn = presetConfig("tiny").data;
    assert.equal(await cacheSource(syn, []), undefined);
    assert.match(
      (await cacheSource({ ...syn, synthetic: { ...syn.synthetic, train: 48 } }, []))!,
      /^synthetic \{.*"train":48/,
    );
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});
