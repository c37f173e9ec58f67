/**
 * Live training in Chromium, end to end: with "live" on, two strokes on an unlabelled image make
 * the server's live model learn, and the frontier the page draws follows them: the left of the
 * image predicted as the class painted there, the right as the other, with the time from each
 * stroke's end to that frontier recorded. The encoder is a MobileNetV2 of seeded random weights.
 * Skips, saying why, when Chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSkipReason, liveLatencies, stroke, waitLiveStrokes } from './browser.js';
import { paintableSet, paintViewer, withPage } from './paintFixtures.js';

const skip = browserSkipReason();
if (skip) process.stderr.write(`browser tests skipped: ${skip}\n`);

interface Probe {
  gapseg: { lastPrediction(): { classes: number[]; width: number } | null };
}

test(
  'live in Chromium: two strokes, and the frontier follows them within the rounds that carry them',
  { skip: skip ?? false, timeout: 240_000 },
  async () => {
    const [w, h] = [96, 64];
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) rgb.set(i % w < 48 ? [200, 60 + ((i / w) | 0), 40] : [40, 80 + ((i / w) | 0), 200], i * 3);
    const viewer = await paintViewer(await paintableSet('gapseg-livepage-', { scene: { rgb, width: w, height: h } }), { live: true });
    await withPage(viewer, async (page, errors) => {
      await page.waitForSelector('body[data-shown="item-0"]', { timeout: 60_000 });
      assert.ok(await page.isVisible('#live'), 'the live switch is offered');
      await page.check('#live');
      await page.waitForSelector('body[data-live]', { timeout: 60_000 });
      await page.$eval('#brush', (el) => {
        (el as HTMLInputElement).value = '6';
        el.dispatchEvent(new Event('input', { bubbles: true }));
      });
      await page.click('#tools button[data-tool="1"]');
      await stroke(page, w, [
        [10, 10],
        [12, 50],
      ]);
      await page.click('#tools button[data-tool="0"]');
      await stroke(page, w, [
        [84, 10],
        [86, 50],
      ]);
      // Both strokes answered, then the rounds after them: the frontier has followed.
      await waitLiveStrokes(page, 1);
      await page.waitForFunction(
        () => !(window as unknown as { gapseg: { state: { live: { inFlight: boolean } } } }).gapseg.state.live.inFlight,
        undefined,
        { timeout: 120_000 },
      );
      const pred = await page.evaluate(() => (window as unknown as Probe).gapseg.lastPrediction());
      assert.ok(pred, 'a prediction is shown');
      let right = 0;
      for (let i = 0; i < w * h; i++) if (pred.classes[i] === (i % w < 48 ? 1 : 0)) right++;
      assert.ok(right / (w * h) > 0.9, `${((100 * right) / (w * h)).toFixed(1)}% of the pixels on the painted side's class`);
      const latency = await liveLatencies(page);
      assert.equal(latency.length, 2, 'both strokes answered');
      assert.ok(
        latency.every((ms) => ms > 0 && Number.isFinite(ms)),
        `latencies ${latency.join(', ')}`,
      );
      assert.match((await page.textContent('#live-status')) ?? '', /^live: \d+ steps, (loss \d|strokes learnt)/);
      assert.deepEqual(errors, []);
    });
  },
);
