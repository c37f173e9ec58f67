/**
 * Opening an image: one of the list (shown with its label, truth and prediction) or a file
 * dropped or picked (predicted in the page, decoded by the server where the browser cannot).
 */
import { imageMetrics, share, unsurePixels } from '../../draw/layers.js';
import type { CatalogJson, ItemJson } from '../wire.js';
import { errorText } from './api.js';
import { bitmapPixels } from './decode.js';
import { $, esc, setStatus } from './dom.js';
import { draw } from './draw.js';
import { loadItem } from './itemView.js';
import { liveUpdate } from './live.js';
import { decision, predictProbs, shownProbs } from './model.js';
import { updatePaintControls } from './painting.js';
import type { PageState, View } from './state.js';
import { renderTable } from './table.js';
import { zoomFit } from './zoom.js';

export async function open(state: PageState, it: ItemJson): Promise<void> {
  state.currentItem = it;
  setStatus('loading-image');
  renderTable(state);
  try {
    const v = await loadItem(state, it);
    if (state.currentItem !== it) return;
    const first = !state.current || state.current.width !== v.width || state.current.height !== v.height;
    state.current = v;
    draw(state, v);
    if (first) zoomFit(state);
    updatePaintControls(state);
    const row = state.rows.find((r) => r.item === it);
    if (row && v.probs) row.unsure = share(unsurePixels(v.probs, v.width * v.height, state.k, decision(state).allowed));
    if (row && v.labels && v.pred && it.label) row.metrics = imageMetrics(v.labels, v.pred, state.k, v.truth ?? undefined);
    if (row) renderTable(state);
    liveUpdate(state, false);
  } catch (e) {
    $('current').innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
    setStatus('error');
  }
}

async function openFile(state: PageState, file: File): Promise<void> {
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
      const r = await fetch('/api/decode', {
        method: 'POST',
        body: file,
        headers: { 'X-Gapseg-Token': (state.catalog as CatalogJson).writeToken },
      });
      if (!r.ok) throw new Error(`${file.name}: ${await errorText(r)}`);
      px = await bitmapPixels(await r.blob());
    }
    const t0 = performance.now();
    const netProbs = await predictProbs(state, px.rgba, px.width, px.height);
    const v: View = {
      key: `file-${file.name}`,
      name: file.name,
      width: px.width,
      height: px.height,
      rgba: px.rgba,
      labels: null,
      truth: null,
      filePred: null,
      probs: null,
      netProbs,
      pred: null,
    };
    v.probs = shownProbs(state, v);
    const ms = performance.now() - t0;
    state.current = v;
    state.currentItem = null;
    renderTable(state);
    $<HTMLInputElement>('show-pred').checked = true;
    draw(state, v);
    zoomFit(state);
    msg.textContent = `${file.name}: predicted in ${ms.toFixed(0)} ms (${state.backend})`;
    document.body.dataset.predicted = file.name;
  } catch (e) {
    msg.innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
    setStatus('error');
  }
}

/** The file picker and dropping a file on the drop zone (or anywhere: dropping must not navigate away from the page). */
export function setupDrop(state: PageState): void {
  const input = $<HTMLInputElement>('file-input');
  input.addEventListener('change', () => input.files?.[0] && void openFile(state, input.files[0]));
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
    if (f) void openFile(state, f);
  });
  // Dropping anywhere must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) void openFile(state, f);
  });
}
