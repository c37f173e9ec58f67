import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import { writeSampleDataset } from '../src/data/sample.js';
import { startViewer, type Viewer } from '../src/view/server.js';
import { resolveInside } from '../src/view/safePath.js';
import { buildCatalog } from '../src/view/catalog.js';
import { spawn } from 'node:child_process';
import { CLI, runCli, tmpDir, writePng } from './helpers.js';

const SECRET = 'top secret outside the root';
let base: string;
let root: string;
let viewer: Viewer;

interface Reply {
  status: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

/** A request with the path sent exactly as written (no URL normalisation). */
function request(rawPath: string, opts: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(viewer.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

before(async () => {
  base = tmpDir('gapseg-serve-');
  root = path.join(base, 'root');
  await writeSampleDataset(path.join(root, 'data'), { count: 4, size: 32, gap: 2, seed: 1, valid: 1, test: 1 });
  fs.writeFileSync(path.join(base, 'secret.txt'), SECRET);
  fs.mkdirSync(path.join(base, 'outside'));
  fs.writeFileSync(path.join(base, 'outside', 'secret.txt'), SECRET);
  fs.symlinkSync(path.join(base, 'outside'), path.join(root, 'link-dir'));
  fs.symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link-file.txt'));
  fs.writeFileSync(path.join(root, 'inside.txt'), 'fine');
  fs.symlinkSync(path.join(root, 'inside.txt'), path.join(root, 'link-inside.txt'));
  viewer = await startViewer({ root, host: '127.0.0.1', port: 0, maxUploadBytes: 64 * 1024, log: () => {} });
});

after(async () => {
  await viewer.close();
});

test('binds to 127.0.0.1 by default and serves files under the folder', async () => {
  assert.match(viewer.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const ok = await request('/files/inside.txt');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), 'fine');
  assert.equal((await request('/files/link-inside.txt')).status, 200, 'a symlink staying inside is fine');
  const img = await request('/files/data/images/blob_0000.png');
  assert.equal(img.status, 200);
  assert.equal(img.headers['content-type'], 'image/png');
  const page = await request('/');
  assert.equal(page.status, 200);
  assert.match(page.body.toString(), /gapseg view/);
  assert.equal((await request('/app/vendor/tf-core.min.js', { method: 'HEAD' })).status, 200);
  assert.equal((await request('/app/js/draw/layers.js')).status, 200);
});

test('requests outside the folder are refused, however they are spelled', async () => {
  const attempts = [
    '/files/../secret.txt',
    '/files/%2e%2e/secret.txt',
    '/files/%2E%2E/secret.txt',
    '/files/..%2fsecret.txt',
    '/files/..%2Fsecret.txt',
    '/files/data/..%2f..%2fsecret.txt',
    '/files/%252e%252e/secret.txt',
    '/files/%252e%252e%252fsecret.txt',
    '/files/..%5csecret.txt',
    '/files/link-dir/secret.txt',
    '/files/link-file.txt',
    '/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/files//etc/passwd',
    '/files/inside.txt%00.png',
    '/files/%E0%A4%A',
    '/app/js/..%2f..%2f..%2fpackage.json',
    '/app/js/%2e%2e/%2e%2e/secret.js',
    '/app/..%2f..%2f..%2fpackage.json',
    '/app/vendor/..%2ftf-core.min.js',
    '/model/..%2fconfig.json',
    '/api/image/99',
    '/api/image/..%2f..%2fsecret.txt',
  ];
  for (const p of attempts) {
    const r = await request(p);
    assert.ok([400, 403, 404].includes(r.status), `${p} gave ${r.status}`);
    assert.ok(!r.body.toString().includes(SECRET), `${p} leaked the secret`);
    assert.ok(!r.body.toString().includes('"name": "gapseg"'), `${p} leaked package.json`);
  }
  assert.equal((await request('/files/..%2fsecret.txt')).status, 403);
  assert.equal((await request('/files/link-dir/secret.txt')).status, 403);
  assert.equal((await request('/files/%252e%252e%252fsecret.txt')).status, 403);
  assert.equal((await request('/files/%E0%A4%A')).status, 400);
  assert.equal((await request('/files/inside.txt%00.png')).status, 400);
});

test('path resolution refuses dot segments, NUL, backslashes and symlinks out', () => {
  const real = fs.realpathSync(root);
  assert.ok('file' in resolveInside(real, 'inside.txt'));
  for (const p of [
    '..',
    '../secret.txt',
    'a/../../secret.txt',
    '%2e%2e/secret.txt',
    '%252e%252e/x',
    'link-dir/secret.txt',
    'x%00',
    '..\\secret.txt',
    './inside.txt',
  ]) {
    const r = resolveInside(real, p);
    assert.ok('status' in r, `${p} resolved`);
  }
});

test('only GET and HEAD for files; uploads are size-limited and decoded, never stored', async () => {
  const listing = fs.readdirSync(root, { recursive: true }).sort();
  const put = await request('/files/inside.txt', { method: 'PUT', body: Buffer.from('x') });
  assert.equal(put.status, 405);
  assert.equal((await request('/files/inside.txt', { method: 'DELETE' })).status, 405);
  const token = (JSON.parse((await request('/api/catalog')).body.toString()) as { writeToken: string }).writeToken;
  const page = { 'X-Gapseg-Token': token };
  // Decoding costs memory: only the page itself may ask for it.
  const tiny = await sharp(Buffer.alloc(4 * 4 * 3, 9), { raw: { width: 4, height: 4, channels: 3 } })
    .png()
    .toBuffer();
  assert.equal((await request('/api/decode', { method: 'POST', body: tiny })).status, 403, 'no token');
  const foreign = await request('/api/decode', {
    method: 'POST',
    body: tiny,
    headers: { ...page, Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' },
  });
  assert.equal(foreign.status, 403, 'another origin');
  const big = await request('/api/decode', { method: 'POST', body: Buffer.alloc(200 * 1024, 1), headers: page });
  assert.equal(big.status, 413);
  const tiff = await sharp(Buffer.alloc(8 * 6 * 3, 200), { raw: { width: 8, height: 6, channels: 3 } })
    .tiff()
    .toBuffer();
  const ok = await request('/api/decode', { method: 'POST', body: tiff, headers: page });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['content-type'], 'image/png');
  const meta = await sharp(ok.body).metadata();
  assert.deepEqual([meta.width, meta.height], [8, 6]);
  assert.equal((await request('/api/decode', { method: 'POST', body: Buffer.from('not an image'), headers: page })).status, 415);
  assert.deepEqual(fs.readdirSync(root, { recursive: true }).sort(), listing, 'nothing written under the folder');
  assert.equal(fs.readFileSync(path.join(root, 'inside.txt'), 'utf8'), 'fine');
});

test('requests for another host name are refused (DNS rebinding)', async () => {
  const r = await request('/api/catalog', { headers: { Host: 'evil.example:80' } });
  assert.equal(r.status, 421);
});

test('the catalog lists the data set with labels as class indices (void = 255)', async () => {
  const r = await request('/api/catalog');
  assert.equal(r.status, 200);
  const c = JSON.parse(r.body.toString()) as {
    items: { name: string; group: string; label: string; truth: string }[];
    classes: { name: string }[];
    model: unknown;
  };
  assert.equal(c.items.length, 4);
  assert.deepEqual(
    c.classes.map((x) => x.name),
    ['background', 'smoke'],
  );
  assert.equal(c.model, null);
  assert.deepEqual(
    c.items.map((i) => i.group),
    ['data/train', 'data/train', 'data/valid', 'data/test'],
  );
  const lab = await request(c.items[0].label);
  assert.equal(lab.status, 200);
  const { data, info } = await sharp(lab.body).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 32);
  const values = new Set(data);
  assert.ok(
    [...values].every((v) => v === 0 || v === 1 || v === 255),
    `values ${[...values]}`,
  );
  assert.ok(values.has(255), 'the gap is void');
});

test('a label with a value outside the class description is a clear error', async () => {
  await writePng(path.join(root, 'data', 'labels', 'blob_0000.png'), new Uint8Array(32 * 32).fill(7), 32, 32, 1);
  const r = await request('/api/classes/0/label');
  assert.equal(r.status, 422);
  assert.match(JSON.parse(r.body.toString()).error, /label value 7 .* not in the class description/);
});

test('gapseg view: prints its URL, serves, and stops cleanly; a wrong folder is a one-line error', async () => {
  const bad = await runCli(['view', path.join(base, 'missing')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^gapseg: .*missing: not a folder\n$/);
  const empty = tmpDir();
  const none = await runCli(['view', empty]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /nothing to show/);
  const child = spawn(process.execPath, [CLI, 'view', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}`)));
  });
  const r = await fetch(`${url}api/catalog`);
  assert.equal(r.status, 200);
  const code = await new Promise<number | null>((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (c) => resolve(c));
    child.kill('SIGTERM');
  });
  assert.equal(code, 0);
});

test('catalog: a folder of data and predictions joins them by name; a predictions folder is not split into parts', async () => {
  const dir = tmpDir();
  await writeSampleDataset(path.join(dir, 'data'), { count: 3, size: 16, gap: 1, seed: 2, valid: 1, test: 1 });
  for (const sub of ['labels', 'overlays']) {
    await writePng(path.join(dir, 'pred', sub, 'blob_0002.png'), new Uint8Array(16 * 16 * 3), 16, 16, 3);
    await writePng(path.join(dir, 'pred', sub, 'extra.png'), new Uint8Array(16 * 16 * 3), 16, 16, 3);
  }
  const c = buildCatalog(dir);
  assert.deepEqual(
    c.items.map((i) => [i.name, i.pred ?? null]),
    [
      ['blob_0000', null],
      ['blob_0001', null],
      ['blob_0002', 'pred/labels/blob_0002.png'],
      ['extra', 'pred/labels/extra.png'],
    ],
  );
  assert.equal(c.items[3].image, 'pred/overlays/extra.png');
  const p = buildCatalog(path.join(dir, 'pred'));
  assert.deepEqual(
    p.items.map((i) => i.name),
    ['blob_0002', 'extra'],
  );
  assert.match(p.notes.join('\n'), /no class description/);
});
