/**
 * The live model: while someone paints, a MobileNetV2 U-Net keeps learning from the strokes.
 * The pretrained encoder is frozen, so each image's encoder features are computed once and
 * kept; a step trains only the decoder and head, on crops of those features around labelled
 * pixels (crops.ts). Prediction runs the decoder on the whole image's kept features.
 * Images larger than LIVE_SIDE are worked on at that size and their probabilities resized back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VOID_INDEX } from '../data/labelIndices.js';
import { resizeFloat, resizeImage, resizeNearest } from '../data/resize.js';
import { lossTargets, maskedCrossEntropy } from '../losses/crossEntropy.js';
import { buildNet, createNet, disposeNet, updateMovingStats, type AnyNet } from '../nets/index.js';
import { DEFAULT_MOBILE_UNET, decoderForward, type MobileUNet, type MobileUNetConfig } from '../nets/mobilenetV2/unet.js';
import { encoderForward } from '../nets/mobilenetV2/encoder.js';
import { decoderLossAndGradients } from '../nets/mobilenetV2/backprop.js';
import { adamUpdate, createAdamState, disposeAdamState, type AdamHyper, type AdamState } from '../train/adam.js';
import { makeRng, type Rng } from '../util/random.js';
import { softmaxPixels } from '../util/softmax.js';
import { FEATURE_STRIDE, classCountsOf, cropLabels, cropSide, sampleCrops, type LabelledImage } from './crops.js';

/** The longest side live training and prediction work at. */
export const LIVE_SIDE = 512;
/** Crop side and crops per step. */
export const LIVE_CROP = 64;
export const LIVE_BATCH = 8;
/**
 * The batch norms' averaging: fast, so that a fresh decoder's statistics follow its first
 * steps and a trained one's move to the painted images within a few.
 */
const LIVE_BN_MOMENTUM = 0.5;
/** Images whose features stay cached (each 512 x 512 image holds about 40 MB of them). */
export const LIVE_CACHE = 24;

const HYPER: AdamHyper = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** One image as the live model holds it. */
interface LiveImage extends LabelledImage {
  /** Its size as painted. */
  sourceWidth: number;
  sourceHeight: number;
  /** Its size at the live scale, before padding to the feature stride. */
  innerWidth: number;
  innerHeight: number;
  /** Normalised NHWC input at the live size (padding zero). */
  input: Float32Array;
  features: tf.Tensor4D[] | null;
  lastUse: number;
}

export interface LiveModel {
  net: MobileUNet;
  adam: AdamState;
  k: number;
  mean: number[];
  std: number[];
  images: Map<string, LiveImage>;
  rng: Rng;
  steps: number;
  clock: number;
}

/** Where the live model starts: a trained MobileNetV2 U-Net's values, or pretrained encoder values and a fresh decoder. */
export type LiveStart =
  | { kind: 'model'; config: MobileUNetConfig; values: Map<string, Float32Array>; mean: number[]; std: number[] }
  | { kind: 'encoder'; numClasses: number; encoder: Map<string, Float32Array>; mean: number[]; std: number[]; seed: number };

export function createLiveModel(start: LiveStart): LiveModel {
  const net = (
    start.kind === 'model'
      ? buildNet({ ...start.config, bnMomentum: LIVE_BN_MOMENTUM, gapOutput: false }, start.values)
      : createNet({ ...DEFAULT_MOBILE_UNET, bnMomentum: LIVE_BN_MOMENTUM, numClasses: start.numClasses }, start.seed, start.encoder)
  ) as MobileUNet;
  const trainable = Object.fromEntries(Object.entries(net.params).filter(([name]) => !name.startsWith('enc_')));
  return {
    net,
    adam: createAdamState(trainable),
    k: net.config.numClasses,
    mean: start.mean,
    std: start.std,
    images: new Map(),
    rng: makeRng(start.kind === 'encoder' ? start.seed : 1),
    steps: 0,
    clock: 0,
  };
}

export function disposeLiveModel(m: LiveModel): void {
  for (const im of m.images.values()) tf.dispose(im.features ?? []);
  disposeAdamState(m.adam);
  disposeNet(m.net as AnyNet);
}

/** The live size of an image: the long side at most LIVE_SIDE, then padded to the feature stride. */
function liveSize(w: number, h: number): { iw: number; ih: number; pw: number; ph: number } {
  const s = Math.min(1, LIVE_SIDE / Math.max(w, h));
  const iw = Math.max(1, Math.round(w * s));
  const ih = Math.max(1, Math.round(h * s));
  const pad = (x: number) => Math.max(FEATURE_STRIDE, Math.ceil(x / FEATURE_STRIDE) * FEATURE_STRIDE);
  return { iw, ih, pw: pad(iw), ph: pad(ih) };
}

/** Whether the model holds an image under this key (its pixels: labels can come without them). */
export function hasImage(m: LiveModel, key: string): boolean {
  return m.images.has(key);
}

/** Add (or replace) an image: RGB bytes at its own size. */
export function setImage(m: LiveModel, key: string, rgb: Uint8Array, width: number, height: number): void {
  if (rgb.length !== width * height * 3) throw new Error(`setImage: ${rgb.length} bytes for a ${width}x${height} RGB image`);
  const old = m.images.get(key);
  if (old) tf.dispose(old.features ?? []);
  const { iw, ih, pw, ph } = liveSize(width, height);
  const small = resizeImage(rgb, width, height, 3, iw, ih);
  const input = new Float32Array(pw * ph * 3);
  for (let y = 0; y < ih; y++)
    for (let x = 0; x < iw; x++)
      for (let c = 0; c < 3; c++) input[(y * pw + x) * 3 + c] = (small[(y * iw + x) * 3 + c] / 255 - m.mean[c]) / m.std[c];
  m.images.set(key, {
    sourceWidth: width,
    sourceHeight: height,
    innerWidth: iw,
    innerHeight: ih,
    width: pw,
    height: ph,
    labels: new Uint8Array(pw * ph).fill(VOID_INDEX),
    counts: new Array(m.k).fill(0),
    input,
    features: null,
    lastUse: 0,
  });
}

/** Set an image's labels (class indices at its own size, VOID_INDEX unlabelled). */
export function setLabels(m: LiveModel, key: string, labels: Uint8Array): void {
  const im = m.images.get(key);
  if (!im) throw new Error(`setLabels: no image ${key}`);
  if (labels.length !== im.sourceWidth * im.sourceHeight)
    throw new Error(`setLabels: ${labels.length} labels for a ${im.sourceWidth}x${im.sourceHeight} image`);
  const small = resizeNearest(labels, im.sourceWidth, im.sourceHeight, im.innerWidth, im.innerHeight);
  im.labels.fill(VOID_INDEX);
  for (let y = 0; y < im.innerHeight; y++) im.labels.set(small.subarray(y * im.innerWidth, (y + 1) * im.innerWidth), y * im.width);
  for (let i = 0; i < im.labels.length; i++) if (im.labels[i] >= m.k) im.labels[i] = VOID_INDEX;
  im.counts = classCountsOf(im.labels, m.k);
}

/** An image's encoder features, computed on first use and kept (the least recently used beyond LIVE_CACHE are dropped). */
function featuresOf(m: LiveModel, im: LiveImage): tf.Tensor4D[] {
  im.lastUse = ++m.clock;
  if (im.features) return im.features;
  const cached = [...m.images.values()].filter((x) => x.features).sort((a, b) => a.lastUse - b.lastUse);
  for (const old of cached.slice(0, Math.max(0, cached.length + 1 - LIVE_CACHE))) {
    tf.dispose(old.features!);
    old.features = null;
  }
  const x = tf.tensor4d(im.input, [1, im.height, im.width, 3]);
  try {
    im.features = encoderForward(m.net.params, x);
  } finally {
    x.dispose();
  }
  return im.features;
}

/** One step on a batch of crops; the loss, or null when nothing is labelled. */
export function liveStep(m: LiveModel): number | null {
  const keys = [...m.images.keys()].filter((key) => m.images.get(key)!.counts.some((x) => x > 0));
  const images = keys.map((key) => m.images.get(key)!);
  if (images.length === 0) return null;
  const side = cropSide(images, LIVE_CROP);
  const crops = sampleCrops(images, m.k, LIVE_BATCH, side, m.rng);
  const { labels, weights } = cropLabels(images, crops, side, m.k);
  const targets = lossTargets(labels, m.k, weights);
  // Computed outside the tidy below, which would free them with its own tensors.
  const features = crops.map((cr) => featuresOf(m, images[cr.image]));
  const taps = tf.tidy(() => {
    const per = crops.map((cr, j) =>
      features[j].map((f) => {
        const s = images[cr.image].width / f.shape[2];
        return tf.slice(f, [0, cr.y / s, cr.x / s, 0], [1, side / s, side / s, f.shape[3]]);
      }),
    );
    return per[0].map(
      (_, t) =>
        tf.concat(
          per.map((p) => p[t]),
          0,
        ) as tf.Tensor4D,
    );
  });
  const oneHot = tf.tensor4d(targets.oneHot, [crops.length, side, side, m.k]);
  try {
    const { loss, grads, batchStats } = decoderLossAndGradients(m.net, taps, (logits) =>
      maskedCrossEntropy(logits, oneHot, targets.weightSum),
    );
    adamUpdate(m.net.params, grads, m.adam, HYPER);
    tf.dispose(Object.values(grads));
    updateMovingStats(m.net as AnyNet, batchStats);
    m.steps++;
    if (!Number.isFinite(loss)) throw new Error(`live training diverged at step ${m.steps} (loss ${loss})`);
    return loss;
  } finally {
    tf.dispose([...taps, oneHot]);
  }
}

/**
 * Train for about `ms` milliseconds (at least one step where anything is labelled), yielding to
 * the event loop between steps and stopping early once `stop` says so (a newer request has
 * come): the steps taken and their mean loss.
 */
export async function trainFor(
  m: LiveModel,
  ms: number,
  stop: () => boolean = () => false,
): Promise<{ steps: number; loss: number | null }> {
  const end = performance.now() + ms;
  let steps = 0;
  let sum = 0;
  do {
    const loss = liveStep(m);
    if (loss === null) break;
    steps++;
    sum += loss;
    await new Promise((resolve) => setImmediate(resolve));
  } while (performance.now() < end && !stop());
  return { steps, loss: steps ? sum / steps : null };
}

/** Class probabilities of an image, HWC at its own size. */
export async function predictLive(m: LiveModel, key: string): Promise<Float32Array> {
  const im = m.images.get(key);
  if (!im) throw new Error(`predictLive: no image ${key}`);
  const features = featuresOf(m, im);
  const logits = tf.tidy(() => tf.slice(decoderForward(m.net, features, false), [0, 0, 0, 0], [1, im.innerHeight, im.innerWidth, m.k]));
  let data: Float32Array;
  try {
    data = (await logits.data()) as Float32Array;
  } finally {
    logits.dispose();
  }
  const n = im.innerWidth * im.innerHeight;
  for (let i = 0; i < n * m.k; i++)
    if (!Number.isFinite(data[i])) throw new Error(`the live model's scores are not finite (step ${m.steps})`);
  const probs = new Float32Array(n * m.k);
  softmaxPixels(data, 0, probs, 0, n, m.k);
  return resizeFloat(probs, im.innerWidth, im.innerHeight, m.k, im.sourceWidth, im.sourceHeight);
}
