/**
 * The table of images: per-image metrics and unsure shares computed in the background, the
 * filter, and sorting by any column (rows without a value last).
 */
import { imageMetrics, share, unsurePixels } from '../../draw/layers.js';
import type { ItemJson } from '../wire.js';
import { $, esc, fix, pct } from './dom.js';
import { loadItem } from './itemView.js';
import { decide, decision, predictionKind } from './model.js';
import type { PageState, Row, SortKey } from './state.js';

function sortValue(state: PageState, r: Row): string | number {
  const k = state.sortKey;
  if (k === 'name') return r.item.name;
  if (k === 'group') return r.item.group;
  if (k === 'unsure') return r.unsure ?? NaN;
  const v = r.metrics?.[k];
  return typeof v === 'number' && !Number.isNaN(v) ? v : NaN;
}

export function renderTable(state: PageState): void {
  const filter = $<HTMLInputElement>('filter').value.trim().toLowerCase();
  const rows = state.rows.filter((r) => !filter || r.item.name.toLowerCase().includes(filter));
  rows.sort((a, b) => {
    const x = sortValue(state, a);
    const y = sortValue(state, b);
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
export async function computeMetrics(state: PageState): Promise<void> {
  const run = ++state.metricsRun;
  const todo = state.rows.filter((r) => state.model || (r.item.label && r.item.pred));
  const el = $('metrics-status');
  if (todo.length === 0) {
    el.textContent = state.rows.some((r) => r.item.label) ? 'no model or predictions: no metrics' : 'no labels: no metrics';
    return;
  }
  const how = state.model ? `in-browser predictions (${predictionKind(state)})` : 'prediction files';
  let done = 0;
  for (const r of todo) {
    if (run !== state.metricsRun) return;
    el.textContent = `metrics: ${done}/${todo.length} images, ${how}…`;
    try {
      const v = await loadItem(state, r.item);
      decide(state, v);
      r.metrics = v.labels && v.pred && r.item.label ? imageMetrics(v.labels, v.pred, state.k, v.truth ?? undefined) : null;
      r.unsure = v.probs ? share(unsurePixels(v.probs, v.width * v.height, state.k, decision(state).allowed)) : null;
      r.error = null;
    } catch (e) {
      r.error = (e as Error).message;
    }
    done++;
    if (done % 4 === 0 || done === todo.length) renderTable(state);
  }
  const d = decision(state);
  const forb = [...state.forbidden].map((c) => state.catalog?.classes?.[c]?.name).join(', ');
  el.textContent = `metrics of ${todo.length} images from ${how}${state.model ? `, threshold ${d.threshold === null ? 'argmax' : d.threshold.toFixed(2)}${forb ? `, forbidden: ${forb}` : ''}` : ''}`;
  if (state.model) {
    const b = document.createElement('button');
    b.textContent = 'recompute';
    b.title = 'recompute with the current threshold, forbidden classes, flip averaging and refinement';
    b.onclick = () => void computeMetrics(state);
    el.append(' ', b);
  }
  document.body.dataset.metrics = 'done';
}

/** Sorting, the filter and the rows' clicks; `pick` opens the image of a row clicked. */
export function setupTable(state: PageState, pick: (it: ItemJson) => void): void {
  for (const h of Array.from($('items').querySelectorAll('th'))) {
    h.addEventListener('click', () => {
      const key = h.dataset.key as SortKey;
      state.sortDir = state.sortKey === key ? -state.sortDir : 1;
      state.sortKey = key;
      renderTable(state);
    });
  }
  $('worst').onclick = () => {
    state.sortKey = 'accuracy';
    state.sortDir = 1;
    renderTable(state);
  };
  $('unsure-first').onclick = () => {
    state.sortKey = 'unsure';
    state.sortDir = -1;
    renderTable(state);
  };
  $('filter').addEventListener('input', () => renderTable(state));
  ($('items').querySelector('tbody') as HTMLElement).addEventListener('click', (e) => {
    const tr = (e.target as HTMLElement).closest('tr');
    const it = tr && state.rows.find((r) => r.item.id === Number(tr.dataset.id));
    if (it) pick(it.item);
  });
}
