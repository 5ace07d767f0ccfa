import { join } from "node:path";
import { assert } from "../testing.ts";
import { selectBackend } from "../backend.ts";
import {
  blazeFaceAnchors,
  type FaceDetection,
  iou,
  loadBlazeFace,
} from "../extractors/blazeface.ts";
import { alignedFaceCrop, eyeAngle, pickFace } from "./faces.ts";
import { encodePng } from "./image.ts";
import { loadDataset } from "./datasets.ts";
import { scanDataset } from "./scan.ts";
import { framedFaces } from "./test_fixtures.ts";
import type { RawImage } from "./types.ts";

Deno.test("aligned crop: eyes level after alignment, margin and side as asked", () => {
  const W = 80, H = 80, theta = 0.35;
  const img: RawImage = { width: W, height: H, channels: 1, data: new Uint8Array(W * H) };
  const cx = 40, cy = 40, d = 12;
  const eyes: [number, number][] = [-1, 1].map((s) => [
    cx + s * d * Math.cos(theta),
    cy + s * d * Math.sin(theta),
  ]);
  for (const [ex, ey] of eyes) {
    for (let y = -1; y <= 1; y++) {
      for (let x = -1; x <= 1; x++) img.data[(Math.round(ey) + y) * W + Math.round(ex) + x] = 255;
    }
  }
  const face: FaceDetection = {
    box: [cx - 20, cy - 20, 40, 40],
    score: 0.9,
    keypoints: [...eyes, [cx, cy], [cx, cy], [cx, cy], [cx, cy]],
  };
  assert.ok(Math.abs(eyeAngle(face) - theta) < 1e-9);
  const rowOf = (c: RawImage, left: boolean) => {
    let sy = 0, n = 0;
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        if ((x < c.width / 2) === left && c.data[y * c.width + x] > 100) [sy, n] = [sy + y, n + 1];
      }
    }
    return sy / n;
  };
  const aligned = alignedFaceCrop(img, face, { margin: 0.25, size: 60, align: true });
  assert.deepEqual([aligned.width, aligned.height, aligned.channels], [60, 60, 1]);
  assert.ok(Math.abs(rowOf(aligned, true) - rowOf(aligned, false)) < 1, "eyes on one row");
  const plain = alignedFaceCrop(img, face, { margin: 0.25, size: 60, align: false });
  assert.ok(rowOf(plain, false) - rowOf(plain, true) > 5, "unaligned crop keeps the tilt");
  // side = 40 · 1.5 = 60 source pixels for 60 output pixels: the eye gap is 2d in both.
  assert.equal(pickFace([face, { ...face, box: [0, 0, 10, 10] }]), face, "largest face chosen");
  assert.equal(pickFace([]), null);
});

Deno.test("BlazeFace: 896 anchors; finds synthetic faces in cluttered frames, none in a blank one; scan crops them", async () => {
  assert.equal(blazeFaceAnchors().length, 896 * 2);
  await selectBackend("wasm");
  const det = await loadBlazeFace();
  const dir = await Deno.makeTempDir({ prefix: "grefel-faces-" });
  try {
    const root = join(dir, "photos");
    const boxes = await framedFaces(root, { perClass: 3, classes: [0, 1] });
    let hits = 0;
    for (const [rel, box] of boxes) {
      const { readImage } = await import("./image.ts");
      const f = pickFace(await det.detect(await readImage(join(root, rel))));
      if (f && iou(f.box, box) > 0.3) hits++;
    }
    assert.ok(hits >= 5, `faces found at their place in ${hits} of 6 frames`);
    const blank = new Uint8Array(200 * 150 * 3).fill(128);
    await Deno.writeFile(
      join(root, "neutral", "blank.png"),
      encodePng({ width: 200, height: 150, channels: 3, data: blank }),
    );
    const ds = await loadDataset("folder", root, { testFraction: 0.3, validFraction: 0 });
    const r = await scanDataset(ds, {
      cacheDir: join(dir, "cache"),
      faces: { detector: det, minScore: 0.5, crop: { margin: 0.2, size: 64, align: true } },
    });
    assert.ok(r.skipped.some((s) => s.item.endsWith("blank.png") && s.kind === "face"));
    assert.match(r.skipped.find((s) => s.kind === "face")!.reason, /no face detected/);
    assert.equal(r.stats.faces!.searched, 7);
    assert.equal(r.stats.faces!.found, r.dataset.samples.length);
    assert.match(r.facesKey!, /^faces:blazeface\/1:score=0\.5:margin=0\.2:size=64:align=true$/);
    const crop = await r.dataset.loadImage(r.dataset.samples[0]);
    assert.deepEqual([crop.width, crop.height], [64, 64]);
    assert.ok(r.dataset.samples.some((s) => s.split === "test"), "splits assigned again");
  } finally {
    det.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
