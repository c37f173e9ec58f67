/**
 * Live training from the page: when a stroke ends, the image's labels go to the server
 * (POST /api/live/<id>), whose live model learns from them and answers the image's
 * probabilities, which the page draws as any prediction. While the model still learns (a few
 * more rounds after the last stroke) the page asks again, so the frontier keeps following it.
 */
import type { CatalogJson } from '../wire.js';
import { errorText } from './api.js';
import { $, esc } from './dom.js';
import { drawPrediction } from './draw.js';
import { decision, shownProbs } from './model.js';
import { renderTable } from './table.js';
import { share, unsurePixels } from '../../draw/layers.js';
import type { PageState, View } from './state.js';

/** Rounds the page asks for after the last stroke, the model learning on. */
const FOLLOW_ROUNDS = 4;

export function liveOn(state: PageState): boolean {
  return state.live.available && $<HTMLInputElement>('live').checked;
}

/** The labels to send for the current image: its painted edit, else its label as loaded. */
function currentLabels(state: PageState): Uint8Array | null {
  const it = state.currentItem;
  if (!it) return null;
  return state.edits.get(it.id)?.labels ?? state.current?.labels ?? null;
}

/**
 * Ask the live model; `strokes`: the labels changed, and are sent at once (the server drops the
 * request in flight, whose answer would be stale). Without strokes the page waits for the
 * request in flight.
 */
export function liveUpdate(state: PageState, strokes: boolean): void {
  if (!liveOn(state) || !state.currentItem || !state.current?.labels) return;
  const l = state.live;
  if (strokes) {
    l.dirty = true;
    l.strokeEnds.push(performance.now());
    l.follow = FOLLOW_ROUNDS;
  } else if (l.inFlight) return;
  void send(state);
}

async function send(state: PageState): Promise<void> {
  const l = state.live;
  const it = state.currentItem;
  const v = state.current;
  if (!it || !v) return;
  const labels = l.dirty || l.sentFor !== it.id ? currentLabels(state) : null;
  // The strokes this request carries: its answer shows their effect.
  const carried = l.strokeEnds.length;
  l.dirty = false;
  l.sentFor = it.id;
  l.inFlight = true;
  const seq = ++l.seq;
  const status = $('live-status');
  let superseded = false;
  let stale = false;
  try {
    const r = await fetch(`/api/live/${it.id}`, {
      method: 'POST',
      body: (labels ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>,
      headers: { 'Content-Type': 'application/octet-stream', 'X-Gapseg-Token': (state.catalog as CatalogJson).writeToken },
    });
    // 204: a later request replaced this one.
    superseded = r.status === 204;
    if (superseded) return;
    if (!r.ok) throw new Error(await errorText(r));
    const bytes = new Uint8Array(await r.arrayBuffer());
    // The page may have moved to another image (or reloaded this one) meanwhile: the answer is then not drawn.
    stale = state.current !== v;
    if (stale) return;
    if (bytes.length !== v.width * v.height * state.k)
      throw new Error(`live: ${bytes.length} bytes answered for a ${v.width}x${v.height} image of ${state.k} classes`);
    draw(state, v, bytes, carried, r.headers);
  } catch (e) {
    status.innerHTML = `<span class="error">${esc((e as Error).message)}</span>`;
    $<HTMLInputElement>('live').checked = false;
    l.follow = 0;
  } finally {
    if (seq === l.seq) l.inFlight = false;
    // A stale answer (the page opened another image meanwhile) is asked again for the image shown.
    if (!superseded && seq === l.seq && liveOn(state) && (stale || l.follow-- > 0)) void send(state);
  }
}

/** Draw a live answer: the probabilities as the prediction, the latency of the strokes it carries. */
function draw(state: PageState, v: View, bytes: Uint8Array, carried: number, headers: Headers): void {
  const l = state.live;
  const probs = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) probs[i] = bytes[i] / 255;
  v.netProbs = probs;
  v.probs = shownProbs(state, v);
  $<HTMLInputElement>('show-pred').checked = true;
  $('decision').style.display = '';
  drawPrediction(state);
  // The image's unsure share follows the live model, so "unsure first" does too.
  const row = state.rows.find((r) => r.item === state.currentItem);
  if (row) {
    row.unsure = share(unsurePixels(probs, v.width * v.height, state.k, decision(state).allowed));
    renderTable(state);
  }
  l.round++;
  const now = performance.now();
  for (const t of l.strokeEnds.splice(0, carried)) l.latency.push(now - t);
  l.latency.splice(0, Math.max(0, l.latency.length - 500));
  const steps = headers.get('X-Live-Total-Steps');
  const loss = headers.get('X-Live-Loss');
  // No loss: no step this round, the strokes are learnt (the model waits for more).
  $('live-status').textContent = `live: ${steps} steps${loss ? `, loss ${Number(loss).toFixed(3)}` : ', strokes learnt'}`;
  document.body.dataset.live = String(l.round);
}

export function setupLive(state: PageState, c: CatalogJson): void {
  state.live.available = c.live.available;
  if (!c.live.available) return;
  $('live-wrap').hidden = false;
  $<HTMLInputElement>('live').addEventListener('change', () => {
    state.live.follow = FOLLOW_ROUNDS;
    liveUpdate(state, false);
  });
}
