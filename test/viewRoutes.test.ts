/**
 * Every route of the viewer with every method, bad item ids, garbage bodies, with and without the
 * page's write token, generated: never a server error, never a write that was not the page's,
 * never a file of the data set changed by a refused request, every refusal a JSON error.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { writeSampleDataset } from '../src/data/sample.js';
import { startViewer, type Viewer } from '../src/view/server.js';
import { tmpDir } from './helpers.js';

let root: string;
let viewer: Viewer;
const logged: string[] = [];

const ROUTES = [
  '/',
  '/index.html',
  '/app/index.html',
  '/app/js/{id}.js',
  '/app/vendor/{id}',
  '/api/catalog',
  '/api/image/{id}',
  '/api/classes/{id}/label',
  '/api/classes/{id}/truth',
  '/api/classes/{id}/pred',
  '/api/labels/{id}',
  '/api/images',
  '/api/decode',
  '/api/train',
  '/api/train/cancel',
  '/api/live/{id}',
  '/model/{id}',
  '/files/{id}',
];
const IDS = ['0', '-1', '99999', '1e3', 'abc', '00', '9'.repeat(400), '%30', '..', '%2e%2e', ''];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
const BODIES = [Buffer.alloc(0), Buffer.from('{"epochs": -1}'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, 0xff, 0xfe, 0xfd])];

function request(
  rawPath: string,
  method: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; body: Buffer }> {
  const u = new URL(viewer.url);
  return new Promise((resolve, reject) => {
    // A body always with its length: Node's client sends DELETE and OPTIONS bodies unframed otherwise.
    const framed = method === 'GET' || method === 'HEAD' ? headers : { ...headers, 'Content-Length': String(body.length) };
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method, headers: framed }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(method === 'GET' || method === 'HEAD' ? undefined : body);
  });
}

/** Every file under the folder with its size and modification time. */
function snapshot(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const f = path.join(e.parentPath, e.name);
      const st = fs.statSync(f);
      return `${path.relative(dir, f)} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

before(async () => {
  root = path.join(tmpDir('gapseg-routes-'), 'data');
  await writeSampleDataset(root, { count: 3, size: 32, gap: 2, seed: 1, valid: 1, test: 1 });
  viewer = await startViewer({ root, host: '127.0.0.1', port: 0, maxUploadBytes: 64 * 1024, log: (l) => logged.push(l) });
});

after(async () => {
  await viewer.close();
});

test('every route, method, item id and body: no server error, no write without the token, no file changed by a refusal', async () => {
  const token = (JSON.parse((await request('/api/catalog', 'GET', Buffer.alloc(0), {})).body.toString()) as { writeToken: string })
    .writeToken;
  const before = snapshot(root);
  let cases = 0;
  for (const route of ROUTES) {
    for (const id of route.includes('{id}') ? IDS : ['']) {
      const p = route.replace('{id}', id);
      for (const method of METHODS) {
        for (const body of method === 'GET' || method === 'HEAD' ? [Buffer.alloc(0)] : BODIES) {
          for (const writer of [false, true]) {
            const r = await request(p, method, body, writer ? { 'X-Gapseg-Token': token } : {});
            const what = `${method} ${p.slice(0, 60)} (${body.length} bytes${writer ? ', with the token' : ''}) -> ${r.status}`;
            cases++;
            assert.ok(r.status >= 200 && r.status < 500, what);
            if (!writer && method !== 'GET' && method !== 'HEAD') assert.ok(r.status >= 400, `${what}: a write without the token`);
            if (r.status >= 400 && method !== 'HEAD') {
              let error: unknown;
              try {
                error = (JSON.parse(r.body.toString()) as { error?: unknown }).error;
              } catch {
                assert.fail(`${what}: not JSON: ${r.body.toString().slice(0, 80)}`);
              }
              assert.ok(typeof error === 'string' && error.length > 0 && !error.includes('\n'), `${what}: a one-line JSON error`);
            }
            if (r.status >= 400) assert.deepEqual(snapshot(root), before, `${what}: the data set is unchanged`);
          }
        }
      }
    }
  }
  assert.deepEqual(
    logged.filter((l) => /error|exception/i.test(l)),
    [],
    'no server error logged',
  );
  console.log(`viewer routes: ${cases} requests tried`);
});
