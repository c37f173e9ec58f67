/**
 * Training augmentation, applied identically to image and labels: a random scaled crop,
 * flips and 90-degree rotations (the eight symmetries of the square), and brightness /
 * contrast jitter on the image alone. Labels are sampled by nearest neighbour, so class
 * values are never blended; pixels outside the image become void, and the crop's validity mask
 * says which pixels lie inside the image (a pairwise loss must not see the black padding).
 */
import { VOID_INDEX } from './classes.js';
import type { Rng } from '../util/random.js';
import type { Sample } from './load.js';

export interface AugmentOptions {
  /** Side of the square crop fed to the network, in pixels. */
  size: number;
  /** Range of the crop's scale factor (crop side in source pixels = size * s). */
  scaleRange: [number, number];
  /** Random flips and 90-degree rotations. */
  flipRotate: boolean;
  /** Brightness shift as a fraction of full range (0.1 = +-10%). */
  brightness: number;
  /** Contrast factor spread (0.2 = factor in [0.8, 1.2]). */
  contrast: number;
  /**
   * Probability that a crop is centred on a labelled pixel of a class drawn uniformly among
   * the classes present in the image (0 = uniform crops). Small, rare objects (smoke plumes
   * of a few pixels, a street sign) are otherwise seldom in a crop and a network learns to
   * ignore them.
   */
  classBalance?: number;
  /**
   * Class-balanced crops also centre on gap (void) pixels, as one more group drawn after the
   * classes: the crops of the void-as-a-class loss, whose void is a class to balance.
   */
  gapCrops?: boolean;
}

export const DEFAULT_AUGMENT: Omit<AugmentOptions, 'size'> = {
  scaleRange: [0.75, 1.33],
  flipRotate: true,
  brightness: 0.1,
  contrast: 0.2,
};

/** Pixel indices of each label value of a sample, void included (it sorts last), computed once per sample. */
const labelPixels = new WeakMap<Sample, Map<number, Uint32Array>>();

function pixelsByLabel(sample: Sample): Map<number, Uint32Array> {
  let m = labelPixels.get(sample);
  if (m) return m;
  const counts = new Map<number, number>();
  for (const v of sample.labels) counts.set(v, (counts.get(v) ?? 0) + 1);
  const lists = new Map<number, Uint32Array>();
  const fill = new Map<number, number>();
  for (const [c, n] of counts) {
    lists.set(c, new Uint32Array(n));
    fill.set(c, 0);
  }
  sample.labels.forEach((v, i) => {
    const k = fill.get(v) as number;
    (lists.get(v) as Uint32Array)[k] = i;
    fill.set(v, k + 1);
  });
  m = new Map([...lists.entries()].sort((a, b) => a[0] - b[0]));
  labelPixels.set(sample, m);
  return m;
}

/** A crop ready to batch: RGB bytes, class indices and validity, all size x size. */
export interface Crop {
  image: Uint8Array;
  labels: Uint8Array;
  /** 1 where the crop sampled inside the image, 0 on the padding around it. */
  valid: Uint8Array;
}

/**
 * Draw one augmented square crop from a sample. The random numbers are drawn in a fixed
 * order, so a given rng state always gives the same crop.
 */
export function augmentedCrop(sample: Sample, rng: Rng, opts: AugmentOptions): Crop {
  const { size } = opts;
  const [lo, hi] = opts.scaleRange;
  const s = Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo)));
  const side = size * s;
  let ox = sample.width > side ? rng.next() * (sample.width - side) : (sample.width - side) * rng.next();
  let oy = sample.height > side ? rng.next() * (sample.height - side) : (sample.height - side) * rng.next();
  if (opts.classBalance && rng.next() < opts.classBalance) {
    const classes = [...pixelsByLabel(sample)].filter(([c]) => opts.gapCrops || c !== VOID_INDEX).map(([, pixels]) => pixels);
    if (classes.length > 0) {
      const pixels = classes[Math.floor(rng.next() * classes.length)];
      const p = pixels[Math.floor(rng.next() * pixels.length)];
      // Centre on the pixel, kept inside the image when the image is larger than the crop.
      const cx = (p % sample.width) + 0.5 - side / 2;
      const cy = Math.floor(p / sample.width) + 0.5 - side / 2;
      ox = sample.width > side ? Math.min(Math.max(cx, 0), sample.width - side) : ox;
      oy = sample.height > side ? Math.min(Math.max(cy, 0), sample.height - side) : oy;
    }
  }
  const sym = opts.flipRotate ? Math.floor(rng.next() * 8) : 0;
  const bright = (rng.next() * 2 - 1) * opts.brightness * 255;
  const contrast = 1 + (rng.next() * 2 - 1) * opts.contrast;
  return sampleCrop(sample, ox, oy, side, sym, bright, contrast, size);
}

/** Apply symmetry `sym` (0..7) of the square to output coordinates (u, v) in [0, n). */
function symmetry(sym: number, u: number, v: number, n: number): [number, number] {
  let x = u;
  let y = v;
  if (sym & 1) x = n - 1 - x;
  if (sym & 2) y = n - 1 - y;
  if (sym & 4) [x, y] = [y, x];
  return [x, y];
}

/** Resample the square [ox, ox+side) x [oy, oy+side) of a sample to size x size. */
export function sampleCrop(
  sample: Sample,
  ox: number,
  oy: number,
  side: number,
  sym: number,
  bright: number,
  contrast: number,
  size: number,
): Crop {
  const { width: w, height: h, image: src, labels: lab } = sample;
  const image = new Uint8Array(size * size * 3);
  const labels = new Uint8Array(size * size);
  const valid = new Uint8Array(size * size);
  const step = side / size;
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const [cx, cy] = symmetry(sym, u, v, size);
      const fx = ox + (cx + 0.5) * step - 0.5;
      const fy = oy + (cy + 0.5) * step - 0.5;
      const o = v * size + u;
      const nx = Math.round(fx);
      const ny = Math.round(fy);
      if (nx < 0 || ny < 0 || nx >= w || ny >= h) {
        labels[o] = VOID_INDEX;
      } else {
        labels[o] = lab[ny * w + nx];
        valid[o] = 1;
      }
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const wx = fx - x0;
      const wy = fy - y0;
      const xa = Math.min(Math.max(x0, 0), w - 1);
      const xb = Math.min(Math.max(x0 + 1, 0), w - 1);
      const ya = Math.min(Math.max(y0, 0), h - 1);
      const yb = Math.min(Math.max(y0 + 1, 0), h - 1);
      const inside = fx > -1 && fy > -1 && fx < w && fy < h;
      for (let c = 0; c < 3; c++) {
        let val = 0;
        if (inside) {
          const a = src[(ya * w + xa) * 3 + c];
          const b = src[(ya * w + xb) * 3 + c];
          const d = src[(yb * w + xa) * 3 + c];
          const e = src[(yb * w + xb) * 3 + c];
          val = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
          val = (val - 128) * contrast + 128 + bright;
        }
        image[o * 3 + c] = val < 0 ? 0 : val > 255 ? 255 : Math.round(val);
      }
    }
  }
  return { image, labels, valid };
}

/** Normalise RGB bytes into a float buffer: (v/255 - mean) / std, interleaved (NHWC). */
export function normalizeInto(dst: Float32Array, offset: number, rgb: Uint8Array, mean: number[], std: number[]): void {
  const scale = [1 / (255 * std[0]), 1 / (255 * std[1]), 1 / (255 * std[2])];
  const shift = [mean[0] / std[0], mean[1] / std[1], mean[2] / std[2]];
  for (let i = 0; i < rgb.length; i += 3) {
    dst[offset + i] = rgb[i] * scale[0] - shift[0];
    dst[offset + i + 1] = rgb[i + 1] * scale[1] - shift[1];
    dst[offset + i + 2] = rgb[i + 2] * scale[2] - shift[2];
  }
}
