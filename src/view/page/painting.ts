/**
 * Painting labels in the page: the tools (a class, or the eraser, painted with a brush, a fill
 * of similar colours or a lasso), strokes under the pointer into the image's edit (paint.ts
 * keeps its history), undo and redo, the controls' state, and saving the label through the server.
 */
import { VOID, labelColors, type Rect } from '../../draw/layers.js';
import type { CatalogJson, LabelSavedJson } from '../wire.js';
import { errorText } from './api.js';
import { $, esc } from './dom.js';
import { redrawLabels, refreshVisibility, showCurrentMetrics } from './draw.js';
import { liveUpdate } from './live.js';
import { LabelHistory } from './paint.js';
import { polygonInterior, similarRegion } from './regions.js';
import type { Edit, PageState } from './state.js';
import { imagePoint } from './zoom.js';

/** The current image's edit, made on its first stroke; null where it cannot be painted. */
function currentEdit(state: PageState, create: boolean): Edit | null {
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

function unionRect(a: Rect | null, b: Rect | null): Rect | null {
  if (!a || !b) return a ?? b;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

/** Begin a stroke where the pointer went down; false where nothing is painted (the pan tool, an image that cannot be painted). */
export function beginStroke(state: PageState, e: PointerEvent): boolean {
  if (state.tool === 'pan') return false;
  const edit = currentEdit(state, true);
  const v = state.current;
  if (!edit || !v) return false;
  const builder = edit.history.begin(state.tool);
  const p = imagePoint(state, e);
  $<HTMLInputElement>('show-label').checked = true;
  refreshVisibility(state);
  if (state.shape === 'fill') {
    const tolerance = $<HTMLInputElement>('fill-tolerance').valueAsNumber;
    redrawLabels(state, builder.pixels(similarRegion(v.rgba, v.width, v.height, Math.floor(p.x), Math.floor(p.y), tolerance)));
    state.stroke = { builder, x: p.x, y: p.y, lasso: null };
    endStroke(state);
    return true;
  }
  state.stroke = { builder, x: p.x, y: p.y, lasso: state.shape === 'lasso' ? [[p.x, p.y]] : null };
  if (!state.stroke.lasso) redrawLabels(state, builder.segment(p.x, p.y, p.x, p.y, state.brush / 2));
  return true;
}

export function continueStroke(state: PageState, e: PointerEvent): void {
  const st = state.stroke!;
  let dirty: Rect | null = null;
  // Every intermediate position the browser saw since the last event, so fast strokes stay continuous.
  const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
  for (const ev of events.length ? events : [e]) {
    const p = imagePoint(state, ev);
    if (st.lasso) st.lasso.push([p.x, p.y]);
    else dirty = unionRect(dirty, st.builder.segment(st.x, st.y, p.x, p.y, state.brush / 2));
    st.x = p.x;
    st.y = p.y;
  }
  if (st.lasso) $('lasso-path').setAttribute('d', `M${st.lasso.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L')}Z`);
  else redrawLabels(state, dirty);
  const t = e.timeStamp;
  requestAnimationFrame(() => {
    state.paintLatency.push(performance.now() - t);
    if (state.paintLatency.length > 500) state.paintLatency.shift();
  });
}

export function endStroke(state: PageState): void {
  const edit = currentEdit(state, false);
  const st = state.stroke;
  state.stroke = null;
  if (st?.lasso && state.current) {
    $('lasso-path').setAttribute('d', '');
    redrawLabels(state, st.builder.pixels(polygonInterior(st.lasso, state.current.width, state.current.height)));
  }
  const change = st?.builder.finish() ?? null;
  if (edit) edit.history.push(change);
  updatePaintControls(state);
  showCurrentMetrics(state);
  if (edit && change) liveUpdate(state, true);
}

function undoRedo(state: PageState, redo: boolean): void {
  const edit = currentEdit(state, false);
  if (!edit || state.stroke) return;
  redrawLabels(state, redo ? edit.history.redo() : edit.history.undo());
  updatePaintControls(state);
  showCurrentMetrics(state);
  liveUpdate(state, true);
}

export function updatePaintControls(state: PageState): void {
  const edit = currentEdit(state, false);
  const paintable = !!state.currentItem && state.currentItem.labelVersion !== null && !!state.current?.labels;
  $<HTMLButtonElement>('undo').disabled = !edit?.history.canUndo();
  $<HTMLButtonElement>('redo').disabled = !edit?.history.canRedo();
  $<HTMLButtonElement>('save').disabled = !edit?.history.dirty();
  for (const b of Array.from($('tools').querySelectorAll('button'))) {
    b.classList.toggle('active', b.dataset.tool === String(state.tool));
    if (b.dataset.tool !== 'pan') b.disabled = !paintable;
  }
  for (const b of Array.from($('shapes').querySelectorAll('button'))) b.classList.toggle('active', b.dataset.shape === state.shape);
  $('fill-wrap').hidden = state.shape !== 'fill';
  $('brush-wrap').hidden = state.shape !== 'brush';
  $('viewport').classList.toggle('painting', state.tool !== 'pan' && paintable);
  refreshVisibility(state);
  document.body.dataset.unsaved = String([...state.edits.values()].filter((e) => e.history.dirty()).length);
}

/** Save the current image's painted label through the server (PUT /api/labels/<id>). */
async function saveLabel(state: PageState): Promise<void> {
  const it = state.currentItem;
  const v = state.current;
  const edit = currentEdit(state, false);
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
    const j = (await r.json()) as LabelSavedJson;
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
  status.title = status.textContent ?? '';
  updatePaintControls(state);
}

export function setupPaint(state: PageState, c: CatalogJson): void {
  const classes = c.classes ?? [];
  if (classes.length === 0 || !c.items.some((it) => it.labelVersion !== null)) return;
  $('paint').hidden = false;
  const strokeColors = labelColors(classes.map((cl) => cl.color));
  const tools: [string, string, string][] = [
    ['pan', 'pan', 'drag to pan (any tool: drag with the middle or right button)'],
    ...classes.map((cl, i): [string, string, string] => [
      String(i),
      `<span class="sw" style="background:rgb(${strokeColors[i].join(',')})"></span>${esc(cl.name)}`,
      `paint "${esc(cl.name)}" (key ${i + 1})`,
    ]),
    [String(VOID), 'eraser', 'erase back to unlabelled (void) (key E)'],
  ];
  $('tools').innerHTML = tools.map(([t, text, title]) => `<button data-tool="${t}" title="${title}">${text}</button>`).join('');
  for (const b of Array.from($('tools').querySelectorAll('button'))) {
    b.addEventListener('click', () => {
      state.tool = b.dataset.tool === 'pan' ? 'pan' : Number(b.dataset.tool);
      updatePaintControls(state);
    });
  }
  for (const b of Array.from($('shapes').querySelectorAll('button'))) {
    b.addEventListener('click', () => {
      state.shape = b.dataset.shape as PageState['shape'];
      updatePaintControls(state);
    });
  }
  const brush = $<HTMLInputElement>('brush');
  brush.addEventListener('input', () => {
    state.brush = brush.valueAsNumber;
    $('brush-value').textContent = String(state.brush);
  });
  $('undo').onclick = () => undoRedo(state, false);
  $('redo').onclick = () => undoRedo(state, true);
  $('save').onclick = () => void saveLabel(state);
  window.addEventListener('keydown', (e) => {
    if ((e.target as HTMLElement).tagName === 'INPUT' && (e.target as HTMLInputElement).type !== 'range') return;
    const mod = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    if (mod && key === 'z') undoRedo(state, e.shiftKey);
    else if (mod && key === 'y') undoRedo(state, true);
    else if (mod && key === 's') void saveLabel(state);
    else if (!mod && key === 'e') state.tool = VOID;
    else if (!mod && key === 'b') state.shape = 'brush';
    else if (!mod && key === 'f') state.shape = 'fill';
    else if (!mod && key === 'l') state.shape = 'lasso';
    else if (!mod && /^[1-9]$/.test(key) && Number(key) <= classes.length) state.tool = Number(key) - 1;
    else return;
    e.preventDefault();
    updatePaintControls(state);
  });
  window.addEventListener('beforeunload', (e) => {
    if ([...state.edits.values()].some((x) => x.history.dirty())) e.preventDefault();
  });
  updatePaintControls(state);
}
