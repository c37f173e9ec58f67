/**
 * Palette indices of a PNG, read from the file itself. Decoders (sharp/libvips included)
 * expand palette images to colours, and colours cannot always be mapped back: palettes are
 * often padded with repeated entries (black), so a pixel of index 255 (void, in VOC-style
 * masks) may have the same colour as index 0. Reading the indices directly is exact.
 */
import zlib from 'node:zlib';

/** Width, height and one palette index per pixel. */
export interface PngIndices {
  width: number;
  height: number;
  indices: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * The palette indices of a non-interlaced palette PNG, or null when the bytes are not one
 * (another PNG colour type, an interlaced file). Corrupt data throws; `maxPixels` is checked
 * before anything is inflated.
 */
export function pngPaletteIndices(bytes: Uint8Array, maxPixels: number): PngIndices | null {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  const idat: Uint8Array[] = [];
  for (let p = 8; p + 8 <= bytes.length; ) {
    const len = view.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
    if (p + 12 + len > bytes.length) throw new Error(`PNG chunk ${type} is truncated`);
    const data = bytes.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(p + 8);
      height = view.getUint32(p + 12);
      bitDepth = data[8];
      const colourType = data[9];
      const interlace = data[12];
      if (colourType !== 3 || interlace !== 0) return null;
      if (![1, 2, 4, 8].includes(bitDepth)) throw new Error(`palette PNG with bit depth ${bitDepth}`);
      if (width * height > maxPixels) throw new Error('exceeds pixel limit');
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    p += 12 + len;
  }
  if (!width || !height) throw new Error('PNG without IHDR');
  const rowBytes = Math.ceil((width * bitDepth) / 8);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  if (raw.length < height * (rowBytes + 1)) throw new Error('PNG image data is truncated');
  // Undo the per-row filters (for bit depths <= 8 the filter unit is one byte).
  const rows = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)];
    const src = raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1));
    const o = y * rowBytes;
    for (let x = 0; x < rowBytes; x++) {
      const a = x > 0 ? rows[o + x - 1] : 0;
      const b = y > 0 ? rows[o - rowBytes + x] : 0;
      const c = x > 0 && y > 0 ? rows[o - rowBytes + x - 1] : 0;
      let pred: number;
      if (filter === 0) pred = 0;
      else if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) pred = paeth(a, b, c);
      else throw new Error(`PNG row ${y} has unknown filter ${filter}`);
      rows[o + x] = (src[x] + pred) & 0xff;
    }
  }
  const indices = new Uint8Array(width * height);
  const perByte = 8 / bitDepth;
  const mask = (1 << bitDepth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = rows[y * rowBytes + Math.floor(x / perByte)];
      const shift = 8 - bitDepth * ((x % perByte) + 1);
      indices[y * width + x] = (byte >> shift) & mask;
    }
  }
  return { width, height, indices };
}
