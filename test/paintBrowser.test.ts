/**
 * Painting labels in the viewer, end to end in Debian's Chromium: strokes of two classes on an
 * image of a set with no labels yet, undo and redo, save, and the label file holds exactly the
 * painted values with void elsewhere; a stroke on a 4000 x 3000 photo, timed from pointer move
 * to the frame that shows it. GAPSEG_SCREENSHOTS=<folder> also writes the screenshots of
 * docs/screenshots/. Skips, saying why, when Chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { browserSkipReason, launchChromium, stroke } from './browser.js';
import { paintableSet, paintViewer, withPage } from './paintFixtures.js';
import { tmpDir, writePng } from './helpers.js';
import { startViewer } from '../src/view/server.js';
import { parseClassesFlag } from '../src/data/classes.js';
import { readLabel } from '../src/data/decode.js';
import { generateImage, writeSampleDataset } from '../src/data/sample.js';
import { makeRng } from '../src/util/random.js';

const skip = browserSkipReason();
if (skip) process.stderr.write(`browser tests skipped: ${skip}\n`);
const SHOTS = process.env.GAPSEG_SCREENSHOTS;

interface PageState {
  labels: number[] | null;
  width: number;
  height: number;
}

const pageLabels = (page: Page) =>
  page.evaluate(() => {
    const g = (window as unknown as { gapseg: { state: { current: { labels: Uint8Array | null; width: number; height: number } } } })
      .gapseg;
    const v = g.state.current;
    return { labels: v.labels ? Array.from(v.labels) : null, width: v.width, height: v.height };
  }) as Promise<PageState>;

const at = (s: PageState, x: number, y: number) => s.labels![y * s.width + x];

test(
  'viewer in Chromium: paint two classes on an unlabelled image, undo, redo, save: the file holds exactly the painted values, void elsewhere',
  { skip: skip ?? false, timeout: 240_000 },
  async () => {
    const [w, h] = [96, 96];
    const gen = generateImage(makeRng(3), w, 3);
    const root = await paintableSet('gapseg-paint-', {
      scene: { rgb: gen.rgb, width: w, height: h },
      other: { rgb: new Uint8Array(w * h * 3).fill(120), width: w, height: h },
    });
    await withPage(await paintViewer(root), async (page, errors) => {
      await page.waitForSelector('body[data-status="shown"]', { timeout: 60_000 });
      await page.click('#items tbody tr:has-text("scene")');
      await page.waitForSelector('body[data-shown="item-1"]');
      const start = await pageLabels(page);
      assert.ok(
        start.labels!.every((k) => k === 255),
        'an image without a label file starts all void',
      );
      assert.ok(await page.isDisabled('#save'), 'nothing to save yet');

      await page.click('#tools button[data-tool="0"]');
      await page.$eval('#brush', (el) => {
        (el as HTMLInputElement).value = '6';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      });
      await stroke(page, w, [
        [10, 10],
        [40, 10],
        [40, 20],
      ]);
      await page.click('#tools button:has-text("smoke")');
      await stroke(page, w, [
        [68, 38],
        [86, 46],
      ]);
      const painted = await pageLabels(page);
      assert.equal(at(painted, 25, 10), 0, 'the background stroke');
      assert.equal(at(painted, 40, 16), 0, 'its second segment');
      assert.equal(at(painted, 77, 42), 1, 'the smoke stroke');
      assert.equal(at(painted, 5, 65), 255, 'far from the strokes: void');
      assert.equal(at(painted, 25, 17), 255, 'a 6 px brush paints 3 px either side');
      if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'viewer-paint.png') });

      // One more stroke, undone: the map is exactly as before it; redo brings it back; undo again.
      await stroke(page, w, [
        [10, 40],
        [30, 40],
      ]);
      assert.equal(at(await pageLabels(page), 20, 40), 1);
      await page.click('#undo');
      assert.deepEqual((await pageLabels(page)).labels, painted.labels, 'undo restores the map exactly');
      await page.keyboard.press('Control+Shift+Z');
      assert.equal(at(await pageLabels(page), 20, 40), 1, 'redo (keyboard)');
      await page.keyboard.press('Control+Z');
      assert.deepEqual((await pageLabels(page)).labels, painted.labels);

      // The eraser takes a stroke back to void.
      await page.click('#tools button:has-text("eraser")');
      await stroke(page, w, [
        [86, 46],
        [86, 46],
      ]);
      const final = await pageLabels(page);
      assert.equal(at(final, 86, 46), 255, 'erased');
      assert.equal(at(final, 70, 39), 1, 'the rest of the smoke stroke stays');

      assert.equal(await page.getAttribute('body', 'data-unsaved'), '1');
      await page.click('#save');
      await page.waitForSelector('body[data-saved="1"]');
      assert.match((await page.textContent('#save-status')) ?? '', /saved labels\/scene\.png; classes written to gapseg\.json/);
      const file = await readLabel(path.join(root, 'labels', 'scene.png'));
      assert.deepEqual([file.width, file.height], [w, h]);
      assert.deepEqual(
        Array.from(file.values),
        final.labels!.map((k) => (k === 255 ? 128 : k === 0 ? 0 : 255)),
        'the file holds exactly the painted values, void (128) elsewhere',
      );
      assert.ok(final.labels!.includes(0) && final.labels!.includes(1));
      assert.equal(await page.getAttribute('body', 'data-unsaved'), '0');
      if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'viewer-paint-saved.png') });

      // The saved label comes back on reload; a file changed behind the page's back is not overwritten.
      await page.reload();
      await page.waitForSelector('body[data-status="shown"]');
      await page.click('#items tbody tr:has-text("scene")');
      await page.waitForSelector('body[data-shown="item-1"]');
      assert.deepEqual((await pageLabels(page)).labels, final.labels);
      await page.click('#tools button[data-tool="0"]');
      await stroke(page, w, [
        [50, 30],
        [55, 30],
      ]);
      const f = path.join(root, 'labels', 'scene.png');
      const later = new Date(Date.now() + 5000);
      fs.utimesSync(f, later, later);
      const before = fs.readFileSync(f);
      await page.click('#save');
      await page.waitForSelector('body[data-saved="error"]');
      assert.match((await page.textContent('#save-status')) ?? '', /changed on disk since the page read it/);
      assert.ok(fs.readFileSync(f).equals(before), 'the changed file is left as it is');

      // An image added from the page joins the data set and the list, unlabelled.
      const extra = path.join(tmpDir(), 'added.png');
      await writePng(extra, new Uint8Array(40 * 30 * 3).fill(200), 40, 30, 3);
      await page.setInputFiles('#add-input', extra);
      await page.waitForSelector('body[data-added="1"]');
      assert.equal(await page.locator('#items tbody tr:has-text("added")').count(), 1);
      assert.ok(fs.readFileSync(path.join(root, 'images', 'added.png')).equals(fs.readFileSync(extra)));
      assert.deepEqual(errors, []);
    });
  },
);

test('viewer in Chromium: painting a 4000 x 3000 photo, pointer move to frame', { skip: skip ?? false, timeout: 240_000 }, async (t) => {
  const root = tmpDir('gapseg-paint-big-');
  const [w, h] = [4000, 3000];
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.fill(((i % w) * 255) / w, i * 3, i * 3 + 3);
  await writePng(path.join(root, 'images', 'big.png'), rgb, w, h, 3);
  const viewer = await startViewer({
    root,
    host: '127.0.0.1',
    port: 0,
    maxUploadBytes: 64 << 20,
    classes: parseClassesFlag('0=background,255=smoke,128=void'),
    log: () => {},
  });
  const ctx = await launchChromium();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(viewer.url);
    await page.waitForSelector('body[data-status="shown"]', { timeout: 120_000 });
    await page.click('#tools button:has-text("smoke")');
    await page.$eval('#brush', (el) => {
      (el as HTMLInputElement).value = '60';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await stroke(
      page,
      w,
      [
        [300, 300],
        [3700, 400],
        [3600, 2700],
        [400, 2600],
      ],
      40,
    );
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const lat = (await page.evaluate(() => (window as unknown as { gapseg: { paintLatency(): unknown } }).gapseg.paintLatency())) as {
      moves: number;
      median: number;
      p95: number;
    };
    t.diagnostic(
      `4000x3000, 60 px brush: ${lat.moves} pointer moves, pointer move to frame median ${lat.median.toFixed(1)} ms, 95th percentile ${lat.p95.toFixed(1)} ms`,
    );
    assert.ok(lat.moves >= 100, `pointer moves seen: ${lat.moves}`);
    const painted = await page.evaluate(() => {
      const v = (window as unknown as { gapseg: { state: { current: { labels: Uint8Array; width: number } } } }).gapseg.state.current;
      return v.labels[350 * v.width + 2000];
    });
    assert.equal(painted, 1, 'the stroke painted the photo');
  } finally {
    await ctx.close();
    await viewer.close();
  }
});

test(
  'viewer in Chromium: train from the page on the labelled images, progress streams, a reload picks the run up, the page predicts with the new model, and a second round continues from it',
  { skip: skip ?? false, timeout: 300_000 },
  async () => {
    const root = tmpDir('gapseg-page-train-');
    await writeSampleDataset(root, { count: 8, size: 48, gap: 3, seed: 7, valid: 2, test: 0 });
    for (const n of fs.readdirSync(path.join(root, 'labels')).sort().slice(0, 2)) fs.rmSync(path.join(root, 'labels', n));
    const trainArgs = ['--depth', '2', '--width', '4', '--crop', '32', '--batch', '4', '--tile', '64', '--lr', '0.005'];
    const viewer = await startViewer({ root, host: '127.0.0.1', port: 0, maxUploadBytes: 32 << 20, trainArgs, log: () => {} });
    const ctx = await launchChromium();
    const prediction = (page: Page) =>
      page.evaluate(() => (window as unknown as { gapseg: { lastPrediction(): { probSum: number } | null } }).gapseg.lastPrediction());
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await page.goto(viewer.url);
      await page.waitForSelector('body[data-status="shown"]', { timeout: 60_000 });
      assert.equal(await prediction(page), null, 'no model yet');
      await page.fill('#train-epochs', '3');
      await page.click('#train-start');
      await page.waitForSelector('body[data-training="running"]');
      await page.waitForFunction(() =>
        /view-run-1: training · epoch \d\/3/.test(document.querySelector('#train-status')?.textContent ?? ''),
      );
      // Reloading neither stops nor loses the run: the page finds it where it is.
      await page.reload();
      await page.waitForSelector('body[data-status="shown"]', { timeout: 60_000 });
      await page.waitForFunction(
        () =>
          /view-run-1/.test(document.querySelector('#train-status')?.textContent ?? '') ||
          /view-run-1/.test(document.querySelector('#model-info')?.textContent ?? ''),
      );
      await page.waitForFunction(
        () => (window as unknown as { gapseg: { lastPrediction(): unknown } }).gapseg.lastPrediction() !== null,
        undefined,
        { timeout: 180_000 },
      );
      assert.match((await page.textContent('#model-info')) ?? '', /view-run-1/);
      const first = (await prediction(page))!;
      const history = JSON.parse(fs.readFileSync(path.join(root, 'view-run-1', 'history.json'), 'utf8')) as unknown[];
      assert.equal(history.length, 3);

      await page.fill('#train-epochs', '2');
      await page.click('#train-start');
      await page.waitForSelector('body[data-trained="2"]', { timeout: 180_000 });
      assert.match((await page.textContent('#model-info')) ?? '', /view-run-2/);
      const config = JSON.parse(fs.readFileSync(path.join(root, 'view-run-2', 'config.json'), 'utf8')) as {
        initFrom?: string;
        skipUnlabelled?: boolean;
      };
      assert.equal(config.initFrom, fs.realpathSync(path.join(root, 'view-run-1', 'model')), 'the second round continues from the first');
      assert.equal(config.skipUnlabelled, true);
      const second = (await prediction(page))!;
      assert.notEqual(second.probSum, first.probSum, 'the page predicts with the new model');
      // Where to label next: the images by their share of unsure pixels, highest first.
      await page.waitForSelector('body[data-metrics="done"]', { timeout: 120_000 });
      await page.click('#unsure-first');
      const shares = await page.$$eval('#items tbody tr td:nth-child(6)', (tds) => tds.map((td) => parseFloat(td.textContent ?? '')));
      assert.equal(shares.length, 8, 'every image, labelled or not, has its share');
      assert.ok(
        shares.every((x) => x >= 0 && x <= 100),
        `shares ${shares}`,
      );
      assert.deepEqual(
        shares,
        [...shares].sort((a, b) => b - a),
        'sorted, most unsure first',
      );
      await page.check('#show-unsure');
      assert.ok(await page.locator('#layer-unsure').isVisible());
      if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'viewer-trained.png') });
    } finally {
      await ctx.close();
      await viewer.close();
    }
  },
);

test(
  'viewer in Chromium: writes the server refuses, from the page itself (outside the set, a bad name) and from a page of another origin',
  { skip: skip ?? false, timeout: 120_000 },
  async () => {
    const root = tmpDir('gapseg-paint-refuse-');
    await writeSampleDataset(path.join(root, 'data'), { count: 2, size: 32, gap: 2, seed: 8, valid: 0, test: 0 });
    await writePng(path.join(root, 'loose', 'photo.png'), new Uint8Array(16 * 16 * 3).fill(90), 16, 16, 3);
    const snapshot = () =>
      JSON.stringify(
        fs
          .readdirSync(root, { recursive: true })
          .map(String)
          .sort()
          .map((f) => [f, fs.statSync(path.join(root, f)).isFile() ? fs.readFileSync(path.join(root, f)).toString('base64') : 'dir']),
      );
    const start = snapshot();
    const viewer = await startViewer({ root, host: '127.0.0.1', port: 0, maxUploadBytes: 1 << 20, log: () => {} });
    // Another origin: a page on another port that tries to write into the viewer.
    const evil = http.createServer((_, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>other</title>');
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    const evilUrl = `http://127.0.0.1:${(evil.address() as { port: number }).port}/`;
    const ctx = await launchChromium();
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await page.goto(viewer.url);
      await page.waitForSelector('body[data-status="shown"]', { timeout: 60_000 });
      const own = await page.evaluate(async () => {
        const c = (window as unknown as { gapseg: { state: { catalog: { writeToken: string; items: { id: number; name: string }[] } } } })
          .gapseg.state.catalog;
        const loose = c.items.find((i) => i.name === 'photo')!;
        const headers = { 'X-Gapseg-Token': c.writeToken, 'X-Label-Width': '16', 'X-Label-Height': '16', 'If-Match': 'none' };
        const outside = await fetch(`/api/labels/${loose.id}`, { method: 'PUT', body: new Uint8Array(256), headers });
        const badName = await fetch('/api/images', {
          method: 'POST',
          body: new Uint8Array(10),
          headers: { 'X-Gapseg-Token': c.writeToken, 'X-File-Name': encodeURIComponent('../../x.png') },
        });
        return [outside.status, badName.status];
      });
      assert.deepEqual(own, [403, 400], 'a label outside the set, an image with a path for a name');
      const other = await ctx.newPage();
      await other.goto(evilUrl);
      const foreign = await other.evaluate(async (target) => {
        const out: string[] = [];
        // With the page's headers the browser must ask first (CORS preflight), and the viewer never allows it.
        try {
          const r = await fetch(`${target}api/labels/0`, {
            method: 'PUT',
            body: new Uint8Array(32 * 32),
            headers: { 'X-Gapseg-Token': 'guess', 'X-Label-Width': '32', 'X-Label-Height': '32', 'If-Match': 'none' },
          });
          out.push(`put ${r.status}`);
        } catch {
          out.push('put blocked');
        }
        // A simple request needs no preflight: it reaches the viewer, which refuses it (no token, another origin).
        await fetch(`${target}api/images`, { method: 'POST', mode: 'no-cors', body: 'x' }).catch(() => null);
        await fetch(`${target}api/train`, { method: 'POST', mode: 'no-cors', body: '{"epochs": 1}' }).catch(() => null);
        return out;
      }, viewer.url);
      assert.deepEqual(foreign, ['put blocked']);
      const status = JSON.parse(await (await fetch(`${viewer.url}api/train`)).text()) as { state: string };
      assert.equal(status.state, 'idle', 'no training was started from the other origin');
      assert.equal(snapshot(), start, 'no file was written or changed');
    } finally {
      await ctx.close();
      await viewer.close();
      await new Promise((r) => evil.close(r));
    }
  },
);

test(
  'viewer in Chromium, the whole loop from a folder of photos with no labels: strokes on a few images, saved, trained from the page, and a frontier is drawn',
  { skip: skip ?? false, timeout: 300_000 },
  async () => {
    const root = tmpDir('gapseg-from-nothing-');
    const size = 64;
    const truths: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      const g = generateImage(makeRng(20 + i), size, 3);
      truths.push(Uint8Array.from(g.truth, (v) => (v ? 1 : 0)));
      await writePng(path.join(root, 'images', `photo${i}.png`), g.rgb, size, size, 3);
    }
    /** A pixel of class `c` whose 5x5 neighbourhood is all `c`. */
    const deep = (t: Uint8Array, c: number): [number, number] => {
      for (let y = 3; y < size - 3; y++) {
        for (let x = 3; x < size - 3; x++) {
          let ok = true;
          for (let dy = -2; dy <= 2 && ok; dy++) for (let dx = -2; dx <= 2 && ok; dx++) ok = t[(y + dy) * size + x + dx] === c;
          if (ok) return [x, y];
        }
      }
      throw new Error(`no deep pixel of class ${c}`);
    };
    const trainArgs = [
      '--depth',
      '2',
      '--width',
      '8',
      '--crop',
      '64',
      '--batch',
      '3',
      '--tile',
      '64',
      '--lr',
      '0.01',
      '--valid-fraction',
      '0',
    ];
    const viewer = await startViewer({
      root,
      host: '127.0.0.1',
      port: 0,
      maxUploadBytes: 32 << 20,
      classes: parseClassesFlag('0=background,255=smoke,128=void'),
      trainArgs,
      log: () => {},
    });
    const ctx = await launchChromium();
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await page.goto(viewer.url);
      await page.waitForSelector('body[data-status="shown"]', { timeout: 60_000 });
      await page.$eval('#brush', (el) => {
        (el as HTMLInputElement).value = '5';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      });
      for (let i = 0; i < 3; i++) {
        await page.click(`#items tbody tr:has-text("photo${i}")`);
        await page.waitForSelector(`body[data-shown="item-${i}"]`);
        for (const c of [0, 1]) {
          await page.keyboard.press(String(c + 1));
          const [x, y] = deep(truths[i], c);
          await stroke(page, size, [
            [x - 1, y],
            [x + 1, y],
          ]);
        }
        await page.keyboard.press('Control+S');
        await page.waitForSelector(`body[data-saved="${i}"]`);
      }
      assert.equal(fs.readdirSync(path.join(root, 'labels')).length, 3);
      await page.fill('#train-epochs', '12');
      await page.click('#train-start');
      await page.waitForSelector('body[data-trained="1"]', { timeout: 240_000 });
      await page.click('#items tbody tr:has-text("photo3")');
      await page.waitForSelector('body[data-shown="item-3"]');
      await page.waitForFunction(
        () =>
          ((window as unknown as { gapseg: { lastPrediction(): { counts: number[] } | null } }).gapseg.lastPrediction()?.counts.length ??
            0) > 0,
      );
      const s = (await page.evaluate(() => (window as unknown as { gapseg: { lastPrediction(): unknown } }).gapseg.lastPrediction())) as {
        counts: number[];
        frontierLines: number;
      };
      assert.ok(s.counts[0] > 0 && s.counts[1] > 0, `an unlabelled photo gets both classes: ${s.counts}`);
      assert.ok(s.frontierLines > 0, 'and a frontier between them');
      assert.ok(await page.locator('#frontier-path').isVisible());
    } finally {
      await ctx.close();
      await viewer.close();
    }
  },
);
