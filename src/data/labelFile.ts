/**
 * Writing label masks in a data set's own convention (the labelling viewer saves with it):
 * class indices become the set's label values, stored as grey PNG (8- or 16-bit) or as a
 * palette PNG with the palette of the set's files, so that a painted label reads back (by
 * data/decode.ts readLabel) with exactly the painted values.
 */
import fs from 'node:fs';
import { GapsegError } from '../util/errors.js';
import { encodePng } from './decode.js';
import { palettePng, pngChunks, type PngChunk } from './png.js';
import { VOID_INDEX } from './labelIndices.js';
import type { ClassDescription } from './classes.js';

/** How a set's label files store their values. */
export type LabelFormat = { kind: 'grey8' } | { kind: 'grey16' } | { kind: 'palette'; plte: Uint8Array; trns: Uint8Array | null };

/** The convention of an existing label file: palette, grey 16-bit or grey 8-bit PNG. Other formats are refused (labels are saved as PNG). */
export function labelFormatOf(file: string): LabelFormat {
  let chunks: PngChunk[] | null;
  try {
    chunks = pngChunks(fs.readFileSync(file));
  } catch (e) {
    throw new GapsegError(`${file}: damaged PNG (${(e as Error).message})`);
  }
  const get = (type: string) => chunks?.find((c) => c.type === type)?.data;
  const ihdr = get('IHDR');
  if (!ihdr) throw new GapsegError(`${file}: not a PNG; the viewer saves labels as PNG only`);
  const [depth, colorType] = [ihdr[8], ihdr[9]];
  const plte = get('PLTE');
  const trns = get('tRNS');
  if (colorType === 3 && plte) return { kind: 'palette', plte: Uint8Array.from(plte), trns: trns ? Uint8Array.from(trns) : null };
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
      if (voidValue === undefined)
        throw new GapsegError(
          `${where}: the class description has no void value to store unlabelled pixels; name one (e.g. --void 128, or a class called void)`,
        );
      out[i] = voidValue;
    } else if (c < k) out[i] = desc.classes[c].value;
    else throw new GapsegError(`${where}: class index ${c} at pixel ${i} is not one of the ${k} classes`);
  }
  return out;
}

/** PNG bytes of label values in a format; `where` names the file in errors. */
export async function encodeLabelFile(
  values: Uint16Array,
  width: number,
  height: number,
  format: LabelFormat,
  where: string,
): Promise<Buffer> {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  if (format.kind === 'grey16') return encodePng(values, width, height, 1);
  const limit = format.kind === 'palette' ? format.plte.length / 3 - 1 : 255;
  if (max > limit)
    throw new GapsegError(
      `${where}: label value ${max} does not fit the set's ${format.kind === 'palette' ? `palette of ${limit + 1} colours` : '8-bit grey masks'}`,
    );
  const bytes = Uint8Array.from(values);
  return format.kind === 'palette' ? palettePng(bytes, width, height, format.plte, format.trns) : encodePng(bytes, width, height, 1);
}
