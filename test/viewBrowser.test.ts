/**
 * End-to-end: the viewer and the report in Debian's Chromium (driven by playwright-core).
 * Skips, saying why, when /usr/bin/chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkipReason, launchChromium } from './browser.js';
import { tinyRun } from './viewFixtures.js';
import { tmpDir, writePng } from './helpers.js';
import { startViewer } from '../src/view/server.js';
import { generateImage } from '../src/data/sample.js';
import { makeRng } from '../src/util/random.js';
import { openTfjsPredictor, predictModel } from '../src/predict/model.js';
import { predictImage } from '../src/predict/pipeline.js';
import { allowedClasses } from '../src/predict/forbid.js';
import { DEFAULT_DENSE_CRF } from '../src/crf/denseCrf.js';
import { withFlips } from '../src/predict/refineCheck.js';
import { setModelInfo } from '../src/formats/modelFolder.js';

const skip = browserSkipReason();
if (skip) process.stderr.write(`browser tests skipped: ${skip}\n`);

interface Summary {
  name: string;
  width: number;
  height: number;
  numClasses: number;
  counts: number[];
  voidCount: number;
  other: number;
  frontierLines: number;
  classes: number[];
  /** Sum of the squared probabilities shown. */
  probSum: number;
}

const summary = (page: Page) =>
  page.evaluate(() => (window as unknown as { gapseg: { lastPrediction(): unknown } }).gapseg.lastPrediction()) as Promise<Summary>;

async function setRange(page: Page, selector: string, value: number): Promise<void> {
  await page.$eval(
    selector,
    (el, v) => {
      (el as HTMLInputElement).value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    },
    value,
  );
}

/** Share of pixels where two label maps agree. */
function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Assert that the page's labels are Node's (gapseg predict, with --flips and/or --refine crf as asked) on more than 99% of pixels. */
async function assertNodeAgrees(
  run: string,
  image: { rgb: Uint8Array },
  page: Summary,
  how: { flips: boolean; refine: boolean },
  what: string,
): Promise<void> {
  const predictor = openTfjsPredictor(run);
  try {
    const node = await predictImage(
      { width: page.width, height: page.height, data: image.rgb },
      predictModel(withFlips(predictor, how.flips)),
      allowedClasses(2, []),
      how.refine ? DEFAULT_DENSE_CRF : undefined,
    );
    const same = agreement(node.classes, page.classes);
    assert.ok(same > 0.99, `${what}browser and Node agree on ${(100 * same).toFixed(2)}% of pixels`);
  } finally {
    predictor.dispose();
  }
}

test(
  'viewer in Chromium: loads, toggles an overlay, predicts a dropped image, refuses traversal',
  { skip: skip ?? false, timeout: 300_000 },
  async () => {
    const { root, run, result } = await tinyRun();
    // A check that chose both flips and the CRF, whatever this tiny model's own check said, so
    // that switches left off by a page ignoring the check would show.
    assert.ok(result.refineCheck, 'the tiny run stores a refinement check');
    await setModelInfo(path.join(run, 'model'), 'refineCheck', {
      ...result.refineCheck,
      flipsAccuracy: result.refineCheck.accuracy,
      flipsRefinedAccuracy: result.refineCheck.accuracy,
      flips: true,
      refine: true,
    });
    fs.writeFileSync(path.join(path.dirname(root), `${path.basename(root)}-secret.txt`), 'secret');
    const viewer = await startViewer({ root, host: '127.0.0.1', port: 0, maxUploadBytes: 32 << 20, log: () => {} });
    let ctx: BrowserContext | null = null;
    try {
      ctx = await launchChromium();
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(viewer.url);
      await page.waitForSelector('body[data-status="shown"]', { timeout: 120_000 });
      // Without a GPU (--disable-gpu) the page predicts on wasm and says why not on WebGPU.
      assert.match(
        (await page.textContent('#model-info')) ?? '',
        /predicting in the page on wasm \((no WebGPU adapter|this browser offers no WebGPU)\)$/,
      );
      assert.ok((await page.locator('#items tbody tr').count()) === 12, 'every image listed');
      // The switches start as --refine auto would use this model.
      assert.ok((await page.isChecked('#flips')) && (await page.isChecked('#refine')), 'flip-average and refine start as the check chose');
      assert.match(
        (await page.getAttribute('#refine-check', 'title')) ?? '',
        /^refine check on \d+ validation image\(s\).*averages flips and refines$/,
      );

      // The label overlay toggles.
      const label = page.locator('#layer-label');
      assert.ok(await label.isVisible());
      await page.uncheck('#show-label');
      assert.ok(!(await label.isVisible()));
      await page.check('#show-label');
      assert.ok(await label.isVisible());

      // Predict a generated image in the page: as gapseg predict --refine auto does with this model.
      const gen = generateImage(makeRng(42), 80, 3);
      const file = path.join(tmpDir(), 'generated.png');
      await writePng(file, gen.rgb, 80, 80, 3);
      await page.setInputFiles('#file-input', file);
      await page.waitForSelector('body[data-predicted="generated.png"]', { timeout: 60_000 });
      const auto = await summary(page);
      await assertNodeAgrees(run, gen, auto, { flips: true, refine: true }, 'flip-averaged and refined: ');
      // Both off: the plain network.
      await page.uncheck('#flips');
      await page.waitForSelector('body[data-flipped=""]', { timeout: 60_000 });
      await page.uncheck('#refine');
      await page.waitForSelector('body[data-refined=""]', { timeout: 60_000 });
      const s = await summary(page);
      assert.deepEqual([s.width, s.height, s.numClasses], [80, 80, 2]);
      assert.equal(s.voidCount, 0, 'a prediction has no void');
      assert.equal(s.other, 0, 'only real classes');
      assert.equal(s.counts[0] + s.counts[1], 80 * 80);
      // The mask is drawn: the prediction layer is shown and tints exactly the smoke pixels.
      assert.ok(await page.locator('#layer-pred').isVisible());
      const tinted = await page.$eval('#layer-pred', (c) => {
        const cv = c as HTMLCanvasElement;
        const d = (cv.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, cv.width, cv.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return { n, w: cv.width, h: cv.height };
      });
      assert.deepEqual(tinted, { n: s.counts[1], w: 80, h: 80 });

      // The page predicts what gapseg predict computes in Node.
      await assertNodeAgrees(run, gen, s, { flips: false, refine: false }, '');

      // Refinement in the page: what gapseg predict --refine crf computes in Node, and off again.
      await page.check('#refine');
      await page.waitForSelector('body[data-refined="file-generated.png"]', { timeout: 60_000 });
      const refinedPage = await summary(page);
      await assertNodeAgrees(run, gen, refinedPage, { flips: false, refine: true }, 'refined: ');
      await page.uncheck('#refine');
      await page.waitForSelector('body[data-refined=""]', { timeout: 60_000 });
      assert.deepEqual((await summary(page)).classes, s.classes, 'unrefined again');

      // Flip averaging alone: what gapseg predict --flips computes, and off again.
      await page.check('#flips');
      await page.waitForSelector('body[data-flipped="file-generated.png"]', { timeout: 60_000 });
      const flipped = await summary(page);
      assert.notEqual(flipped.probSum, s.probSum, 'flip averaging changes the probabilities');
      await assertNodeAgrees(run, gen, flipped, { flips: true, refine: false }, 'flip-averaged: ');
      await page.uncheck('#flips');
      await page.waitForSelector('body[data-flipped=""]', { timeout: 60_000 });
      const unflipped = await summary(page);
      assert.deepEqual([unflipped.classes, unflipped.probSum], [s.classes, s.probSum], 'the plain network again');

      // The threshold re-decides classes and moves the frontier, without running the model again.
      // Thresholds at the 30th and 70th percentiles of p(smoke), so both split the image.
      const [t30, t70] = await page.evaluate(() => {
        const v = (window as unknown as { gapseg: { state: { current: { probs: Float32Array } } } }).gapseg.state.current;
        const p = Array.from(v.probs.filter((_, i) => i % 2 === 1)).sort((a, b) => a - b);
        return [p[Math.floor(p.length * 0.3)], p[Math.floor(p.length * 0.7)]].map((x) => Math.round(x * 100) / 100);
      });
      assert.ok(t30 < t70, `p(smoke) spread ${t30}..${t70}`);
      await setRange(page, '#threshold', t30);
      const low = await summary(page);
      const lowPath = await page.getAttribute('#frontier-path', 'd');
      await setRange(page, '#threshold', t70);
      const high = await summary(page);
      const highPath = await page.getAttribute('#frontier-path', 'd');
      assert.ok(low.counts[1] > high.counts[1], `smoke at ${t30}: ${low.counts[1]}, at ${t70}: ${high.counts[1]}`);
      assert.ok(lowPath && highPath && lowPath !== highPath, 'the frontier moved');
      // Forbidding smoke: never predicted, whatever the threshold.
      await setRange(page, '#threshold', 0.05);
      await page.check('#forbid input[data-class="1"]');
      const forbidden = await summary(page);
      assert.equal(forbidden.counts[1], 0);
      assert.equal(forbidden.voidCount, 0);

      assert.deepEqual(errors, [], 'no errors in the page');
      // Traversal from the page is refused too.
      const status = await page.evaluate(async (name) => (await fetch(`/files/..%2f${name}`)).status, `${path.basename(root)}-secret.txt`);
      assert.equal(status, 403);
    } finally {
      await ctx?.close();
      await viewer.close();
    }
  },
);

test(
  'viewer in Chromium with WebGPU: a software adapter is passed by for wasm, and on ?backend=webgpu the page predicts as Node does',
  { skip: skip ?? false, timeout: 300_000 },
  async () => {
    const { root, run } = await tinyRun();
    const viewer = await startViewer({ root, host: '127.0.0.1', port: 0, maxUploadBytes: 32 << 20, log: () => {} });
    let ctx: BrowserContext | null = null;
    try {
      ctx = await launchChromium(undefined, { webgpu: true });
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(viewer.url);
      await page.waitForSelector('body[data-status="shown"]', { timeout: 120_000 });
      assert.match((await page.textContent('#model-info')) ?? '', /predicting in the page on wasm \(the WebGPU adapter is software\)$/);
      await page.goto(`${viewer.url}?backend=webgpu`);
      await page.waitForSelector('body[data-status="shown"]', { timeout: 120_000 });
      assert.match((await page.textContent('#model-info')) ?? '', /predicting in the page on webgpu$/);
      await page.uncheck('#flips');
      await page.uncheck('#refine');
      const gen = generateImage(makeRng(43), 80, 3);
      const file = path.join(tmpDir(), 'generated.png');
      await writePng(file, gen.rgb, 80, 80, 3);
      await page.setInputFiles('#file-input', file);
      await page.waitForSelector('body[data-predicted="generated.png"]', { timeout: 120_000 });
      await assertNodeAgrees(run, gen, await summary(page), { flips: false, refine: false }, 'on WebGPU: ');
      await page.goto(`${viewer.url}?backend=nosuch`);
      await page.waitForFunction(() =>
        /model failed to load: \?backend=nosuch/.test(document.getElementById('model-info')?.textContent ?? ''),
      );
      assert.deepEqual(errors, []);
    } finally {
      await ctx?.close();
      await viewer.close();
    }
  },
);

test('report.html opens from disk in Chromium without fetching anything', { skip: skip ?? false, timeout: 240_000 }, async () => {
  const { run } = await tinyRun();
  const url = pathToFileURL(path.join(run, 'report.html')).href;
  const ctx = await launchChromium();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url);
    await page.waitForLoadState('load');
    assert.deepEqual(
      requests.filter((u) => u !== url && !u.startsWith('data:')),
      [],
    );
    // Every preview decoded (an image that failed to load would have naturalWidth 0).
    const widths = await page.$$eval('img', (imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
    assert.equal(widths.length, 16);
    assert.ok(widths.every((w) => w > 0));
    assert.equal(await page.locator('svg.chart').count(), 2);
  } finally {
    await ctx.close();
  }
});
