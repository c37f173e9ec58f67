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
import { openPredictor, type EngineChoice, type PredictDevice } from '../predict/open.js';
export type { PredictDevice };
import { predictModel, type Predictor } from '../predict/model.js';
import type { OutputClass } from '../predict/outputs.js';
import { labelValues } from '../predict/outputs.js';
import { predictImage } from '../predict/pipeline.js';
import type { DenseCrfParams } from '../crf/denseCrf.js';
import { describeAuto, flipsSetting, refineSettings, withFlips, type RefineCheck } from '../predict/refineCheck.js';
import { allowedClasses } from '../predict/forbid.js';
import { frontierPolygons, uncertaintyMask, type ClassPolygons } from '../predict/frontier.js';
import { predictStream, removeOutputTemps, type StreamResult } from '../predict/stream.js';
import { expandInputs } from '../predict/inputs.js';
import { parseShard, selectShard } from '../predict/shard.js';
import { channelsFromFlag, readChannelFile, type ChannelClass } from '../predict/foreign.js';
import type { InputOptions } from '../predict/onnxPredictor.js';
import { DEFAULT_BF_TOLERANCE, DEFAULT_BIOU_DILATION } from '../metrics/boundary.js';
import { evaluateDataset, type EvalResult } from '../evaluate/evalRun.js';
import { checkValues, type CommandSchema, type OptionDef, type OptionValues } from '../options/schema.js';
import { EVALUATE_OPTIONS, OPEN_OPTIONS, PREDICT_FILES_OPTIONS, PREDICT_OPTIONS } from '../options/predict.js';
import type { ApiKeys, Same } from '../options/keys.js';
import { progressCallbacks, type ProgressEvent } from './progress.js';

/** How to open a model (`gapseg predict --help` lists the same options); the foreign-model options are for ONNX files trained elsewhere. */
export interface OpenModelOptions extends Omit<InputOptions, 'device'> {
  /** 'auto' (default): ONNX Runtime for .onnx files and folders with a current model.onnx, TensorFlow.js otherwise. */
  engine?: EngineChoice;
  /** 'cpu' (default); 'webgpu': TensorFlow.js on the GPU; 'auto': webgpu where a hardware adapter exists; 'cuda': ONNX Runtime's CUDA provider. */
  device?: PredictDevice;
  threads?: number;
  /** Foreign models: every output channel in order, as "background,smoke,void" or "0=background,255=smoke,128=void". */
  channels?: string;
  /** Foreign models, with channels: the channels that are void (a channel named void is). */
  voidChannels?: (string | number)[];
  /** Foreign models: a codes.txt or gapseg.json naming the output channels. */
  channelFile?: string;
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
  /** 'auto' (default): as the model's refinement check says; 'crf': refine with the dense CRF; 'none': the network alone. Every output comes from the result. */
  refine?: Refine;
  /** With refine 'crf': dense CRF settings over its defaults. */
  crf?: Partial<DenseCrfParams>;
  /** Average the network's scores over the four flips of each window (default: as refine 'auto' decides, else no). */
  flips?: boolean;
  maxPixels?: number;
}

/** How predictions are refined: as the model's check says, with the dense CRF, or not at all. */
export type Refine = 'auto' | 'crf' | 'none';

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
  /** Refinement as in predict: 'auto' (default), 'crf' or 'none'. */
  refine?: Refine;
  crf?: Partial<DenseCrfParams>;
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
  /** Refinement as in predict: 'auto' (default), 'crf' or 'none'. */
  refine?: Refine;
  crf?: Partial<DenseCrfParams>;
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

// Each options interface has its command's options (options/predict.ts), no more and no fewer.
const sameKeys: [
  Same<Exclude<keyof OpenModelOptions, 'log'>, ApiKeys<typeof OPEN_OPTIONS>>,
  Same<keyof PredictOptions, ApiKeys<typeof PREDICT_OPTIONS>>,
  Same<Exclude<keyof PredictFilesOptions, 'onProgress' | 'log'>, ApiKeys<typeof PREDICT_FILES_OPTIONS>>,
  Same<Exclude<keyof EvaluateOptions, 'onProgress'>, ApiKeys<typeof EVALUATE_OPTIONS>>,
] = [true, true, true, true];
void sameKeys;

/** Check a call's options as the command checks its flags. */
function check(name: string, options: readonly OptionDef[], values: object, extra: readonly string[] = []): void {
  const schema: CommandSchema = {
    name,
    summary: '',
    usage: '',
    description: '',
    positional: { min: 0, max: 0, names: '' },
    options,
    examples: [],
  };
  checkValues(schema, values as OptionValues, extra);
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
  return maxPixels === undefined ? undefined : { maxPixels };
}

/** The output channels of a foreign ONNX model named by the options, if any. */
function channelsOf(o: OpenModelOptions): ChannelClass[] | undefined {
  if (o.channels !== undefined && o.channelFile !== undefined)
    throw new GapsegError('give either --channels or --channel-file, not both', 2);
  if (o.channels !== undefined) return channelsFromFlag(o.channels, (o.voidChannels ?? []).map(String));
  if ((o.voidChannels ?? []).length > 0) throw new GapsegError('--void-channels goes with --channels', 2);
  return o.channelFile !== undefined ? readChannelFile(o.channelFile) : undefined;
}

async function decodeInput(image: ImageInput, limits: DecodeLimits | undefined): Promise<RgbImage> {
  if (typeof image === 'string') return readImage(image, limits);
  if (image instanceof Uint8Array) return decodeImageBuffer(image, 'image buffer', limits);
  const { width, height, data } = image;
  if (
    !(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) ||
    !(data instanceof Uint8Array) ||
    data.length !== width * height * 3
  ) {
    throw new GapsegError(`decoded image: expected ${width}x${height}x3 RGB bytes, got ${data?.length ?? 0} bytes`);
  }
  return image;
}

/** The predictor and dense CRF settings for the refine, crf and flips options, saying which way 'auto' went and why. */
function refined(
  o: { refine?: Refine; crf?: Partial<DenseCrfParams>; flips?: boolean },
  p: Predictor,
  log: (line: string) => void,
): { p: Predictor; crf: DenseCrfParams | null } {
  const refine = o.refine ?? 'auto';
  if (o.crf !== undefined && refine !== 'crf') throw new GapsegError('--crf goes with --refine crf', 2);
  const option = refine === 'crf' ? (o.crf ?? true) : refine === 'auto' ? 'auto' : false;
  const crf = refineSettings(option, p);
  if (refine === 'auto') log(describeAuto(p));
  return { p: withFlips(p, flipsSetting(option, p, o.flips)), crf };
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
      check('predict', PREDICT_OPTIONS, o);
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
      check('predictFiles', PREDICT_FILES_OPTIONS, o, ['onProgress', 'log']);
      if (!o.out) throw new GapsegError('--out <dir> is required (the output folder)', 2);
      const limits = limitsOf(o.maxPixels);
      const outDir = path.resolve(o.out);
      // What dead runs left is removed first: on a disk they filled, it is what frees room.
      await removeOutputTemps(outDir);
      checkWritableDir(outDir);
      let files = expandInputs(inputs);
      if (o.shard !== undefined) {
        const shard = parseShard(o.shard);
        const all = files.length;
        files = selectShard(files, shard);
        flog(`shard ${shard.index}/${shard.count}: ${files.length} of ${all} image(s)`);
      }
      const forbidden = [...new Set([...(o.allowVoid ? [] : p.defaultForbidden), ...forbiddenOf(o.forbid ?? [], p.classes, flog)])];
      if (p.defaultForbidden.length > 0 && !o.allowVoid)
        flog(`forbidden by default (void): ${p.defaultForbidden.map((i) => p.classes[i].name).join(', ')}`);
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
      check('evaluate', EVALUATE_OPTIONS, o, ['onProgress']);
      const split = o.split ?? 'auto';
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
  check('openModel', OPEN_OPTIONS, options, ['log']);
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
