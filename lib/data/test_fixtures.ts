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
