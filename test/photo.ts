/**
 * Photos for the tests' ImageNet check: 8-bit RGB at a fixed size. sharp's libvips has no BMP
 * loader (the reference photos are BMP), so uncompressed 24/32-bit BMPs are decoded here and
 * handed to sharp as raw pixels for the resize; other formats go to sharp directly.
 */
import fs from 'node:fs';
import sharp, { type KernelEnum } from 'sharp';
import { GapsegError, describeError, fsProblem } from '../src/util/errors.js';

export interface Rgb {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decode an uncompressed (BI_RGB) 24- or 32-bit BMP to RGB. */
export function decodeBmp(bytes: Uint8Array, file: string): Rgb {
  const bad = (why: string): GapsegError => new GapsegError(`${file}: cannot decode BMP (${why})`);
  if (bytes.length < 54 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw bad('no BM signature');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = v.getUint32(10, true);
  const width = v.getInt32(18, true);
  const rawHeight = v.getInt32(22, true);
  const bpp = v.getUint16(28, true);
  const compression = v.getUint32(30, true);
  if (compression !== 0 || (bpp !== 24 && bpp !== 32))
    throw bad(`${bpp}-bit, compression ${compression}; only uncompressed 24/32-bit is read`);
  // A positive height stores rows bottom-up.
  const height = Math.abs(rawHeight);
  const bottomUp = rawHeight > 0;
  const px = bpp / 8;
  const stride = Math.ceil((width * px) / 4) * 4;
  if (width <= 0 || height === 0 || dataOffset + stride * height > bytes.length) throw bad('truncated pixel data');
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (bottomUp ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const s = row + x * px;
      const d = (y * width + x) * 3;
      data[d] = bytes[s + 2];
      data[d + 1] = bytes[s + 1];
      data[d + 2] = bytes[s];
    }
  }
  return { width, height, data };
}

/** How a photo becomes size x size: squeezed whole ('fill'), or its centre cropped ('crop'). */
export interface PhotoOptions {
  fit?: 'fill' | 'crop';
  kernel?: keyof KernelEnum;
}

/** Read a photo and resize it to size x size RGB. */
export async function readPhoto(file: string, size: number, opts: PhotoOptions = {}): Promise<Rgb> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new GapsegError(`${file}: cannot read image (${fsProblem(e)})`);
  }
  try {
    const isBmp = bytes[0] === 0x42 && bytes[1] === 0x4d;
    const bmp = isBmp ? decodeBmp(bytes, file) : null;
    const img = bmp ? sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: 3 } }) : sharp(bytes);
    const { data, info } = await img
      .removeAlpha()
      .resize(size, size, { fit: opts.fit === 'crop' ? 'cover' : 'fill', kernel: opts.kernel ?? 'lanczos3' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    if (e instanceof GapsegError) throw e;
    throw new GapsegError(`${file}: cannot decode image (${describeError(e)})`);
  }
}
