/**
 * Decoding images and label masks with sharp. Formats are recognised by content, never by
 * file extension, so files named without one (SegNet data sets) work. Every failure is a
 * user error that names the file.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import type { Sharp, CreateRaw } from 'sharp';
import { GapsegError, describeError } from '../util/errors.js';
import { pngChunks, pngPaletteIndices } from './png.js';
import { readProblem } from '../util/files.js';

/** An 8-bit RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Raw label values of a mask, one per pixel (8- or 16-bit masks). */
export interface LabelValues {
  width: number;
  height: number;
  values: Uint8Array | Uint16Array;
}

export interface DecodeLimits {
  /** Refuse images with more pixels than this (decompression bombs). */
  maxPixels: number;
}

/** Default pixel limit: 2^28 pixels (16384 x 16384), sharp's own default. */
export const DEFAULT_MAX_PIXELS = 268402689;

/**
 * libvips reports damaged pixel data (a corrupt JPEG's bad Huffman code, say) as a warning and
 * decodes garbage: refuse it (sharp's advice for untrusted input) rather than train or predict
 * on a silently wrong image.
 */
const FAIL_ON = 'warning';

function openSharp(file: string, limits?: DecodeLimits): Sharp {
  return sharp(file, { limitInputPixels: limits?.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: FAIL_ON, sequentialRead: true });
}

function decodeError(file: string, e: unknown, limits?: DecodeLimits): GapsegError {
  const msg = describeError(e);
  if (/pixel limit/i.test(msg)) {
    const max = limits?.maxPixels ?? DEFAULT_MAX_PIXELS;
    return new GapsegError(
      `${file}: image is larger than the pixel limit (${max} pixels); raise it with --max-pixels if the file is trusted`,
    );
  }
  const problem = readProblem(file);
  if (problem) return new GapsegError(`${file}: ${problem}`);
  if (fs.statSync(file).size === 0) return new GapsegError(`${file}: cannot decode image (empty file, 0 bytes)`);
  // sharp words a refused libvips warning only as "Warning treated as error due to failOn setting".
  const why = /failOn/.test(msg) ? 'damaged or truncated image data' : msg;
  return new GapsegError(`${file}: cannot decode image (${why})`);
}

/** Decode any image to 8-bit RGB (grey is replicated, alpha dropped, CMYK converted). */
export async function readImage(file: string, limits?: DecodeLimits): Promise<RgbImage> {
  try {
    const { data, info } = await openSharp(file, limits)
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    throw decodeError(file, e, limits);
  }
}

/** Width and height of an image file, from its header (as readImage decodes it: no EXIF rotation). */
export async function imageDimensions(file: string, limits?: DecodeLimits): Promise<{ width: number; height: number }> {
  try {
    const meta = await openSharp(file, limits).metadata();
    if (!meta.width || !meta.height) throw new Error('no size in its header');
    return { width: meta.width, height: meta.height };
  } catch (e) {
    throw decodeError(file, e, limits);
  }
}

/** Decode an in-memory encoded image (upload, test fixture) to 8-bit RGB. */
export async function decodeImageBuffer(buf: Uint8Array, name: string, limits?: DecodeLimits): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(buf, { limitInputPixels: limits?.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: FAIL_ON })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    throw new GapsegError(`${name}: cannot decode image (${describeError(e)})`);
  }
}

/** The PLTE chunk of a PNG file as RGB triples, or null when the file has none. */
function pngPalette(bytes: Uint8Array): Uint8Array | null {
  return pngChunks(bytes)?.find((c) => c.type === 'PLTE')?.data ?? null;
}

/**
 * Decode a label mask to its raw values. Grey masks give their values (8 or 16 bit);
 * palette PNGs give palette indices (the VOC convention); a colour mask whose channels
 * differ is refused, since a label value must be one number per pixel.
 */
export async function readLabel(file: string, limits?: DecodeLimits): Promise<LabelValues> {
  try {
    const img = openSharp(file, limits);
    const meta = await img.metadata();
    if (meta.isPalette) {
      const bytes = await fs.promises.readFile(file);
      const direct = pngPaletteIndices(bytes, limits?.maxPixels ?? DEFAULT_MAX_PIXELS);
      if (direct) return { width: direct.width, height: direct.height, values: direct.indices };
      const palette = pngPalette(bytes);
      if (palette) return await paletteIndices(file, palette, limits);
    }
    const sixteen = meta.depth === 'ushort';
    const channels = meta.channels ?? 1;
    if (channels >= 3) {
      let rgb = openSharp(file, limits).removeAlpha();
      // sharp's output defaults to 8-bit sRGB; without asking for rgb16 a 16-bit mask's
      // values come out divided by 256.
      if (sixteen) rgb = rgb.toColourspace('rgb16');
      const { data, info } = await rgb.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
      const v = sixteen
        ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2)
        : new Uint8Array(data.buffer, data.byteOffset, data.length);
      const out = sixteen ? new Uint16Array(info.width * info.height) : new Uint8Array(info.width * info.height);
      for (let i = 0, j = 0; i < out.length; i++, j += info.channels) {
        if (v[j] !== v[j + 1] || v[j] !== v[j + 2]) {
          throw new GapsegError(
            `${file}: label mask is a colour image (pixel x=${i % info.width}, y=${Math.floor(i / info.width)} is (${v[j]},${v[j + 1]},${v[j + 2]})); label values must be grey levels or palette indices`,
          );
        }
        out[i] = v[j];
      }
      return { width: info.width, height: info.height, values: out };
    }
    // As above: grey16 keeps 16-bit values whole (the default output is 8-bit).
    const grey = sixteen ? img.extractChannel(0).toColourspace('grey16') : img.extractChannel(0);
    const { data, info } = await grey.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const values = sixteen
      ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length))
      : new Uint8Array(data.buffer, data.byteOffset, data.length);
    return { width: info.width, height: info.height, values };
  } catch (e) {
    if (e instanceof GapsegError) throw e;
    throw decodeError(file, e, limits);
  }
}

async function paletteIndices(file: string, palette: Uint8Array, limits?: DecodeLimits): Promise<LabelValues> {
  const { data, info } = await openSharp(file, limits)
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  // Only reached for files pngPaletteIndices cannot read (interlaced): map colours back to
  // indices, refusing colours that several palette entries share.
  const lookup = new Map<number, number>();
  const AMBIGUOUS = -1;
  for (let i = 0; i < palette.length / 3; i++) {
    const rgb = (palette[3 * i] << 16) | (palette[3 * i + 1] << 8) | palette[3 * i + 2];
    lookup.set(rgb, lookup.has(rgb) ? AMBIGUOUS : i);
  }
  const out = new Uint8Array(info.width * info.height);
  for (let i = 0, j = 0; i < out.length; i++, j += info.channels) {
    const idx = lookup.get((data[j] << 16) | (data[j + 1] << 8) | data[j + 2]);
    if (idx === undefined) throw new GapsegError(`${file}: pixel colour not in the PNG palette`);
    if (idx === AMBIGUOUS) {
      throw new GapsegError(
        `${file}: interlaced palette PNG whose palette repeats the colour of pixel (x=${i % info.width}, y=${Math.floor(i / info.width)}); its index cannot be recovered, save the mask without interlacing`,
      );
    }
    out[i] = idx;
  }
  return { width: info.width, height: info.height, values: out };
}

/**
 * Encode raw pixels as PNG bytes (1 = grey, 3 = RGB, 4 = RGBA; 16-bit when given a
 * Uint16Array). `level` is the zlib level: 6 by default; prediction outputs use 3, which
 * costs a third less CPU for files a few percent larger.
 */
export async function encodePng(
  pixels: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  level = 6,
): Promise<Buffer> {
  const sixteen = pixels instanceof Uint16Array;
  // sharp takes the sample depth of raw input from the array's type (a Buffer reads as 8-bit,
  // whatever raw.depth says), so 16-bit pixels must be passed as the Uint16Array itself.
  const input = sixteen ? pixels : Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  let img = sharp(input, { raw: { width, height, channels } as CreateRaw });
  if (sixteen) img = img.toColourspace(channels === 1 ? 'grey16' : 'rgb16');
  else if (channels === 1) img = img.toColourspace('b-w');
  return img.png({ compressionLevel: level }).toBuffer();
}
