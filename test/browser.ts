/**
 * Debian's Chromium driven by playwright-core, for end-to-end tests: headless, no sandbox
 * (tests run as root in CI), no background networking, a fresh profile each launch.
 * When the binary is missing the tests skip and say why instead of failing.
 */
import fs from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tmpDir } from './helpers.js';

export const CHROMIUM = process.env.GAPSEG_CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or null when they can. */
export function browserSkipReason(): string | null {
  if (!fs.existsSync(CHROMIUM))
    return `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser tests`;
  return null;
}

/**
 * Launch Chromium with the flags the tests rely on, in a fresh profile (playwright passes it as
 * --user-data-dir); with webgpu, WebGPU on SwiftShader's software adapter instead of no GPU.
 */
export async function launchChromium(viewport = { width: 1280, height: 900 }, opts: { webgpu?: boolean } = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(tmpDir('gapseg-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      ...(opts.webgpu ? ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'] : ['--disable-gpu']),
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Screen position of image pixel (x, y) (its centre) in the viewer page. */
export async function screenOf(page: Page, width: number, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = (await page.locator('#layer-image').boundingBox())!;
  const s = box.width / width;
  return { x: box.x + (x + 0.5) * s, y: box.y + (y + 0.5) * s };
}

/** Drag the left button along image pixels, `steps` pointer moves per segment. */
export async function stroke(page: Page, width: number, points: [number, number][], steps = 8): Promise<void> {
  const first = await screenOf(page, width, ...points[0]);
  await page.mouse.move(first.x, first.y);
  await page.mouse.down();
  for (const p of points.slice(1)) {
    const q = await screenOf(page, width, ...p);
    await page.mouse.move(q.x, q.y, { steps });
  }
  await page.mouse.up();
}

/** The viewer page's live latencies so far (window.gapseg, the page's probe): ms from each stroke's end to its frontier. */
export function liveLatencies(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { gapseg: { state: { live: { latency: number[] } } } }).gapseg.state.live.latency);
}

/** Wait until the viewer page has answered more than `n` strokes live. */
export async function waitLiveStrokes(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    (k) => (window as unknown as { gapseg: { state: { live: { latency: number[] } } } }).gapseg.state.live.latency.length > k,
    n,
    { timeout: 120_000, polling: 20 },
  );
}
