/**
 * Decoding by content: images to RGB whatever their format and extension, label masks to
 * raw values (8/16-bit grey, palette indices), and one-line errors naming the file for
 * anything that cannot be decoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { encodePng, readImage, readLabel } from '../src/data/decode.js';
import { rejectsUser, tmpDir, writePng } from './helpers.js';

const dir = tmpDir();

/** A w x h RGB pattern with distinct values per channel. */
function pattern(w: number, h: number): Uint8Array {
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    px[3 * i] = (i * 7) % 256;
    px[3 * i + 1] = (i * 13 + 50) % 256;
    px[3 * i + 2] = (i * 29 + 100) % 256;
  }
  return px;
}

const PNG_SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * A hand-built palette PNG (colour type 3, bit depth 8, 4, 2 or 1): the palette is written
 * exactly as given, and row y uses PNG filter filters[y % filters.length]. Interlaced
 * files (Adam7) are 8-bit and unfiltered.
 */
function palettePng(
  indices: Uint8Array,
  w: number,
  h: number,
  palette: [number, number, number][],
  bitDepth = 8,
  filters = [0],
  interlaced = false,
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = 3; // palette
  if (interlaced) return interlacedPalettePng(indices, w, h, palette, ihdr);
  const rb = Math.ceil((w * bitDepth) / 8);
  const packed = new Uint8Array(h * rb);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const bit = x * bitDepth;
      packed[y * rb + (bit >> 3)] |= indices[y * w + x] << (8 - bitDepth - (bit & 7));
    }
  }
  const rows = Buffer.alloc(h * (rb + 1));
  for (let y = 0; y < h; y++) {
    const f = filters[y % filters.length];
    rows[y * (rb + 1)] = f;
    for (let x = 0; x < rb; x++) {
      const a = x > 0 ? packed[y * rb + x - 1] : 0;
      const b = y > 0 ? packed[(y - 1) * rb + x] : 0;
      const c = x > 0 && y > 0 ? packed[(y - 1) * rb + x - 1] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
      rows[y * (rb + 1) + 1 + x] = (packed[y * rb + x] - pred) & 0xff;
    }
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())),
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function interlacedPalettePng(indices: Uint8Array, w: number, h: number, palette: [number, number, number][], ihdr: Buffer): Buffer {
  ihdr[8] = 8;
  ihdr[12] = 1; // Adam7
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  const bytes: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let y = y0; y < h; y += dy) {
      const row: number[] = [];
      for (let x = x0; x < w; x += dx) row.push(indices[y * w + x]);
      if (row.length) bytes.push(0, ...row);
    }
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())),
    chunk('IDAT', zlib.deflateSync(Buffer.from(bytes))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('readImage: a PNG without extension decodes by content', async () => {
  const px = pattern(5, 4);
  const f = path.join(dir, 'noext');
  await writePng(f, px, 5, 4, 3);
  const img = await readImage(f);
  assert.equal(img.width, 5);
  assert.equal(img.height, 4);
  assert.deepEqual([...img.data], [...px]);
});

test('readImage: JPEG (lossy, so compared approximately), also under a .png name', async () => {
  const w = 16;
  const h = 8;
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set([200, 40, 90], 3 * i);
  const jpg = await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
  for (const name of ['a.jpg', 'misnamed.png']) {
    fs.writeFileSync(path.join(dir, name), jpg);
    const img = await readImage(path.join(dir, name));
    assert.equal(img.width, w);
    assert.equal(img.height, h);
    assert.equal(img.data.length, w * h * 3);
    for (let i = 0; i < img.data.length; i++) assert.ok(Math.abs(img.data[i] - px[i]) <= 4, `byte ${i}: ${img.data[i]} vs ${px[i]}`);
  }
});

test('readImage: a grey PNG gives three equal channels', async () => {
  const grey = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
  const f = path.join(dir, 'grey.png');
  await writePng(f, grey, 4, 3, 1);
  const img = await readImage(f);
  assert.equal(img.data.length, 36);
  for (let i = 0; i < 12; i++) assert.deepEqual([...img.data.subarray(3 * i, 3 * i + 3)], [grey[i], grey[i], grey[i]]);
});

test('readImage: RGBA drops alpha and keeps the colour values', async () => {
  const w = 3;
  const h = 2;
  const rgba = new Uint8Array(w * h * 4);
  const rgb = pattern(w, h);
  for (let i = 0; i < w * h; i++) rgba.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], i * 40], 4 * i);
  const f = path.join(dir, 'rgba.png');
  fs.writeFileSync(f, await encodePng(rgba, w, h, 4));
  const img = await readImage(f);
  assert.deepEqual([...img.data], [...rgb]);
});

test('readImage: 16-bit RGB and grey PNGs are scaled to 8 bits', async () => {
  const rgb = path.join(dir, 'rgb16.png');
  await writePng(rgb, new Uint16Array([0, 25600, 65535, 1000, 30000, 65535]), 2, 1, 3);
  assert.deepEqual([...(await readImage(rgb)).data], [0, 100, 255, 3, 117, 255]);
  const grey = path.join(dir, 'grey16.png');
  await writePng(grey, new Uint16Array([0, 25600]), 2, 1, 1);
  assert.deepEqual([...(await readImage(grey)).data], [0, 0, 0, 100, 100, 100]);
});

test('readLabel: 8-bit grey values as they are', async () => {
  const v = new Uint8Array([0, 255, 128, 7, 0, 3]);
  const f = path.join(dir, 'l8.png');
  await writePng(f, v, 3, 2, 1);
  const lab = await readLabel(f);
  assert.equal(lab.width, 3);
  assert.equal(lab.height, 2);
  assert.ok(lab.values instanceof Uint8Array);
  assert.deepEqual([...lab.values], [...v]);
});

test('readLabel: 16-bit grey keeps values above 255', async () => {
  const v = new Uint16Array([0, 256, 1000, 65535, 300, 1]);
  const f = path.join(dir, 'l16');
  await writePng(f, v, 2, 3, 1);
  const lab = await readLabel(f);
  assert.equal(lab.width, 2);
  assert.equal(lab.height, 3);
  assert.ok(lab.values instanceof Uint16Array);
  assert.deepEqual([...lab.values], [...v]);
});

test('readLabel: a 16-bit RGB mask whose channels are equal keeps its values', async () => {
  const v = [0, 300, 65535, 9];
  const f = path.join(dir, 'rgb16grey.png');
  await writePng(f, Uint16Array.from(v.flatMap((x) => [x, x, x])), 2, 2, 3);
  const lab = await readLabel(f);
  assert.ok(lab.values instanceof Uint16Array);
  assert.deepEqual([...lab.values], v);
});

test('readLabel: an RGB mask whose channels are equal is read as grey', async () => {
  const v = [0, 255, 128, 9];
  const f = path.join(dir, 'rgbgrey.png');
  await writePng(f, Uint8Array.from(v.flatMap((x) => [x, x, x])), 2, 2, 3);
  assert.deepEqual([...(await readLabel(f)).values], v);
});

test('readLabel: a palette PNG gives palette indices, not colours', async () => {
  const palette: [number, number, number][] = [
    [0, 0, 0],
    [128, 0, 0],
    [0, 128, 0],
    [224, 224, 192],
  ];
  const idx = new Uint8Array([0, 1, 2, 3, 3, 2, 1, 0]);
  const f = path.join(dir, 'pal.png');
  fs.writeFileSync(f, palettePng(idx, 4, 2, palette));
  const lab = await readLabel(f);
  assert.equal(lab.width, 4);
  assert.equal(lab.height, 2);
  assert.deepEqual([...lab.values], [...idx]);
});

test('readLabel: a palette PNG written by sharp (quantised, low bit depth) gives indices of its own palette', async () => {
  const w = 8;
  const h = 4;
  const colours = [
    [250, 10, 10],
    [10, 250, 10],
    [10, 10, 250],
  ];
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.set(colours[i % 3], 3 * i);
  const f = path.join(dir, 'sharp-pal.png');
  fs.writeFileSync(
    f,
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .png({ palette: true, colours: 4, dither: 0 })
      .toBuffer(),
  );
  assert.equal((await sharp(f).metadata()).isPalette, true);
  const lab = await readLabel(f);
  // Three colours -> three distinct indices, constant per colour.
  const byColour = new Map<number, number>();
  for (let i = 0; i < w * h; i++) {
    const prev = byColour.get(i % 3);
    if (prev === undefined) byColour.set(i % 3, lab.values[i]);
    else assert.equal(lab.values[i], prev);
  }
  assert.equal(new Set(byColour.values()).size, 3);
  for (const v of lab.values) assert.ok(v < 4);
});

test('readLabel: a palette whose entries repeat a colour still gives the index written', async () => {
  // Palettes padded with black are common; index 5 is black like index 0 but means void.
  const palette: [number, number, number][] = [
    [0, 0, 0],
    [255, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const idx = new Uint8Array([0, 1, 5, 5, 1, 0]);
  const f = path.join(dir, 'pal-dup.png');
  fs.writeFileSync(f, palettePng(idx, 3, 2, palette));
  assert.deepEqual([...(await readLabel(f)).values], [...idx]);
});

test('readLabel: palette PNGs with every row filter and bit depths 1, 2, 4', async () => {
  const w = 13;
  const h = 10;
  for (const bitDepth of [8, 4, 2, 1]) {
    const n = 2 ** bitDepth;
    const palette = Array.from({ length: n }, (_, i) => [i, 255 - i, (i * 7) % 256] as [number, number, number]);
    const idx = Uint8Array.from({ length: w * h }, (_, i) => (i * 7 + Math.floor(i / w)) % n);
    const f = path.join(dir, `pal-${bitDepth}.png`);
    fs.writeFileSync(f, palettePng(idx, w, h, palette, bitDepth, [0, 1, 2, 3, 4]));
    // sharp agrees on the colours, so the file is valid PNG.
    const rgb = await readImage(f);
    for (let i = 0; i < w * h; i++) assert.deepEqual([...rgb.data.subarray(3 * i, 3 * i + 3)], palette[idx[i]]);
    assert.deepEqual([...(await readLabel(f)).values], [...idx], `bit depth ${bitDepth}`);
  }
});

test('readLabel: an interlaced palette PNG gives indices by colour, and refuses repeated colours', async () => {
  const w = 9;
  const h = 7;
  const palette: [number, number, number][] = [
    [0, 0, 0],
    [128, 0, 0],
    [0, 128, 0],
    [128, 128, 0],
  ];
  const idx = Uint8Array.from({ length: w * h }, (_, i) => (i * 5) % 4);
  const f = path.join(dir, 'pal-interlaced.png');
  fs.writeFileSync(f, palettePng(idx, w, h, palette, 8, [0], true));
  assert.equal((await sharp(f).metadata()).isProgressive, true);
  const rgb = await readImage(f);
  for (let i = 0; i < w * h; i++) assert.deepEqual([...rgb.data.subarray(3 * i, 3 * i + 3)], palette[idx[i]], 'valid Adam7 file');
  assert.deepEqual([...(await readLabel(f)).values], [...idx]);
  // Index 4 repeats the colour of index 0: by colour alone it cannot be told apart.
  const dup = path.join(dir, 'pal-interlaced-dup.png');
  const idx2 = idx.slice();
  idx2[3 * w + 5] = 4;
  fs.writeFileSync(dup, palettePng(idx2, w, h, [...palette, [0, 0, 0]], 8, [0], true));
  // The first pixel of that colour (index 0 at x=0, y=0) is already ambiguous.
  await rejectsUser(readLabel(dup), dup, /interlaced/, 'x=0, y=0');
});

test('readLabel: a colour mask is refused, naming the file and a pixel', async () => {
  const px = new Uint8Array(4 * 3 * 3).fill(100);
  px.set([255, 0, 0], (1 * 4 + 2) * 3); // x=2, y=1
  const f = path.join(dir, 'colour.png');
  await writePng(f, px, 4, 3, 3);
  await rejectsUser(readLabel(f), f, /colour image/, 'x=2, y=1', '(255,0,0)');
});

for (const [name, make] of [
  ['zero-byte', async () => Buffer.alloc(0)],
  ['not an image', async () => Buffer.from('this is a text file, not a picture\n')],
  [
    'truncated PNG',
    async () => {
      const png = await encodePng(pattern(32, 32), 32, 32, 3);
      return png.subarray(0, Math.floor(png.length / 2));
    },
  ],
  [
    'truncated JPEG',
    async () => {
      const jpg = await sharp(pattern(32, 32), { raw: { width: 32, height: 32, channels: 3 } })
        .jpeg()
        .toBuffer();
      return jpg.subarray(0, Math.floor(jpg.length / 2));
    },
  ],
] as const) {
  test(`a ${name} file is a GapsegError naming it, for images and labels`, async () => {
    const f = path.join(dir, `bad-${name.replace(/ /g, '-')}.png`);
    fs.writeFileSync(f, await make());
    await rejectsUser(readImage(f), f, /cannot decode/);
    await rejectsUser(readLabel(f), f, /cannot decode/);
  });
}

test('a missing file is a GapsegError naming it', async () => {
  const f = path.join(dir, 'missing.png');
  await rejectsUser(readImage(f), f, /not found/);
  await rejectsUser(readLabel(f), f, /not found/);
});

test('images and labels above the pixel limit are refused', async () => {
  const img = path.join(dir, 'big.png');
  await writePng(img, pattern(20, 10), 20, 10, 3);
  const lab = path.join(dir, 'big-label.png');
  await writePng(lab, new Uint8Array(200), 20, 10, 1);
  const pal = path.join(dir, 'big-pal.png');
  fs.writeFileSync(
    pal,
    palettePng(new Uint8Array(200), 20, 10, [
      [0, 0, 0],
      [9, 9, 9],
    ]),
  );
  for (const f of [img, lab, pal]) {
    const fn = f === img ? readImage : readLabel;
    await rejectsUser(fn(f, { maxPixels: 199 }), f, /pixel limit \(199 pixels\)/);
    const ok = await fn(f, { maxPixels: 200 });
    assert.equal(ok.width * ok.height, 200);
  }
});
