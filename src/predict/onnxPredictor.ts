/**
 * Predictors on ONNX Runtime: gapseg's own exported models (classes and input recipe read
 * from the file's metadata) and foreign segmentation models, whose output channels are
 * named by a class file and whose layout (NCHW or NHWC) and kind of scores (logits or
 * probabilities) are given by flags or found out from the model.
 */
import { bilinearAxis } from '../data/resize.js';
import { GapsegError } from '../util/errors.js';
import { makeRng } from '../util/random.js';
import { parseClassesJson } from '../data/classes.js';
import type { InputRecipe } from '../formats/modelFolder.js';
import type { OnnxSummary } from '../formats/onnx/model.js';
import { META, readOnnxFile, type Layout, type OnnxInputMeta } from '../formats/onnx/gapsegOnnx.js';
import { nchwToNhwc, nhwcToNchw } from '../util/layout.js';
import { openOnnxNet, type OnnxNet } from '../engine/onnx/session.js';
import { onnxRuntime, type OnnxDevice } from '../engine/onnx/runtime.js';
import type { Predictor } from './model.js';
import { finiteScores, type NetFn } from './netFn.js';
import { unetReceptiveRadius, type InputPlan } from './plan.js';
import type { ChannelClass } from './foreign.js';
import { refineCheckOf } from './refineCheck.js';

/** How any model's input is prepared and batched (gapseg's and foreign ones alike). */
export interface InputOptions {
  /** Foreign models: tensor layout (default: read from the model). */
  layout?: Layout;
  /** Foreign models: what the output holds (default: found out). */
  scores?: 'logits' | 'probabilities';
  /** Foreign models: input mean and std on the 0..1 scale (default ImageNet's). */
  mean?: number[];
  std?: number[];
  /** Fixed network input size [width, height] (default: the model's own, if fixed). */
  size?: [number, number];
  /** With a fixed input size: pad and tile instead of resizing. */
  pad?: boolean;
  /** Largest side predicted in one window; larger images are tiled. */
  tile?: number;
  /** Windows per network call. */
  batch?: number;
  /** Where ONNX Runtime computes: 'cpu' (default) or 'cuda'. */
  device?: OnnxDevice;
  /** Notes and warnings, one line each. */
  log?: (line: string) => void;
}

export interface OnnxOpenOptions extends InputOptions {
  threads: number;
  /** ONNX Runtime sessions sharing the threads (default: see defaultSessions). */
  sessions?: number;
  /** Foreign models: what each output channel means (required for them). */
  channels?: ChannelClass[];
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
/** Free-size foreign models get inputs padded to multiples of this (32 suits common encoders). */
export const FOREIGN_MULTIPLE = 32;

/** Bilinear resize of planar [n, c, h, w] scores to [n, c, nh, nw] (pixel centres aligned). */
function resizePlanes(src0: Float32Array, n: number, c: number, h: number, w: number, nh: number, nw: number): Float32Array {
  const out = new Float32Array(n * c * nh * nw);
  const ax = bilinearAxis(w, nw);
  const ay = bilinearAxis(h, nh);
  for (let p = 0; p < n * c; p++) {
    const src = p * h * w;
    const dst = p * nh * nw;
    for (let y = 0; y < nh; y++) {
      const r0 = src + ay.i0[y] * w;
      const r1 = src + ay.i1[y] * w;
      const wy = ay.w[y];
      for (let x = 0; x < nw; x++) {
        const wx = ax.w[x];
        const a = src0[r0 + ax.i0[x]] * (1 - wx) + src0[r0 + ax.i1[x]] * wx;
        const b = src0[r1 + ax.i0[x]] * (1 - wx) + src0[r1 + ax.i1[x]] * wx;
        out[dst + y * nw + x] = a * (1 - wy) + b * wy;
      }
    }
  }
  return out;
}

interface Adapter {
  inputLayout: Layout;
  outputLayout: Layout;
  /** Fixed batch size of the model's input, if any. */
  fixedBatch: number | null;
}

/** Wrap an OnnxNet as a planar NetFn: layout conversion, fixed batch, output resizing. */
function planarNet(net: OnnxNet, k: number, a: Adapter): NetFn {
  return async (input, n, h, w) => {
    const runN = a.fixedBatch ?? n;
    if (n > runN) throw new Error(`batch of ${n} for a model with fixed batch ${runN}`);
    let x = input;
    if (runN !== n) {
      x = new Float32Array(runN * 3 * h * w);
      x.set(input);
    }
    if (a.inputLayout === 'nhwc') x = nchwToNhwc(x, runN, 3, h, w);
    const dims = a.inputLayout === 'nhwc' ? [runN, h, w, 3] : [runN, 3, h, w];
    const y = await net.run(x, dims);
    const [oh, ow] = a.outputLayout === 'nhwc' ? [y.dims[1], y.dims[2]] : [y.dims[2], y.dims[3]];
    let out = a.outputLayout === 'nhwc' ? nhwcToNchw(y.data, runN, k, oh, ow) : y.data;
    if (oh !== h || ow !== w) out = resizePlanes(out, runN, k, oh, ow, h, w);
    return runN !== n ? out.subarray(0, n * k * h * w) : out;
  };
}

function checkTensorIo(net: OnnxNet, file: string): { inShape: (number | string)[]; outShape: (number | string)[] } {
  if (net.inputs.length !== 1)
    throw new GapsegError(`${file}: the model has ${net.inputs.length} inputs; an image segmentation model with one input is expected`);
  const input = net.inputs[0];
  const output = net.outputs[0];
  if (input.type !== 'float32')
    throw new GapsegError(`${file}: input "${input.name}" is ${input.type}; only float32 image inputs are supported`);
  if (input.shape.length !== 4)
    throw new GapsegError(`${file}: input "${input.name}" has shape [${input.shape}]; a 4-d image batch is expected`);
  if (output.type !== 'float32')
    throw new GapsegError(`${file}: output "${output.name}" is ${output.type}; per-class float32 scores are expected`);
  return { inShape: input.shape, outShape: output.shape };
}

function parseJsonMeta<T>(text: string, file: string, key: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new GapsegError(`${file}: metadata "${key}" is not valid JSON (${(e as Error).message})`);
  }
}

/** Open an ONNX model file as a predictor. */
export async function openOnnxPredictor(file: string, opts: OnnxOpenOptions): Promise<Predictor> {
  const { summary } = readOnnxFile(file);
  const gapsegMeta = summary.metadata[META.classes];
  const device = opts.device ?? 'cpu';
  const net = await openOnnxNet(file, opts.threads, file, opts.sessions, device);
  try {
    const p = gapsegMeta !== undefined ? gapsegPredictor(file, net, summary, opts) : await foreignPredictor(file, net, opts);
    const version = 'version' in onnxRuntime() ? (onnxRuntime() as { version: string }).version : '?';
    p.engineLine = `engine: ONNX Runtime ${version} on ${device}, ${opts.threads} thread${opts.threads === 1 ? '' : 's'}${net.sessions > 1 ? ` in ${net.sessions} sessions` : ''}`;
    return p;
  } catch (e) {
    await net.close();
    throw e;
  }
}

function gapsegPredictor(file: string, net: OnnxNet, summary: OnnxSummary, opts: OnnxOpenOptions): Predictor {
  if (opts.channels)
    throw new GapsegError(`${file}: this gapseg model names its own classes; --channels and --channel-file are for foreign models`);
  if (opts.mean || opts.std)
    throw new GapsegError(`${file}: this gapseg model carries the normalisation it was trained with; --mean/--std are for foreign models`);
  const desc = parseClassesJson(summary.metadata[META.classes], `${file} (metadata ${META.classes})`);
  const input = parseJsonMeta<OnnxInputMeta>(summary.metadata[META.input] ?? 'null', file, META.input);
  if (!input || !Array.isArray(input.mean) || !Array.isArray(input.std) || !(input.scale > 0) || !(input.tile > 0)) {
    throw new GapsegError(`${file}: metadata "${META.input}" is missing or incomplete`);
  }
  checkTensorIo(net, file);
  const k = desc.classes.length;
  const outK = net.outputs[0].shape[1];
  if (typeof outK === 'number' && outK !== k)
    throw new GapsegError(`${file}: the model has ${outK} outputs but its metadata describes ${k} classes`);
  const recipe: InputRecipe = { scale: input.scale, mean: input.mean, std: input.std, tile: opts.tile ?? input.tile };
  const multiple = input.multiple ?? 16;
  const planar = planarNet(net, k, { inputLayout: 'nchw', outputLayout: 'nchw', fixedBatch: null });
  const plan: InputPlan = {
    scale: recipe.scale,
    size: opts.size,
    pad: opts.pad ?? false,
    tile: recipe.tile,
    radius: input.radius ?? unetReceptiveRadius(Math.log2(multiple)),
    multiple,
    mean: recipe.mean,
    std: recipe.std,
  };
  return {
    source: file,
    engine: 'onnx',
    engineLine: '',
    classes: desc.classes.map((c) => ({ name: c.name, value: c.value, color: c.color })),
    recipe,
    multiple,
    net: finiteScores(planar, file),
    plan,
    scores: 'logits',
    defaultForbidden: [],
    batch: opts.batch ?? 4,
    inflight: net.sessions + 1,
    refineCheck: refineCheckOf(
      parseJsonMeta<{ model?: { info?: Record<string, unknown> } }>(summary.metadata[META.classes], file, META.classes).model?.info ?? {},
      `${file} (metadata ${META.classes})`,
    ),
    dispose: () => void net.close(),
  };
}

function layoutOfInput(shape: (number | string)[]): Layout | null {
  if (shape[1] === 3 && shape[3] !== 3) return 'nchw';
  if (shape[3] === 3 && shape[1] !== 3) return 'nhwc';
  return null;
}

/** Whether every pixel's scores look like a probability distribution (in [0,1], summing to 1). */
export function looksLikeProbabilities(scores: Float32Array, k: number, pixels: number, n: number): boolean {
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < pixels; p++) {
      let s = 0;
      for (let c = 0; c < k; c++) {
        const v = scores[(b * k + c) * pixels + p];
        if (!(v >= -1e-6 && v <= 1 + 1e-6)) return false;
        s += v;
      }
      if (Math.abs(s - 1) > 1e-3) return false;
    }
  }
  return true;
}

async function foreignPredictor(file: string, net: OnnxNet, opts: OnnxOpenOptions): Promise<Predictor> {
  const log = opts.log ?? (() => undefined);
  const channels = opts.channels;
  if (!channels) {
    throw new GapsegError(
      `${file}: not a gapseg model (no gapseg metadata); name its output channels with --channel-file <codes.txt|gapseg.json> or --channels`,
    );
  }
  const { inShape, outShape } = checkTensorIo(net, file);
  const k = channels.length;
  const inputLayout = opts.layout ?? layoutOfInput(inShape) ?? 'nchw';
  const [hDim, wDim] = inputLayout === 'nchw' ? [inShape[2], inShape[3]] : [inShape[1], inShape[2]];
  const chDim = inputLayout === 'nchw' ? inShape[1] : inShape[3];
  if (typeof chDim === 'number' && chDim !== 3)
    throw new GapsegError(
      `${file}: input has ${chDim} channels in ${inputLayout.toUpperCase()} layout; RGB (3) is expected (is --layout right?)`,
    );
  let size = opts.size;
  if (typeof hDim === 'number' && typeof wDim === 'number') {
    if (size && (size[0] !== wDim || size[1] !== hDim))
      throw new GapsegError(`${file}: the model's input is fixed at ${wDim}x${hDim}; --size ${size[0]}x${size[1]} does not match`);
    size = [wDim, hDim];
  }
  const fixedBatch = typeof inShape[0] === 'number' ? inShape[0] : null;
  const mean = opts.mean ?? IMAGENET_MEAN;
  const std = opts.std ?? IMAGENET_STD;

  // One probe run on a seeded noise image tells the output layout, size and kind of scores.
  const [pw, ph] = size ?? [3 * FOREIGN_MULTIPLE, 2 * FOREIGN_MULTIPLE];
  const pn = fixedBatch ?? 1;
  const rng = makeRng(12345);
  const probe = Float32Array.from({ length: pn * 3 * pw * ph }, () => rng.next() * 4 - 2);
  const dims = inputLayout === 'nchw' ? [pn, 3, ph, pw] : [pn, ph, pw, 3];
  const y = await net.run(inputLayout === 'nhwc' ? nchwToNhwc(probe, pn, 3, ph, pw) : probe, dims);
  if (y.dims.length !== 4)
    throw new GapsegError(
      `${file}: output "${net.outputs[0].name}" has shape [${y.dims}]; per-class scores [batch, classes, h, w] or [batch, h, w, classes] are expected`,
    );
  let outputLayout: Layout | undefined = opts.layout;
  if (!outputLayout) {
    const c1 = y.dims[1] === k;
    const c3 = y.dims[3] === k;
    if (c1 && !c3) outputLayout = 'nchw';
    else if (c3 && !c1) outputLayout = 'nhwc';
    else if (c1 && c3) outputLayout = inputLayout;
  }
  const outK = outputLayout === 'nhwc' ? y.dims[3] : y.dims[1];
  if (!outputLayout || outK !== k) {
    throw new GapsegError(
      `${file}: output shape [${y.dims}] (declared [${outShape}]) has no axis of ${k} channels, but the class file names ${k}: ${channels.map((c) => c.name).join(', ')}`,
    );
  }
  // Notes only once the model is known to fit, so that an error stays the one line printed.
  if (!opts.mean || !opts.std)
    log(
      `${file}: input normalised with ${opts.mean ? 'the given mean' : 'ImageNet mean'} and ${opts.std ? 'the given std' : 'ImageNet std'}; set --mean/--std to match the model's training`,
    );
  const planar = planarNet(net, k, { inputLayout, outputLayout, fixedBatch });
  const [oh, ow] = outputLayout === 'nhwc' ? [y.dims[1], y.dims[2]] : [y.dims[2], y.dims[3]];
  const probeScores = outputLayout === 'nhwc' ? nhwcToNchw(y.data, pn, k, oh, ow) : y.data;
  const scores = opts.scores ?? (looksLikeProbabilities(probeScores, k, oh * ow, pn) ? 'probabilities' : 'logits');
  if (!opts.scores)
    log(`${file}: output read as ${outputLayout.toUpperCase()} ${scores} (${k} channels: ${channels.map((c) => c.name).join(', ')})`);
  // An output smaller than its input is upsampled to the image; a user should know how coarse it is.
  if (oh !== ph || ow !== pw)
    log(
      `note: ${file}: its output is ${ow}x${oh} for an input of ${pw}x${ph}${oh === 1 && ow === 1 ? ' (one score per image: every pixel gets the same class)' : ''}; the scores are upsampled to the image`,
    );

  const tile = opts.tile ?? 512;
  const plan: InputPlan = { scale: 1, size, pad: opts.pad ?? false, tile, radius: Infinity, multiple: FOREIGN_MULTIPLE, mean, std };
  return {
    source: file,
    engine: 'onnx',
    engineLine: '',
    classes: channels.map((c) => ({ name: c.name, value: c.value, color: c.color })),
    recipe: { scale: 1, mean, std, tile },
    multiple: FOREIGN_MULTIPLE,
    net: finiteScores(planar, file),
    plan,
    scores,
    defaultForbidden: channels.flatMap((c, i) => (c.isVoid ? [i] : [])),
    batch: fixedBatch ?? opts.batch ?? 4,
    inflight: net.sessions + 1,
    dispose: () => void net.close(),
  };
}
