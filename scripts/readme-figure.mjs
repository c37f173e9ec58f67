// The README's picture, from what `gapseg demo` leaves in demo-out/: a test image of the sample,
// its labels with the unlabelled gap, and the frontier the model predicts inside the gap.
//   node scripts/readme-figure.mjs [demo-out] [docs/images/frontier.png]
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

const [out = 'demo-out', target = 'docs/images/frontier.png'] = process.argv.slice(2);
const data = path.join(out, 'data');
const name = fs.readFileSync(path.join(data, 'test.txt'), 'utf8').trim().split('\n')[0];
const read = async (file, channels) => {
  const img = sharp(file);
  const { data: px, info } = await (channels === 1 ? img.extractChannel(0) : img.removeAlpha()).raw().toBuffer({ resolveWithObject: true });
  return { px, width: info.width, height: info.height };
};
const image = await read(path.join(data, 'images', `${name}.png`), 3);
const labels = await read(path.join(data, 'labels', `${name}.png`), 1);
const pred = await read(path.join(out, 'predictions', 'labels', `${name}.png`), 1);
const { width: w, height: h } = image;
const SCALE = 3;
const panel = (pixel) => {
  const buf = Buffer.alloc(w * SCALE * h * SCALE * 3);
  for (let y = 0; y < h * SCALE; y++) {
    for (let x = 0; x < w * SCALE; x++) {
      const rgb = pixel(Math.floor(x / SCALE), Math.floor(y / SCALE), x, y);
      buf.set(rgb, (y * w * SCALE + x) * 3);
    }
  }
  return buf;
};
const at = (x, y) => [...image.px.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)];
const mix = (a, b, t) => a.map((v, i) => Math.round(v * (1 - t) + b[i] * t));
const COLOURS = { 0: [31, 119, 180], 255: [255, 127, 14], 128: [150, 150, 150] };
const label = (x, y) => labels.px[y * w + x];
const edge = (x, y) => {
  const v = pred.px[y * w + x];
  return [
    [1, 0],
    [0, 1],
    [-1, 0],
    [0, -1],
  ].some(([dx, dy]) => {
    const [u, t] = [x + dx, y + dy];
    return u >= 0 && t >= 0 && u < w && t < h && pred.px[t * w + u] !== v;
  });
};
const panels = [
  panel((x, y) => at(x, y)),
  panel((x, y) => mix(at(x, y), COLOURS[label(x, y)] ?? [0, 0, 0], label(x, y) === 128 ? 0.75 : 0.55)),
  panel((x, y) => (edge(x, y) ? [230, 20, 20] : label(x, y) === 128 ? mix(at(x, y), COLOURS[128], 0.45) : at(x, y))),
];
const GAP = 12;
const width = 3 * w * SCALE + 2 * GAP;
await sharp({ create: { width, height: h * SCALE, channels: 3, background: { r: 255, g: 255, b: 255 } } })
  .composite(
    panels.map((p, i) => ({ input: p, raw: { width: w * SCALE, height: h * SCALE, channels: 3 }, left: i * (w * SCALE + GAP), top: 0 })),
  )
  .png()
  .toFile(`${target}.tmp`);
fs.renameSync(`${target}.tmp`, target);
console.log(`${target}: ${name}, ${width}x${h * SCALE}`);
