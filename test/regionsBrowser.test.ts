/**
 * Large areas in Chromium: a fill click labels exactly the block of similar colour, a lasso its
 * inside, both undone whole and saved as ordinary label pixels; background strokes show in their
 * own colour; unlabelled pixels are not hatched unless asked; saving moves neither layout nor zoom.
 * Skips, saying why, when Chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { browserSkipReason, screenOf, stroke } from './browser.js';
import { paintableSet, paintViewer, withPage } from './paintFixtures.js';
import { readLabel } from '../src/data/decode.js';

const skip = browserSkipReason();
if (skip) process.stderr.write(`browser tests skipped: ${skip}\n`);

const labelsOf = (page: Page) =>
  page.evaluate(() =>
    Array.from((window as unknown as { gapseg: { state: { current: { labels: Uint8Array } } } }).gapseg.state.current.labels),
  );

/** The label layer's alpha at an image pixel (0: nothing drawn there). */
const labelAlpha = (page: Page, x: number, y: number) =>
  page.evaluate(
    ([px, py]) => (document.getElementById('layer-label') as HTMLCanvasElement).getContext('2d')!.getImageData(px, py, 1, 1).data[3],
    [x, y],
  );

test(
  'fill and lasso in Chromium: exact regions, one undo each, saved as label pixels; background strokes visible; no jump on save',
  { skip: skip ?? false, timeout: 240_000 },
  async () => {
    const [w, h] = [120, 80];
    const rgb = new Uint8Array(w * h * 3);
    const inBlock = (x: number, y: number) => x >= 20 && x < 60 && y >= 20 && y < 50;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set(inBlock(x, y) ? [210, 40, 30] : [30, 60, 200], (y * w + x) * 3);
    const root = await paintableSet('gapseg-regions-', { scene: { rgb, width: w, height: h } });
    await withPage(await paintViewer(root), async (page, errors) => {
      await page.waitForSelector('body[data-shown="item-0"]', { timeout: 60_000 });
      assert.equal(await page.isChecked('#show-void'), false, 'unlabelled pixels are not hatched unless asked');
      assert.equal(await page.isVisible('#layer-void'), false);

      // Fill: one click inside the red block labels exactly the block.
      await page.click('#tools button:has-text("smoke")');
      await page.click('#shapes button[data-shape="fill"]');
      const inside = await screenOf(page, w, 30, 30);
      await page.mouse.click(inside.x, inside.y);
      let labels = await labelsOf(page);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) assert.equal(labels[y * w + x], inBlock(x, y) ? 1 : 255, `pixel ${x},${y} after the fill`);
      await page.click('#undo');
      assert.ok(
        (await labelsOf(page)).every((c) => c === 255),
        'the fill is undone whole',
      );
      await page.click('#redo');

      // Lasso: the inside of the outline dragged, as background; its strokes show (background is drawn untinted in predictions).
      await page.click('#tools button:has-text("background")');
      await page.click('#shapes button[data-shape="lasso"]');
      await stroke(page, w, [
        [70, 10],
        [110, 10],
        [110, 70],
        [70, 70],
      ]);
      labels = await labelsOf(page);
      assert.equal(labels[40 * w + 90], 0, 'inside the lasso');
      assert.equal(labels[5 * w + 90], 255, 'outside it');
      assert.equal(labels[40 * w + 65], 255, 'left of it');
      const lassoCount = labels.filter((c) => c === 0).length;
      assert.ok(lassoCount > 39 * 59 && lassoCount < 41 * 61, `${lassoCount} pixels inside a 40 x 60 outline`);
      assert.ok((await labelAlpha(page, 90, 40)) > 0, 'background strokes are drawn');
      await page.click('#undo');
      assert.equal((await labelsOf(page)).filter((c) => c === 0).length, 0, 'the lasso is undone whole');
      await page.click('#redo');

      const zoomBefore = await page.textContent('#zoom-value');
      const boxBefore = await page.locator('#viewport').boundingBox();
      await page.click('#save');
      await page.waitForSelector('body[data-saved="0"]');
      assert.equal(await page.textContent('#zoom-value'), zoomBefore, 'saving keeps the zoom');
      assert.deepEqual(await page.locator('#viewport').boundingBox(), boxBefore, 'saving keeps the layout');
      const file = await readLabel(path.join(root, 'labels', 'scene.png'));
      const final = await labelsOf(page);
      assert.deepEqual(
        Array.from(file.values),
        final.map((c) => (c === 255 ? 128 : c === 0 ? 0 : 255)),
        'the file holds the filled and lassoed pixels',
      );
      assert.deepEqual(errors, []);
    });
  },
);
