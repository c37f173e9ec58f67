// The viewer's screenshots on a real photograph (docs/screenshots/photo-*.png): labelling the crema
// of a cup of coffee live, with strokes, a fill and a lasso, then saving and training. The photo is
// scikit-image's coffee.png (Rachel Michetti, CC0), taken from Debian's python3-skimage package
// (downloaded with apt-get, not installed), or given with --photo. The live model starts from the
// ImageNet MobileNetV2 weights in gapseg's cache (downloaded there when missing).
//   npm run build:dev && node scripts/viewer-photos.mjs [--photo coffee.png] [--out docs/screenshots]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { startViewer } from '../build/src/view/server.js';
import { parseClassesFlag } from '../build/src/data/classes.js';
import { mobileNetV2WeightsFile } from '../build/src/api/weights.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const out = path.resolve(arg('out', 'docs/screenshots'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gapseg-photos-'));

/** scikit-image's coffee.png out of Debian's package, without installing it. */
function debianPhoto() {
  execFileSync('apt-get', ['download', 'python3-skimage'], { cwd: work, stdio: 'ignore' });
  const deb = fs.readdirSync(work).find((f) => f.endsWith('.deb'));
  execFileSync('dpkg', ['-x', path.join(work, deb), path.join(work, 'deb')]);
  return path.join(work, 'deb', 'usr', 'lib', 'python3', 'dist-packages', 'skimage', 'data', 'coffee.png');
}

const photo = arg('photo', null) ?? debianPhoto();
// The test helpers point gapseg's cache at an empty folder of their own when they load: the
// weights are found first, and the user's environment is given back to the page's training.
const weights = await mobileNetV2WeightsFile(undefined, () => {});
const env = { ...process.env };
const { launchChromium, screenOf, stroke, waitLiveStrokes, liveLatencies } = await import('../build/test/browser.js');
for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
Object.assign(process.env, env);
const root = path.join(work, 'coffee');
fs.mkdirSync(path.join(root, 'images'), { recursive: true });
fs.mkdirSync(path.join(root, 'labels'));
// 600 x 400 at 512 x 341 (the coordinates below are in these pixels).
await sharp(photo)
  .removeAlpha()
  .resize(512)
  .png()
  .toFile(path.join(root, 'images', 'coffee.png'));
const W = 512;

const viewer = await startViewer({
  root,
  host: '127.0.0.1',
  port: 0,
  maxUploadBytes: 32 << 20,
  classes: parseClassesFlag('0=background,255=crema,128=void'),
  encoderWeights: async () => weights,
  log: (line) => console.error(line),
});
const ctx = await launchChromium({ width: 1280, height: 860 });
const shot = async (page, name) => {
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(out, name) });
  console.log(`wrote ${path.join(out, name)}`);
};
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(viewer.url);
  await page.waitForSelector('body[data-status="shown"]', { timeout: 60_000 });
  await page.locator('#items tbody tr').first().click();
  await page.waitForSelector('body[data-shown]', { timeout: 60_000 });
  await shot(page, 'photo-1-open.png');

  // Live on; a stroke of crema and two of background, each answered by the live model.
  await page.locator('#live').check();
  // An edit, then the live model's answer to it, and a pause to look, as someone painting would.
  const answered = async (edit) => {
    const before = (await liveLatencies(page)).length;
    await edit();
    await waitLiveStrokes(page, before).catch(async (e) => {
      throw new Error(`no live answer (${await page.textContent('#live-status')}): ${e.message.split('\n')[0]}`);
    });
    await page.waitForTimeout(2500);
  };
  const paint = async (c, pts) => {
    await page.locator(`#tools button[data-tool="${c}"]`).click();
    await answered(() => stroke(page, W, pts, 6));
  };
  await paint(1, [
    [215, 112],
    [245, 118],
    [275, 128],
  ]);
  await paint(0, [
    [40, 290],
    [90, 310],
    [140, 322],
  ]);
  await paint(0, [
    [430, 70],
    [470, 110],
    [495, 160],
  ]);
  await shot(page, 'photo-2-live-strokes.png');
  // Corrections where the live frontier is wrong: the cup's white inside and its red outside.
  await paint(0, [
    [170, 95],
    [178, 130],
    [200, 165],
  ]);
  await paint(0, [
    [160, 190],
    [200, 215],
    [250, 222],
  ]);

  // A fill of the saucer's red and a lasso around the spoon, both background.
  await page.locator('#tools button[data-tool="0"]').click();
  await page.click('#shapes button[data-shape="fill"]');
  await page.$eval('#fill-tolerance', (el) => {
    el.value = '70';
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
  const at = await screenOf(page, W, 95, 235);
  await answered(() => page.mouse.click(at.x, at.y));
  await shot(page, 'photo-3-fill.png');
  await page.click('#shapes button[data-shape="lasso"]');
  await paint(0, [
    [285, 170],
    [335, 165],
    [345, 215],
    [330, 280],
    [290, 285],
    [285, 170],
  ]);
  await page.click('#shapes button[data-shape="brush"]');
  // A correction on the cup's white rim, where the frontier hesitates.
  await paint(0, [
    [185, 40],
    [245, 28],
    [300, 40],
  ]);
  await shot(page, 'photo-4-lasso-correction.png');

  await page.click('#save');
  await page.waitForFunction(() => !['saving', undefined].includes(document.body.dataset.saved));
  const saved = await page.textContent('#save-status');
  if (!/^saved /.test(saved ?? '')) throw new Error(`not saved: ${saved}`);
  await page.fill('#train-epochs', '5');
  await page.click('#train-start');
  await page.waitForSelector('body[data-trained="1"]', { timeout: 600_000 }).catch(async (e) => {
    throw new Error(`no trained model (${await page.textContent('#train-status')}): ${e.message.split('\n')[0]}`);
  });
  await page.waitForTimeout(3000);
  await page.check('#show-unsure');
  await shot(page, 'photo-5-trained.png');
} finally {
  await ctx.close();
  await viewer.close();
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(0);
