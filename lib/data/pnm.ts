/**
 * Netpbm images: PBM, PGM and PPM, plain (`P1`–`P3`, ASCII samples) and binary (`P4`–`P6`).
 *
 * Written here rather than taken from npm: no maintained Netpbm decoder is published there (the
 * npm index has only an unmaintained ASCII-PPM stream parser, 0.0.0), and the formats are a
 * whitespace-separated header plus raw samples, so a decoder is short and fully testable.
 * Follows the Netpbm specification: `#` comments anywhere in the header, one whitespace byte
 * after the header before a binary raster, samples of up to 16 bits (big-endian when maxval
 * exceeds 255), PBM 1 = black. Samples are scaled to 8 bits with `round(v · 255 / maxval)`; the
 * first image of a multi-image file is returned. PAM (`P7`) is not supported.
 * @module
 */
import type { RawImage } from "./types.ts";

/** A malformed Netpbm file (the caller adds the file name). */
export class PnmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PnmError";
  }
}

const isSpace = (b: number) =>
  b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;

/** Whether the bytes start like a Netpbm file (`P1`–`P6` then whitespace or `#`). */
export function isPnm(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0x50 && bytes[1] >= 0x31 && bytes[1] <= 0x36 &&
    (isSpace(bytes[2]) || bytes[2] === 0x23);
}

/** Reads whitespace/comment-separated decimal tokens. */
class Tokens {
  pos: number;
  constructor(readonly bytes: Uint8Array, pos: number) {
    this.pos = pos;
  }
  skip(): void {
    const b = this.bytes;
    while (this.pos < b.length) {
      if (isSpace(b[this.pos])) this.pos++;
      else if (b[this.pos] === 0x23) {
        while (this.pos < b.length && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) this.pos++;
      } else break;
    }
  }
  /** The next unsigned integer; `what` names it in errors. */
  int(what: string): number {
    this.skip();
    const b = this.bytes;
    if (this.pos >= b.length) throw new PnmError(`truncated: no ${what}`);
    let v = 0, n = 0;
    while (this.pos < b.length && b[this.pos] >= 0x30 && b[this.pos] <= 0x39) {
      v = v * 10 + (b[this.pos++] - 0x30);
      n++;
    }
    if (n === 0) {
      throw new PnmError(`expected a number for ${what}, found byte 0x${b[this.pos].toString(16)}`);
    }
    return v;
  }
  /** The next PBM plain bit (`0` or `1`, whitespace optional between them). */
  bit(): number {
    this.skip();
    if (this.pos >= this.bytes.length) throw new PnmError("truncated: fewer samples than the size");
    const c = this.bytes[this.pos++];
    if (c !== 0x30 && c !== 0x31) throw new PnmError(`bad PBM sample byte 0x${c.toString(16)}`);
    return c - 0x30;
  }
}

/**
 * Decodes a Netpbm file to an 8-bit gray (PBM, PGM) or RGB (PPM) image.
 * @throws PnmError for a bad header, a sample above maxval, or a truncated raster.
 */
export function decodePnm(bytes: Uint8Array): RawImage {
  if (!isPnm(bytes)) throw new PnmError("not a Netpbm file");
  const kind = bytes[1] - 0x30; // 1..6
  const t = new Tokens(bytes, 2);
  const width = t.int("width"), height = t.int("height");
  if (!(width > 0 && height > 0)) throw new PnmError(`bad size ${width}×${height}`);
  if (width * height > 100e6) throw new PnmError(`image too large (${width}×${height})`);
  const bitmap = kind === 1 || kind === 4;
  const maxval = bitmap ? 1 : t.int("maxval");
  if (!(maxval >= 1 && maxval <= 65535)) throw new PnmError(`bad maxval ${maxval}`);
  const channels: 1 | 3 = kind === 3 || kind === 6 ? 3 : 1;
  const n = width * height * channels;
  const out = new Uint8Array(n);
  const scale = (v: number) => {
    if (v > maxval) throw new PnmError(`sample value ${v} exceeds maxval ${maxval}`);
    return Math.round((v * 255) / maxval);
  };
  if (kind === 1) {
    for (let i = 0; i < n; i++) out[i] = t.bit() ? 0 : 255;
  } else if (kind === 2 || kind === 3) {
    for (let i = 0; i < n; i++) out[i] = scale(t.int(`sample ${i + 1} of ${n}`));
  } else {
    // Binary raster: exactly one whitespace byte after the last header token.
    if (t.pos >= bytes.length || !isSpace(bytes[t.pos])) {
      throw new PnmError("truncated: no raster after the header");
    }
    const start = t.pos + 1;
    if (kind === 4) {
      const rowBytes = Math.ceil(width / 8);
      if (bytes.length - start < rowBytes * height) {
        throw new PnmError(
          `truncated raster (${bytes.length - start} of ${rowBytes * height} bytes)`,
        );
      }
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const bit = (bytes[start + y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1;
          out[y * width + x] = bit ? 0 : 255;
        }
      }
    } else {
      const wide = maxval > 255;
      const need = n * (wide ? 2 : 1);
      if (bytes.length - start < need) {
        throw new PnmError(`truncated raster (${bytes.length - start} of ${need} bytes)`);
      }
      for (let i = 0; i < n; i++) {
        const v = wide ? (bytes[start + 2 * i] << 8) | bytes[start + 2 * i + 1] : bytes[start + i];
        out[i] = scale(v);
      }
    }
  }
  return { width, height, channels, data: out };
}

/**
 * Encodes an 8-bit image as PGM (gray) or PPM (RGB): binary (`P5`/`P6`) or plain (`P2`/`P3`).
 * Used for fixtures and exports.
 */
export function encodePnm(img: RawImage, plain = false): Uint8Array {
  const magic = img.channels === 1 ? (plain ? "P2" : "P5") : (plain ? "P3" : "P6");
  const header = `${magic}\n# grefel\n${img.width} ${img.height}\n255\n`;
  if (plain) {
    const rows: string[] = [];
    const perRow = img.width * img.channels;
    for (let y = 0; y < img.height; y++) {
      rows.push(Array.from(img.data.subarray(y * perRow, (y + 1) * perRow)).join(" "));
    }
    return new TextEncoder().encode(header + rows.join("\n") + "\n");
  }
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(h.length + img.data.length);
  out.set(h);
  out.set(img.data, h.length);
  return out;
}
