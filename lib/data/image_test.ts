import { assert } from "../testing.ts";
import { encode as encodePngRaw } from "fast-png";
import {
  decodeImage,
  encodeJpeg,
  encodePng,
  ImageDecodeError,
  readImage,
  sniffFormat,
  toGray,
  toRGB,
} from "./image.ts";
import { gradient, tinyTiff } from "./test_fixtures.ts";

Deno.test("PNG round trip, gray and RGB", async () => {
  for (const ch of [1, 3] as const) {
    const img = gradient(7, 5, ch);
    const bytes = encodePng(img);
    assert.equal(sniffFormat(bytes), "png");
    const back = await decodeImage(bytes, "x.png");
    assert.equal(back.width, 7);
    assert.equal(back.height, 5);
    assert.equal(back.channels, ch);
    assert.deepEqual(Array.from(back.data), Array.from(img.data));
  }
});

Deno.test("PNG 16-bit is scaled to 8-bit and alpha is dropped", async () => {
  const w = 4, h = 3;
  const d16 = new Uint16Array(w * h * 4);
  for (let i = 0; i < w * h; i++) d16.set([i * 5000, 65535, 0, 1234], i * 4);
  const bytes = encodePngRaw({ width: w, height: h, data: d16, depth: 16, channels: 4 });
  const img = await decodeImage(bytes, "deep.png");
  assert.equal(img.channels, 3);
  for (let i = 0; i < w * h; i++) {
    assert.equal(img.data[i * 3], Math.round((i * 5000) / 257));
    assert.equal(img.data[i * 3 + 1], 255);
    assert.equal(img.data[i * 3 + 2], 0);
  }
  // gray + alpha -> gray
  const ga = new Uint8Array(w * h * 2).map((_, i) => (i % 2 ? 7 : i * 3));
  const g = await decodeImage(
    encodePngRaw({ width: w, height: h, data: ga, channels: 2, depth: 8 }),
  );
  assert.equal(g.channels, 1);
  assert.equal(g.data[2], ga[4]);
});

Deno.test("JPEG decodes close to the source; TIFF decodes exactly", async () => {
  const img = gradient(16, 16, 3);
  const back = await decodeImage(encodeJpeg(img, 95), "a.jpg");
  assert.equal(back.channels, 3);
  let err = 0;
  for (let i = 0; i < img.data.length; i++) err += Math.abs(back.data[i] - img.data[i]);
  assert.ok(err / img.data.length < 12, `mean abs error ${err / img.data.length}`);
  for (const ch of [1, 3] as const) {
    const src = gradient(5, 4, ch);
    const t = await decodeImage(tinyTiff(src), "a.tiff");
    assert.equal(t.channels, ch);
    assert.deepEqual(Array.from(t.data), Array.from(src.data));
  }
});

Deno.test("corrupt, truncated, empty and unknown files give errors naming the file", async () => {
  const png = encodePng(gradient(32, 32, 3));
  const jpg = encodeJpeg(gradient(32, 32, 3));
  const corruptPng = png.slice();
  corruptPng[png.length - 20] ^= 0xff; // inside IDAT/IEND: CRC fails
  const cases: [string, Uint8Array][] = [
    ["trunc.png", png.subarray(0, Math.floor(png.length / 2))],
    ["corrupt.png", corruptPng],
    ["trunc.jpg", jpg.subarray(0, Math.floor(jpg.length / 2))],
    ["empty.png", new Uint8Array(0)],
    ["text.png", new TextEncoder().encode("hello world")],
  ];
  for (const [name, bytes] of cases) {
    await assert.rejects(() => decodeImage(bytes, name), (e: unknown) => {
      assert.ok(e instanceof ImageDecodeError, `${name}: ${e}`);
      assert.ok(e.message.includes(name), e.message);
      return true;
    });
  }
  await assert.rejects(readImage("/nonexistent/dir/x.png"), /x\.png: file not found/);
});

Deno.test("toRGB and toGray", () => {
  const g = gradient(3, 2, 1);
  const rgb = toRGB(g);
  assert.equal(rgb.channels, 3);
  assert.equal(rgb.data[5 * 3 + 2], g.data[5]);
  const back = toGray(rgb);
  assert.deepEqual(Array.from(back.data), Array.from(g.data));
  assert.equal(toRGB(rgb), rgb);
});
