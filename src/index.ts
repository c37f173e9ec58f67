/**
 * gapseg's public API: train a segmentation model from labels with gaps, open a model (gapseg's
 * own, its ONNX export, or a foreign ONNX model), predict, evaluate, export and view. Void is
 * never a class: models have one output per real class, and forbidden classes are never
 * predicted. The compute engine starts inside; errors in the input are GapsegErrors with a
 * one-line message.
 */
export { train, type TrainOptions, type TrainResult } from './api/train.js';
export {
  openModel,
  type Model,
  type OpenModelOptions,
  type ImageInput,
  type PredictOptions,
  type Prediction,
  type PredictFilesOptions,
  type EvaluateOptions,
  type PredictDevice,
} from './api/model.js';
export { exportModel, type ExportOptions, type ExportResult } from './api/export.js';
export { view, type ViewOptions, type Viewer } from './api/view.js';
export { makeSample, type SampleOptions } from './api/sample.js';
export type { ProgressEvent } from './api/progress.js';
export { GapsegError } from './util/errors.js';
export { packageVersion as version } from './util/packageInfo.js';
export type { ClassDescription, ClassInfo, RGB } from './data/classes.js';
export type { RgbImage } from './data/decode.js';
export type { OutputClass } from './predict/outputs.js';
export type { ClassPolygons, Polygon, Ring, XY } from './predict/frontier.js';
export type { StreamResult as PredictFilesResult } from './predict/stream.js';
export type { EvalResult, ImageRow } from './evaluate/evalRun.js';
export type { EvalReport } from './metrics/evaluate.js';
export type { FrontierReport } from './metrics/frontierMetrics.js';
export type { EpochRecord, ValidReport } from './train/loop.js';
export type { RefineCheck } from './predict/refineCheck.js';
