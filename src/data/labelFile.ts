/**
 * Writing label masks in a data set's own convention (the labelling viewer saves with it):
 * class indices become the set's label values, stored as grey PNG (8- or 16-bit) or as a
 * palette PNG with the palette of the set's files, so that a painted label reads back (by
 * data/decode.ts readLabel) with exactly the painted values.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { GapsegError } from '../util/errors.js';
import { encodePng } from './decode.js';
import { VOID_INDEX } from './labelIndices.js';
import type { ClassDescription } from './classes.js';

/** How a set's label files store their values. */
export type LabelFormat = { kind: 'grey8' } | { kind: 'grey16' } | { kind: 'palette'; plte: Uint8Array; trns: Uint8Array | null };

const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

/** The chunks of a PNG file by type (the first of each), or null when it is not a PNG. */
function pngChunks(bytes: Uint8Array): Map<string, Uint8Array> | null {
  if (bytes.length < 8 || !PNG_SIGNATURE.equals(bytes.subarray(0, 8))) return null;
  const chunks = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + length > bytes.length) return null;
    if (!chunks.has(type)) chunks.set(type, bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
    if (type === 'IEND') break;
  }
  return chunks.has('IHDR') ? chunks : null;
}

/** The convention of an existing label file: palette, grey 16-bit or grey 8-bit PNG. Other formats are refused (labels are saved as PNG). */
export function labelFormatOf(file: string): LabelFormat {
  const chunks = pngChunks(fs.readFileSync(file));
  if (!chunks) throw new GapsegError(`${file}: not a PNG; the viewer saves labels as PNG only`);
  const ihdr = chunks.get('IHDR')!;
  const [depth, colorType] = [ihdr[8], ihdr[9]];
  if (colorType === 3 && chunks.has('PLTE')) return { kind: 'palette', plte: Uint8Array.from(chunks.get('PLTE')!), trns: chunks.has('tRNS') ? Uint8Array.from(chunks.get('tRNS')!) : null };
  return depth === 16 ? { kind: 'grey16' } : { kind: 'grey8' };
}

/** The format for a set with no label file to follow: grey, 16-bit only where a value needs it. */
export function defaultLabelFormat(desc: ClassDescription): LabelFormat {
  const max = Math.max(...desc.classes.map((c) => c.value), ...desc.voidValues);
  return max > 255 ? { kind: 'grey16' } : { kind: 'grey8' };
}

/**
 * Label values of class indices (VOID_INDEX: the description's first void value). `where`
 * names the file in errors.
 */
export function labelValuesOf(indices: Uint8Array, desc: ClassDescription, where: string): Uint16Array {
  const k = desc.classes.length;
  const voidValue = desc.voidValues[0];
  const out = new Uint16Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const c = indices[i];
    if (c === VOID_INDEX) {
      if (voidValue === undefined) throw new GapsegError(`${where}: the class description has no void value to store unlabelled pixels; name one (e.g. --void 128, or a class called void)`);
      out[i] = voidValue;
    } else if (c < k) out[i] = desc.classes[c].value;
    else throw new GapsegError(`${where}: class index ${c} at pixel ${i} is not one of the ${k} classes`);
  }
  return out;
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
function palettePng(indices: Uint8Array, width: number, height: number, plte: Uint8Array, trns: Uint8Array | null): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  // Each scanline starts with filter type 0 (none).
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('PLTE', plte), ...(trns ? [chunk('tRNS', trns)] : []), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

/** PNG bytes of label values in a format; `where` names the file in errors. */
export async function encodeLabelFile(values: Uint16Array, width: number, height: number, format: LabelFormat, where: string): Promise<Buffer> {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  if (format.kind === 'grey16') return encodePng(values, width, height, 1);
  const limit = format.kind === 'palette' ? format.plte.length / 3 - 1 : 255;
  if (max > limit) throw new GapsegError(`${where}: label value ${max} does not fit the set's ${format.kind === 'palette' ? `palette of ${limit + 1} colours` : '8-bit grey masks'}`);
  const bytes = Uint8Array.from(values);
  return format.kind === 'palette' ? palettePng(bytes, width, height, format.plte, format.trns) : encodePng(bytes, width, height, 1);
}
