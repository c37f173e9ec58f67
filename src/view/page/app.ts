/**
 * The viewer page (runs in the browser; compiled by the project's tsc, served from dist/).
 * It lists the folder's images with per-image metrics, draws one image with toggleable
 * layers (label, void, prediction, frontier, probability) under zoom and pan, and predicts
 * with the model in the page (TensorFlow.js layers model), with forbidden classes and a
 * threshold that re-decide classes and move the frontier without running the model again,
 * and flip averaging and the dense CRF, which start as the model's refinement check chose.
 * On the images of a data set it paints labels (a brush per class, an eraser back to void,
 * undo and redo) and saves them through the server as the set's label files.
 */
import { VOID, classLayer, classLayerRect, decideClasses, focusProbability, heatLayer, imageMetrics, share, unsureLayer, unsurePixels, voidLayer, voidLayerRect, type Decision, type ImageMetrics, type Rect, type Rgb } from '../../draw/layers.js';
import { LabelHistory, type StrokeBuilder } from './paint.js';
import { classOutline, pathData, type Polyline } from '../../draw/contour.js';
import { frontierLines } from '../../draw/frontierLayer.js';
import { netModel, predictImage } from '../../predict/pipeline.js';
import { imageGeometry } from '../../predict/plan.js';
import { DEFAULT_DENSE_CRF, refineDenseCrf } from '../../crf/denseCrf.js';
import { flipAveraged } from '../../predict/flips.js';
import { recipePlan } from '../../predict/plan.js';

// --- TensorFlow.js, loaded as classic scripts before this module (global `tf`) ---
interface TfTensor {
  data(): Promise<Float32Array>;
  dispose(): void;
}
interface TfLayersModel {
  predict(x: TfTensor): TfTensor;
}
interface TfGlobal {
  tensor4d(values: Float32Array, shape: [number, number, number, number]): TfTensor;
  transpose(x: TfTensor, perm: number[]): TfTensor;
  loadLayersModel(url: string): Promise<TfLayersModel>;
  setBackend(name: string): Promise<boolean>;
  getBackend(): string;
  ready(): Promise<void>;
  wasm?: { setWasmPaths(prefix: string): void };
}
declare const tf: TfGlobal;

// --- What the server says (/api/catalog) ---
interface ClassInfo {
  name: string;
  value: number;
  color: Rgb;
}
interface Item {
  id: number;
  name: string;
  group: string;
  image: string;
  label: string | null;
  truth: string | null;
  pred: string | null;
  /** The label file's version when the image can be painted (a data set's), else null. */
  labelVersion: string | null;
}
interface CatalogJson {
  title: string;
  classes: ClassInfo[] | null;
  voidValues: number[];
  model: { url: string; version: number; source: string; recipe: { scale: number; mean: number[]; std: number[]; tile: number }; multiple: number; radius: number; info: Record<string, unknown>; refineCheck: { refine: boolean; flips?: boolean } | null; refineLine: string | null } | null;
  reports: string[];
  items: Item[];
  notes: string[];
  maxUploadBytes: number;
  writeToken: string;
  canAddImages: boolean;
  training: { available: boolean; reason?: string };
}

/** The server's training (GET /api/train). */
interface TrainingStatus {
  state: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  round: number;
  run: string | null;
  epochs: number;
  history: { epoch: number; trainLoss: number; valid: { meanIoU: number; pixelAccuracy: number } | null }[];
  elapsed: number;
  eta: number | null;
  lines: string[];
}

/** An item's painted label, kept in the page until saved (switching images loses nothing). */
interface Edit {
  labels: Uint8Array;
  history: LabelHistory;
  /** The label file's version the strokes apply to. */
  version: string;
}

/** One image on screen: its pixels, masks and (when predicted in the page) probabilities. */
interface View {
  key: string;
  name: string;
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  labels: Uint8Array | null;
  truth: Uint8Array | null;
  /** Predicted classes read from a predictions folder (no probabilities). */
  filePred: Uint8Array | null;
  /** The probabilities shown: the network's, or their dense-CRF refinement while "refine" is on. */
  probs: Float32Array | null;
  /** The network's own probabilities. */
  netProbs: Float32Array | null;
  pred: Uint8Array | null;
}

interface Row {
  item: Item;
  metrics: ImageMetrics | null;
  /** Share of the image's pixels where the model is unsure (null without a model). */
  unsure: number | null;
  error: string | null;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const state = {
  catalog: null as CatalogJson | null,
  k: 0,
  colors: [] as Rgb[],
  model: null as TfLayersModel | null,
  backend: '',
  rows: [] as Row[],
  sortKey: 'name' as keyof ImageMetrics | 'name' | 'group' | 'unsure',
  sortDir: 1,
  current: null as View | null,
  currentItem: null as Item | null,
  forbidden: new Set<number>(),
  threshold: 0.5,
  focus: 0,
  thresholdTouched: false,
  zoom: { s: 1, x: 0, y: 0 },
  metricsRun: 0,
  reflipRun: 0,
  lastLines: [] as Polyline[],
  /** 'pan', or the class painted (VOID: the eraser). */
  tool: 'pan' as 'pan' | number,
  brush: 16,
  edits: new Map<number, Edit>(),
  stroke: null as { builder: StrokeBuilder; x: number; y: number } | null,
  /** Milliseconds from a pointer move to the frame that shows its stroke (the last 500). */
  paintLatency: [] as number[],
};

function setStatus(s: string): void {
  document.body.dataset.status = s;
}

async function fetchJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await errorText(r)}`);
  return (await r.json()) as T;
}

async function errorText(r: Response): Promise<string> {
  try {
    return ((await r.json()) as { error?: string }).error ?? r.statusText;
  } catch {
    return r.statusText;
  }
}

// --- Decoding ---
async function bitmapPixels(source: Blob): Promise<{ width: number; height: number; rgba: Uint8ClampedArray }> {
  // No colour management: masks must keep their exact values, images their file values.
  const bmp = await createImageBitmap(source, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const g = c.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D;
  g.drawImage(bmp, 0, 0);
  bmp.close();
  return { width: c.width, height: c.height, rgba: g.getImageData(0, 0, c.width, c.height).data };
}

async function fetchPixels(url: string) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await errorText(r)}`);
  return bitmapPixels(await r.blob());
}

/** Class indices (255 = void) from a server class-index PNG, and the label file's version when the server gives it. */
async function fetchMask(url: string, w: number, h: number): Promise<{ classes: Uint8Array; version: string | null }> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await errorText(r)}`);
  const px = await bitmapPixels(await r.blob());
  if (px.width !== w || px.height !== h) throw new Error(`${url}: mask is ${px.width}x${px.height}, image is ${w}x${h}`);
  const out = new Uint8Array(w * h);
  for (let i = 0; i < out.length; i++) out[i] = px.rgba[i * 4];
  return { classes: out, version: r.headers.get('X-Label-Version') };
}

async function fetchClasses(url: string, w: number, h: number): Promise<Uint8Array> {
  return (await fetchMask(url, w, h)).classes;
}

// --- Prediction in the page ---
async function initModel(c: CatalogJson): Promise<void> {
  if (!c.model) return;
  if (typeof tf === 'undefined') throw new Error('TensorFlow.js did not load');
  let backend = 'cpu';
  try {
    tf.wasm?.setWasmPaths('/app/vendor/');
    if (await tf.setBackend('wasm')) backend = 'wasm';
  } catch {
    backend = 'cpu';
  }
  if (backend === 'cpu') await tf.setBackend('cpu');
  await tf.ready();
  state.backend = tf.getBackend();
  state.model = await tf.loadLayersModel(`${c.model.url}model.json?v=${c.model.version}`);
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
async function predictProbs(rgba: Uint8ClampedArray, width: number, height: number): Promise<Float32Array> {
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
 * over every class and forbids afterwards; the command forbids first (README).
 */
function shownProbs(v: View): Float32Array | null {
  if (!v.netProbs || !$<HTMLInputElement>('refine').checked) return v.netProbs;
  const c = state.catalog as CatalogJson;
  const m = c.model as NonNullable<CatalogJson['model']>;
  const geo = imageGeometry(v.width, v.height, recipePlan(m.recipe, m.multiple, m.radius));
  return refineDenseCrf({ width: v.width, height: v.height, rgb: rgbOf(v.rgba, v.width * v.height), probs: v.netProbs, numClasses: state.k }, [...Array(state.k).keys()], DEFAULT_DENSE_CRF, v.width / geo.nw);
}

/**
 * Set the flip-average and refine switches as `gapseg predict --refine auto` would use them with
 * this model (its stored refinement check), so that the page shows the frontier that command
 * writes; without a check both start off, as the command's default.
 */
function applyRefineCheck(c: CatalogJson): void {
  const check = c.model?.refineCheck ?? null;
  $<HTMLInputElement>('flips').checked = check?.flips === true;
  $<HTMLInputElement>('refine').checked = check?.refine === true;
  const note = $('refine-check');
  note.textContent = check ? 'as --refine auto' : '';
  note.title = c.model?.refineLine ?? '';
}

/** What the page's predictions are, for the metrics line. */
function predictionKind(): string {
  const parts = [state.backend];
  if ($<HTMLInputElement>('flips').checked) parts.push('flip-averaged');
  if ($<HTMLInputElement>('refine').checked) parts.push('refined');
  return parts.join(', ');
}

function decision(): Decision {
  const allowed = [...Array(state.k).keys()].map((c) => !state.forbidden.has(c));
  const binary = state.k === 2;
  return { allowed, threshold: binary || state.thresholdTouched ? state.threshold : null, focus: state.focus };
}

function decide(v: View): void {
  if (v.probs) v.pred = decideClasses(v.probs, v.width * v.height, state.k, decision());
  else v.pred = v.filePred;
}

// --- Drawing ---
function canvas(id: string): HTMLCanvasElement {
  return $<HTMLCanvasElement>(id);
}

function put(id: string, w: number, h: number, data: Uint8ClampedArray | null): void {
  const c = canvas(id);
  c.width = w;
  c.height = h;
  if (!data) return;
  (c.getContext('2d') as CanvasRenderingContext2D).putImageData(new ImageData(new Uint8ClampedArray(data), w, h), 0, 0);
}

function layerVisible(id: string, on: boolean, has: boolean): void {
  const el = $(id);
  el.style.display = on && has ? 'block' : 'none';
}

function refreshVisibility(): void {
  const v = state.current;
  const op = $<HTMLInputElement>('opacity').valueAsNumber;
  layerVisible('layer-label', $<HTMLInputElement>('show-label').checked, !!v?.labels);
  layerVisible('layer-void', $<HTMLInputElement>('show-void').checked, !!v?.labels);
  layerVisible('layer-pred', $<HTMLInputElement>('show-pred').checked, !!v?.pred);
  layerVisible('layer-heat', $<HTMLInputElement>('show-heat').checked, !!v?.probs);
  layerVisible('layer-unsure', $<HTMLInputElement>('show-unsure').checked, !!v?.probs);
  layerVisible('layer-frontier', $<HTMLInputElement>('show-frontier').checked, !!v?.pred);
  for (const id of ['layer-label', 'layer-pred', 'layer-heat', 'layer-unsure']) $(id).style.opacity = String(op);
  // While painting, the hatching steps back so that the image under the gap stays visible.
  $('layer-void').style.opacity = String(state.tool !== 'pan' ? op * 0.5 : Math.min(1, op + 0.35));
}

/** Redraw what depends on the decision (prediction layer and frontier). */
function drawPrediction(): void {
  const v = state.current;
  if (!v) return;
  decide(v);
  put('layer-pred', v.width, v.height, v.pred ? classLayer(v.pred, state.colors) : null);
  put('layer-heat', v.width, v.height, v.probs ? heatLayer(focusProbability(v.probs, v.width * v.height, state.k, decision())) : null);
  put('layer-unsure', v.width, v.height, v.probs ? unsureLayer(unsurePixels(v.probs, v.width * v.height, state.k, decision().allowed)) : null);
  let lines: Polyline[] = [];
  if (v.probs && v.pred) lines = frontierLines({ probs: v.probs, width: v.width, height: v.height, numClasses: state.k, classes: v.pred }, decision());
  else if (v.pred) lines = classOutline(v.pred, v.width, v.height);
  state.lastLines = lines;
  const d = pathData(lines);
  $('frontier-path').setAttribute('d', d);
  $('frontier-shadow').setAttribute('d', d);
  refreshVisibility();
  showCurrentMetrics();
  setStatus('shown');
  document.body.dataset.shown = v.key;
}

function draw(v: View): void {
  put('layer-image', v.width, v.height, v.rgba);
  put('layer-label', v.width, v.height, v.labels ? classLayer(v.labels, state.colors) : null);
  put('layer-void', v.width, v.height, v.labels ? voidLayer(v.labels, v.width) : null);
  const svg = $('layer-frontier');
  svg.setAttribute('viewBox', `0 0 ${v.width} ${v.height}`);
  svg.setAttribute('width', String(v.width));
  svg.setAttribute('height', String(v.height));
  $('empty').style.display = 'none';
  $('pixel').textContent = '';
  drawPrediction();
}

function showCurrentMetrics(): void {
  const v = state.current;
  const el = $('current');
  if (!v) return;
  const parts = [`<strong>${esc(v.name)}</strong> ${v.width}×${v.height}`];
  if (v.labels && v.pred) {
    const m = imageMetrics(v.labels, v.pred, state.k, v.truth ?? undefined);
    parts.push(`accuracy ${pct(m.accuracy)} on ${m.labelled.toLocaleString('en')} labelled px`, `mIoU ${fix(m.meanIoU)}`);
    if (m.gapAccuracy !== null) parts.push(`in the gap ${pct(m.gapAccuracy)}`);
  }
  if (v.pred) {
    const counts = new Array(state.k).fill(0);
    for (const c of v.pred) counts[c]++;
    parts.push(`predicted: ${counts.map((n, c) => `${esc(state.catalog?.classes?.[c]?.name ?? String(c))} ${pct(n / v.pred!.length, 1)}`).join(', ')}`);
  } else if (!state.model) parts.push('<span class="muted">no model and no prediction file</span>');
  el.innerHTML = parts.join(' · ');
}

// --- Zoom and pan ---
function applyZoom(): void {
  const z = state.zoom;
  const stage = $('stage');
  stage.style.transform = `translate(${z.x}px, ${z.y}px) scale(${z.s})`;
  stage.classList.toggle('pixelated', z.s > 1);
  // The stage is scaled by CSS, which non-scaling-stroke ignores: keep the line 2 screen pixels wide.
  $('frontier-path').style.strokeWidth = String(2 / z.s);
  $('frontier-shadow').style.strokeWidth = String(4.5 / z.s);
  $('zoom-value').textContent = `${Math.round(z.s * 100)}%`;
}

function zoomFit(): void {
  const v = state.current;
  if (!v) return;
  const vp = $('viewport').getBoundingClientRect();
  const s = Math.min(vp.width / v.width, vp.height / v.height) * 0.98;
  state.zoom = { s, x: (vp.width - v.width * s) / 2, y: (vp.height - v.height * s) / 2 };
  applyZoom();
}

function zoomAt(factor: number, cx: number, cy: number): void {
  const z = state.zoom;
  const s = Math.min(64, Math.max(0.02, z.s * factor));
  z.x = cx - ((cx - z.x) * s) / z.s;
  z.y = cy - ((cy - z.y) * s) / z.s;
  z.s = s;
  applyZoom();
}

function setupZoom(): void {
  const vp = $('viewport');
  vp.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      const r = vp.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    },
    { passive: false },
  );
  let drag: { x: number; y: number } | null = null;
  vp.addEventListener('pointerdown', (e) => {
    vp.setPointerCapture(e.pointerId);
    // The left button paints with a brush selected; any other button (or the pan tool) pans.
    if (e.button === 0 && beginStroke(e)) return;
    drag = { x: e.clientX - state.zoom.x, y: e.clientY - state.zoom.y };
    vp.classList.add('dragging');
  });
  vp.addEventListener('pointerup', () => {
    if (state.stroke) endStroke();
    drag = null;
    vp.classList.remove('dragging');
  });
  vp.addEventListener('pointermove', (e) => {
    if (state.stroke) {
      continueStroke(e);
      showPixel(e);
      return;
    }
    if (drag) {
      state.zoom.x = e.clientX - drag.x;
      state.zoom.y = e.clientY - drag.y;
      applyZoom();
    }
    showPixel(e);
  });
  vp.addEventListener('dblclick', zoomFit);
  $('zoom-fit').onclick = zoomFit;
  $('zoom-1').onclick = () => {
    const r = vp.getBoundingClientRect();
    zoomAt(1 / state.zoom.s, r.width / 2, r.height / 2);
  };
  $('zoom-in').onclick = () => zoomAt(1.5, vp.clientWidth / 2, vp.clientHeight / 2);
  $('zoom-out').onclick = () => zoomAt(1 / 1.5, vp.clientWidth / 2, vp.clientHeight / 2);
  new ResizeObserver(() => state.current && zoomFit()).observe(vp);
}

// --- Painting labels ---
/** A pointer event's position in image pixels (fractional). */
function imagePoint(e: PointerEvent): { x: number; y: number } {
  const r = $('viewport').getBoundingClientRect();
  return { x: (e.clientX - r.left - state.zoom.x) / state.zoom.s, y: (e.clientY - r.top - state.zoom.y) / state.zoom.s };
}

/** The current image's edit, made on its first stroke; null where it cannot be painted. */
function currentEdit(create: boolean): Edit | null {
  const it = state.currentItem;
  const v = state.current;
  if (!it || !v || !v.labels || it.labelVersion === null || v.key !== `item-${it.id}`) return null;
  let e = state.edits.get(it.id);
  if (!e && create) {
    e = { labels: v.labels, history: new LabelHistory(v.labels, v.width, v.height), version: it.labelVersion };
    state.edits.set(it.id, e);
  }
  return e ?? null;
}

/** Redraw the label and void layers inside a rectangle only (a full redraw of a 12-megapixel image takes far longer than a pointer move). */
function redrawLabels(r: Rect | null): void {
  const v = state.current;
  if (!r || !v || !v.labels) return;
  const g = (id: string) => canvas(id).getContext('2d') as CanvasRenderingContext2D;
  g('layer-label').putImageData(new ImageData(classLayerRect(v.labels, v.width, r, state.colors), r.w, r.h), r.x, r.y);
  g('layer-void').putImageData(new ImageData(voidLayerRect(v.labels, v.width, r), r.w, r.h), r.x, r.y);
}

function unionRect(a: Rect | null, b: Rect | null): Rect | null {
  if (!a || !b) return a ?? b;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

function beginStroke(e: PointerEvent): boolean {
  if (state.tool === 'pan') return false;
  const edit = currentEdit(true);
  if (!edit) return false;
  const builder = edit.history.begin(state.tool);
  const p = imagePoint(e);
  state.stroke = { builder, x: p.x, y: p.y };
  $<HTMLInputElement>('show-label').checked = true;
  refreshVisibility();
  redrawLabels(builder.segment(p.x, p.y, p.x, p.y, state.brush / 2));
  return true;
}

function continueStroke(e: PointerEvent): void {
  const st = state.stroke!;
  let dirty: Rect | null = null;
  // Every intermediate position the browser saw since the last event, so fast strokes stay continuous.
  const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
  for (const ev of events.length ? events : [e]) {
    const p = imagePoint(ev);
    dirty = unionRect(dirty, st.builder.segment(st.x, st.y, p.x, p.y, state.brush / 2));
    st.x = p.x;
    st.y = p.y;
  }
  redrawLabels(dirty);
  const t = e.timeStamp;
  requestAnimationFrame(() => {
    state.paintLatency.push(performance.now() - t);
    if (state.paintLatency.length > 500) state.paintLatency.shift();
  });
}

function endStroke(): void {
  const edit = currentEdit(false);
  const st = state.stroke;
  state.stroke = null;
  if (edit && st) edit.history.push(st.builder.finish());
  updatePaintControls();
  showCurrentMetrics();
}

function undoRedo(redo: boolean): void {
  const edit = currentEdit(false);
  if (!edit || state.stroke) return;
  redrawLabels(redo ? edit.history.redo() : edit.history.undo());
  updatePaintControls();
  showCurrentMetrics();
}

function updatePaintControls(): void {
  const edit = currentEdit(false);
  const paintable = !!state.currentItem && state.currentItem.labelVersion !== null && !!state.current?.labels;
  $<HTMLButtonElement>('undo').disabled = !edit?.history.canUndo();
  $<HTMLButtonElement>('redo').disabled = !edit?.history.canRedo();
  $<HTMLButtonElement>('save').disabled = !edit?.history.dirty();
  for (const b of Array.from($('tools').querySelectorAll('button'))) {
    b.classList.toggle('active', b.dataset.tool === String(state.tool));
    if (b.dataset.tool !== 'pan') b.disabled = !paintable;
  }
  $('viewport').classList.toggle('painting', state.tool !== 'pan' && paintable);
  refreshVisibility();
  document.body.dataset.unsaved = String([...state.edits.values()].filter((e) => e.history.dirty()).length);
}

/** Save the current image's painted label through the server (PUT /api/labels/<id>). */
async function saveLabel(): Promise<void> {
  const it = state.currentItem;
  const v = state.current;
  const edit = currentEdit(false);
  const status = $('save-status');
  if (!it || !v || !edit) return;
  status.textContent = 'saving…';
  document.body.dataset.saved = 'saving';
  try {
    const r = await fetch(`/api/labels/${it.id}`, {
      method: 'PUT',
      body: edit.labels as Uint8Array<ArrayBuffer>,
      headers: {
        'Content-Type': 'application/octet-stream',
        'X-Gapseg-Token': (state.catalog as CatalogJson).writeToken,
        'X-Label-Width': String(v.width),
        'X-Label-Height': String(v.height),
        'If-Match': edit.version,
      },
    });
    if (!r.ok) throw new Error(await errorText(r));
    const j = (await r.json()) as { version: string; label: string; classFile: string | null };
    edit.version = j.version;
    it.labelVersion = j.version;
    it.label = `/api/classes/${it.id}/label`;
    edit.history.saved();
    status.textContent = `saved ${j.label}${j.classFile ? `; classes written to ${j.classFile}` : ''}`;
    document.body.dataset.saved = String(it.id);
  } catch (e) {
    status.innerHTML = `<span class="error">not saved: ${esc((e as Error).message)}</span>`;
    document.body.dataset.saved = 'error';
  }
  updatePaintControls();
}

function setupPaint(c: CatalogJson): void {
  const classes = c.classes ?? [];
  if (classes.length === 0 || !c.items.some((it) => it.labelVersion !== null)) return;
  $('paint').hidden = false;
  const tools: [string, string, string][] = [
    ['pan', 'pan', 'drag to pan (any tool: drag with the middle or right button)'],
    ...classes.map((cl, i): [string, string, string] => [String(i), `<span class="sw" style="background:rgb(${cl.color.join(',')})"></span>${esc(cl.name)}`, `paint "${esc(cl.name)}" (key ${i + 1})`]),
    [String(VOID), 'eraser', 'erase back to unlabelled (void) (key E)'],
  ];
  $('tools').innerHTML = tools.map(([t, text, title]) => `<button data-tool="${t}" title="${title}">${text}</button>`).join('');
  for (const b of Array.from($('tools').querySelectorAll('button'))) {
    b.addEventListener('click', () => {
      state.tool = b.dataset.tool === 'pan' ? 'pan' : Number(b.dataset.tool);
      updatePaintControls();
    });
  }
  const brush = $<HTMLInputElement>('brush');
  brush.addEventListener('input', () => {
    state.brush = brush.valueAsNumber;
    $('brush-value').textContent = String(state.brush);
  });
  $('undo').onclick = () => undoRedo(false);
  $('redo').onclick = () => undoRedo(true);
  $('save').onclick = () => void saveLabel();
  window.addEventListener('keydown', (e) => {
    if ((e.target as HTMLElement).tagName === 'INPUT' && (e.target as HTMLInputElement).type !== 'range') return;
    const mod = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    if (mod && key === 'z') undoRedo(e.shiftKey);
    else if (mod && key === 'y') undoRedo(true);
    else if (mod && key === 's') void saveLabel();
    else if (!mod && key === 'e') state.tool = VOID;
    else if (!mod && /^[1-9]$/.test(key) && Number(key) <= classes.length) state.tool = Number(key) - 1;
    else return;
    e.preventDefault();
    updatePaintControls();
  });
  window.addEventListener('beforeunload', (e) => {
    if ([...state.edits.values()].some((x) => x.history.dirty())) e.preventDefault();
  });
  updatePaintControls();
}

function showPixel(e: PointerEvent): void {
  const v = state.current;
  if (!v) return;
  const r = $('viewport').getBoundingClientRect();
  const x = Math.floor((e.clientX - r.left - state.zoom.x) / state.zoom.s);
  const y = Math.floor((e.clientY - r.top - state.zoom.y) / state.zoom.s);
  const el = $('pixel');
  if (x < 0 || y < 0 || x >= v.width || y >= v.height) {
    el.textContent = '';
    return;
  }
  const i = y * v.width + x;
  const name = (c: number) => (c === VOID ? 'void' : (state.catalog?.classes?.[c]?.name ?? String(c)));
  const parts = [`x ${x}, y ${y}`];
  if (v.labels) parts.push(`label ${name(v.labels[i])}`);
  if (v.pred) parts.push(`predicted ${name(v.pred[i])}`);
  if (v.probs) parts.push(`p(${name(state.focus)}) ${v.probs[i * state.k + state.focus].toFixed(3)}`);
  el.textContent = parts.join(' · ');
}

// --- Opening images ---
async function loadItem(it: Item): Promise<View> {
  const px = await fetchPixels(it.image);
  const v: View = { key: `item-${it.id}`, name: it.name, width: px.width, height: px.height, rgba: px.rgba, labels: null, truth: null, filePred: null, probs: null, netProbs: null, pred: null };
  const edit = state.edits.get(it.id);
  if (edit && edit.labels.length === px.width * px.height) v.labels = edit.labels;
  else if (it.label) {
    const m = await fetchMask(it.label, px.width, px.height);
    v.labels = m.classes;
    if (m.version) it.labelVersion = m.version;
  } else if (it.labelVersion !== null) v.labels = new Uint8Array(px.width * px.height).fill(VOID);
  if (it.truth) v.truth = await fetchClasses(it.truth, px.width, px.height);
  if (state.model) {
    v.netProbs = await predictProbs(px.rgba, px.width, px.height);
    v.probs = shownProbs(v);
  } else if (it.pred) v.filePred = await fetchClasses(it.pred, px.width, px.height);
  return v;
}

async function open(it: Item): Promise<void> {
  state.currentItem = it;
  setStatus('loading-image');
  renderTable();
  try {
    const v = await loadItem(it);
    if (state.currentItem !== it) return;
    const first = !state.current || state.current.width !== v.width || state.current.height !== v.height;
    state.current = v;
    draw(v);
    if (first) zoomFit();
    updatePaintControls();
    const row = state.rows.find((r) => r.item === it);
    if (row && v.probs) row.unsure = share(unsurePixels(v.probs, v.width * v.height, state.k, decision().allowed));
    if (row && v.labels && v.pred && it.label) row.metrics = imageMetrics(v.labels, v.pred, state.k, v.truth ?? undefined);
    if (row) renderTable();
  } catch (e) {
    $('current').innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
    setStatus('error');
  }
}

async function openFile(file: File): Promise<void> {
  const msg = $('drop-msg');
  const c = state.catalog as CatalogJson;
  if (!state.model) {
    msg.textContent = 'no model in this folder: start the viewer with --model <run-dir> to predict';
    return;
  }
  if (file.size > c.maxUploadBytes) {
    msg.textContent = `${file.name} is larger than the ${(c.maxUploadBytes / 1048576).toFixed(0)} MB limit`;
    return;
  }
  setStatus('predicting');
  msg.textContent = `predicting ${file.name}…`;
  try {
    let px;
    try {
      px = await bitmapPixels(file);
    } catch {
      // A format the browser cannot decode (TIFF...): the server decodes it, nothing is stored.
      const r = await fetch('/api/decode', { method: 'POST', body: file });
      if (!r.ok) throw new Error(`${file.name}: ${await errorText(r)}`);
      px = await bitmapPixels(await r.blob());
    }
    const t0 = performance.now();
    const netProbs = await predictProbs(px.rgba, px.width, px.height);
    const v: View = { key: `file-${file.name}`, name: file.name, width: px.width, height: px.height, rgba: px.rgba, labels: null, truth: null, filePred: null, probs: null, netProbs, pred: null };
    v.probs = shownProbs(v);
    const ms = performance.now() - t0;
    state.current = v;
    state.currentItem = null;
    renderTable();
    $<HTMLInputElement>('show-pred').checked = true;
    draw(v);
    zoomFit();
    msg.textContent = `${file.name}: predicted in ${ms.toFixed(0)} ms (${state.backend})`;
    document.body.dataset.predicted = file.name;
  } catch (e) {
    msg.innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
    setStatus('error');
  }
}

// --- Table of images and metrics ---
const pct = (x: number | null | undefined, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(d)}%`);
const fix = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(3));
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sortValue(r: Row): string | number {
  const k = state.sortKey;
  if (k === 'name') return r.item.name;
  if (k === 'group') return r.item.group;
  if (k === 'unsure') return r.unsure ?? NaN;
  const v = r.metrics?.[k];
  return typeof v === 'number' && !Number.isNaN(v) ? v : NaN;
}

function renderTable(): void {
  const filter = $<HTMLInputElement>('filter').value.trim().toLowerCase();
  const rows = state.rows.filter((r) => !filter || r.item.name.toLowerCase().includes(filter));
  rows.sort((a, b) => {
    const x = sortValue(a);
    const y = sortValue(b);
    // Rows without a value go last whatever the direction.
    const xn = typeof x === 'number' && Number.isNaN(x);
    const yn = typeof y === 'number' && Number.isNaN(y);
    if (xn || yn) return xn === yn ? a.item.id - b.item.id : xn ? 1 : -1;
    return (x < y ? -1 : x > y ? 1 : a.item.id - b.item.id) * state.sortDir;
  });
  const body = $('items').querySelector('tbody') as HTMLTableSectionElement;
  body.innerHTML = rows
    .map((r) => {
      const m = r.metrics;
      const cur = state.currentItem === r.item ? ' class="current"' : '';
      const bad = m && m.accuracy < 0.9 ? ' bad' : '';
      const cells = r.error
        ? `<td colspan="4" class="error" title="${esc(r.error)}">error</td>`
        : `<td class="num${bad}">${pct(m?.accuracy)}</td><td class="num">${fix(m?.meanIoU)}</td><td class="num">${pct(m?.gapAccuracy)}</td><td class="num">${pct(r.unsure)}</td>`;
      return `<tr data-id="${r.item.id}"${cur}><td>${esc(r.item.name)}</td><td class="muted">${esc(r.item.group)}</td>${cells}</tr>`;
    })
    .join('');
  for (const th of Array.from($('items').querySelectorAll('th'))) {
    th.classList.toggle('sorted-asc', th.dataset.key === state.sortKey && state.sortDir === 1);
    th.classList.toggle('sorted-desc', th.dataset.key === state.sortKey && state.sortDir === -1);
  }
}

/**
 * Predict (or read predictions of) the images in the background: metrics for the labelled
 * ones, and with a model the share of unsure pixels of every one (where to label next).
 */
async function computeMetrics(): Promise<void> {
  const run = ++state.metricsRun;
  const todo = state.rows.filter((r) => state.model || (r.item.label && r.item.pred));
  const el = $('metrics-status');
  if (todo.length === 0) {
    el.textContent = state.rows.some((r) => r.item.label) ? 'no model or predictions: no metrics' : 'no labels: no metrics';
    return;
  }
  const how = state.model ? `in-browser predictions (${predictionKind()})` : 'prediction files';
  let done = 0;
  for (const r of todo) {
    if (run !== state.metricsRun) return;
    el.textContent = `metrics: ${done}/${todo.length} images, ${how}…`;
    try {
      const v = await loadItem(r.item);
      decide(v);
      r.metrics = v.labels && v.pred && r.item.label ? imageMetrics(v.labels, v.pred, state.k, v.truth ?? undefined) : null;
      r.unsure = v.probs ? share(unsurePixels(v.probs, v.width * v.height, state.k, decision().allowed)) : null;
      r.error = null;
    } catch (e) {
      r.error = (e as Error).message;
    }
    done++;
    if (done % 4 === 0 || done === todo.length) renderTable();
  }
  const d = decision();
  const forb = [...state.forbidden].map((c) => state.catalog?.classes?.[c]?.name).join(', ');
  el.textContent = `metrics of ${todo.length} images from ${how}${state.model ? `, threshold ${d.threshold === null ? 'argmax' : d.threshold.toFixed(2)}${forb ? `, forbidden: ${forb}` : ''}` : ''}`;
  if (state.model) {
    const b = document.createElement('button');
    b.textContent = 'recompute';
    b.title = 'recompute with the current threshold, forbidden classes, flip averaging and refinement';
    b.onclick = () => void computeMetrics();
    el.append(' ', b);
  }
  document.body.dataset.metrics = 'done';
}

/** Predict the image on screen again after the flip-average switch moved (the network's output changes, not only the decision). */
async function reflip(): Promise<void> {
  const v = state.current;
  if (!v || !state.model) return;
  const flipped = $<HTMLInputElement>('flips').checked;
  // A later toggle wins, however long the earlier prediction takes (a flip-averaged one takes four times as long).
  const run = ++state.reflipRun;
  setStatus('predicting');
  try {
    const netProbs = await predictProbs(v.rgba, v.width, v.height);
    if (state.current !== v || run !== state.reflipRun) return;
    v.netProbs = netProbs;
    v.probs = shownProbs(v);
    drawPrediction();
    document.body.dataset.flipped = flipped ? v.key : '';
  } catch (e) {
    $('current').innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
    setStatus('error');
  }
}

// --- Controls ---
function setupControls(c: CatalogJson): void {
  for (const id of ['show-label', 'show-void', 'show-pred', 'show-frontier', 'show-heat', 'show-unsure', 'opacity']) $(id).addEventListener('input', refreshVisibility);
  const th = $<HTMLInputElement>('threshold');
  th.addEventListener('input', () => {
    state.threshold = th.valueAsNumber;
    state.thresholdTouched = true;
    $('threshold-value').textContent = state.threshold.toFixed(2);
    drawPrediction();
  });
  $('refine').addEventListener('change', () => {
    const v = state.current;
    if (!v) return;
    v.probs = shownProbs(v);
    drawPrediction();
    document.body.dataset.refined = $<HTMLInputElement>('refine').checked ? v.key : '';
  });
  $('flips').addEventListener('change', () => void reflip());
  const classes = c.classes ?? [];
  const focus = $<HTMLSelectElement>('focus');
  focus.innerHTML = classes.map((cl, i) => `<option value="${i}">${esc(cl.name)}</option>`).join('');
  focus.value = String(state.focus);
  focus.onchange = () => {
    state.focus = Number(focus.value);
    drawPrediction();
  };
  $('forbid').innerHTML = classes.map((cl, i) => `<label title="never predict ${esc(cl.name)}"><input type="checkbox" data-class="${i}"> forbid ${esc(cl.name)}</label>`).join('');
  for (const box of Array.from($('forbid').querySelectorAll('input'))) {
    box.addEventListener('change', () => {
      const i = Number(box.dataset.class);
      if (box.checked) state.forbidden.add(i);
      else state.forbidden.delete(i);
      if (state.forbidden.size === state.k) {
        state.forbidden.delete(i);
        box.checked = false;
        return;
      }
      drawPrediction();
    });
  }
  if (!c.model) $('decision').style.display = 'none';
  for (const h of Array.from($('items').querySelectorAll('th'))) {
    h.addEventListener('click', () => {
      const key = h.dataset.key as typeof state.sortKey;
      state.sortDir = state.sortKey === key ? -state.sortDir : 1;
      state.sortKey = key;
      renderTable();
    });
  }
  $('worst').onclick = () => {
    state.sortKey = 'accuracy';
    state.sortDir = 1;
    renderTable();
  };
  $('unsure-first').onclick = () => {
    state.sortKey = 'unsure';
    state.sortDir = -1;
    renderTable();
  };
  $('filter').addEventListener('input', renderTable);
  ($('items').querySelector('tbody') as HTMLElement).addEventListener('click', (e) => {
    const tr = (e.target as HTMLElement).closest('tr');
    const it = tr && state.rows.find((r) => r.item.id === Number(tr.dataset.id));
    if (it) void open(it.item);
  });
  const input = $<HTMLInputElement>('file-input');
  input.addEventListener('change', () => input.files?.[0] && void openFile(input.files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void openFile(f);
  });
  // Dropping anywhere must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) void openFile(f);
  });
}

function renderLegend(c: CatalogJson): void {
  const classes = (c.classes ?? []).map((cl) => `<span class="item"><span class="sw" style="background:rgb(${cl.color.join(',')})"></span>${esc(cl.name)}${cl.color.every((x) => x === 0) ? ' (untinted)' : ''}</span>`);
  classes.push('<span class="item"><span class="sw void"></span>void (unlabelled)</span>', '<span class="item"><span class="sw frontier"></span>frontier</span>');
  if (c.model) classes.push(`<span class="item"><span class="sw heat"></span>probability of the focus class, 0 → 1</span>`);
  $('legend').innerHTML = classes.join('');
}

// --- Training from the page ---
const writeHeaders = () => ({ 'Content-Type': 'application/json', 'X-Gapseg-Token': (state.catalog as CatalogJson).writeToken });
let trainPoll: number | null = null;
let seenRound = -1;

const seconds = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

function renderTraining(t: TrainingStatus): void {
  const running = t.state === 'running';
  $<HTMLButtonElement>('train-start').disabled = running;
  $('train-cancel').hidden = !running;
  const bar = $<HTMLProgressElement>('train-progress');
  bar.hidden = t.state === 'idle';
  bar.value = t.epochs ? t.history.length / t.epochs : 0;
  const last = t.history[t.history.length - 1];
  const parts: string[] = [];
  if (t.run) parts.push(`${t.run}: ${t.state === 'running' ? 'training' : t.state}`);
  if (t.epochs) parts.push(`epoch ${t.history.length}/${t.epochs}`);
  if (last) parts.push(`loss ${last.trainLoss.toFixed(4)}`);
  if (last?.valid) parts.push(`valid mIoU ${last.valid.meanIoU.toFixed(3)}`);
  if (running) parts.push(`${seconds(t.elapsed)}${t.eta !== null ? `, about ${seconds(t.eta)} left` : ''}`);
  const tail = t.lines[t.lines.length - 1];
  const unsaved = [...state.edits.values()].filter((e) => e.history.dirty()).length;
  $('train-status').textContent = parts.join(' · ') + (tail && t.state !== 'done' ? `\n${tail}` : '') + (unsaved ? `\n${unsaved} image(s) have unsaved strokes: training reads the saved labels` : '');
  document.body.dataset.training = t.state;
}

/** Follow the server's training; when a round has written its model, predict with it. */
async function pollTraining(): Promise<void> {
  const t = await fetchJson<TrainingStatus>('/api/train');
  renderTraining(t);
  if (t.state === 'running') {
    trainPoll ??= window.setInterval(() => void pollTraining(), 1000);
    return;
  }
  if (trainPoll !== null) {
    window.clearInterval(trainPoll);
    trainPoll = null;
  }
  if (t.state === 'done' && t.round !== seenRound && seenRound !== -1) await useNewModel(t);
  seenRound = t.round;
}

async function useNewModel(t: TrainingStatus): Promise<void> {
  const c = await fetchJson<CatalogJson>('/api/catalog');
  const cat = state.catalog as CatalogJson;
  cat.model = c.model;
  await initModel(cat);
  applyRefineCheck(cat);
  $('model-info').textContent = `model ${c.model?.source} (trained from the page) · predicting in the page on ${state.backend}`;
  $('decision').style.display = '';
  if (state.currentItem) await open(state.currentItem);
  document.body.dataset.trained = String(t.round);
  void computeMetrics();
}

/** Upload images into the data set (POST /api/images); they join the list unlabelled. */
async function addImages(files: File[]): Promise<void> {
  const c = state.catalog as CatalogJson;
  const status = $('train-status');
  const problems: string[] = [];
  let added = 0;
  for (const f of files) {
    if (f.size > c.maxUploadBytes) {
      problems.push(`${f.name} is larger than the ${(c.maxUploadBytes / 1048576).toFixed(0)} MB limit`);
      continue;
    }
    const r = await fetch('/api/images', { method: 'POST', body: f, headers: { 'X-Gapseg-Token': c.writeToken, 'X-File-Name': encodeURIComponent(f.name) } });
    if (r.ok) added++;
    else problems.push(`${f.name}: ${await errorText(r)}`);
  }
  const fresh = await fetchJson<CatalogJson>('/api/catalog');
  const known = new Set(state.rows.map((r) => r.item.id));
  for (const item of fresh.items) if (!known.has(item.id)) state.rows.push({ item, metrics: null, unsure: null, error: null });
  c.items = fresh.items;
  renderTable();
  status.innerHTML = [`${added} image(s) added`, ...problems.map((p) => `<span class="error">${esc(p)}</span>`)].join('<br>');
  document.body.dataset.added = String(added);
}

function setupTraining(c: CatalogJson): void {
  if (c.canAddImages) {
    $('add').hidden = false;
    $('train').hidden = false;
    const input = $<HTMLInputElement>('add-input');
    input.addEventListener('change', () => input.files && void addImages(Array.from(input.files)));
    const zone = $('train');
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      e.stopPropagation();
    });
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      e.stopPropagation();
      if (e.dataTransfer?.files.length) void addImages(Array.from(e.dataTransfer.files));
    });
  }
  if (!c.training.available) {
    $('train-row').hidden = true;
    return;
  }
  $('train').hidden = false;
  $('train-start').onclick = async () => {
    const epochs = $<HTMLInputElement>('train-epochs').valueAsNumber;
    const r = await fetch('/api/train', { method: 'POST', headers: writeHeaders(), body: JSON.stringify({ epochs }) });
    if (!r.ok) {
      $('train-status').innerHTML = `<span class="error">${esc(await errorText(r))}</span>`;
      return;
    }
    seenRound = Math.max(seenRound, 0);
    await pollTraining();
  };
  $('train-cancel').onclick = async () => {
    await fetch('/api/train/cancel', { method: 'POST', headers: writeHeaders(), body: '{}' });
    await pollTraining();
  };
  // A training started before this page was opened (or reloaded) is picked up where it is.
  void pollTraining().then(() => {
    if (seenRound === -1) seenRound = 0;
  });
}

async function main(): Promise<void> {
  const c = await fetchJson<CatalogJson>('/api/catalog');
  state.catalog = c;
  state.k = c.classes?.length ?? 0;
  state.colors = (c.classes ?? []).map((cl) => cl.color);
  state.focus = Math.max(0, state.k - 1);
  document.title = `gapseg view: ${c.title}`;
  $('title').textContent = c.title;
  $('notes').innerHTML = c.notes.map((n) => `<div>${esc(n)}</div>`).join('');
  $('links').innerHTML = c.reports.map((r) => `<a href="${r}" target="_blank">training report</a>`).join(' ');
  state.rows = c.items.map((item) => ({ item, metrics: null, unsure: null, error: null }));
  setupControls(c);
  setupZoom();
  setupPaint(c);
  setupTraining(c);
  renderLegend(c);
  renderTable();
  if (c.model) {
    $('model-info').textContent = `model ${c.model.source} · loading…`;
    try {
      await initModel(c);
      applyRefineCheck(c);
      const epoch = c.model.info.epoch;
      $('model-info').textContent = `model ${c.model.source}${epoch ? ` (epoch ${epoch})` : ''} · predicting in the page on ${state.backend}`;
    } catch (e) {
      $('model-info').innerHTML = `<span class="error">model failed to load: ${esc((e as Error).message)}</span>`;
      state.model = null;
    }
  } else $('model-info').textContent = 'no model: showing labels and prediction files only';
  if (!state.model) $('decision').style.display = 'none';
  setStatus('ready');
  const first = state.rows[0]?.item;
  if (first) await open(first);
  void computeMetrics();
}

// For tests and the console: the current prediction, summarised.
(window as unknown as Record<string, unknown>).gapseg = {
  state,
  /** Pointer move to frame shown while painting, in ms: median and 95th percentile of the last moves. */
  paintLatency() {
    const xs = [...state.paintLatency].sort((a, b) => a - b);
    return xs.length ? { moves: xs.length, median: xs[Math.floor(xs.length / 2)], p95: xs[Math.floor(xs.length * 0.95)] } : null;
  },
  lastPrediction() {
    const v = state.current;
    if (!v || !v.pred) return null;
    const counts = new Array(256).fill(0);
    for (const c of v.pred) counts[c]++;
    let probSum = 0;
    if (v.probs) for (const p of v.probs) probSum += p * p;
    return { name: v.name, probSum, width: v.width, height: v.height, numClasses: state.k, counts: counts.slice(0, state.k), voidCount: counts[VOID], other: v.pred.length - counts.slice(0, state.k).reduce((a: number, b: number) => a + b, 0), frontierLines: state.lastLines.length, classes: Array.from(v.pred) };
  },
};

main().catch((e: unknown) => {
  $('notes').innerHTML = `<div class="error">${esc((e as Error).message)}</div>`;
  setStatus('error');
});
