/**
 * PNG files read and written directly, where a decoder would lose what a label means: the
 * chunks of a file, the palette indices of a palette PNG, and a palette PNG written from
 * indices. Decoders (sharp/libvips included) expand palette images to colours, and colours
 * cannot always be mapped back: palettes are often padded with repeated entries (black), so a
 * pixel of index 255 (void, in VOC-style masks) may have the same colour as index 0. Reading
 * and writing the indices directly is exact.
 */
import zlib from 'node:zlib';

/** Width, height and one palette index per pixel. */
export interface PngIndices {
  width: number;
  height: number;
  indices: Uint8Array;
}

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

/** One chunk of a PNG file: its type and its data. */
export interface PngChunk {
  type: string;
  data: Uint8Array;
}

/** The chunks of a PNG file in order, up to IEND, or null when the bytes are not a PNG; a truncated chunk throws. */
export function pngChunks(bytes: Uint8Array): PngChunk[] | null {
  if (bytes.length < 8 || !SIGNATURE.equals(bytes.subarray(0, 8))) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: PngChunk[] = [];
  for (let p = 8; p + 8 <= bytes.length;) {
    const len = view.getUint32(p);
    const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
    if (p + 12 + len > bytes.length) throw new Error(`PNG chunk ${type} is truncated`);
    chunks.push({ type, data: bytes.subarray(p + 8, p + 8 + len) });
    if (type === 'IEND') break;
    p += 12 + len;
  }
  return chunks;
}

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
  const chunks = pngChunks(bytes);
  if (!chunks) return null;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  const idat: Uint8Array[] = [];
  for (const { type, data } of chunks) {
    if (type === 'IHDR') {
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      width = view.getUint32(0);
      height = view.getUint32(4);
      bitDepth = data[8];
      const colourType = data[9];
      const interlace = data[12];
      if (colourType !== 3 || interlace !== 0) return null;
      if (![1, 2, 4, 8].includes(bitDepth)) throw new Error(`palette PNG with bit depth ${bitDepth}`);
      if (width * height > maxPixels) throw new Error('exceeds pixel limit');
    } else if (type === 'IDAT') {
      idat.push(data);
    }
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

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = CRC_TABLE[(c ^ p[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32([head.subarray(4), data]), 0);
  return Buffer.concat([head, data, crc]);
}

/** An 8-bit palette PNG of indices with the given PLTE (and tRNS) chunks. */
export function palettePng(indices: Uint8Array, width: number, height: number, plte: Uint8Array, trns: Uint8Array | null): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  // Each scanline starts with filter type 0 (none).
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('PLTE', plte),
    ...(trns ? [chunk('tRNS', trns)] : []),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
