/**
 * Helpers that build small image fixtures for the data tests (not a test file itself).
 * @module
 */
import type { RawImage } from "./types.ts";

/** A gradient test image. */
export function gradient(width: number, height: number, channels: 1 | 3): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        data[(y * width + x) * channels + c] = (x * 16 + y * 8 + c * 60) & 255;
      }
    }
  }
  return { width, height, channels, data };
}

/** A minimal uncompressed little-endian TIFF (8-bit gray or RGB), written by hand for tests. */
export function tinyTiff(img: RawImage): Uint8Array {
  const entries: [number, number, number][] = [ // tag, type(3=short,4=long), value
    [256, 4, img.width],
    [257, 4, img.height],
    [258, 3, 8],
    [259, 3, 1],
    [262, 3, img.channels === 1 ? 1 : 2],
    [273, 4, 0], // strip offset, patched below
    [277, 3, img.channels],
    [278, 4, img.height],
    [279, 4, img.data.length],
  ];
  const ifdSize = 2 + entries.length * 12 + 4;
  const dataOffset = 8 + ifdSize;
  entries[5][2] = dataOffset;
  const buf = new Uint8Array(dataOffset + img.data.length);
  const dv = new DataView(buf.buffer);
  buf.set([0x49, 0x49, 0x2a, 0]);
  dv.setUint32(4, 8, true);
  dv.setUint16(8, entries.length, true);
  entries.forEach(([tag, type, value], i) => {
    const o = 10 + i * 12;
    dv.setUint16(o, tag, true);
    dv.setUint16(o + 2, type, true);
    dv.setUint32(o + 4, 1, true);
    if (type === 3) dv.setUint16(o + 8, value, true);
    else dv.setUint32(o + 8, value, true);
  });
  dv.setUint32(10 + entries.length * 12, 0, true);
  buf.set(img.data, dataOffset);
  return buf;
}

/** RGBA bytes of an image (alpha 255). */
function rgbaOf(img: RawImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) {
      out[i * 4 + k] = img.data[i * img.channels + (img.channels === 1 ? 0 : k)];
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** A lossless WebP of the image (libwebp through `@jsquash/webp`). */
export async function webpOf(img: RawImage): Promise<Uint8Array> {
  const { default: encode } = await import("@jsquash/webp/encode.js");
  const data = new Uint8ClampedArray(rgbaOf(img));
  const out = await encode(
    { data, width: img.width, height: img.height, colorSpace: "srgb" } as ImageData,
    { lossless: 1 },
  );
  return new Uint8Array(out);
}

/** A 24-bit BMP of the image (`bmp-ts`, which takes ABGR samples). */
export async function bmpOf(img: RawImage): Promise<Uint8Array> {
  const { encode } = await import("bmp-ts");
  const { Buffer } = await import("node:buffer");
  const rgba = rgbaOf(img);
  const abgr = Buffer.alloc(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    abgr[i] = 255;
    abgr[i + 1] = rgba[i + 2];
    abgr[i + 2] = rgba[i + 1];
    abgr[i + 3] = rgba[i];
  }
  const out = encode({ data: abgr, width: img.width, height: img.height, bitPP: 24 } as never);
  return new Uint8Array(out.data);
}

/**
 * An 8-bit paletted BMP written by hand (bottom-up rows, 4-byte aligned), with a grey palette
 * reversed so that a decoder that ignores the palette gets the wrong pixels.
 */
export function paletteBmp(img: RawImage): Uint8Array {
  const gray = img.channels === 1 ? img.data : Uint8Array.from(
    { length: img.width * img.height },
    (_, i) => img.data[i * 3],
  );
  const rowBytes = Math.ceil(img.width / 4) * 4;
  const offset = 14 + 40 + 256 * 4;
  const size = offset + rowBytes * img.height;
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  buf.set([0x42, 0x4d]);
  dv.setUint32(2, size, true);
  dv.setUint32(10, offset, true);
  dv.setUint32(14, 40, true);
  dv.setInt32(18, img.width, true);
  dv.setInt32(22, img.height, true);
  dv.setUint16(26, 1, true);
  dv.setUint16(28, 8, true);
  dv.setUint32(46, 256, true);
  for (let i = 0; i < 256; i++) buf.set([i, i, i, 0], 54 + i * 4); // palette index i = grey i
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      // store index 255 − v with palette entry (255 − v) = grey 255 − v: reversed below
      buf[offset + (img.height - 1 - y) * rowBytes + x] = 255 - gray[y * img.width + x];
    }
  }
  for (let i = 0; i < 256; i++) buf.set([255 - i, 255 - i, 255 - i, 0], 54 + i * 4);
  return buf;
}

/** A GIF of a grey image (256-entry grey palette, so it is lossless for 8-bit grey). */
export async function gifOf(img: RawImage): Promise<Uint8Array> {
  const { default: omggif } = await import("omggif");
  const gray = img.channels === 1 ? img.data : Uint8Array.from(
    { length: img.width * img.height },
    (_, i) => img.data[i * 3],
  );
  const buf = new Uint8Array(img.width * img.height * 2 + 2048);
  const palette = Array.from({ length: 256 }, (_, i) => (i << 16) | (i << 8) | i);
  const w = new omggif.GifWriter(buf, img.width, img.height, { palette });
  w.addFrame(0, 0, img.width, img.height, Array.from(gray));
  return buf.slice(0, w.end());
}

/** What {@linkcode messyFolder} wrote. */
export interface MessyFolder {
  /** Usable images per class folder. */
  good: Record<string, number>;
  /** File names (below the root) that must be skipped, with a pattern of their reason. */
  bad: [string, RegExp][];
}

/**
 * A class-per-folder data set with every supported format and every kind of bad file, as a new
 * user's folder might be: `happy/` mixes PNG, PGM (binary and plain), PPM, a WebP named `.jpg`,
 * BMP and GIF; `sad/` holds only PGMs; `neutral/` PNGs plus a corrupt PNG, a truncated JPEG, an
 * empty file, a PAM named `.pgm` and a text file; `angry/` only a text file (not a class).
 * Images are small synthetic faces (`side` px).
 */
export async function messyFolder(root: string, side = 32): Promise<MessyFolder> {
  const { loadSynthetic } = await import("./synthetic.ts");
  const { encodePng, encodeJpeg } = await import("./image.ts");
  const { encodePnm } = await import("./pnm.ts");
  const ds = loadSynthetic({ size: side, train: 40, valid: 0, test: 1, identities: 5 });
  let k = 0;
  const next = () => ds.loadImage(ds.samples[k++ % ds.samples.length]);
  const gray = (img: RawImage): RawImage => ({
    ...img,
    channels: 1,
    data: Uint8Array.from({ length: img.width * img.height }, (_, i) => img.data[i * 3]),
  });
  const write = async (rel: string, bytes: Uint8Array | string) => {
    const path = `${root}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof bytes === "string") await Deno.writeTextFile(path, bytes);
    else await Deno.writeFile(path, bytes);
  };
  for (let i = 0; i < 3; i++) await write(`happy/h${i}.png`, encodePng(await next()));
  await write("happy/h3.pgm", encodePnm(gray(await next())));
  await write("happy/h4.pgm", encodePnm(gray(await next()), true));
  await write("happy/h5.ppm", encodePnm(await next()));
  await write("happy/h6.jpg", await webpOf(await next())); // a WebP named .jpg
  await write("happy/h7.bmp", await bmpOf(await next()));
  await write("happy/h8.gif", await gifOf(await next()));
  for (let i = 0; i < 6; i++) await write(`sad/s${i}.pgm`, encodePnm(gray(await next())));
  for (let i = 0; i < 7; i++) await write(`neutral/n${i}.png`, encodePng(await next()));
  const png = encodePng(await next());
  const corrupt = png.slice();
  corrupt[png.length - 20] ^= 0xff;
  await write("neutral/corrupt.png", corrupt);
  const jpg = encodeJpeg(await next());
  await write("neutral/truncated.jpg", jpg.subarray(0, jpg.length >> 1));
  await write("neutral/empty.png", new Uint8Array(0));
  await write(
    "neutral/pam.pgm",
    "P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nENDHDR\n\x01\x02\x03\x04",
  );
  await write("neutral/notes.txt", "shot on a phone\n");
  await write("angry/readme.txt", "to do\n");
  await write(".DS_Store", "junk");
  return {
    good: { happy: 9, neutral: 7, sad: 6 },
    bad: [
      ["neutral/corrupt.png", /corrupt or truncated PNG/],
      ["neutral/truncated.jpg", /corrupt or truncated JPEG/],
      ["neutral/empty.png", /file is empty/],
      ["neutral/pam.pgm", /unsupported or unrecognised format.*supported: PNG, JPEG/],
      ["neutral/notes.txt", /unsupported file type \.txt \(supported: \.png/],
    ],
  };
}

/** Options of {@linkcode framedFaces}. */
export interface FramedFacesOptions {
  /** Images per class (default 40). */
  perClass?: number;
  /** Synthetic classes used (default 0–3: neutral, happiness, surprise, sadness). */
  classes?: readonly number[];
  /** Frame width and height (default 320 × 240). */
  frame?: [number, number];
  /** Face side range in frame pixels (default 56–88). */
  faceSide?: [number, number];
  /** Seed (default 0). */
  seed?: number;
}

/**
 * Uncropped "photos": synthetic faces (lib/data/synthetic.ts) pasted at a random place and size
 * into larger frames with a cluttered background (gradient, blobs, bars), written as PNGs into
 * `<root>/<class>/`. Returns the face box `[x, y, side, side]` of every file (relative path).
 */
export async function framedFaces(
  root: string,
  opts: FramedFacesOptions = {},
): Promise<Map<string, [number, number, number, number]>> {
  const { loadSynthetic, SYNTHETIC_CLASSES } = await import("./synthetic.ts");
  const { encodePng } = await import("./image.ts");
  const { Rng } = await import("./rng.ts");
  const per = opts.perClass ?? 40;
  const classes = opts.classes ?? [0, 1, 2, 3];
  const [W, H] = opts.frame ?? [320, 240];
  const [fmin, fmax] = opts.faceSide ?? [56, 88];
  const r = new Rng(opts.seed ?? 0);
  const syn = loadSynthetic({
    seed: opts.seed ?? 0,
    size: 96,
    train: Math.ceil((per * classes.length) / 0.04) + 50,
    valid: 0,
    test: 1,
    identities: 40,
  });
  const boxes = new Map<string, [number, number, number, number]>();
  const count = new Map<number, number>();
  for (const s of syn.samples) {
    if (!classes.includes(s.label) || (count.get(s.label) ?? 0) >= per) continue;
    const k = count.get(s.label) ?? 0;
    count.set(s.label, k + 1);
    const face = await syn.loadImage(s);
    const img = new Uint8Array(W * H * 3);
    const c0 = [r.uniform(30, 220), r.uniform(30, 220), r.uniform(30, 220)];
    const c1 = [r.uniform(30, 220), r.uniform(30, 220), r.uniform(30, 220)];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const t = (x / W + y / H) / 2;
        for (let c = 0; c < 3; c++) img[(y * W + x) * 3 + c] = c0[c] * (1 - t) + c1[c] * t;
      }
    }
    for (let b = 0; b < 6; b++) { // clutter: bars and blobs
      const bx = r.int(W), by = r.int(H), bw = 10 + r.int(80), bh = 10 + r.int(80);
      const col = [r.int(256), r.int(256), r.int(256)];
      const round = r.chance(0.5);
      for (let y = Math.max(0, by); y < Math.min(H, by + bh); y++) {
        for (let x = Math.max(0, bx); x < Math.min(W, bx + bw); x++) {
          const u = (x - bx) / bw - 0.5, v = (y - by) / bh - 0.5;
          if (round && u * u + v * v > 0.25) continue;
          for (let c = 0; c < 3; c++) img[(y * W + x) * 3 + c] = col[c];
        }
      }
    }
    const side = Math.round(r.uniform(fmin, fmax));
    const fx = r.int(W - side), fy = r.int(H - side);
    for (let y = 0; y < side; y++) { // bilinear paste
      const sy = Math.min(95, Math.max(0, ((y + 0.5) * 96) / side - 0.5));
      const y0 = Math.floor(sy), y1 = Math.min(95, y0 + 1), wy = sy - y0;
      for (let x = 0; x < side; x++) {
        const sx = Math.min(95, Math.max(0, ((x + 0.5) * 96) / side - 0.5));
        const x0 = Math.floor(sx), x1 = Math.min(95, x0 + 1), wx = sx - x0;
        for (let c = 0; c < 3; c++) {
          const p = (yy: number, xx: number) => face.data[(yy * 96 + xx) * 3 + c];
          const v = (p(y0, x0) * (1 - wx) + p(y0, x1) * wx) * (1 - wy) +
            (p(y1, x0) * (1 - wx) + p(y1, x1) * wx) * wy;
          img[((fy + y) * W + fx + x) * 3 + c] = Math.round(v);
        }
      }
    }
    const rel = `${SYNTHETIC_CLASSES[s.label]}/${String(k).padStart(4, "0")}.png`;
    await Deno.mkdir(`${root}/${SYNTHETIC_CLASSES[s.label]}`, { recursive: true });
    await Deno.writeFile(
      `${root}/${rel}`,
      encodePng({ width: W, height: H, channels: 3, data: img }),
    );
    boxes.set(rel, [fx, fy, side, side]);
  }
  return boxes;
}
