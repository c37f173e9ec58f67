/**
 * Saving painted labels through the viewer's server: the file holds exactly the painted
 * classes as the set's label values (grey, 16-bit or palette, as the set has them), void
 * elsewhere; an images-only set starts unlabelled and gets labels/ and its class file; and
 * every write that is not the page's own, not a label of the served set, malformed, or over a
 * file changed on disk since it was read, is refused with the file left as it was.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { writeSampleDataset } from '../src/data/sample.js';
import { readLabel } from '../src/data/decode.js';
import { discoverDataset } from '../src/data/dataset.js';
import { encodeLabelFile, labelFormatOf, labelValuesOf } from '../src/data/labelFile.js';
import { parseClassesFlag } from '../src/data/classes.js';
import { startViewer, type Viewer } from '../src/view/server.js';
import { CLI, tmpDir, writePng } from './helpers.js';

const VOID = 255;
const viewers: Viewer[] = [];
after(async () => {
  for (const v of viewers) await v.close();
});

interface Reply {
  status: number;
  body: Buffer;
}

function request(url: string, opts: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

interface CatalogItem {
  id: number;
  name: string;
  label: string | null;
  labelVersion: string | null;
}
interface Catalog {
  writeToken: string;
  items: CatalogItem[];
  classes: { name: string; value: number }[] | null;
}

async function catalogOf(v: Viewer): Promise<Catalog> {
  return JSON.parse((await request(`${v.url}api/catalog`)).body.toString()) as Catalog;
}

async function serve(root: string, extra: Partial<Parameters<typeof startViewer>[0]> = {}): Promise<Viewer> {
  const v = await startViewer({ root, host: '127.0.0.1', port: 0, maxUploadBytes: 8 * 1024 * 1024, log: () => {}, ...extra });
  viewers.push(v);
  return v;
}

/** Two painted rectangles (class 0 top left, class 1 bottom right), void elsewhere. */
function painting(w: number, h: number): Uint8Array {
  const a = new Uint8Array(w * h).fill(VOID);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (x < w / 3 && y < h / 3) a[y * w + x] = 0;
      if (x > w / 2 && y > h / 2) a[y * w + x] = 1;
    }
  }
  return a;
}

function save(
  v: Viewer,
  c: Catalog,
  id: number,
  labels: Uint8Array,
  w: number,
  h: number,
  headers: Record<string, string> = {},
  version?: string,
): Promise<Reply> {
  return request(`${v.url}api/labels/${id}`, {
    method: 'PUT',
    body: Buffer.from(labels),
    headers: {
      'Content-Type': 'application/octet-stream',
      'X-Gapseg-Token': c.writeToken,
      'X-Label-Width': String(w),
      'X-Label-Height': String(h),
      'If-Match': version ?? (c.items[id].labelVersion as string),
      ...headers,
    },
  });
}

test('label files in the three conventions read back with exactly the values written', async () => {
  const dir = tmpDir('gapseg-labelfile-');
  const desc = parseClassesFlag('0=background,255=smoke,128=void');
  const idx = painting(7, 5);
  const values = labelValuesOf(idx, desc, 'x.png');
  assert.deepEqual(
    [...new Set(values)].sort((a, b) => a - b),
    [0, 128, 255],
  );
  const plte = Uint8Array.from({ length: 256 * 3 }, (_, i) => (i * 37) % 256);
  for (const format of [{ kind: 'grey8' as const }, { kind: 'grey16' as const }, { kind: 'palette' as const, plte, trns: null }]) {
    const f = path.join(dir, `${format.kind}.png`);
    fs.writeFileSync(f, await encodeLabelFile(values, 7, 5, format, f));
    const back = await readLabel(f);
    assert.deepEqual([...back.values], [...values], format.kind);
    assert.equal(labelFormatOf(f).kind, format.kind);
  }
  const pal = labelFormatOf(path.join(dir, 'palette.png'));
  assert.ok(pal.kind === 'palette' && Buffer.from(pal.plte).equals(Buffer.from(plte)), 'the palette is kept');
  assert.throws(() => labelValuesOf(Uint8Array.from([3]), desc, 'x.png'), /class index 3/);
  assert.throws(() => labelValuesOf(Uint8Array.from([VOID]), parseClassesFlag('0=a,1=b'), 'x.png'), /no void value/);
});

test("a painted label is saved as the set's label file: painted classes as their values, void elsewhere; the version moves and an old one is a conflict", async () => {
  const root = tmpDir('gapseg-save-');
  await writeSampleDataset(path.join(root, 'data'), { count: 3, size: 32, gap: 2, seed: 1, valid: 1, test: 0 });
  const v = await serve(root);
  const c = await catalogOf(v);
  const it = c.items[0];
  assert.ok(it.labelVersion && it.labelVersion !== 'none', 'an existing label has a version');
  const labelFile = path.join(root, 'data', 'labels', `${it.name}.png`);
  const r = await save(v, c, 0, painting(32, 32), 32, 32);
  assert.equal(r.status, 200, r.body.toString());
  const saved = JSON.parse(r.body.toString()) as { version: string; label: string; classFile: string | null };
  assert.equal(saved.label, `data/labels/${it.name}.png`);
  assert.equal(saved.classFile, null, 'the set has its gapseg.json');
  const back = await readLabel(labelFile);
  const expected = [...painting(32, 32)].map((k) => (k === VOID ? 128 : k === 0 ? 0 : 255));
  assert.deepEqual([...back.values], expected);
  const before = fs.readFileSync(labelFile);
  const stale = await save(v, c, 0, new Uint8Array(32 * 32).fill(0), 32, 32);
  assert.equal(stale.status, 409);
  assert.match(JSON.parse(stale.body.toString()).error, /changed on disk since the page read it/);
  assert.ok(fs.readFileSync(labelFile).equals(before), 'a conflict leaves the file as it was');
  const again = await save(v, c, 0, new Uint8Array(32 * 32).fill(1), 32, 32, {}, saved.version);
  assert.equal(again.status, 200, 'the new version saves');
  assert.ok((await readLabel(labelFile)).values.every((x) => x === 255));
});

test("writes that are not the page's own, or not a label of the served set, or malformed, are refused and change nothing", async () => {
  const root = tmpDir('gapseg-refuse-');
  await writeSampleDataset(path.join(root, 'data'), { count: 2, size: 32, gap: 2, seed: 2, valid: 0, test: 0 });
  await writePng(path.join(root, 'loose', 'photo.png'), new Uint8Array(16 * 16 * 3).fill(90), 16, 16, 3);
  const v = await serve(root);
  const c = await catalogOf(v);
  const loose = c.items.find((i) => i.name === 'photo')!;
  assert.equal(loose.labelVersion, null, 'an image outside a data set cannot be painted');
  const snapshot = () =>
    fs
      .readdirSync(root, { recursive: true })
      .map(String)
      .sort()
      .map((f) => [f, fs.statSync(path.join(root, f)).isFile() ? fs.readFileSync(path.join(root, f)).toString('base64') : 'dir']);
  const start = JSON.stringify(snapshot());
  const ok = painting(32, 32);
  const cases: [string, Promise<Reply>, number, RegExp][] = [
    ['no token', save(v, c, 0, ok, 32, 32, { 'X-Gapseg-Token': '' }), 403, /write token/],
    ['a wrong token', save(v, c, 0, ok, 32, 32, { 'X-Gapseg-Token': 'f'.repeat(c.writeToken.length) }), 403, /write token/],
    ['another origin', save(v, c, 0, ok, 32, 32, { Origin: 'http://evil.example' }), 403, /another origin/],
    ['another site', save(v, c, 0, ok, 32, 32, { 'Sec-Fetch-Site': 'cross-site' }), 403, /another site/],
    [
      'an image outside the data set',
      save(v, c, loose.id, new Uint8Array(256), 16, 16, {}, 'none'),
      403,
      /not an image of the served data set/,
    ],
    ['no such item', save(v, c, 99, ok, 32, 32, {}, 'none'), 404, /no such item/],
    [
      'a path for an id',
      request(`${v.url}api/labels/..%2F..%2Fsecret`, { method: 'PUT', body: Buffer.from(ok) }),
      405,
      /only GET and HEAD/,
    ],
    ['the wrong size', save(v, c, 0, ok, 16, 64), 400, /is 16x64, the image/],
    ['too few bytes', save(v, c, 0, ok.subarray(1), 32, 32), 400, /needs 1024 bytes/],
    ['a class index out of range', save(v, c, 0, new Uint8Array(32 * 32).fill(9), 32, 32), 422, /class index 9/],
    ['GET', request(`${v.url}api/labels/0`), 405, /PUT a label/],
  ];
  for (const [what, reply, status, message] of cases) {
    const r = await reply;
    assert.equal(r.status, status, `${what}: ${r.body.toString()}`);
    assert.match(JSON.parse(r.body.toString()).error, message, what);
  }
  assert.equal(JSON.stringify(snapshot()), start, 'no refused write changed a file');
});

test('an images-only data set starts unlabelled; a save creates labels/ and the class file, and the set becomes trainable', async () => {
  const root = tmpDir('gapseg-fresh-');
  for (const n of ['a', 'b'])
    await writePng(path.join(root, 'images', `${n}.png`), new Uint8Array(24 * 20 * 3).fill(n === 'a' ? 40 : 200), 24, 20, 3);
  const v = await serve(root, { classes: parseClassesFlag('0=sky,255=cloud,128=void') });
  const c = await catalogOf(v);
  assert.deepEqual(
    c.items.map((i) => [i.name, i.label, i.labelVersion]),
    [
      ['a', null, 'none'],
      ['b', null, 'none'],
    ],
  );
  const r = await save(v, c, 0, painting(24, 20), 24, 20);
  assert.equal(r.status, 200, r.body.toString());
  assert.equal((JSON.parse(r.body.toString()) as { classFile: string }).classFile, 'gapseg.json');
  const back = await readLabel(path.join(root, 'labels', 'a.png'));
  assert.deepEqual(
    [...back.values],
    [...painting(24, 20)].map((k) => (k === VOID ? 128 : k === 0 ? 0 : 255)),
  );
  const layout = discoverDataset(root, undefined, { unlabelled: true });
  assert.deepEqual(
    layout.splits.train.map((p) => p.name),
    ['a'],
  );
  assert.deepEqual(
    layout.unlabelled.map((u) => u.name),
    ['b'],
  );
  assert.throws(() => discoverDataset(root), /no label for 1 image/, 'training still refuses a set with unlabelled images, saying so');
  const again = await catalogOf(v);
  assert.notEqual(again.items[0].labelVersion, 'none');
});

test('a set of palette labels keeps its palette when a label is saved', async () => {
  const root = tmpDir('gapseg-palette-');
  const plte = Uint8Array.from([0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 255]);
  const desc = parseClassesFlag('0=background,1=object,3=void');
  await writePng(path.join(root, 'images', 'p.png'), new Uint8Array(8 * 8 * 3).fill(10), 8, 8, 3);
  await writePng(path.join(root, 'images', 'q.png'), new Uint8Array(8 * 8 * 3).fill(10), 8, 8, 3);
  fs.mkdirSync(path.join(root, 'labels'));
  fs.writeFileSync(
    path.join(root, 'labels', 'p.png'),
    await encodeLabelFile(new Uint16Array(64).fill(3), 8, 8, { kind: 'palette', plte, trns: null }, 'p.png'),
    { flag: 'w' },
  );
  const v = await serve(root, { classes: desc });
  const c = await catalogOf(v);
  const q = c.items.find((i) => i.name === 'q')!;
  const r = await save(v, c, q.id, painting(8, 8), 8, 8);
  assert.equal(r.status, 200, r.body.toString());
  const f = labelFormatOf(path.join(root, 'labels', 'q.png'));
  assert.ok(f.kind === 'palette' && Buffer.from(f.plte).equals(Buffer.from(plte)), "the new file has the set's palette");
  assert.deepEqual(
    [...(await readLabel(path.join(root, 'labels', 'q.png'))).values],
    [...painting(8, 8)].map((k) => (k === VOID ? 3 : k)),
  );
});

test('a viewer killed while it saves leaves the previous label file whole (or the new one, never a torn one)', async (t) => {
  const root = tmpDir('gapseg-kill-');
  const [w, h] = [1600, 1200];
  await writePng(path.join(root, 'images', 'big.png'), new Uint8Array(w * h * 3).fill(70), w, h, 3);
  const desc = parseClassesFlag('0=background,255=smoke,128=void');
  const old = await encodeLabelFile(new Uint16Array(w * h).fill(128), w, h, { kind: 'grey8' }, 'big.png');
  fs.mkdirSync(path.join(root, 'labels'));
  fs.writeFileSync(path.join(root, 'labels', 'big.png'), old);
  fs.writeFileSync(
    path.join(root, 'gapseg.json'),
    JSON.stringify({ classes: desc.classes.map((x) => ({ name: x.name, value: x.value })), void: [128] }),
  );
  // Noisy strokes compress slowly, which keeps the save busy long enough for the kill.
  const painted = Uint8Array.from({ length: w * h }, (_, i) => [0, 1, VOID][((i * 2654435761) % 7) % 3]);
  const outcomes = new Set<string>();
  for (let attempt = 0; attempt < 3; attempt++) {
    const child = spawn(process.execPath, [CLI, 'view', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = out.match(/at (http:\/\/\S+)/);
        if (m) resolve(m[1]);
      });
      child.once('exit', () => reject(new Error(`viewer exited: ${out}`)));
    });
    const c = JSON.parse((await request(`${url}api/catalog`)).body.toString()) as Catalog;
    const r = request(`${url}api/labels/0`, {
      method: 'PUT',
      body: Buffer.from(painted),
      headers: {
        'Content-Type': 'application/octet-stream',
        'X-Gapseg-Token': c.writeToken,
        'X-Label-Width': String(w),
        'X-Label-Height': String(h),
        'If-Match': c.items[0].labelVersion as string,
      },
    }).catch(() => null);
    await new Promise((res) => setTimeout(res, 60 + 40 * attempt));
    child.kill('SIGKILL');
    await r;
    await new Promise((res) => child.once('exit', res));
    const now = fs.readFileSync(path.join(root, 'labels', 'big.png'));
    const values = (await readLabel(path.join(root, 'labels', 'big.png'))).values;
    if (now.equals(old)) outcomes.add('previous');
    else {
      assert.deepEqual(values.length, w * h);
      assert.ok(
        values.every((x, i) => x === [0, 255, 128][[0, 1, VOID].indexOf(painted[i])]),
        'a replaced file is the whole new label',
      );
      outcomes.add('new');
      fs.writeFileSync(path.join(root, 'labels', 'big.png'), old);
    }
  }
  t.diagnostic(`after the kills the label file was: ${[...outcomes].join(', ')}`);
});

test("training from the page: one at a time, only from the page, cancellable; the run folder is the server's choice", async () => {
  const root = tmpDir('gapseg-train-api-');
  await writeSampleDataset(root, { count: 4, size: 32, gap: 2, seed: 3, valid: 1, test: 0 });
  const v = await serve(root, { trainArgs: ['--depth', '2', '--width', '4', '--crop', '32', '--batch', '2', '--tile', '64'] });
  const c = await catalogOf(v);
  const post = (p: string, body: object, headers: Record<string, string> = { 'X-Gapseg-Token': c.writeToken }) =>
    request(`${v.url}${p}`, {
      method: 'POST',
      body: Buffer.from(JSON.stringify(body)),
      headers: { 'Content-Type': 'application/json', ...headers },
    });
  assert.equal((await post('api/train', { epochs: 1 }, {})).status, 403, 'no token, no training');
  assert.equal((await post('api/train', { epochs: 1 }, { 'X-Gapseg-Token': c.writeToken, Origin: 'http://evil.example' })).status, 403);
  assert.equal((await post('api/train', { epochs: 0 })).status, 400);
  assert.equal((await post('api/train', { epochs: 500 })).status, 202);
  const twice = await post('api/train', { epochs: 1 });
  assert.equal(twice.status, 409);
  assert.match(JSON.parse(twice.body.toString()).error, /already running/);
  const status = JSON.parse((await request(`${v.url}api/train`)).body.toString()) as { state: string; run: string };
  assert.deepEqual([status.state, status.run], ['running', 'view-run-1']);
  assert.equal((await post('api/train/cancel', {}, {})).status, 403, 'nor a cancel');
  assert.equal((await post('api/train/cancel', {})).status, 200);
  for (let i = 0; i < 200; i++) {
    const s = JSON.parse((await request(`${v.url}api/train`)).body.toString()) as { state: string };
    if (s.state !== 'running') {
      assert.equal(s.state, 'cancelled');
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('the training did not stop after cancel');
});

test('images added from the page: decoded before they are kept, plain names only, never over another image; they join the catalog unlabelled', async () => {
  const root = tmpDir('gapseg-add-');
  await writeSampleDataset(root, { count: 2, size: 32, gap: 2, seed: 6, valid: 0, test: 0 });
  const v = await serve(root, { maxUploadBytes: 64 * 1024 });
  const c = await catalogOf(v);
  const png = fs.readFileSync(path.join(root, 'images', fs.readdirSync(path.join(root, 'images'))[0]));
  const add = (name: string, body: Buffer, headers: Record<string, string> = { 'X-Gapseg-Token': c.writeToken }) =>
    request(`${v.url}api/images`, { method: 'POST', body, headers: { 'X-File-Name': encodeURIComponent(name), ...headers } });
  const before = fs.readdirSync(path.join(root, 'images')).sort();
  const refused: [string, Promise<Reply>, number, RegExp][] = [
    ['no token', add('new.png', png, {}), 403, /write token/],
    ['a path', add('../escape.png', png), 400, /not a plain image file name/],
    ['a hidden name', add('.x.png', png), 400, /not a plain image file name/],
    ['another type', add('notes.txt', Buffer.from('hello')), 400, /not a plain image file name/],
    ['not an image', add('fake.png', Buffer.from('not a png at all')), 415, /cannot decode/],
    ['an existing name', add(`${before[0].replace(/\.png$/, '')}.jpg`, png), 409, /already has an image named/],
    ['too large', add('big.png', Buffer.alloc(70 * 1024, 1)), 413, /larger than/],
  ];
  for (const [what, reply, status, message] of refused) {
    const r = await reply;
    assert.equal(r.status, status, `${what}: ${r.body.toString()}`);
    assert.match(JSON.parse(r.body.toString()).error, message, what);
  }
  assert.deepEqual(fs.readdirSync(path.join(root, 'images')).sort(), before, 'nothing refused was kept');
  const ok = await add('new photo (1).png', png);
  assert.equal(ok.status, 200, ok.body.toString());
  assert.ok(fs.readFileSync(path.join(root, 'images', 'new photo (1).png')).equals(png));
  const after = await catalogOf(v);
  const item = after.items.find((i) => i.name === 'new photo (1)')!;
  assert.deepEqual([item.label, item.labelVersion], [null, 'none'], 'unlabelled, and paintable');
  assert.equal((await save(v, after, item.id, painting(32, 32), 32, 32)).status, 200, 'its label saves');
  assert.ok(fs.existsSync(path.join(root, 'labels', 'new photo (1).png')));
});

test("a SegNet-style set: a new label goes into trainannot/, beside the image's split", async () => {
  const root = tmpDir('gapseg-segnet-save-');
  const desc = parseClassesFlag('0=sky,1=cloud,2=void');
  for (const n of ['s1', 's2']) await writePng(path.join(root, 'train', `${n}.png`), new Uint8Array(8 * 6 * 3).fill(30), 8, 6, 3);
  fs.mkdirSync(path.join(root, 'trainannot'));
  fs.writeFileSync(
    path.join(root, 'trainannot', 's1.png'),
    await encodeLabelFile(new Uint16Array(48).fill(2), 8, 6, { kind: 'grey8' }, 's1.png'),
  );
  const v = await serve(root, { classes: desc });
  const c = await catalogOf(v);
  const s2 = c.items.find((i) => i.name === 's2')!;
  assert.equal(s2.labelVersion, 'none');
  const r = await save(v, c, s2.id, painting(8, 6), 8, 6);
  assert.equal(r.status, 200, r.body.toString());
  assert.equal((JSON.parse(r.body.toString()) as { label: string }).label, 'trainannot/s2.png');
  assert.deepEqual(
    [...(await readLabel(path.join(root, 'trainannot', 's2.png'))).values],
    [...painting(8, 6)].map((k) => (k === VOID ? 2 : k)),
  );
});

test('images added through a symlinked images/ leading outside are refused; twenty uploads of one name add one image', async () => {
  const base = tmpDir('gapseg-add-link-');
  const root = path.join(base, 'root');
  await writeSampleDataset(root, { count: 2, size: 32, gap: 2, seed: 6, valid: 0, test: 0 });
  const png = fs.readFileSync(path.join(root, 'images', fs.readdirSync(path.join(root, 'images'))[0]));
  // images/ moved outside the served folder and linked back.
  fs.renameSync(path.join(root, 'images'), path.join(base, 'outside'));
  fs.symlinkSync(path.join(base, 'outside'), path.join(root, 'images'));
  const outside = fs.readdirSync(path.join(base, 'outside')).sort();
  const linked = await serve(root);
  const lc = await catalogOf(linked);
  const r = await request(`${linked.url}api/images`, {
    method: 'POST',
    body: png,
    headers: { 'X-File-Name': 'new.png', 'X-Gapseg-Token': lc.writeToken },
  });
  assert.equal(r.status, 403, r.body.toString());
  assert.match(JSON.parse(r.body.toString()).error, /leads outside the served folder/);
  assert.deepEqual(fs.readdirSync(path.join(base, 'outside')).sort(), outside, 'nothing written outside');

  const plain = tmpDir('gapseg-add-race-');
  await writeSampleDataset(plain, { count: 2, size: 32, gap: 2, seed: 6, valid: 0, test: 0 });
  const v = await serve(plain);
  const c = await catalogOf(v);
  const replies = await Promise.all(
    Array.from({ length: 20 }, () =>
      request(`${v.url}api/images`, { method: 'POST', body: png, headers: { 'X-File-Name': 'same.png', 'X-Gapseg-Token': c.writeToken } }),
    ),
  );
  assert.deepEqual(
    replies.map((x) => x.status).sort(),
    [200, ...new Array(19).fill(409)],
    replies.map((x) => x.body.toString()).join('\n'),
  );
  assert.equal((await catalogOf(v)).items.filter((i) => i.name === 'same').length, 1, 'the catalog lists the image once');
});

test('a label save where labels/ is a broken symlink is refused with a reason, not a server error', async () => {
  const root = tmpDir('gapseg-save-dangling-');
  await writeSampleDataset(root, { count: 2, size: 32, gap: 2, seed: 6, valid: 0, test: 0 });
  fs.rmSync(path.join(root, 'labels'), { recursive: true });
  fs.symlinkSync(path.join(root, 'no-such-folder'), path.join(root, 'labels'));
  const v = await serve(root, {
    classes: {
      classes: [
        { name: 'background', value: 0, color: [0, 0, 0] },
        { name: 'blob', value: 255, color: [255, 0, 0] },
      ],
      voidValues: [128],
    },
  });
  const c = await catalogOf(v);
  const r = await save(v, c, 0, painting(32, 32), 32, 32);
  assert.equal(r.status, 403, r.body.toString());
  assert.match(JSON.parse(r.body.toString()).error, /labels\/.*: its folder is a broken symlink/);
  assert.ok(!fs.existsSync(path.join(root, 'no-such-folder')), 'nothing made where the link points');
});
