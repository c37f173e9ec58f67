/**
 * The viewer page's entry (loaded by index.html as a module): it builds the page's state, reads
 * the catalog, loads the model and wires the parts together: the table, the image and its
 * overlays under zoom and pan, the prediction controls, painting labels, training.
 */
import type { CatalogJson } from '../wire.js';
import { fetchJson } from './api.js';
import { setupControls } from './controls.js';
import { $, esc, setStatus } from './dom.js';
import { renderLegend, showPixel } from './draw.js';
import { applyRefineCheck, backendLine, initModel } from './model.js';
import { open, setupDrop } from './open.js';
import { beginStroke, continueStroke, endStroke, setupPaint } from './painting.js';
import { setupLive } from './live.js';
import { exposeProbe } from './probe.js';
import { createState } from './state.js';
import { computeMetrics, renderTable, setupTable } from './table.js';
import { setupTraining } from './training.js';
import { setupZoom } from './zoom.js';

async function main(): Promise<void> {
  const state = createState();
  exposeProbe(state);
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
  setupControls(state, c);
  setupTable(state, (it) => void open(state, it));
  setupDrop(state);
  setupZoom(state, {
    press: (e) => beginStroke(state, e),
    stroke: (e) => continueStroke(state, e),
    release: () => endStroke(state),
    hover: (e) => showPixel(state, e),
  });
  setupPaint(state, c);
  setupTraining(state, c);
  setupLive(state, c);
  renderLegend(c);
  renderTable(state);
  if (c.model) {
    $('model-info').textContent = `model ${c.model.source} · loading…`;
    try {
      await initModel(state, c);
      applyRefineCheck(c);
      const epoch = c.model.info.epoch;
      $('model-info').textContent = `model ${c.model.source}${epoch ? ` (epoch ${epoch})` : ''} · ${backendLine(state)}`;
    } catch (e) {
      $('model-info').innerHTML = `<span class="error">model failed to load: ${esc((e as Error).message)}</span>`;
      state.model = null;
    }
  } else $('model-info').textContent = 'no model: showing labels and prediction files only';
  if (!state.model) $('decision').style.display = 'none';
  setStatus('ready');
  const first = state.rows[0]?.item;
  if (first) await open(state, first);
  void computeMetrics(state);
}

main().catch((e: unknown) => {
  $('notes').innerHTML = `<div class="error">${esc((e as Error).message)}</div>`;
  setStatus('error');
});
