import { assert } from "../testing.ts";
import { decodeImage, encodeJpeg, encodePng, ImageDecodeError, sniffFormat } from "./image.ts";
import { decodePnm, encodePnm } from "./pnm.ts";
import { bmpOf, gifOf, gradient, paletteBmp, tinyTiff, webpOf } from "./test_fixtures.ts";
import type { RawImage } from "./types.ts";

const gray = (img: RawImage) =>
  img.channels === 1 ? Array.from(img.data) : Array.from(
    { length: img.width * img.height },
    (_, i) => img.data[i * 3],
  );

Deno.test("WebP, BMP (24-bit and paletted), GIF and Netpbm decode exactly", async () => {
  const rgb = gradient(9, 6, 3), g = gradient(9, 6, 1);
  const cases: [string, Uint8Array, RawImage, string][] = [
    ["a.webp", await webpOf(rgb), rgb, "webp"],
    ["a.bmp", await bmpOf(rgb), rgb, "bmp"],
    ["p.bmp", paletteBmp(g), g, "bmp"],
    ["a.gif", await gifOf(g), g, "gif"],
    ["a.pgm", encodePnm(g), g, "pnm"],
    ["plain.pgm", encodePnm(g, true), g, "pnm"],
    ["a.ppm", encodePnm(rgb), rgb, "pnm"],
    ["plain.ppm", encodePnm(rgb, true), rgb, "pnm"],
  ];
  for (const [name, bytes, src, format] of cases) {
    assert.equal(sniffFormat(bytes), format, name);
    const img = await decodeImage(bytes, name);
    assert.deepEqual([img.width, img.height], [9, 6], name);
    if (src.channels === 3) {
      assert.equal(img.channels, 3, name);
      assert.deepEqual(Array.from(img.data), Array.from(src.data), name);
    } else assert.deepEqual(gray(img), Array.from(src.data), name);
  }
});

Deno.test("Netpbm: PBM plain and binary, 16-bit PGM, comments, maxval scaling", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const p1 = decodePnm(enc("P1\n# c\n3 2\n1 0 1\n010\n"));
  assert.deepEqual(Array.from(p1.data), [0, 255, 0, 255, 0, 255]);
  const p4 = decodePnm(new Uint8Array([...enc("P4 3 2\n"), 0b10100000, 0b01000000]));
  assert.deepEqual(Array.from(p4.data), [0, 255, 0, 255, 0, 255]);
  const p2 = decodePnm(enc("P2 2 1 15 0 15"));
  assert.deepEqual(Array.from(p2.data), [0, 255]);
  const p5 = decodePnm(new Uint8Array([...enc("P5 2 1 65535\n"), 0xff, 0xff, 0x80, 0x00]));
  assert.deepEqual(Array.from(p5.data), [255, 128]);
  assert.throws(() => decodePnm(enc("P2 2 1 15 0 16")), /sample value 16 exceeds maxval 15/);
  assert.throws(() => decodePnm(new Uint8Array([...enc("P5 4 4 255\n"), 1, 2])), /truncated/);
});

Deno.test("every failure names the file: corrupt, truncated, wrong extension, empty, unsupported", async () => {
  const rgb = gradient(32, 32, 3);
  const webp = await webpOf(rgb), gif = await gifOf(gradient(32, 32, 1)), bmp = await bmpOf(rgb);
  const jpg = encodeJpeg(rgb);
  const half = (b: Uint8Array) => b.subarray(0, Math.floor(b.length / 2));
  const rle = paletteBmp(gradient(8, 8, 1));
  rle[30] = 1; // BI_RLE8
  const cases: [string, Uint8Array, RegExp][] = [
    ["t.webp", half(webp), /corrupt or truncated WebP/],
    ["t.bmp", half(bmp), /corrupt or truncated BMP/],
    ["t.gif", gif.subarray(0, 30), /corrupt or truncated GIF/],
    ["t.ppm", half(encodePnm(rgb)), /corrupt or truncated Netpbm \(truncated raster/],
    ["t.jpg", half(jpg), /corrupt or truncated JPEG/],
    ["rle.bmp", rle, /run-length compressed BMP \(RLE8\) is not supported/],
    ["empty.png", new Uint8Array(0), /file is empty/],
    ["x.pam", new TextEncoder().encode("P7\nWIDTH 2\n"), /unsupported or unrecognised format/],
    ["x.jpg", new TextEncoder().encode("hello"), /supported: PNG, JPEG, TIFF, WebP, BMP, GIF/],
  ];
  for (const [name, bytes, re] of cases) {
    await assert.rejects(() => decodeImage(bytes, name), (e: unknown) => {
      assert.ok(e instanceof ImageDecodeError, `${name}: ${e}`);
      assert.ok(e.message.includes(name), e.message);
      assert.match(e.message, re);
      return true;
    });
  }
  // A WebP named .jpg is read by its content.
  const named = await decodeImage(webp, "really-webp.jpg");
  assert.deepEqual(Array.from(named.data), Array.from(rgb.data));
  // PNG and TIFF are unchanged.
  assert.equal((await decodeImage(encodePng(rgb))).width, 32);
  assert.equal((await decodeImage(tinyTiff(rgb))).height, 32);
});
