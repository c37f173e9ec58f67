/**
 * The live model: while someone paints, a MobileNetV2 U-Net keeps learning from the strokes.
 * The pretrained encoder is frozen, and so are the decoder's coarse levels (strides 16 and 8):
 * each image's features through them are computed once, on the whole image, and kept. A step
 * trains the fine levels and the head on crops of those features around labelled pixels
 * (crops.ts): small crops stay cheap, and no crop edge reaches the coarse levels, which would
 * otherwise see mostly padding in them. Prediction runs the fine levels on the whole image.
 * Images larger than LIVE_SIDE are worked on at that size and their probabilities resized back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VOID_INDEX } from '../data/labelIndices.js';
import { resizeFloat, resizeImage, resizeNearest } from '../data/resize.js';
import { lossTargets, maskedCrossEntropy } from '../losses/crossEntropy.js';
import { buildNet, createNet, disposeNet, lossValue, updateMovingStats, type AnyNet } from '../nets/index.js';
import {
  DEFAULT_MOBILE_UNET,
  MOBILE_MULTIPLE,
  decoderLevels,
  headForward,
  isEncoderParam,
  type MobileUNet,
  type MobileUNetConfig,
} from '../nets/mobilenetV2/unet.js';
import { encoderForward } from '../nets/mobilenetV2/encoder.js';
import { decoderLossAndGradients } from '../nets/mobilenetV2/backprop.js';
import { adamUpdate, createAdamState, disposeAdamState, type AdamHyper, type AdamState } from '../train/adam.js';
import { makeRng, type Rng } from '../util/random.js';
import { softmaxPixels } from '../util/softmax.js';
import { classCountsOf, cropLabels, cropSide, sampleCrops, type LabelledImage } from './crops.js';

/** The longest side live training and prediction work at. */
export const LIVE_SIDE = 512;
/** The decoder levels kept frozen (strides 16 and 8); their output is cached per image. */
const FROZEN_LEVELS = 2;
/** Crop side and crops per step. */
export const LIVE_CROP = 64;
export const LIVE_BATCH = 8;
/**
 * The batch norms' averaging: fast, so that a fresh decoder's statistics follow its first
 * steps and a trained one's move to the painted images within a few.
 */
const LIVE_BN_MOMENTUM = 0.5;
/**
 * The loss at which the strokes count as learnt: further steps on the same few labelled pixels
 * only fit them more closely and the rest of the image worse, so training waits for new labels.
 */
const FIT_LOSS = 0.1;
/** Images whose features stay cached (each 512 x 512 image holds about 40 MB of them). */
export const LIVE_CACHE = 24;

const HYPER: AdamHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

interface Features {
  taps: tf.Tensor4D[];
  /** The output of the frozen decoder levels (stride 8). */
  coarse: tf.Tensor4D;
}

const featureTensors = (f: Features | null) => (f ? [...f.taps, f.coarse] : []);

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
  /** The encoder's taps and the frozen levels' output, once computed. */
  features: Features | null;
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
  /** The loss of recent steps, averaged: training stops once it is below FIT_LOSS, until the labels change. */
  recentLoss: number | null;
}

/** Where the live model starts: a trained MobileNetV2 U-Net's values, or pretrained encoder values and a fresh decoder. */
export type LiveStart =
  | { kind: 'model'; config: MobileUNetConfig; values: Map<string, Float32Array>; mean: number[]; std: number[] }
  | { kind: 'encoder'; numClasses: number; encoder: Map<string, Float32Array>; mean: number[]; std: number[]; seed: number };

/** Whether live training changes a parameter: the fine decoder levels' and the head's. */
function isTrained(name: string): boolean {
  const level = /^dec(\d+)_/.exec(name);
  return level ? Number(level[1]) >= FROZEN_LEVELS : !isEncoderParam(name);
}

export function createLiveModel(start: LiveStart): LiveModel {
  const net = (
    start.kind === 'model'
      ? buildNet({ ...start.config, bnMomentum: LIVE_BN_MOMENTUM, gapOutput: false }, start.values)
      : createNet({ ...DEFAULT_MOBILE_UNET, bnMomentum: LIVE_BN_MOMENTUM, numClasses: start.numClasses }, start.seed, start.encoder)
  ) as MobileUNet;
  const trainable = Object.fromEntries(Object.entries(net.params).filter(([name]) => isTrained(name)));
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
    recentLoss: null,
  };
}

export function disposeLiveModel(m: LiveModel): void {
  for (const im of m.images.values()) tf.dispose(featureTensors(im.features));
  disposeAdamState(m.adam);
  disposeNet(m.net as AnyNet);
}

/** The live size of an image: the long side at most LIVE_SIDE, then padded to the network's multiple. */
function liveSize(w: number, h: number): { iw: number; ih: number; pw: number; ph: number } {
  const s = Math.min(1, LIVE_SIDE / Math.max(w, h));
  const iw = Math.max(1, Math.round(w * s));
  const ih = Math.max(1, Math.round(h * s));
  const pad = (x: number) => Math.max(MOBILE_MULTIPLE, Math.ceil(x / MOBILE_MULTIPLE) * MOBILE_MULTIPLE);
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
  if (old) tf.dispose(featureTensors(old.features));
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
  m.recentLoss = null;
}

/** An image's features, computed on first use and kept (the least recently used beyond LIVE_CACHE are dropped). */
function featuresOf(m: LiveModel, im: LiveImage): Features {
  im.lastUse = ++m.clock;
  if (im.features) return im.features;
  const cached = [...m.images.values()].filter((x) => x.features).sort((a, b) => a.lastUse - b.lastUse);
  for (const old of cached.slice(0, Math.max(0, cached.length + 1 - LIVE_CACHE))) {
    tf.dispose(featureTensors(old.features));
    old.features = null;
  }
  const x = tf.tensor4d(im.input, [1, im.height, im.width, 3]);
  try {
    const taps = encoderForward(m.net.params, x);
    im.features = { taps, coarse: decoderLevels(m.net, taps, false, 0, FROZEN_LEVELS) };
  } finally {
    x.dispose();
  }
  return im.features;
}

/** A window of a feature map of an image, by the crop's corner and side in image pixels. */
function windowOf(im: LiveImage, f: tf.Tensor4D, x: number, y: number, side: number): tf.Tensor4D {
  const s = im.width / f.shape[2];
  return tf.slice(f, [0, y / s, x / s, 0], [1, side / s, side / s, f.shape[3]]);
}

/** One step on a batch of crops; the loss, or null when nothing is labelled. */
export async function liveStep(m: LiveModel): Promise<number | null> {
  const images = [...m.images.values()].filter((im) => im.counts.some((x) => x > 0));
  if (images.length === 0) return null;
  const side = cropSide(images, LIVE_CROP);
  const crops = sampleCrops(images, m.k, LIVE_BATCH, side, m.rng);
  const { labels, weights } = cropLabels(images, crops, side, m.k);
  const targets = lossTargets(labels, m.k, weights);
  // Computed outside the tidy below, which would free them with its own tensors.
  const features = crops.map((cr) => featuresOf(m, images[cr.image]));
  // The fine levels read the taps at strides 2 and 4 (taps 0 and 1) and the frozen levels' output.
  const [fine0, fine1, coarse] = tf.tidy(() => {
    const batch = (pick: (f: Features) => tf.Tensor4D) =>
      tf.concat(
        crops.map((cr, j) => windowOf(images[cr.image], pick(features[j]), cr.x, cr.y, side)),
        0,
      ) as tf.Tensor4D;
    return [batch((f) => f.taps[0]), batch((f) => f.taps[1]), batch((f) => f.coarse)];
  });
  const oneHot = tf.tensor4d(targets.oneHot, [crops.length, side, side, m.k]);
  try {
    const step = decoderLossAndGradients(
      m.net,
      [fine0, fine1],
      (logits) => maskedCrossEntropy(logits, oneHot, targets.weightSum),
      FROZEN_LEVELS,
      coarse,
    );
    const { grads, batchStats } = step;
    const loss = await lossValue(step.loss);
    m.steps++;
    // Checked before the update, so that a diverged step leaves the weights as they were.
    if (!Number.isFinite(loss)) {
      tf.dispose([...Object.values(grads), ...[...batchStats.values()].flatMap((s) => [s.mean, s.variance])]);
      throw new Error(`live training diverged at step ${m.steps} (loss ${loss})`);
    }
    adamUpdate(m.net.params, grads, m.adam, HYPER);
    tf.dispose(Object.values(grads));
    updateMovingStats(m.net as AnyNet, batchStats);
    return loss;
  } finally {
    tf.dispose([fine0, fine1, coarse, oneHot]);
  }
}

/**
 * Train for about `ms` milliseconds (at least one step where anything is labelled and the strokes
 * are not learnt yet), yielding to the event loop between steps and stopping early once `stop`
 * says so (a newer request has come): the steps taken and their mean loss.
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
    if (m.recentLoss !== null && m.recentLoss < FIT_LOSS) break;
    const loss = await liveStep(m);
    if (loss === null) break;
    steps++;
    sum += loss;
    m.recentLoss = m.recentLoss === null ? loss : 0.7 * m.recentLoss + 0.3 * loss;
    await new Promise((resolve) => setImmediate(resolve));
  } while (performance.now() < end && !stop());
  return { steps, loss: steps ? sum / steps : null };
}

/** Class probabilities of an image, HWC at its own size. */
export async function predictLive(m: LiveModel, key: string): Promise<Float32Array> {
  const im = m.images.get(key);
  if (!im) throw new Error(`predictLive: no image ${key}`);
  const { taps, coarse } = featuresOf(m, im);
  const logits = tf.tidy(() =>
    tf.slice(
      headForward(m.net, decoderLevels(m.net, taps, false, FROZEN_LEVELS, m.net.config.decoderWidths.length, coarse)),
      [0, 0, 0, 0],
      [1, im.innerHeight, im.innerWidth, m.k],
    ),
  );
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
