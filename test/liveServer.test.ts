/**
 * The viewer's live route (POST /api/live/<id>) with its worker process: an answer of class
 * probabilities at the image's size once the live model has learnt from the labels sent, the
 * page's token required, labels of the wrong size or class refused in one line, and a request
 * replaced by a newer one for the same image answered 204 at once. The encoder is a MobileNetV2
 * of seeded random weights (the real ImageNet file is not needed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paintableSet, paintViewer } from './paintFixtures.js';

test(
  'live route: probabilities at the image size after learning from the labels; token, size and class checked; a replaced request answers 204',
  { timeout: 180_000 },
  async () => {
    const [w, h] = [72, 40];
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) rgb.set(i % w < 36 ? [200, 50, 40] : [30, 90, 210], i * 3);
    const root = await paintableSet('gapseg-live-', { scene: { rgb, width: w, height: h } });
    const logged: string[] = [];
    const viewer = await paintViewer(root, { live: true, log: (l) => logged.push(l) });
    try {
      const catalog = (await (await fetch(`${viewer.url}api/catalog`)).json()) as { writeToken: string; live: { available: boolean } };
      assert.equal(catalog.live.available, true);
      const post = (body: Uint8Array<ArrayBuffer>, token = true) =>
        fetch(`${viewer.url}api/live/0`, { method: 'POST', body, headers: token ? { 'X-Gapseg-Token': catalog.writeToken } : {} });
      const labels = new Uint8Array(w * h).fill(255);
      for (let y = 10; y < 30; y++) {
        labels[y * w + 8] = 1;
        labels[y * w + 60] = 0;
      }
      // The first request starts the worker; a second one for the same image replaces it.
      const first = post(labels);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = await post(new Uint8Array(0));
      assert.equal((await first).status, 204);
      assert.equal(second.status, 200, await second.clone().text());
      assert.ok(Number(second.headers.get('X-Live-Total-Steps')) >= 1, 'the live model took steps');
      const probs = new Uint8Array(await second.arrayBuffer());
      assert.equal(probs.length, w * h * 2);
      for (let i = 0; i < w * h; i++) assert.ok(Math.abs(probs[2 * i] + probs[2 * i + 1] - 255) <= 1, `pixel ${i}: probabilities sum to 1`);

      const refused = async (r: Response, status: number, pattern: RegExp) => {
        assert.equal(r.status, status);
        const error = ((await r.json()) as { error: string }).error;
        assert.match(error, pattern);
        assert.ok(!error.includes('\n'));
      };
      await refused(await post(labels, false), 403, /token/);
      await refused(await post(new Uint8Array(17)), 400, /17 label bytes for a 72x40 image/);
      await refused(await post(new Uint8Array(w * h).fill(2)), 400, /class indices below 2, or 255/);
      await refused(await fetch(`${viewer.url}api/live/0`), 405, /POST/);
      await refused(
        await post(labels).then(() =>
          fetch(`${viewer.url}api/live/7`, { method: 'POST', headers: { 'X-Gapseg-Token': catalog.writeToken } }),
        ),
        404,
        /no such item/,
      );
      assert.ok(
        logged.some((l) => l.includes('live model: a fresh U-Net decoder')),
        logged.join('\n'),
      );
    } finally {
      await viewer.close();
    }
  },
);
