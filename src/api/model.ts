/**
 * Opening a model and using it: predict one image in memory, predict files to an output
 * folder, evaluate on a data set. The API behind `gapseg predict` and `gapseg eval`; the
 * engine (TensorFlow.js or ONNX Runtime) starts inside.
 */
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { checkWritableDir } from '../util/atomic.js';
import { classIndex, isVoidName, parseClassesFlag, readClassFile, type ClassDescription } from '../data/classes.js';
import { decodeImageBuffer, readImage, type DecodeLimits, type RgbImage } from '../data/decode.js';
import { modelDirOf, readModelMeta } from '../formats/modelFolder.js';
import { openPredictor, type EngineChoice } from '../predict/open.js';
import type { Predictor } from '../predict/model.js';
import type { OutputClass } from '../predict/outputs.js';
import { labelValues } from '../predict/outputs.js';
import { predictImage, predictModel } from '../predict/pipeline.js';
import type { DenseCrfParams, RefineOption } from '../crf/denseCrf.js';
import { describeAuto, flipsSetting, refineSettings, withFlips, type RefineCheck } from '../predict/refineCheck.js';
import { allowedClasses } from '../predict/forbid.js';
import { frontierPolygons, uncertaintyMask, type ClassPolygons } from '../predict/frontier.js';
import { predictStream, type StreamResult } from '../predict/stream.js';
import { expandInputs } from '../predict/inputs.js';
import { parseShard, selectShard } from '../predict/shard.js';
import { channelsFromFlag, readChannelFile, type ChannelClass } from '../predict/foreign.js';
import type { InputOptions } from '../predict/onnxPredictor.js';
import { DEFAULT_BF_TOLERANCE, DEFAULT_BIOU_DILATION } from '../metrics/boundary.js';
import { evaluateDataset, type EvalResult } from '../evaluate/evalRun.js';
import { progressCallbacks, type ProgressEvent } from './progress.js';

/** How to open a model; the foreign-model options are for ONNX files trained elsewhere. */
export interface OpenModelOptions extends InputOptions {
  /** 'auto' (default): ONNX Runtime for .onnx files and folders with a current model.onnx, TensorFlow.js otherwise. */
  engine?: EngineChoice;
  threads?: number;
  /** Foreign models: every output channel in order, as "background,smoke,void" or "0=background,255=smoke,128=void". */
  classes?: string;
  /** Foreign models, with classes: the channels that are void. */
  void?: (string | number)[];
  /** Foreign models: a codes.txt or gapseg.json naming the output channels. */
  classFile?: string;
}

/** An image to predict: a file path, the bytes of an image file, or decoded RGB pixels. */
export type ImageInput = string | Uint8Array | RgbImage;

export interface PredictOptions {
  /** Class names or label values never to predict. */
  forbid?: (string | number)[];
  /** Compute the frontier polygons (default true). */
  frontier?: boolean;
  /** Also mark the pixels whose top probability is below this (0..1). */
  uncertainty?: number;
  /** Refinement: 'auto' (default) as the model's refinement check says, true or DenseCrfParams to refine with the dense CRF, false for the network alone; every output then comes from the result. */
  refine?: RefineOption;
  /** Average the network's scores over the four flips of each window (default: as refine 'auto' decides, else no). */
  flips?: boolean;
  maxPixels?: number;
}

/** One image's prediction, at the image's own size. */
export interface Prediction {
  width: number;
  height: number;
  /** What each class index means. */
  classes: readonly OutputClass[];
  /** Class index per pixel (argmax over the allowed classes: never a forbidden one, never void). */
  labelMap: Uint8Array;
  /** The data set's label value per pixel (what `gapseg predict` writes as labels/<name>.png). */
  labels: Uint8Array | Uint16Array;
  /** Class probabilities per pixel, interleaved [height, width, classes], over the allowed classes. */
  probabilities: Float32Array;
  /** Per allowed class, its regions as sub-pixel polygons with holes (pixel coordinates, y down). */
  frontier: ClassPolygons[];
  /** With `uncertainty`: 255 where the top probability is below it, 0 elsewhere. */
  uncertain?: Uint8Array;
}

export interface PredictFilesOptions {
  /** The output folder (labels/, overlays/, probs/, frontier/...). */
  out: string;
  forbid?: (string | number)[];
  /** Foreign models: let void-named channels be predicted. */
  allowVoid?: boolean;
  /** Classes with probability PNGs (default: the second class of a two-class model). */
  probClasses?: (string | number)[];
  probBits?: 8 | 16;
  /** Also write all class probabilities as .npy (float32 [H, W, K]). */
  npy?: boolean;
  /** Write the frontier as SVG and GeoJSON polygons. */
  frontier?: boolean;
  uncertainty?: number;
  /** Refinement as in predict: 'auto' (default), true or CRF settings, false. */
  refine?: RefineOption;
  /** Average the network's scores over the four flips of each window (default: as refine 'auto' decides, else no). */
  flips?: boolean;
  /** Skip images whose outputs are complete. */
  resume?: boolean;
  /** Only shard i of n ("i/n"), split by image name. */
  shard?: string;
  /** Stop at the first unreadable image instead of skipping it. */
  strict?: boolean;
  maxPixels?: number;
  onProgress?: (e: ProgressEvent) => void;
  log?: (line: string) => void;
}

export interface EvaluateOptions {
  /** 'auto' (test split if present, else all), 'all', 'train', 'valid' or 'test'. */
  split?: 'auto' | 'all' | 'train' | 'valid' | 'test';
  /** Folder of full masks (gap-free), paired by name. */
  truth?: string;
  /** Erode labels by this many pixels and use the full masks as truth. */
  makeGap?: number;
  /** With makeGap: how uneven, 0 (default) to 1, as `train --gap-uneven` makes them. */
  gapUneven?: number;
  forbid?: (string | number)[];
  /** Refinement as in predict: 'auto' (default), true or CRF settings, false. */
  refine?: RefineOption;
  /** Average the network's scores over the four flips of each window (default: as refine 'auto' decides, else no). */
  flips?: boolean;
  /** The data set's classes, when they differ from the model's description. */
  classes?: string;
  void?: (string | number)[];
  classFile?: string;
  /** BF tolerance and Boundary IoU band, as shares of the image diagonal. */
  bfTolerance?: number;
  biouBand?: number;
  maxPixels?: number;
  onProgress?: (e: ProgressEvent) => void;
}

/** An open model. Close it when done (it holds tensors or ONNX Runtime sessions). */
export interface Model {
  /** What was opened. */
  source: string;
  engine: 'tfjs' | 'onnx';
  /** One line naming the compute path. */
  engineLine: string;
  /** One entry per output channel. */
  classes: readonly OutputClass[];
  /** Channels forbidden unless asked (void channels of foreign models). */
  defaultForbidden: readonly number[];
  /** What training's refinement check found on the validation images (refine: 'auto' follows it); none for foreign models. */
  refineCheck?: RefineCheck;
  /** Predict one image in memory. */
  predict(image: ImageInput, options?: PredictOptions): Promise<Prediction>;
  /** Predict image files (folders expanded) into an output folder, as `gapseg predict` does. */
  predictFiles(inputs: string[], options: PredictFilesOptions): Promise<StreamResult>;
  /** Metrics on a data set over labelled pixels (and in the gap, with a full truth), as `gapseg eval` reports them. */
  evaluate(dataset: string, options?: EvaluateOptions): Promise<EvalResult>;
  close(): void;
}

/** Class indices for names or label values. */
export function classIndices(names: readonly (string | number)[], classes: readonly OutputClass[]): number[] {
  return names.map((n) => {
    const text = String(n);
    const byName = classes.findIndex((c) => c.name === text);
    if (byName >= 0) return byName;
    if (/^\d+$/.test(text)) {
      const byValue = classes.findIndex((c) => c.value === Number(text));
      if (byValue >= 0) return byValue;
    }
    return classIndex({ classes: classes.map((c) => ({ ...c, color: [0, 0, 0] })), voidValues: [] }, text);
  });
}

/** The forbidden class indices: void-named names a gapseg model has no channel for are noted, not refused. */
function forbiddenOf(names: readonly (string | number)[], classes: readonly OutputClass[], log: (line: string) => void): number[] {
  const kept = names.filter((n) => {
    const known = classes.some((c) => c.name === String(n) || String(c.value) === String(n));
    if (!known && isVoidName(String(n))) {
      log(`note: "${n}" has no output channel in this model (void is never a class in gapseg models); nothing to forbid`);
      return false;
    }
    return true;
  });
  return [...new Set(classIndices(kept, classes))];
}

function limitsOf(maxPixels: number | undefined): DecodeLimits | undefined {
  if (maxPixels === undefined) return undefined;
  if (!(Number.isInteger(maxPixels) && maxPixels >= 1)) throw new GapsegError('--max-pixels must be at least 1', 2);
  return { maxPixels };
}

function checkShare(v: number | undefined, flag: string): void {
  if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) throw new GapsegError(`--${flag} must be between 0 and 1, got ${v}`, 2);
}

/** The output channels of a foreign ONNX model named by the options, if any. */
function channelsOf(o: OpenModelOptions): ChannelClass[] | undefined {
  if (o.classes !== undefined && o.classFile !== undefined) throw new GapsegError('give either --classes or --class-file, not both', 2);
  if (o.classes !== undefined) return channelsFromFlag(o.classes, (o.void ?? []).map(String));
  if ((o.void ?? []).length > 0) throw new GapsegError('--void goes with --classes', 2);
  return o.classFile !== undefined ? readChannelFile(o.classFile) : undefined;
}

function checkOpenOptions(o: OpenModelOptions): void {
  // ONNX Runtime takes more threads than TensorFlow.js's pool of 8.
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1 && o.threads <= 64)) throw new GapsegError('--threads must be between 1 and 64', 2);
  if (o.engine !== undefined && !['auto', 'onnx', 'tfjs'].includes(o.engine)) throw new GapsegError(`--engine must be auto, onnx or tfjs, not "${o.engine}"`, 2);
  if (o.device !== undefined && o.device !== 'cpu' && o.device !== 'cuda') throw new GapsegError(`--device must be cpu or cuda, not "${o.device}"`, 2);
  if (o.layout !== undefined && o.layout !== 'nchw' && o.layout !== 'nhwc') throw new GapsegError(`--layout must be nchw or nhwc, not "${o.layout}"`, 2);
  if (o.scores !== undefined && o.scores !== 'logits' && o.scores !== 'probabilities') throw new GapsegError(`--scores must be logits or probabilities, not "${o.scores}"`, 2);
  for (const [name, v] of [['mean', o.mean], ['std', o.std]] as const) {
    if (v === undefined) continue;
    if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new GapsegError(`--${name} expects three numbers r,g,b, got "${v.join(',')}"`, 2);
    if (name === 'std' && v.some((x) => x <= 0)) throw new GapsegError('--std values must be positive', 2);
  }
  if (o.size !== undefined && !(o.size.length === 2 && o.size.every((x) => Number.isInteger(x) && x >= 1))) throw new GapsegError(`--size expects WxH or N (e.g. 480x360), got "${o.size.join('x')}"`, 2);
  if (o.batch !== undefined && !(Number.isInteger(o.batch) && o.batch >= 1 && o.batch <= 64)) throw new GapsegError('--batch must be between 1 and 64', 2);
  if (o.tile !== undefined && !(Number.isInteger(o.tile) && o.tile >= 16)) throw new GapsegError('--tile must be at least 16', 2);
}

async function decodeInput(image: ImageInput, limits: DecodeLimits | undefined): Promise<RgbImage> {
  if (typeof image === 'string') return readImage(image, limits);
  if (image instanceof Uint8Array) return decodeImageBuffer(image, 'image buffer', limits);
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || !(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new GapsegError(`decoded image: expected ${width}x${height}x3 RGB bytes, got ${data?.length ?? 0} bytes`);
  }
  return image;
}

/** The predictor and dense CRF settings for the refine and flips options, saying which way 'auto' went and why. */
function refined(o: { refine?: RefineOption; flips?: boolean }, p: Predictor, log: (line: string) => void): { p: Predictor; crf: DenseCrfParams | null } {
  if (o.flips !== undefined && typeof o.flips !== 'boolean') throw new GapsegError(`flips must be true or false, not ${JSON.stringify(o.flips)}`, 2);
  const refine = o.refine ?? 'auto';
  const crf = refineSettings(refine, p);
  if (refine === 'auto') log(describeAuto(p));
  return { p: withFlips(p, flipsSetting(refine, p, o.flips)), crf };
}

function modelOf(p: Predictor, source: string, log: (line: string) => void): Model {
  const k = p.classes.length;
  return {
    source: p.source,
    engine: p.engine,
    engineLine: p.engineLine,
    classes: p.classes,
    defaultForbidden: p.defaultForbidden,
    ...(p.refineCheck ? { refineCheck: p.refineCheck } : {}),
    async predict(image, o = {}) {
      checkShare(o.uncertainty, 'uncertainty');
      const img = await decodeInput(image, limitsOf(o.maxPixels));
      const allowed = allowedClasses(k, [...new Set([...p.defaultForbidden, ...forbiddenOf(o.forbid ?? [], p.classes, log)])]);
      const r = refined(o, p, () => undefined);
      const pred = await predictImage(img, predictModel(r.p), allowed, r.crf);
      const frontier = o.frontier === false ? [] : frontierPolygons(pred.probs, pred.width, pred.height, k, pred.classes, allowed);
      return {
        width: pred.width,
        height: pred.height,
        classes: p.classes,
        labelMap: pred.classes,
        labels: labelValues(pred.classes, p.classes),
        probabilities: pred.probs,
        frontier,
        ...(o.uncertainty !== undefined ? { uncertain: uncertaintyMask(pred.probs, k, pred.classes, o.uncertainty) } : {}),
      };
    },
    async predictFiles(inputs, o) {
      const flog = o.log ?? log;
      if (!o.out) throw new GapsegError('--out <dir> is required (the output folder)', 2);
      checkShare(o.uncertainty, 'uncertainty');
      if (o.probBits !== undefined && o.probBits !== 8 && o.probBits !== 16) throw new GapsegError('--prob-bits must be 8 or 16', 2);
      const limits = limitsOf(o.maxPixels);
      const outDir = path.resolve(o.out);
      checkWritableDir(outDir);
      let files = expandInputs(inputs);
      if (o.shard !== undefined) {
        const shard = parseShard(o.shard);
        const all = files.length;
        files = selectShard(files, shard);
        flog(`shard ${shard.index}/${shard.count}: ${files.length} of ${all} image(s)`);
      }
      const forbidden = [...new Set([...(o.allowVoid ? [] : p.defaultForbidden), ...forbiddenOf(o.forbid ?? [], p.classes, flog)])];
      if (p.defaultForbidden.length > 0 && !o.allowVoid) flog(`forbidden by default (void): ${p.defaultForbidden.map((i) => p.classes[i].name).join(', ')}`);
      const r = refined(o, p, flog);
      return predictStream(files, r.p, {
        outDir,
        forbidden,
        probClasses: o.probClasses?.length ? classIndices(o.probClasses, p.classes) : undefined,
        probBits: o.probBits,
        npy: o.npy,
        frontier: o.frontier,
        uncertainty: o.uncertainty,
        refine: r.crf,
        resume: o.resume,
        strict: o.strict,
        limits,
        progress: progressCallbacks(o.onProgress),
        log: flog,
      });
    },
    async evaluate(dataset, o = {}) {
      const split = o.split ?? 'auto';
      if (!['auto', 'all', 'train', 'valid', 'test'].includes(split)) throw new GapsegError(`--split must be auto, all, train, valid or test, not "${split}"`, 2);
      checkShare(o.bfTolerance, 'bf-tolerance');
      checkShare(o.biouBand, 'biou-band');
      checkShare(o.gapUneven, 'gap-uneven');
      if (o.makeGap !== undefined && !(Number.isInteger(o.makeGap) && o.makeGap >= 0)) throw new GapsegError(`--make-gap must be a non-negative integer, got ${o.makeGap}`, 2);
      const r = refined(o, p, log);
      return evaluateDataset(r.p, path.resolve(dataset), {
        split,
        truthDir: o.truth,
        makeGap: o.makeGap ?? 0,
        gapUneven: o.gapUneven ?? 0,
        forbidden: forbiddenOf(o.forbid ?? [], p.classes, log),
        refine: r.crf,
        classes: datasetClasses(o, source),
        limits: limitsOf(o.maxPixels),
        progress: progressCallbacks(o.onProgress),
        log,
        frontier: { bfTolerance: o.bfTolerance ?? DEFAULT_BF_TOLERANCE, biouDilation: o.biouBand ?? DEFAULT_BIOU_DILATION },
      });
    },
    close: () => p.dispose(),
  };
}

/** The data set's class description for evaluation: given, else the model folder's own. */
function datasetClasses(o: EvaluateOptions, source: string): ClassDescription {
  if (o.classes !== undefined && o.classFile !== undefined) throw new GapsegError('give either --classes or --class-file, not both', 2);
  if (o.classes !== undefined) return parseClassesFlag(o.classes, (o.void ?? []).map(String));
  if ((o.void ?? []).length > 0) throw new GapsegError('--void goes with --classes; in a class file, name void values there', 2);
  if (o.classFile !== undefined) return readClassFile(o.classFile);
  return readModelMeta(modelDirOf(source)).classes;
}

/** Open a gapseg run or model folder, its ONNX export, or a foreign ONNX model (with its classes). */
export async function openModel(source: string, options: OpenModelOptions = {}): Promise<Model> {
  const log = options.log ?? (() => undefined);
  checkOpenOptions(options);
  const p = await openPredictor(source, {
    engine: options.engine,
    device: options.device,
    threads: options.threads,
    channels: channelsOf(options),
    layout: options.layout,
    scores: options.scores,
    mean: options.mean,
    std: options.std,
    size: options.size,
    pad: options.pad,
    tile: options.tile,
    batch: options.batch,
    log,
  });
  return modelOf(p, source, log);
}
