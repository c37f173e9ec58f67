/**
 * bench:live: live training in the viewer as a user meets it, in headless Chromium on this
 * machine's cores. 20 smoke frames of 512 x 512 from ../shared (their full masks are the truth,
 * never shown to the model) start unlabelled; on each, the "user" paints a stroke of smoke, one
 * of background, then two corrections where the live frontier is most wrong, pausing a second
 * after each answer as someone looking would. Reported: the time from the end of each stroke to
 * the frontier drawn with its effect (median, 95th percentile), and what the live model reaches
 * on all 20 photos at the end against the peer: a full fine-tune (`gapseg train`, the page's
 * train button, default settings) on the same strokes, saved. Metrics: accuracy on the painted
 * pixels, accuracy and mean IoU on the unpainted ones against the full masks.
 *   npm run bench:live -- [--photos 20] [--epochs 20] [--data ../shared/data] [--results live.json]
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { browserSkipReason, launchChromium, liveLatencies, stroke, waitLiveStrokes } from '../test/browser.js';
import { startViewer } from '../src/view/server.js';
import { parseClassesFlag } from '../src/data/classes.js';
import { readImage, readLabel } from '../src/data/decode.js';
import { squaredDistanceTo } from '../src/data/gaps.js';
import { openModel } from '../src/api/model.js';
import { makeRng, randInt, type Rng } from '../src/util/random.js';
import { argNumber, argString, BENCH_DIR, machine, median, table, writeResult } from './common.js';
import type { CatalogJson, TrainingStatus } from '../src/view/wire.js';

const SHARED = path.resolve(argString('data', path.resolve(BENCH_DIR, '..', '..', 'shared', 'data')));
const WEIGHTS = path.resolve(argString('weights', path.join(SHARED, '..', 'weights', 'mobilenet_v2', 'mobilenet_v2_1.0_224_quant.tflite')));
const PHOTOS = argNumber('photos', 20);
const EPOCHS = argNumber('epochs', 20);
const BRUSH = 16;
const PAUSE_MS = 1000;
const VOID = 255;

function fail(message: string): never {
  console.error(`bench:live: ${message}`);
  process.exit(2);
}

interface Photo {
  name: string;
  width: number;
  height: number;
  /** 1 = smoke, 0 = background. */
  truth: Uint8Array;
}

/** The first PHOTOS smoke frames (by name) of 512 x 512 whose smoke covers 5 to 50% of the pixels. */
async function pickPhotos(folder: string): Promise<Photo[]> {
  const src = path.join(SHARED, 'smoke');
  if (!fs.existsSync(src)) fail(`${src} not found (--data names the folder holding smoke/)`);
  const out: Photo[] = [];
  for (const file of fs.readdirSync(path.join(src, 'labels')).sort()) {
    const name = file.replace(/\.png$/, '');
    const lab = await readLabel(path.join(src, 'labels', file));
    const truth = Uint8Array.from(lab.values, (v) => (v > 127 ? 1 : 0));
    const share = truth.reduce((a, b) => a + b, 0) / truth.length;
    if (lab.width !== 512 || lab.height !== 512 || share < 0.05 || share > 0.5) continue;
    fs.copyFileSync(path.join(src, 'images', `${name}.jpg`), path.join(folder, 'images', `${name}.jpg`));
    out.push({ name, width: lab.width, height: lab.height, truth });
    if (out.length === PHOTOS) break;
  }
  if (out.length < PHOTOS) fail(`only ${out.length} smoke frames fit (512 x 512, 5-50% smoke)`);
  return out;
}

/** Squared distance of each pixel to the nearest pixel where `is` is false. */
function depthOf(is: (i: number) => boolean, w: number, h: number): Float64Array {
  return squaredDistanceTo((i) => !is(i), w, h);
}

/** A stroke inside the pixels of `is`: a random walk of steps of 20 px, kept BRUSH px from its border. */
function strokeInside(is: (i: number) => boolean, w: number, h: number, rng: Rng): [number, number][] | null {
  const depth = depthOf(is, w, h);
  const deep = (x: number, y: number, r: number) => x >= 0 && y >= 0 && x < w && y < h && depth[y * w + x] >= r * r;
  const starts: number[] = [];
  for (let i = 0; i < depth.length; i++) if (depth[i] >= (BRUSH * 1.2) ** 2) starts.push(i);
  const seeds = starts.length ? starts : [...depth.keys()].filter((i) => depth[i] >= (BRUSH / 2 + 1) ** 2);
  if (!seeds.length) return null;
  const s = seeds[randInt(rng, 0, seeds.length)];
  const pts: [number, number][] = [[s % w, Math.floor(s / w)]];
  for (let step = 0; step < 8 && pts.length < 5; step++) {
    const a = rng.next() * 2 * Math.PI;
    const [x, y] = pts[pts.length - 1];
    const q: [number, number] = [Math.round(x + 20 * Math.cos(a)), Math.round(y + 20 * Math.sin(a))];
    if (deep(q[0], q[1], BRUSH / 2 + 1)) pts.push(q);
  }
  return pts.length > 1 ? pts : [pts[0], [pts[0][0] + 1, pts[0][1]]];
}

const liveRound = (page: Page) => page.evaluate(() => Number(document.body.dataset.live ?? 0));

async function waitRound(page: Page, after: number): Promise<void> {
  await page
    .waitForFunction((n) => Number(document.body.dataset.live ?? 0) > n, after, { timeout: 120_000, polling: 20 })
    .catch(async (e: unknown) => {
      fail(`no live answer: ${await page.locator('#live-status').textContent()} (${(e as Error).message.split('\n')[0]})`);
    });
}

/** Paint one stroke of class c and wait for the answer that carries it. */
async function paint(page: Page, photo: Photo, c: number, pts: [number, number][]): Promise<void> {
  await page.locator(`#tools button[data-tool="${c}"]`).click();
  const strokesBefore = (await liveLatencies(page)).length;
  await stroke(page, photo.width, pts, 6);
  await waitLiveStrokes(page, strokesBefore);
  await page.waitForTimeout(PAUSE_MS);
}

const shown = (page: Page) =>
  page.evaluate(() => {
    const s = (
      window as unknown as {
        gapseg: {
          state: { current: { pred: Uint8Array | null }; edits: Map<number, { labels: Uint8Array }>; currentItem: { id: number } };
        };
      }
    ).gapseg.state;
    return { pred: s.current.pred ? Array.from(s.current.pred) : null, labels: Array.from(s.edits.get(s.currentItem.id)?.labels ?? []) };
  });

/** The most wrong place: deepest inside a wrongly predicted region, and the class it truly is. */
function correction(photo: Photo, pred: number[], rng: Rng): { c: number; pts: [number, number][] } | null {
  const { width: w, height: h, truth } = photo;
  const wrong = (i: number) => pred[i] !== truth[i];
  const depth = depthOf(wrong, w, h);
  let best = -1;
  for (let i = 0; i < depth.length; i++) if (wrong(i) && (best < 0 || depth[i] > depth[best])) best = i;
  if (best < 0 || depth[best] < 9) return null;
  const c = truth[best];
  const inClass = depthOf((i) => truth[i] === c && wrong(i), w, h);
  const r = Math.max(1, Math.min(10, Math.floor(Math.sqrt(inClass[best])) - 2));
  const [x, y] = [best % w, Math.floor(best / w)];
  const a = rng.next() * Math.PI;
  return {
    c,
    pts: [
      [x, y],
      [Math.round(x + r * Math.cos(a)), Math.round(y + r * Math.sin(a))],
    ],
  };
}

interface Scores {
  paintedAccuracy: number;
  unpaintedAccuracy: number;
  unpaintedMeanIoU: number;
}

/** Accuracy on painted pixels, accuracy and mean IoU (2 classes) on unpainted ones against the truth. */
function scores(photos: Photo[], labels: Map<string, Uint8Array>, preds: Map<string, Uint8Array>): Scores {
  let painted = 0;
  let paintedOk = 0;
  let rest = 0;
  let restOk = 0;
  const inter = [0, 0];
  const union = [0, 0];
  for (const p of photos) {
    const lab = labels.get(p.name)!;
    const pred = preds.get(p.name)!;
    for (let i = 0; i < pred.length; i++) {
      if (lab[i] !== VOID) {
        painted++;
        if (pred[i] === lab[i]) paintedOk++;
        continue;
      }
      rest++;
      const t = p.truth[i];
      if (pred[i] === t) restOk++;
      for (let c = 0; c < 2; c++) {
        if (pred[i] === c && t === c) inter[c]++;
        if (pred[i] === c || t === c) union[c]++;
      }
    }
  }
  return {
    paintedAccuracy: paintedOk / painted,
    unpaintedAccuracy: restOk / rest,
    unpaintedMeanIoU: (inter[0] / union[0] + inter[1] / union[1]) / 2,
  };
}

async function main(): Promise<void> {
  const skip = browserSkipReason();
  if (skip) fail(skip);
  if (!fs.existsSync(WEIGHTS)) fail(`${WEIGHTS} not found (--weights names the MobileNetV2 .tflite file)`);
  const folder = fs.mkdtempSync(path.join(BENCH_DIR, '..', 'build', 'bench-live-'));
  fs.mkdirSync(path.join(folder, 'images'));
  fs.mkdirSync(path.join(folder, 'labels'));
  const photos = await pickPhotos(folder);
  const viewer = await startViewer({
    root: folder,
    host: '127.0.0.1',
    port: 0,
    maxUploadBytes: 32 << 20,
    classes: parseClassesFlag('0=background,255=smoke,128=void'),
    encoderWeights: async () => WEIGHTS,
    trainArgs: ['--encoder-weights', WEIGHTS],
    log: (line) => console.log(line),
  });
  const ids = new Map(viewer.catalog.items.map((it) => [it.name, it.id]));
  const ctx = await launchChromium({ width: 1400, height: 1000 });
  const rng = makeRng(1);
  const labels = new Map<string, Uint8Array>();
  const livePreds = new Map<string, Uint8Array>();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(viewer.url);
    await page.waitForFunction(() => document.body.dataset.shown !== undefined, undefined, { timeout: 60_000 });
    await page.locator('#live').check();
    const t0 = Date.now();
    for (const [j, photo] of photos.entries()) {
      const before = await liveRound(page);
      await page.locator(`#items tbody tr[data-id="${ids.get(photo.name)}"]`).click();
      await waitRound(page, before);
      for (const c of [1, 0]) {
        const pts = strokeInside((i) => photo.truth[i] === c, photo.width, photo.height, rng);
        if (pts) await paint(page, photo, c, pts);
      }
      for (let k = 0; k < 2; k++) {
        const fix = correction(photo, (await shown(page)).pred!, rng);
        if (fix) await paint(page, photo, fix.c, fix.pts);
      }
      labels.set(photo.name, Uint8Array.from((await shown(page)).labels));
      await page.locator('#save').click();
      await page.waitForFunction(() => document.body.dataset.saved !== 'saving');
      const saved = await page.locator('#save-status').textContent();
      if (!saved?.startsWith('saved')) fail(`${photo.name}: not saved (${saved})`);
      const lat = await liveLatencies(page);
      console.log(
        `${j + 1}/${photos.length} ${photo.name}: ${lat.length} strokes so far, last ${lat[lat.length - 1]?.toFixed(0)} ms (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
    const latency = await liveLatencies(page);
    // What the live model reaches: each photo shown again, once the model has seen every stroke.
    await page.locator('#live').uncheck();
    for (const photo of photos) {
      await page.locator(`#items tbody tr[data-id="${ids.get(photo.name)}"]`).click();
      const before = await liveRound(page);
      await page.locator('#live').check();
      await waitRound(page, before);
      await page.locator('#live').uncheck();
      livePreds.set(photo.name, Uint8Array.from((await shown(page)).pred!));
    }
    // The peer: a full fine-tune on the same saved strokes, as the page's train button runs it.
    const c = (await (await fetch(`${viewer.url}api/catalog`)).json()) as CatalogJson;
    const started = Date.now();
    const r = await fetch(`${viewer.url}api/train`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Gapseg-Token': c.writeToken, Origin: viewer.url.replace(/\/$/, '') },
      body: JSON.stringify({ epochs: EPOCHS }),
    });
    if (!r.ok) fail(`cannot start the full fine-tune: ${await r.text()}`);
    let t: TrainingStatus;
    do {
      await new Promise((res) => setTimeout(res, 2000));
      t = (await (await fetch(`${viewer.url}api/train`)).json()) as TrainingStatus;
    } while (t.state === 'running');
    if (t.state !== 'done') fail(`the full fine-tune ended ${t.state}: ${t.lines.slice(-3).join(' / ')}`);
    const fineTuneSeconds = (Date.now() - started) / 1000;
    const model = await openModel(path.join(folder, t.run!));
    const tunedPreds = new Map<string, Uint8Array>();
    try {
      for (const photo of photos) {
        const img = await readImage(path.join(folder, 'images', `${photo.name}.jpg`));
        tunedPreds.set(photo.name, (await model.predict(img, { frontier: false })).labelMap);
      }
    } finally {
      model.close();
    }
    const live = scores(photos, labels, livePreds);
    const tuned = scores(photos, labels, tunedPreds);
    const sorted = [...latency].sort((a, b) => a - b);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    const paintedPixels = [...labels.values()].reduce((a, l) => a + l.filter((x) => x !== VOID).length, 0);
    console.log(
      `\nstroke end to frontier drawn, ${latency.length} strokes on ${photos.length} photos of 512 x 512: median ${median(latency).toFixed(0)} ms, 95th percentile ${p(0.95).toFixed(0)} ms`,
    );
    console.log(
      `painted: ${paintedPixels.toLocaleString('en')} pixels (${((100 * paintedPixels) / (photos.length * 512 * 512)).toFixed(2)}% of the photos)\n`,
    );
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(
      table(
        ['model', 'painted px acc', 'unpainted acc', 'unpainted mIoU', 'ratio (mIoU)', 'seconds'],
        [
          [
            'live (while painting)',
            pct(live.paintedAccuracy),
            pct(live.unpaintedAccuracy),
            live.unpaintedMeanIoU.toFixed(3),
            (live.unpaintedMeanIoU / tuned.unpaintedMeanIoU).toFixed(2),
            '-',
          ],
          [
            `full fine-tune (${EPOCHS} epochs)`,
            pct(tuned.paintedAccuracy),
            pct(tuned.unpaintedAccuracy),
            tuned.unpaintedMeanIoU.toFixed(3),
            '1.00',
            fineTuneSeconds.toFixed(0),
          ],
        ],
      ),
    );
    const file = writeResult(argString('results', 'live.json'), {
      machine: machine(),
      photos: photos.map((x) => x.name),
      brush: BRUSH,
      pauseMs: PAUSE_MS,
      latencyMs: { strokes: latency.length, median: median(latency), p95: p(0.95), all: latency },
      paintedPixels,
      live,
      fineTune: { ...tuned, epochs: EPOCHS, seconds: fineTuneSeconds },
    });
    console.log(`\nwrote ${file}`);
  } finally {
    await ctx.close();
    await viewer.close();
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

await main();
