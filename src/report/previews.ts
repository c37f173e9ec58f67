/**
 * Small pictures of validation predictions for the report: the image, its label with void
 * hatched, the prediction, and the focus class's probability, each a PNG data: URI, plus
 * the frontier as SVG path data. Images larger than the panel size are scaled down first.
 */
import sharp from 'sharp';
import { resizeFloat, resizeImage, resizeNearest } from '../data/resize.js';
import type { Sample } from '../data/load.js';
import { argmaxDecision, classLayer, composite, focusProbability, heatLayer, imageMetrics, voidLayer, type Rgb } from '../draw/layers.js';
import { pathData } from '../draw/contour.js';
import { frontierLines } from '../draw/frontierLayer.js';
import type { ReportSample } from './report.js';

/** What one validation image's preview is made from (all at the training scale). */
export type PreviewSource = Pick<Sample, 'name' | 'width' | 'height' | 'image' | 'labels' | 'truth'> & {
  /** HWC class probabilities. */
  probs: Float32Array;
  pred: Uint8Array;
};

/** Copy what a preview needs from a validation image and its probabilities. */
export function previewSource(sample: Sample, probs: Float32Array, pred: Uint8Array): PreviewSource {
  return {
    name: sample.name,
    width: sample.width,
    height: sample.height,
    image: sample.image,
    labels: sample.labels,
    truth: sample.truth,
    probs: Float32Array.from(probs),
    pred: Uint8Array.from(pred),
  };
}

// JPEG keeps a report of photos small (PNG of noisy images is ~4x larger); full chroma keeps
// thin coloured lines and hatching crisp.
async function dataUri(rgb: Uint8Array, w: number, h: number): Promise<string> {
  const jpeg = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90, chromaSubsampling: '4:4:4' })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

/** Render one preview at most `maxSide` pixels on its longer side. */
export async function renderPreview(src: PreviewSource, colors: readonly Rgb[], maxSide = 200): Promise<ReportSample> {
  const k = colors.length;
  const m = imageMetrics(src.labels, src.pred, k, src.truth);
  const f = Math.min(1, maxSide / Math.max(src.width, src.height));
  const w = Math.max(1, Math.round(src.width * f));
  const h = Math.max(1, Math.round(src.height * f));
  const small = f < 1;
  const image = small ? resizeImage(src.image, src.width, src.height, 3, w, h) : src.image;
  const labels = small ? resizeNearest(src.labels, src.width, src.height, w, h) : src.labels;
  const pred = small ? resizeNearest(src.pred, src.width, src.height, w, h) : src.pred;
  const probs = small ? resizeFloat(src.probs, src.width, src.height, k, w, h) : src.probs;
  const decision = argmaxDecision(k);
  const heat = heatLayer(focusProbability(probs, w * h, k, decision));
  const frontier = pathData(frontierLines({ probs, width: w, height: h, numClasses: k, classes: pred }, decision));
  return {
    name: src.name,
    width: w,
    height: h,
    image: await dataUri(image, w, h),
    label: await dataUri(
      composite(image, [
        { data: classLayer(labels, colors), opacity: 0.55 },
        { data: voidLayer(labels, w), opacity: 0.85 },
      ]),
      w,
      h,
    ),
    prediction: await dataUri(composite(image, [{ data: classLayer(pred, colors), opacity: 0.55 }]), w, h),
    heat: await dataUri(composite(image, [{ data: heat, opacity: 0.8 }]), w, h),
    frontier,
    accuracy: m.accuracy,
    meanIoU: m.meanIoU,
    gapAccuracy: m.gapAccuracy,
  };
}
