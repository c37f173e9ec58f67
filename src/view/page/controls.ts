/**
 * The toolbar's overlay and prediction controls: which layers show and how opaque, the
 * threshold, focus and forbidden classes (re-deciding without the network), and the refine and
 * flip-average switches (refining again, or predicting again).
 */
import type { CatalogJson } from '../wire.js';
import { $, esc, setStatus } from './dom.js';
import { drawPrediction, refreshVisibility } from './draw.js';
import { predictProbs, shownProbs } from './model.js';
import type { PageState } from './state.js';

/** Predict the image on screen again after the flip-average switch moved (the network's output changes, not only the decision). */
async function reflip(state: PageState): Promise<void> {
  const v = state.current;
  if (!v || !state.model) return;
  const flipped = $<HTMLInputElement>('flips').checked;
  // A later toggle wins, however long the earlier prediction takes (a flip-averaged one takes four times as long).
  const run = ++state.reflipRun;
  setStatus('predicting');
  try {
    const netProbs = await predictProbs(state, v.rgba, v.width, v.height);
    if (state.current !== v || run !== state.reflipRun) return;
    v.netProbs = netProbs;
    v.probs = shownProbs(state, v);
    drawPrediction(state);
    document.body.dataset.flipped = flipped ? v.key : '';
  } catch (e) {
    $('current').innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
    setStatus('error');
  }
}

export function setupControls(state: PageState, c: CatalogJson): void {
  for (const id of ['show-label', 'show-void', 'show-pred', 'show-frontier', 'show-heat', 'show-unsure', 'opacity'])
    $(id).addEventListener('input', () => refreshVisibility(state));
  const th = $<HTMLInputElement>('threshold');
  th.addEventListener('input', () => {
    state.threshold = th.valueAsNumber;
    state.thresholdTouched = true;
    $('threshold-value').textContent = state.threshold.toFixed(2);
    drawPrediction(state);
  });
  $('refine').addEventListener('change', () => {
    const v = state.current;
    if (!v) return;
    v.probs = shownProbs(state, v);
    drawPrediction(state);
    document.body.dataset.refined = $<HTMLInputElement>('refine').checked ? v.key : '';
  });
  $('flips').addEventListener('change', () => void reflip(state));
  const classes = c.classes ?? [];
  const focus = $<HTMLSelectElement>('focus');
  focus.innerHTML = classes.map((cl, i) => `<option value="${i}">${esc(cl.name)}</option>`).join('');
  focus.value = String(state.focus);
  focus.onchange = () => {
    state.focus = Number(focus.value);
    drawPrediction(state);
  };
  $('forbid').innerHTML = classes
    .map((cl, i) => `<label title="never predict ${esc(cl.name)}"><input type="checkbox" data-class="${i}"> forbid ${esc(cl.name)}</label>`)
    .join('');
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
      drawPrediction(state);
    });
  }
  if (!c.model) $('decision').style.display = 'none';
}
