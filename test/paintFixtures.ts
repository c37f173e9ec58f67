/**
 * What the painting tests share: a data set of unlabelled images to paint with the classes
 * "0=background,255=smoke,128=void", a viewer on it (with a synthetic MobileNetV2 file for live
 * training where asked), and its page open in Chromium with page errors collected.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startViewer, type Viewer } from '../src/view/server.js';
import { parseClassesFlag } from '../src/data/classes.js';
import { launchChromium } from './browser.js';
import { tmpDir, writePng } from './helpers.js';
import { syntheticMobileNetV2 } from './mobilenetFixture.js';
import type { Device } from '../src/engine/device.js';

export const PAINT_CLASSES = '0=background,255=smoke,128=void';

/** A fresh folder with images/<name>.png for each RGB image given and an empty labels/. */
export async function paintableSet(
  prefix: string,
  images: Record<string, { rgb: Uint8Array; width: number; height: number }>,
): Promise<string> {
  const root = tmpDir(prefix);
  for (const [name, im] of Object.entries(images)) await writePng(path.join(root, 'images', `${name}.png`), im.rgb, im.width, im.height, 3);
  fs.mkdirSync(path.join(root, 'labels'));
  return root;
}

/** A viewer on a paintable set; `live`: with a synthetic MobileNetV2 (seeded random weights) to start live training from. */
export async function paintViewer(
  root: string,
  opts: { live?: boolean; device?: Device; log?: (line: string) => void } = {},
): Promise<Viewer> {
  let encoderWeights: (() => Promise<string>) | undefined;
  if (opts.live) {
    const file = path.join(root, '..', 'synthetic.tflite');
    fs.writeFileSync(file, syntheticMobileNetV2().bytes);
    encoderWeights = async () => file;
  }
  return startViewer({
    root,
    host: '127.0.0.1',
    port: 0,
    maxUploadBytes: 32 << 20,
    classes: parseClassesFlag(PAINT_CLASSES),
    encoderWeights,
    ...(opts.device ? { device: opts.device } : {}),
    log: opts.log ?? (() => {}),
  });
}

/** Open the viewer's page in Chromium, run `use` with it and the page errors seen, then close page and viewer. */
export async function withPage(viewer: Viewer, use: (page: Page, errors: string[]) => Promise<void>): Promise<void> {
  const ctx = await launchChromium();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(viewer.url);
    await use(page, errors);
  } finally {
    await ctx.close();
    await viewer.close();
  }
}
