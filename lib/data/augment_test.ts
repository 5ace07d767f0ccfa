import { assert, assertClose } from "../testing.ts";
import {
  applyAugment,
  type AugmentParams,
  centreDraw,
  drawAugment,
  preprocess,
  preprocessBatch,
} from "./augment.ts";
import { gradient } from "./test_fixtures.ts";
import type { RawImage } from "./types.ts";

const P: AugmentParams = {
  outputSize: 16,
  resize: 16,
  crop: 16,
  rotation: 0,
  flip: false,
  brightness: 0,
  contrast: 0,
  saturation: 0,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

Deno.test("identity transform reproduces the image (gray replicated to RGB)", async () => {
  for (const ch of [1, 3] as const) {
    const img = gradient(16, 16, ch);
    const out = preprocess(img, P, { seed: 0, epoch: 0, sample: 0 }, false);
    assert.equal(out.length, 16 * 16 * 3);
    const expected = Array.from({ length: 16 * 16 * 3 }, (_, i) => {
      const p = Math.floor(i / 3), c = i % 3;
      return img.data[p * ch + (ch === 3 ? c : 0)] / 255;
    });
    await assertClose(out, expected, 1e-5);
  }
});

Deno.test("flip mirrors, resize/crop scale, normalisation applies mean/std", async () => {
  const img = gradient(16, 16, 3);
  const flip = applyAugment(img, P, { ...centreDraw(P), flip: true });
  const plain = applyAugment(img, P, centreDraw(P));
  for (const [y, x] of [[0, 0], [5, 3], [15, 15]]) {
    for (let c = 0; c < 3; c++) {
      await assertClose(flip[(y * 16 + x) * 3 + c], plain[(y * 16 + 15 - x) * 3 + c], 1e-6);
    }
  }
  // 16 -> 8 output (upsampled image of a constant stays constant; size follows outputSize)
  const flat: RawImage = { width: 7, height: 5, channels: 1, data: new Uint8Array(35).fill(51) };
  const small = preprocess(flat, {
    ...P,
    outputSize: 8,
    mean: [0.1, 0.2, 0.3],
    std: [0.5, 0.5, 0.5],
  }, {
    seed: 0,
    epoch: 0,
    sample: 0,
  }, false);
  assert.equal(small.length, 8 * 8 * 3);
  await assertClose(small.slice(0, 3), [(0.2 - 0.1) / 0.5, 0, (0.2 - 0.3) / 0.5], 1e-5);
  // large source shrunk > 2x: supersampled, mean preserved on a checkerboard
  const big: RawImage = { width: 64, height: 64, channels: 1, data: new Uint8Array(64 * 64) };
  for (let i = 0; i < big.data.length; i++) {
    big.data[i] = ((i % 64) + Math.floor(i / 64)) % 2 ? 255 : 0;
  }
  const shrunk = preprocess(big, { ...P, resize: 64, crop: 64, outputSize: 8 }, {
    seed: 0,
    epoch: 0,
    sample: 0,
  }, false);
  for (const v of shrunk) assert.ok(Math.abs(v - 0.5) < 0.1, `aliasing: ${v}`);
});

Deno.test("augmentation is seeded by (seed, epoch, sample) and differs otherwise", () => {
  const p: AugmentParams = {
    ...P,
    resize: 20,
    rotation: 15,
    flip: true,
    brightness: 0.3,
    contrast: 0.3,
    saturation: 0.3,
  };
  const img = gradient(12, 10, 3);
  const k = { seed: 1, epoch: 2, sample: "a/b.png" };
  assert.deepEqual(preprocess(img, p, k, true), preprocess(img, p, { ...k }, true));
  assert.deepEqual(drawAugment(p, k), drawAugment(p, { ...k }));
  assert.notDeepEqual(preprocess(img, p, k, true), preprocess(img, p, { ...k, epoch: 3 }, true));
  assert.notDeepEqual(preprocess(img, p, k, true), preprocess(img, p, { ...k, sample: 7 }, true));
  // draws lie in the configured ranges
  for (let s = 0; s < 200; s++) {
    const d = drawAugment(p, { seed: 0, epoch: 0, sample: s });
    assert.ok(Math.abs(d.angle) <= (15 * Math.PI) / 180 + 1e-12);
    assert.ok(d.cropX >= 0 && d.cropX <= 4 && d.brightness >= 0.7 && d.brightness <= 1.3);
  }
  // evaluation ignores the key
  assert.deepEqual(preprocess(img, p, k, false), preprocess(img, p, { ...k, epoch: 9 }, false));
  // no random crop when disabled
  assert.equal(drawAugment({ ...p, randomCrop: false }, k).cropX, 2);
  const batch = preprocessBatch([img, img], p, [k, { ...k, sample: 1 }], true);
  assert.equal(batch.length, 2 * 16 * 16 * 3);
  assert.deepEqual(batch.slice(0, 768), preprocess(img, p, k, true));
});

Deno.test("unexpected sizes are resized; bad channel counts and empty images are errors", () => {
  for (const [w, h] of [[1, 1], [3, 40], [100, 7]]) {
    const out = preprocess(gradient(w, h, 3), P, { seed: 0, epoch: 0, sample: 0 }, true);
    assert.equal(out.length, 16 * 16 * 3);
    assert.ok(out.every((v) => Number.isFinite(v)));
  }
  const bad = { width: 2, height: 2, channels: 4, data: new Uint8Array(16) } as unknown as RawImage;
  assert.throws(() => preprocess(bad, P, { seed: 0, epoch: 0, sample: 0 }, false), /4 channels/);
  const empty: RawImage = { width: 0, height: 3, channels: 1, data: new Uint8Array(0) };
  assert.throws(() => preprocess(empty, P, { seed: 0, epoch: 0, sample: 0 }, false), /empty/);
});
