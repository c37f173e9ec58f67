/**
 * Training from the page: starting and cancelling the server's training, following it while it
 * runs, predicting with the model a round has written, and adding images to the data set.
 */
import type { CatalogJson, TrainingStatus, TrainRequest } from '../wire.js';
import { errorText, fetchJson } from './api.js';
import { $, esc } from './dom.js';
import { applyRefineCheck, backendLine, initModel } from './model.js';
import { open } from './open.js';
import type { PageState } from './state.js';
import { computeMetrics, renderTable } from './table.js';

const writeHeaders = (state: PageState) => ({
  'Content-Type': 'application/json',
  'X-Gapseg-Token': (state.catalog as CatalogJson).writeToken,
});

const seconds = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

function renderTraining(state: PageState, t: TrainingStatus): void {
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
  $('train-status').textContent =
    parts.join(' · ') +
    (tail && t.state !== 'done' ? `\n${tail}` : '') +
    (unsaved ? `\n${unsaved} image(s) have unsaved strokes: training reads the saved labels` : '');
  document.body.dataset.training = t.state;
}

/** Follow the server's training; when a round has written its model, predict with it. */
async function pollTraining(state: PageState): Promise<void> {
  const t = await fetchJson<TrainingStatus>('/api/train');
  renderTraining(state, t);
  if (t.state === 'running') {
    state.trainPoll ??= window.setInterval(() => void pollTraining(state), 1000);
    return;
  }
  if (state.trainPoll !== null) {
    window.clearInterval(state.trainPoll);
    state.trainPoll = null;
  }
  if (t.state === 'done' && t.round !== state.seenRound && state.seenRound !== -1) await useNewModel(state, t);
  state.seenRound = t.round;
}

async function useNewModel(state: PageState, t: TrainingStatus): Promise<void> {
  const c = await fetchJson<CatalogJson>('/api/catalog');
  const cat = state.catalog as CatalogJson;
  cat.model = c.model;
  await initModel(state, cat);
  applyRefineCheck(cat);
  $('model-info').textContent = `model ${c.model?.source} (trained from the page) · ${backendLine(state)}`;
  $('decision').style.display = '';
  if (state.currentItem) await open(state, state.currentItem);
  document.body.dataset.trained = String(t.round);
  void computeMetrics(state);
}

/** Upload images into the data set (POST /api/images); they join the list unlabelled. */
async function addImages(state: PageState, files: File[]): Promise<void> {
  const c = state.catalog as CatalogJson;
  const status = $('train-status');
  const problems: string[] = [];
  let added = 0;
  for (const f of files) {
    if (f.size > c.maxUploadBytes) {
      problems.push(`${f.name} is larger than the ${(c.maxUploadBytes / 1048576).toFixed(0)} MB limit`);
      continue;
    }
    const r = await fetch('/api/images', {
      method: 'POST',
      body: f,
      headers: { 'X-Gapseg-Token': c.writeToken, 'X-File-Name': encodeURIComponent(f.name) },
    });
    if (r.ok) added++;
    else problems.push(`${f.name}: ${await errorText(r)}`);
  }
  const fresh = await fetchJson<CatalogJson>('/api/catalog');
  const known = new Set(state.rows.map((r) => r.item.id));
  for (const item of fresh.items) if (!known.has(item.id)) state.rows.push({ item, metrics: null, unsure: null, error: null });
  c.items = fresh.items;
  renderTable(state);
  status.innerHTML = [`${added} image(s) added`, ...problems.map((p) => `<span class="error">${esc(p)}</span>`)].join('<br>');
  document.body.dataset.added = String(added);
}

export function setupTraining(state: PageState, c: CatalogJson): void {
  if (c.canAddImages) {
    $('add').hidden = false;
    $('train').hidden = false;
    const input = $<HTMLInputElement>('add-input');
    input.addEventListener('change', () => input.files && void addImages(state, Array.from(input.files)));
    const zone = $('train');
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      e.stopPropagation();
    });
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      e.stopPropagation();
      if (e.dataTransfer?.files.length) void addImages(state, Array.from(e.dataTransfer.files));
    });
  }
  if (!c.training.available) {
    $('train-row').hidden = true;
    return;
  }
  $('train').hidden = false;
  $('train-start').onclick = async () => {
    const epochs = $<HTMLInputElement>('train-epochs').valueAsNumber;
    const r = await fetch('/api/train', {
      method: 'POST',
      headers: writeHeaders(state),
      body: JSON.stringify({ epochs } satisfies TrainRequest),
    });
    if (!r.ok) {
      $('train-status').innerHTML = `<span class="error">${esc(await errorText(r))}</span>`;
      return;
    }
    state.seenRound = Math.max(state.seenRound, 0);
    await pollTraining(state);
  };
  $('train-cancel').onclick = async () => {
    await fetch('/api/train/cancel', { method: 'POST', headers: writeHeaders(state), body: '{}' });
    await pollTraining(state);
  };
  // A training started before this page was opened (or reloaded) is picked up where it is.
  void pollTraining(state).then(() => {
    if (state.seenRound === -1) state.seenRound = 0;
  });
}
