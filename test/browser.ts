/**
 * Debian's Chromium driven by playwright-core, for end-to-end tests: headless, no sandbox
 * (tests run as root in CI), no background networking, a fresh profile each launch.
 * When the binary is missing the tests skip and say why instead of failing.
 */
import fs from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { tmpDir } from './helpers.js';

export const CHROMIUM = process.env.GAPSEG_CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or null when they can. */
export function browserSkipReason(): string | null {
  if (!fs.existsSync(CHROMIUM))
    return `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser tests`;
  return null;
}

/** Launch Chromium with the flags the tests rely on, in a fresh profile (playwright passes it as --user-data-dir). */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(tmpDir('gapseg-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
