/**
 * Where the MobileNetV2 weights come from (api/weights.ts): the named file, else the cache,
 * else a download checked by SHA-256; and the one-line errors of `gapseg train --encoder
 * mobilenet_v2` when they cannot be had. The download is served from 127.0.0.1.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { cacheDir, MOBILENET_V2_WEIGHTS, mobileNetV2WeightsFile } from '../src/api/weights.js';
import { makeSample } from '../src/api/sample.js';
import { chooseEncoder } from '../src/api/train.js';
import { errorLine, rejectsUser, runCli, tmpDir } from './helpers.js';
import { noRealWeights, realWeights } from './mobilenetFixture.js';

/** Serve `body` at every path on 127.0.0.1, counting the requests. */
async function serve(body: Uint8Array): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((_req, res) => {
    n++;
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${MOBILENET_V2_WEIGHTS.file}`,
    requests: () => n,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port just freed), as a machine offline sees it. */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}/${MOBILENET_V2_WEIGHTS.file}`;
}

/** Run `f` with environment variables set, restoring them after. */
async function withEnv<T>(vars: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('a named weights file is used as it is; a missing one is a one-line error naming it', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'w.tflite');
  fs.writeFileSync(f, 'x');
  assert.equal(await mobileNetV2WeightsFile(f, () => {}), f);
  await rejectsUser(
    mobileNetV2WeightsFile(path.join(dir, 'nope.tflite'), () => {}),
    'nope.tflite',
    'not found',
  );
  await rejectsUser(
    mobileNetV2WeightsFile(dir, () => {}),
    'not a file',
  );
});

test('GAPSEG_CACHE_DIR is the cache folder', async () => {
  const dir = tmpDir();
  await withEnv({ GAPSEG_CACHE_DIR: dir }, async () => assert.equal(cacheDir(), dir));
});

test('weights that cannot be downloaded: one line naming the file, its checksum and the folder to put it in', async () => {
  const cache = tmpDir();
  const server = await serve(new Uint8Array([1, 2, 3]));
  try {
    await withEnv({ GAPSEG_CACHE_DIR: cache, GAPSEG_WEIGHTS_URL: server.url }, async () => {
      await rejectsUser(
        mobileNetV2WeightsFile(undefined, () => {}),
        MOBILENET_V2_WEIGHTS.file,
        MOBILENET_V2_WEIGHTS.sha256,
        cache,
        'SHA-256',
      );
    });
  } finally {
    await server.close();
  }
  assert.deepEqual(fs.readdirSync(cache), [], 'a file with the wrong checksum is not kept');
  await withEnv({ GAPSEG_CACHE_DIR: cache, GAPSEG_WEIGHTS_URL: await deadUrl() }, async () => {
    await rejectsUser(
      mobileNetV2WeightsFile(undefined, () => {}),
      'could not be downloaded',
      /ECONNREFUSED/,
      MOBILENET_V2_WEIGHTS.file,
      cache,
      '--encoder-weights',
    );
  });
});

test('the weights are downloaded once, checked, and then read from the cache', { skip: noRealWeights() }, async () => {
  const bytes = fs.readFileSync(realWeights()!);
  const cache = path.join(tmpDir(), 'nested', 'cache');
  const server = await serve(bytes);
  try {
    await withEnv({ GAPSEG_CACHE_DIR: cache, GAPSEG_WEIGHTS_URL: server.url }, async () => {
      const lines: string[] = [];
      const file = await mobileNetV2WeightsFile(undefined, (l) => lines.push(l));
      assert.equal(file, path.join(cache, MOBILENET_V2_WEIGHTS.file));
      assert.ok(fs.readFileSync(file).equals(bytes));
      assert.match(lines.join('\n'), /^note: downloading/);
      assert.equal(await mobileNetV2WeightsFile(undefined, () => {}), file);
      assert.equal(server.requests(), 1, 'the second call reads the cache');
      // A damaged cached copy is fetched again.
      fs.writeFileSync(file, 'damaged');
      const again: string[] = [];
      await mobileNetV2WeightsFile(undefined, (l) => again.push(l));
      assert.match(again.join('\n'), /not the expected file/);
      assert.equal(server.requests(), 2);
      assert.ok(fs.readFileSync(file).equals(bytes));
    });
  } finally {
    await server.close();
  }
});

test('gapseg train with no network option trains the pretrained MobileNetV2 U-Net: offline with no weights it is one line naming the file, the folder and --encoder unet; a crop not a multiple of 32 is rounded; encoder flags with the U-Net are refused', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await makeSample(data, { images: 4 });
  const env = { GAPSEG_CACHE_DIR: path.join(dir, 'cache'), GAPSEG_WEIGHTS_URL: await deadUrl() };
  const offline = await runCli(['train', data, '--out', path.join(dir, 'run'), '--epochs', '1', '--crop', '48'], { env });
  assert.equal(offline.code, 1);
  const line = errorLine(offline.stderr, offline.stderr);
  for (const s of [MOBILENET_V2_WEIGHTS.file, env.GAPSEG_CACHE_DIR, '--encoder-weights', '--encoder unet'])
    assert.ok(line.includes(s), `${line} names ${s}`);
  assert.match(offline.stderr, /^note: --crop 48 rounded to 64, a multiple of 32/m);
  assert.equal(fs.existsSync(path.join(dir, 'run', 'model')), false, 'no model is written');

  const stray = await runCli(['train', data, '--out', path.join(dir, 'run3'), '--encoder', 'unet', '--freeze-epochs', '2'], { env });
  assert.equal(stray.code, 2);
  assert.match(errorLine(stray.stderr, stray.stderr), /--freeze-epochs goes with --encoder mobilenet_v2/);

  const missing = await runCli(
    ['train', data, '--out', path.join(dir, 'run4'), '--encoder', 'mobilenet_v2', '--encoder-weights', path.join(dir, 'no.tflite')],
    { env },
  );
  assert.notEqual(missing.code, 0);
  assert.match(errorLine(missing.stderr, missing.stderr), /no\.tflite: encoder weights not found/);
});

test('the network of a run: the pretrained MobileNetV2 U-Net unless the U-Net is named or a U-Net option given, on every machine', () => {
  assert.equal(chooseEncoder({ out: 'run' }), 'mobilenet_v2');
  assert.equal(chooseEncoder({ out: 'run', crop: 100 }), 'mobilenet_v2');
  assert.equal(chooseEncoder({ out: 'run', encoder: 'unet' }), 'unet');
  assert.equal(chooseEncoder({ out: 'run', depth: 3 }), 'unet', 'a U-Net option chooses the U-Net');
  assert.equal(chooseEncoder({ out: 'run', width: 8 }), 'unet');
});

test(
  'gapseg train with no network option downloads the weights on first use, with progress, and reads the cache after',
  { skip: noRealWeights() },
  async () => {
    const dir = tmpDir();
    const data = path.join(dir, 'data');
    await makeSample(data, { images: 4, size: 64 });
    const server = await serve(fs.readFileSync(realWeights()!));
    try {
      const env = { GAPSEG_CACHE_DIR: path.join(dir, 'cache'), GAPSEG_WEIGHTS_URL: server.url };
      const args = (run: string) => [
        'train',
        data,
        '--out',
        path.join(dir, run),
        '--epochs',
        '1',
        '--crop',
        '32',
        '--batch',
        '2',
        '--threads',
        '1',
      ];
      const first = await runCli(args('run1'), { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /^note: downloading the ImageNet MobileNetV2 weights/m);
      assert.match(first.stderr, /^model: U-Net decoder \(128-64-48-32-16\) on a MobileNetV2 encoder/m);
      const second = await runCli(args('run2'), { env });
      assert.equal(second.code, 0, second.stderr);
      assert.doesNotMatch(second.stderr, /downloading/);
      assert.equal(server.requests(), 1, 'the second run reads the cache');
    } finally {
      await server.close();
    }
  },
);
