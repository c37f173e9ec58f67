/**
 * Prediction in the page: the model loaded with TensorFlow.js, its class probabilities through
 * gapseg predict's own pipeline (flip-averaged, CRF-refined as the switches say), and the
 * decision (allowed classes, threshold, focus) that turns them into classes.
 */
import { decideClasses, type Decision } from '../../draw/layers.js';
import { netModel, predictImage } from '../../predict/pipeline.js';
import { imageGeometry } from '../../predict/plan.js';
import { DEFAULT_DENSE_CRF, refineDenseCrf } from '../../crf/denseCrf.js';
import { flipAveraged } from '../../predict/flips.js';
import { recipePlan } from '../../predict/plan.js';
import type { CatalogJson } from '../wire.js';
import { $ } from './dom.js';
import type { PageState, View } from './state.js';
import type { TfGlobal, TfLayersModel } from './tfjs.js';

// Loaded as classic scripts before the page's modules.
declare const tf: TfGlobal;

type GpuAdapter = { info?: { isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean };

/** Why the page does not predict on WebGPU here, or null where a hardware adapter is there. */
async function noGpu(): Promise<string | null> {
  const gpu = (navigator as { gpu?: { requestAdapter(o?: object): Promise<GpuAdapter | null> } }).gpu;
  if (!gpu) return 'this browser offers no WebGPU';
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return 'no WebGPU adapter';
    // A software adapter emulates the GPU on the CPU, slower than wasm.
    if (adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter) return 'the WebGPU adapter is software';
    return null;
  } catch (e) {
    return `WebGPU failed: ${(e as Error).message}`;
  }
}

/** Start a backend; false (and why, for the model line) where it does not start. */
async function tryBackend(state: PageState, name: string): Promise<boolean> {
  try {
    if (await tf.setBackend(name)) {
      await tf.ready();
      state.backend = tf.getBackend();
      return true;
    }
    state.backendWhy = `${name} did not start`;
  } catch (e) {
    state.backendWhy = `${name} failed: ${(e as Error).message}`;
  }
  return false;
}

/**
 * The backend the model runs on: the page address's ?backend= where given (webgpu, wasm or cpu;
 * an error where it does not start), else WebGPU on a hardware adapter, else wasm, else plain
 * JavaScript; and why not a better one.
 */
async function chooseBackend(state: PageState): Promise<void> {
  tf.wasm?.setWasmPaths('/app/vendor/');
  const asked = new URLSearchParams(location.search).get('backend');
  if (asked) {
    if (!(await tryBackend(state, asked))) throw new Error(`?backend=${asked}: ${state.backendWhy}`);
    state.backendWhy = '';
    return;
  }
  const why = await noGpu();
  state.backendWhy = why ?? '';
  if (!why && (await tryBackend(state, 'webgpu'))) return;
  if (await tryBackend(state, 'wasm')) return;
  await tryBackend(state, 'cpu');
}

export async function initModel(state: PageState, c: CatalogJson): Promise<void> {
  if (!c.model) return;
  if (typeof tf === 'undefined') throw new Error('TensorFlow.js did not load');
  if (!state.backend) await chooseBackend(state);
  state.model = await tf.loadLayersModel(`${c.model.url}model.json?v=${c.model.version}`);
}

/** Where the page predicts, and why not on the GPU where it does not (the model line says it). */
export function backendLine(state: PageState): string {
  return `predicting in the page on ${state.backend}${state.backend !== 'webgpu' && state.backendWhy ? ` (${state.backendWhy})` : ''}`;
}

/** The RGB bytes of n RGBA pixels (canvas data), as the pipeline and the CRF take them. */
function rgbOf(rgba: Uint8ClampedArray, n: number): Uint8Array {
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = rgba[i * 4];
    rgb[i * 3 + 1] = rgba[i * 4 + 1];
    rgb[i * 3 + 2] = rgba[i * 4 + 2];
  }
  return rgb;
}

/**
 * HWC class probabilities at the image's own size, through the same windows, blending and
 * resizing as gapseg predict (predict/pipeline.ts), flip-averaged while "flip-average" is on
 * (gapseg predict --flips); only the network runs here, in the page.
 */
export async function predictProbs(state: PageState, rgba: Uint8ClampedArray, width: number, height: number): Promise<Float32Array> {
  const c = state.catalog as CatalogJson;
  const m = c.model as NonNullable<CatalogJson['model']>;
  const model = state.model as TfLayersModel;
  const k = state.k;
  const rgb = rgbOf(rgba, width * height);
  // The layers model is NHWC; the pipeline hands planar NCHW windows and wants NCHW scores.
  const net = async (input: Float32Array, n: number, th: number, tw: number): Promise<Float32Array> => {
    const x = tf.tensor4d(input, [n, 3, th, tw]);
    const nhwc = tf.transpose(x, [0, 2, 3, 1]);
    const y = model.predict(nhwc);
    const nchw = tf.transpose(y, [0, 3, 1, 2]);
    try {
      return await nchw.data();
    } finally {
      for (const t of [x, nhwc, y, nchw]) t.dispose();
    }
  };
  const all = [...Array(k).keys()];
  const viewed = $<HTMLInputElement>('flips').checked ? flipAveraged(net, k) : net;
  const pred = await predictImage({ width, height, data: rgb }, netModel(viewed, recipePlan(m.recipe, m.multiple, m.radius), k, 1), all);
  return pred.probs;
}

/**
 * The probabilities to show: the network's, or while "refine" is on their refinement by the
 * dense CRF of gapseg predict --refine crf (same settings and kernel scale). The page refines
 * over every class and forbids afterwards; the command forbids first.
 */
export function shownProbs(state: PageState, v: View): Float32Array | null {
  if (!v.netProbs || !$<HTMLInputElement>('refine').checked) return v.netProbs;
  const c = state.catalog as CatalogJson;
  const m = c.model as NonNullable<CatalogJson['model']>;
  const geo = imageGeometry(v.width, v.height, recipePlan(m.recipe, m.multiple, m.radius));
  return refineDenseCrf(
    { width: v.width, height: v.height, rgb: rgbOf(v.rgba, v.width * v.height), probs: v.netProbs, numClasses: state.k },
    [...Array(state.k).keys()],
    DEFAULT_DENSE_CRF,
    v.width / geo.nw,
  );
}

/**
 * Set the flip-average and refine switches as `gapseg predict --refine auto` would use them with
 * this model (its stored refinement check), so that the page shows the frontier that command
 * writes; without a check both start off, as the command's default.
 */
export function applyRefineCheck(c: CatalogJson): void {
  const check = c.model?.refineCheck ?? null;
  $<HTMLInputElement>('flips').checked = check?.flips === true;
  $<HTMLInputElement>('refine').checked = check?.refine === true;
  const note = $('refine-check');
  note.textContent = check ? 'as --refine auto' : '';
  note.title = c.model?.refineLine ?? '';
}

/** What the page's predictions are, for the metrics line. */
export function predictionKind(state: PageState): string {
  const parts = [state.backend];
  if ($<HTMLInputElement>('flips').checked) parts.push('flip-averaged');
  if ($<HTMLInputElement>('refine').checked) parts.push('refined');
  return parts.join(', ');
}

export function decision(state: PageState): Decision {
  const allowed = [...Array(state.k).keys()].map((c) => !state.forbidden.has(c));
  const binary = state.k === 2;
  return { allowed, threshold: binary || state.thresholdTouched ? state.threshold : null, focus: state.focus };
}

export function decide(state: PageState, v: View): void {
  if (v.probs) v.pred = decideClasses(v.probs, v.width * v.height, state.k, decision(state));
  else v.pred = v.filePred;
}
