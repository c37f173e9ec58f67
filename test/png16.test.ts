/** 16-bit PNGs (probability maps, label masks with values above 255) survive a round trip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers.js';
import { encodePng, readLabel } from '../src/data/decode.js';

test('16-bit grey and RGB PNGs written by encodePng read back with their values', async () => {
  const dir = tmpDir();
  const grey = Uint16Array.from([7, 32768, 65535, 1000, 2, 300]);
  fs.writeFileSync(path.join(dir, 'g.png'), await encodePng(grey, 3, 2, 1));
  assert.deepEqual(Array.from((await readLabel(path.join(dir, 'g.png'))).values), Array.from(grey));
  const rgb = Uint16Array.from([7, 7, 7, 40000, 40000, 40000]);
  fs.writeFileSync(path.join(dir, 'c.png'), await encodePng(rgb, 2, 1, 3));
  assert.deepEqual(Array.from((await readLabel(path.join(dir, 'c.png'))).values), [7, 40000]);
  const eight = Uint8Array.from([0, 128, 255, 3]);
  fs.writeFileSync(path.join(dir, 'e.png'), await encodePng(eight, 2, 2, 1));
  assert.deepEqual(Array.from((await readLabel(path.join(dir, 'e.png'))).values), [0, 128, 255, 3]);
});
