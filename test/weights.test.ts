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
  return { url: `http://127.0.0.1:${port}/${MOBILENET_V2_WEIGHTS.file}`, requests: () => n, close: () => new Promise((r) => server.close(() => r())) };
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
  await rejectsUser(mobileNetV2WeightsFile(path.join(dir, 'nope.tflite'), () => {}), 'nope.tflite', 'not found');
  await rejectsUser(mobileNetV2WeightsFile(dir, () => {}), 'not a file');
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
      await rejectsUser(mobileNetV2WeightsFile(undefined, () => {}), MOBILENET_V2_WEIGHTS.file, MOBILENET_V2_WEIGHTS.sha256, cache, 'SHA-256');
    });
  } finally {
    await server.close();
  }
  assert.deepEqual(fs.readdirSync(cache), [], 'a file with the wrong checksum is not kept');
  await withEnv({ GAPSEG_CACHE_DIR: cache, GAPSEG_WEIGHTS_URL: await deadUrl() }, async () => {
    await rejectsUser(mobileNetV2WeightsFile(undefined, () => {}), 'could not be downloaded', /ECONNREFUSED/, MOBILENET_V2_WEIGHTS.file, cache, '--encoder-weights');
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

test('gapseg train --encoder mobilenet_v2: offline with no weights, a crop not a multiple of 32, and encoder flags with the U-Net are one-line errors', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await makeSample(data, { images: 4 });
  const env = { GAPSEG_CACHE_DIR: path.join(dir, 'cache'), GAPSEG_WEIGHTS_URL: await deadUrl() };
  const offline = await runCli(['train', data, '--out', path.join(dir, 'run'), '--encoder', 'mobilenet_v2', '--epochs', '1', '--crop', '64'], { env });
  assert.notEqual(offline.code, 0);
  const line = errorLine(offline.stderr, offline.stderr);
  for (const s of [MOBILENET_V2_WEIGHTS.file, env.GAPSEG_CACHE_DIR, '--encoder-weights']) assert.ok(line.includes(s), `${line} names ${s}`);
  assert.equal(fs.existsSync(path.join(dir, 'run', 'model')), false, 'no model is written');

  const crop = await runCli(['train', data, '--out', path.join(dir, 'run2'), '--encoder', 'mobilenet_v2', '--crop', '48'], { env });
  assert.equal(crop.code, 2);
  assert.match(errorLine(crop.stderr, crop.stderr), /--crop 48 must be a multiple of 32/);

  const stray = await runCli(['train', data, '--out', path.join(dir, 'run3'), '--encoder', 'unet', '--freeze-epochs', '2'], { env });
  assert.equal(stray.code, 2);
  assert.match(errorLine(stray.stderr, stray.stderr), /--freeze-epochs goes with --encoder mobilenet_v2/);

  const missing = await runCli(['train', data, '--out', path.join(dir, 'run4'), '--encoder', 'mobilenet_v2', '--encoder-weights', path.join(dir, 'no.tflite')], { env });
  assert.notEqual(missing.code, 0);
  assert.match(errorLine(missing.stderr, missing.stderr), /no\.tflite: encoder weights not found/);
});

test('a run that names no network gets the pretrained one where its weights are cached, else a U-Net, saying which', async () => {
  const empty = tmpDir();
  await withEnv({ GAPSEG_CACHE_DIR: empty }, async () => {
    const none = chooseEncoder({ out: 'run' });
    assert.equal(none.encoder, 'unet');
    assert.ok(none.note?.startsWith('note: ') && none.note.includes(empty) && none.note.includes('--encoder mobilenet_v2'), String(none.note));
    assert.deepEqual(chooseEncoder({ out: 'run', encoderWeights: 'w.tflite' }), { encoder: 'mobilenet_v2', note: null });
    assert.deepEqual(chooseEncoder({ out: 'run', freezeEpochs: 2 }), { encoder: 'mobilenet_v2', note: null });
  });
  const weights = realWeights();
  if (!weights) return;
  const cache = tmpDir();
  fs.copyFileSync(weights, path.join(cache, MOBILENET_V2_WEIGHTS.file));
  await withEnv({ GAPSEG_CACHE_DIR: cache }, async () => {
    const cached = chooseEncoder({ out: 'run' });
    assert.equal(cached.encoder, 'mobilenet_v2');
    assert.match(String(cached.note), /^note: the ImageNet-pretrained MobileNetV2 U-Net .*--encoder unet/);
    assert.deepEqual(chooseEncoder({ out: 'run', depth: 3 }), { encoder: 'unet', note: null }, 'a U-Net option chooses the U-Net');
    assert.deepEqual(chooseEncoder({ out: 'run', encoder: 'unet' }), { encoder: 'unet', note: null });
    const odd = chooseEncoder({ out: 'run', crop: 100 });
    assert.equal(odd.encoder, 'unet');
    assert.match(String(odd.note), /--crop 100 is not a multiple of 32/);
    // A damaged cached file is not the weights.
    fs.writeFileSync(path.join(cache, MOBILENET_V2_WEIGHTS.file), 'damaged');
    assert.equal(chooseEncoder({ out: 'run' }).encoder, 'unet');
  });
});
