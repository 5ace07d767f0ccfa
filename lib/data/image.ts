/**
 * Image decoding and channel conversion for the data loaders.
 *
 * Decoding uses maintained npm decoders (PNG: `fast-png`, JPEG: `jpeg-js`, TIFF: `tiff`, the last
 * for JAFFE's `.tiff` files; WebP: `@jsquash/webp`, libwebp compiled to WebAssembly; BMP: `bmp-ts`,
 * 1/4/8/16/24/32-bit with palettes and RLE; GIF: `omggif`, first frame) and a Netpbm decoder
 * written here (PBM/PGM/PPM, `./pnm.ts`, which says why); this module only normalises what they
 * return to a {@linkcode RawImage} (8-bit, 1 or 3 channels, HWC) and turns their failures into one
 * error type that names the file. The format is recognised from the bytes, never the extension,
 * so a WebP file named `.jpg` decodes as WebP.
 *
 * Decisions (where the decoders leave a choice):
 * - 16-bit samples are scaled to 8 bits with `round(v / 257)` (exact for 0 and 65535).
 * - Sub-byte grayscale (1, 2, 4 bit) is unpacked and scaled to 0–255.
 * - Alpha is dropped, as PIL's `convert("RGB")` does (the reference pipelines use PIL); gray+alpha
 *   becomes gray, RGBA becomes RGB, paletted images are expanded to RGB.
 * - JPEG is decoded with `tolerantDecoding: false`, so a truncated or damaged stream is an error
 *   rather than a silently half-grey image; PNG chunks are CRC-checked.
 * - Any other channel count is an {@linkcode ImageDecodeError}.
 * - GIF: the first frame is drawn onto the logical screen; pixels it leaves transparent are black.
 *
 * @module
 */
import { decode as decodePngRaw, encode as encodePngRaw } from "fast-png";
import { convertIndexedToRgb } from "fast-png";
import jpeg from "jpeg-js";
import { decode as decodeTiffRaw } from "tiff";
import decodeWebpRaw from "@jsquash/webp/decode.js";
import { decode as decodeBmpRaw } from "bmp-ts";
import omggif from "omggif";
import { Buffer } from "node:buffer";
import { decodePnm, isPnm } from "./pnm.ts";
import type { RawImage } from "./types.ts";

/** An image file that could not be read or decoded; `file` names it. */
export class ImageDecodeError extends Error {
  /** The file (or label) that failed. */
  readonly file: string;
  /** Why, without the file name. */
  readonly reason: string;
  /** The error for `file`, which cannot be decoded for `reason`. */
  constructor(file: string, reason: string) {
    super(`cannot decode image ${file}: ${reason}`);
    this.name = "ImageDecodeError";
    this.file = file;
    this.reason = reason;
  }
}

/** Image container formats recognised by {@linkcode decodeImage}. */
export type ImageFormat = "png" | "jpeg" | "tiff" | "webp" | "bmp" | "gif" | "pnm";

/** The supported formats, as error messages and documentation list them. */
export const SUPPORTED_FORMATS = "PNG, JPEG, TIFF, WebP, BMP, GIF (first frame), PGM/PPM/PBM";

/** Recognises the format from the file's magic bytes; `null` when unknown. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (
    bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e &&
    bytes[3] === 0x47
  ) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  if (
    bytes.length >= 4 &&
    ((bytes[0] === 0x49 && bytes[1] === 0x49 && bytes[2] === 0x2a && bytes[3] === 0) ||
      (bytes[0] === 0x4d && bytes[1] === 0x4d && bytes[2] === 0 && bytes[3] === 0x2a))
  ) return "tiff";
  if (
    bytes.length >= 12 && String.fromCharCode(...bytes.subarray(0, 4)) === "RIFF" &&
    String.fromCharCode(...bytes.subarray(8, 12)) === "WEBP"
  ) return "webp";
  if (bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) return "bmp";
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(String.fromCharCode(...bytes.subarray(0, 6)))) {
    return "gif";
  }
  if (isPnm(bytes)) return "pnm";
  return null;
}

/** Scales samples of `bits` depth (1–16) to 8-bit. */
function to8bit(src: ArrayLike<number>, bits: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (bits === 8) {
    for (let i = 0; i < n; i++) out[i] = src[i];
  } else if (bits === 16) {
    for (let i = 0; i < n; i++) out[i] = Math.round(src[i] / 257);
  } else {
    const max = (1 << bits) - 1;
    for (let i = 0; i < n; i++) out[i] = Math.round((src[i] * 255) / max);
  }
  return out;
}

/** Unpacks rows of sub-byte samples (PNG packs 1/2/4-bit samples MSB first, rows byte-aligned). */
function unpackBits(data: ArrayLike<number>, width: number, height: number, depth: number) {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)];
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/**
 * Reduces interleaved samples with `channels` per pixel (1–4) to a RawImage: keeps gray or RGB,
 * drops alpha.
 */
function fromInterleaved(
  file: string,
  width: number,
  height: number,
  channels: number,
  data8: Uint8Array,
): RawImage {
  const n = width * height;
  if (data8.length < n * channels) {
    throw new ImageDecodeError(
      file,
      `pixel data too short (${data8.length} bytes for ${width}×${height}×${channels})`,
    );
  }
  if (channels === 1 || channels === 3) {
    return { width, height, channels, data: data8.subarray(0, n * channels) };
  }
  if (channels === 2 || channels === 4) {
    const keep = channels === 2 ? 1 : 3;
    const out = new Uint8Array(n * keep);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < keep; c++) out[i * keep + c] = data8[i * channels + c];
    }
    return { width, height, channels: keep as 1 | 3, data: out };
  }
  throw new ImageDecodeError(file, `unsupported channel count ${channels}`);
}

function decodePng(bytes: Uint8Array, file: string): RawImage {
  const png = decodePngRaw(bytes, { checkCrc: true });
  const { width, height, depth } = png;
  if (!(width > 0 && height > 0)) throw new ImageDecodeError(file, `bad size ${width}×${height}`);
  if (png.palette) {
    const rgb = convertIndexedToRgb(png); // RGB, or RGBA when the palette has transparency
    return fromInterleaved(file, width, height, png.palette[0].length, rgb);
  }
  let samples: ArrayLike<number> = png.data;
  if (depth < 8) samples = unpackBits(png.data, width, height, depth); // only gray has depth < 8
  const n = width * height * png.channels;
  if (samples.length < n) {
    throw new ImageDecodeError(file, `pixel data too short (${samples.length} of ${n} samples)`);
  }
  return fromInterleaved(file, width, height, png.channels, to8bit(samples, depth, n));
}

function decodeJpeg(bytes: Uint8Array, file: string): RawImage {
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: false,
    maxResolutionInMP: 100,
    maxMemoryUsageInMB: 1024,
  });
  return fromInterleaved(file, img.width, img.height, 3, img.data);
}

function decodeTiff(bytes: Uint8Array, file: string): RawImage {
  const [ifd] = decodeTiffRaw(bytes, { pages: [0] });
  if (!ifd) throw new ImageDecodeError(file, "TIFF has no image");
  const { width, height } = ifd;
  const n = width * height;
  if (ifd.palette) {
    const out = new Uint8Array(n * 3);
    const pal = ifd.palette; // 16-bit entries
    for (let i = 0; i < n; i++) {
      const c = pal[ifd.data[i]];
      if (!c) throw new ImageDecodeError(file, `palette index ${ifd.data[i]} out of range`);
      for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(c[k] / 257);
    }
    return { width, height, channels: 3, data: out };
  }
  const channels = ifd.samplesPerPixel;
  let data8: Uint8Array;
  if (ifd.data instanceof Float32Array || ifd.data instanceof Float64Array) {
    data8 = new Uint8Array(n * channels);
    for (let i = 0; i < data8.length; i++) {
      data8[i] = Math.round(Math.min(1, Math.max(0, ifd.data[i])) * 255);
    }
  } else {
    data8 = to8bit(ifd.data, ifd.bitsPerSample, Math.min(ifd.data.length, n * channels));
  }
  const img = fromInterleaved(file, width, height, channels, data8);
  if (img.channels === 1 && ifd.type === 0) { // WhiteIsZero
    for (let i = 0; i < img.data.length; i++) img.data[i] = 255 - img.data[i];
  }
  return img;
}

async function decodeWebp(bytes: Uint8Array, file: string): Promise<RawImage> {
  const buf = bytes.slice().buffer as ArrayBuffer;
  const img = await decodeWebpRaw(buf);
  return fromInterleaved(file, img.width, img.height, 4, new Uint8Array(img.data.buffer));
}

function decodeBmp(bytes: Uint8Array, file: string): RawImage {
  // bmp-ts's run-length decoding writes pixels at wrong offsets, so RLE files are refused.
  const compression = bytes.length >= 34
    ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(30, true)
    : 0;
  if (compression === 1 || compression === 2) {
    throw new ImageDecodeError(
      file,
      `run-length compressed BMP (RLE${compression === 1 ? 8 : 4}) is not supported`,
    );
  }
  // Decoded as ABGR (bmp-ts's default order, the one all its uncompressed paths honour).
  const bmp = decodeBmpRaw(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const width = bmp.width, height = Math.abs(bmp.height);
  if (!(width > 0 && height > 0)) throw new ImageDecodeError(file, `bad size ${width}×${height}`);
  const n = width * height;
  if (bmp.data.length < n * 4) throw new Error(`pixel data too short (${bmp.data.length} bytes)`);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = bmp.data[i * 4 + 3];
    out[i * 3 + 1] = bmp.data[i * 4 + 2];
    out[i * 3 + 2] = bmp.data[i * 4 + 1];
  }
  return { width, height, channels: 3, data: out };
}

function decodeGif(bytes: Uint8Array, file: string): RawImage {
  const reader = new omggif.GifReader(bytes);
  const width: number = reader.width, height: number = reader.height;
  if (!(width > 0 && height > 0)) throw new ImageDecodeError(file, `bad size ${width}×${height}`);
  if (reader.numFrames() < 1) throw new Error("no frame");
  const rgba = new Uint8Array(width * height * 4);
  reader.decodeAndBlitFrameRGBA(0, rgba);
  return fromInterleaved(file, width, height, 4, rgba);
}

/**
 * Decodes PNG, JPEG, TIFF, WebP, BMP, GIF or Netpbm bytes to an 8-bit gray or RGB
 * {@linkcode RawImage}; the format is recognised from the bytes.
 * @param bytes the file contents.
 * @param file name used in error messages.
 * @throws ImageDecodeError naming `file` for empty, unrecognised (listing the supported formats),
 *   corrupt or truncated data.
 */
export async function decodeImage(bytes: Uint8Array, file = "<bytes>"): Promise<RawImage> {
  if (bytes.length === 0) throw new ImageDecodeError(file, "file is empty");
  const format = sniffFormat(bytes);
  if (!format) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    throw new ImageDecodeError(
      file,
      `unsupported or unrecognised format (starts with ${head.join(" ")}; supported: ` +
        `${SUPPORTED_FORMATS})`,
    );
  }
  try {
    let img: RawImage;
    if (format === "png") img = decodePng(bytes, file);
    else if (format === "jpeg") img = decodeJpeg(bytes, file);
    else if (format === "tiff") img = decodeTiff(bytes, file);
    else if (format === "webp") img = await decodeWebp(bytes, file);
    else if (format === "bmp") img = decodeBmp(bytes, file);
    else if (format === "gif") img = decodeGif(bytes, file);
    else img = decodePnm(bytes);
    if (!(img.width > 0 && img.height > 0)) {
      throw new ImageDecodeError(file, `bad size ${img.width}×${img.height}`);
    }
    return img;
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    const name = format === "pnm" ? "Netpbm" : format === "webp" ? "WebP" : format.toUpperCase();
    throw new ImageDecodeError(file, `corrupt or truncated ${name} (${msg})`);
  }
}

/**
 * Reads and decodes an image file.
 * @throws ImageDecodeError naming the path when it is missing, unreadable or undecodable.
 */
export async function readImage(path: string): Promise<RawImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    const msg = e instanceof Deno.errors.NotFound ? "file not found" : String(e);
    throw new ImageDecodeError(path, msg);
  }
  return await decodeImage(bytes, path);
}

/** Returns the image as 3-channel RGB (gray is replicated; RGB is returned as is). */
export function toRGB(img: RawImage): RawImage {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = img.data[i];
    out[i * 3] = v;
    out[i * 3 + 1] = v;
    out[i * 3 + 2] = v;
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Returns the image as 1-channel gray, using ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, as PIL). */
export function toGray(img: RawImage): RawImage {
  if (img.channels === 1) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) {
    out[i] = Math.round(0.299 * d[i * 3] + 0.587 * d[i * 3 + 1] + 0.114 * d[i * 3 + 2]);
  }
  return { width: img.width, height: img.height, channels: 1, data: out };
}

/** Encodes a RawImage as an 8-bit PNG (used for fixtures and exports). */
export function encodePng(img: RawImage): Uint8Array {
  return encodePngRaw({
    width: img.width,
    height: img.height,
    data: img.data,
    depth: 8,
    channels: img.channels,
  });
}

/** Encodes a RawImage as a baseline JPEG (gray is written as RGB). */
export function encodeJpeg(img: RawImage, quality = 90): Uint8Array {
  const rgb = toRGB(img);
  const n = rgb.width * rgb.height;
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[i * 4] = rgb.data[i * 3];
    rgba[i * 4 + 1] = rgb.data[i * 3 + 1];
    rgba[i * 4 + 2] = rgb.data[i * 3 + 2];
    rgba[i * 4 + 3] = 255;
  }
  const out = jpeg.encode({ width: rgb.width, height: rgb.height, data: rgba }, quality);
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

/**
 * Crops `[x, y, width, height]` (rounded, clamped to the image).
 * @throws Error when the clamped box is empty.
 */
export function cropImage(img: RawImage, box: readonly [number, number, number, number]): RawImage {
  const x0 = Math.max(0, Math.round(box[0]));
  const y0 = Math.max(0, Math.round(box[1]));
  const x1 = Math.min(img.width, Math.round(box[0] + box[2]));
  const y1 = Math.min(img.height, Math.round(box[1] + box[3]));
  if (x1 <= x0 || y1 <= y0) {
    throw new Error(`crop box ${box.join(",")} is outside the ${img.width}×${img.height} image`);
  }
  const w = x1 - x0, h = y1 - y0, c = img.channels;
  const out = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) {
    const src = ((y0 + y) * img.width + x0) * c;
    out.set(img.data.subarray(src, src + w * c), y * w * c);
  }
  return { width: w, height: h, channels: c, data: out };
}
