/**
 * Drawing the image on screen: its canvases (image, label, void, prediction, probability,
 * unsure), the frontier's SVG path, which layers show, and what the status bar and the legend
 * say about it.
 */
import {
  VOID,
  classLayer,
  classLayerRect,
  focusProbability,
  heatLayer,
  imageMetrics,
  isBlack,
  labelColors,
  unsureLayer,
  unsurePixels,
  voidLayer,
  voidLayerRect,
  type Rect,
} from '../../draw/layers.js';
import { classOutline, pathData, type Polyline } from '../../draw/contour.js';
import { frontierLines } from '../../draw/frontierLayer.js';
import type { CatalogJson } from '../wire.js';
import { $, esc, fix, pct, setStatus } from './dom.js';
import { decide, decision } from './model.js';
import type { PageState, View } from './state.js';
import { imagePoint } from './zoom.js';

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

export function refreshVisibility(state: PageState): void {
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
export function drawPrediction(state: PageState): void {
  const v = state.current;
  if (!v) return;
  decide(state, v);
  put('layer-pred', v.width, v.height, v.pred ? classLayer(v.pred, state.colors) : null);
  put('layer-heat', v.width, v.height, v.probs ? heatLayer(focusProbability(v.probs, v.width * v.height, state.k, decision(state))) : null);
  put(
    'layer-unsure',
    v.width,
    v.height,
    v.probs ? unsureLayer(unsurePixels(v.probs, v.width * v.height, state.k, decision(state).allowed)) : null,
  );
  let lines: Polyline[] = [];
  if (v.probs && v.pred)
    lines = frontierLines({ probs: v.probs, width: v.width, height: v.height, numClasses: state.k, classes: v.pred }, decision(state));
  else if (v.pred) lines = classOutline(v.pred, v.width, v.height);
  state.lastLines = lines;
  const d = pathData(lines);
  $('frontier-path').setAttribute('d', d);
  $('frontier-shadow').setAttribute('d', d);
  refreshVisibility(state);
  showCurrentMetrics(state);
  setStatus('shown');
  document.body.dataset.shown = v.key;
}

export function draw(state: PageState, v: View): void {
  put('layer-image', v.width, v.height, v.rgba);
  put('layer-label', v.width, v.height, v.labels ? classLayer(v.labels, labelColors(state.colors)) : null);
  put('layer-void', v.width, v.height, v.labels ? voidLayer(v.labels, v.width) : null);
  const svg = $('layer-frontier');
  svg.setAttribute('viewBox', `0 0 ${v.width} ${v.height}`);
  svg.setAttribute('width', String(v.width));
  svg.setAttribute('height', String(v.height));
  $('empty').style.display = 'none';
  $('pixel').textContent = '';
  drawPrediction(state);
}

/** Redraw the label and void layers inside a rectangle only (a full redraw of a 12-megapixel image takes far longer than a pointer move). */
export function redrawLabels(state: PageState, r: Rect | null): void {
  const v = state.current;
  if (!r || !v || !v.labels) return;
  const g = (id: string) => canvas(id).getContext('2d') as CanvasRenderingContext2D;
  g('layer-label').putImageData(new ImageData(classLayerRect(v.labels, v.width, r, labelColors(state.colors)), r.w, r.h), r.x, r.y);
  g('layer-void').putImageData(new ImageData(voidLayerRect(v.labels, v.width, r), r.w, r.h), r.x, r.y);
}

export function showCurrentMetrics(state: PageState): void {
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
    parts.push(
      `predicted: ${counts.map((n, c) => `${esc(state.catalog?.classes?.[c]?.name ?? String(c))} ${pct(n / v.pred!.length, 1)}`).join(', ')}`,
    );
  } else if (!state.model) parts.push('<span class="muted">no model and no prediction file</span>');
  el.innerHTML = parts.join(' · ');
}

/** The status bar's readout of the pixel under the pointer. */
export function showPixel(state: PageState, e: PointerEvent): void {
  const v = state.current;
  if (!v) return;
  const p = imagePoint(state, e);
  const x = Math.floor(p.x);
  const y = Math.floor(p.y);
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

export function renderLegend(c: CatalogJson): void {
  const strokes = labelColors((c.classes ?? []).map((cl) => cl.color));
  const classes = (c.classes ?? []).map((cl, i) =>
    isBlack(cl.color)
      ? `<span class="item"><span class="sw" style="background:rgb(${strokes[i].join(',')})"></span>${esc(cl.name)} (strokes white, predicted untinted)</span>`
      : `<span class="item"><span class="sw" style="background:rgb(${cl.color.join(',')})"></span>${esc(cl.name)}</span>`,
  );
  classes.push(
    '<span class="item"><span class="sw void"></span>void (unlabelled)</span>',
    '<span class="item"><span class="sw frontier"></span>frontier</span>',
  );
  if (c.model) classes.push(`<span class="item"><span class="sw heat"></span>probability of the focus class, 0 → 1</span>`);
  $('legend').innerHTML = classes.join('');
}
