/**
 * The viewer's HTTP server (node:http). It serves:
 *   /                      the page (src/view/page/index.html)
 *   /app/<file>            the page's static files; /app/js/<module>.js gapseg's own compiled
 *                          browser-safe modules; /app/vendor/<file> the TensorFlow.js bundles
 *   /api/catalog           what the folder holds (catalog.ts), as JSON
 *   /api/image/<id>        an item's image (converted to PNG when browsers cannot decode it)
 *   /api/classes/<id>/<label|truth|pred>   a mask as class indices (grey PNG, 255 = void)
 *   /model/<file>          model.json, weights.bin, gapseg.json of the model
 *   /files/<path>          any file under the folder
 *   POST /api/decode       an uploaded image (size-limited) decoded and returned as PNG
 *   PUT /api/labels/<id>   a painted label (class indices) saved as the item's label file
 *   POST /api/images       an image added to the data set (imageAdd.ts), unlabelled
 *   GET /api/train, POST /api/train {epochs}, POST /api/train/cancel
 *                          training on the data set's labelled images (training.ts)
 *   POST /api/live/<id>    an item's labels as painted (class indices; empty: as before): the
 *                          live model learns from them, then answers the item's probabilities
 *                          (live.ts)
 * Every file path is checked by safePath.ts; only GET/HEAD (and that POST and PUT) are allowed;
 * requests naming another host are refused (no DNS rebinding). A save must come from the page
 * itself (labelSave.ts: its write token, same origin) and name a label file of the served data
 * set; it refuses to overwrite a file that changed on disk since the page read it.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { labelMap, encodeLabels, VOID_INDEX, type ClassDescription } from '../data/classes.js';
import { decodeImageBuffer, encodePng, readImage, readLabel, type DecodeLimits } from '../data/decode.js';
import { GapsegError, describeError } from '../util/errors.js';
import { buildCatalog, catalogModel, type Catalog } from './catalog.js';
import { PageTraining } from './training.js';
import { LiveTraining, type LivePrediction } from './live.js';
import { addImage } from './imageAdd.js';
import { resolveInside } from './safePath.js';
import { checkWriter, labelVersion, saveLabel, writeToken } from './labelSave.js';
import { packageRoot } from '../util/packageInfo.js';
import { describeRefineCheck } from '../predict/refineCheck.js';
import type { CatalogJson, ErrorJson, ImageAddedJson, LabelSavedJson, TrainCancelJson, TrainRequest } from './wire.js';
import type { Device } from '../engine/device.js';

export interface ViewerOptions {
  root: string;
  model?: string;
  /** Classes to label with where the folder has no class description. */
  classes?: ClassDescription;
  /** Extra `gapseg train` arguments for training from the page (from the command line, never from the page). */
  trainArgs?: string[];
  host: string;
  /** 0 = any free port. */
  port: number;
  maxUploadBytes: number;
  /** Pixel limit of images shown or decoded (decompression bombs). */
  limits?: DecodeLimits;
  /** The ImageNet MobileNetV2 weights file, fetched on first use: live training without a model starts from it. */
  encoderWeights?: () => Promise<string>;
  /** Where the live model computes (default cpu). */
  device?: Device;
  log: (line: string) => void;
}

export interface Viewer {
  url: string;
  catalog: Catalog;
  close(): Promise<void>;
}

export const DEFAULT_MAX_UPLOAD = 32 * 1024 * 1024;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The compiled modules' root (dist/, or build/src/ in development): the page imports the browser-safe ones. */
const COMPILED = path.resolve(HERE, '..');
/** The page's static files stay in the source tree (no build step copies them; the package ships them). */
const PAGE_DIR = path.join(packageRoot(), 'src', 'view', 'page');

const require = createRequire(import.meta.url);
function packageFile(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}
const VENDOR: Record<string, () => string> = {
  'tf-core.min.js': () => packageFile('@tensorflow/tfjs-core', 'dist/tf-core.min.js'),
  'tf-layers.min.js': () => packageFile('@tensorflow/tfjs-layers', 'dist/tf-layers.min.js'),
  'tf-backend-cpu.min.js': () => packageFile('@tensorflow/tfjs-backend-cpu', 'dist/tf-backend-cpu.min.js'),
  'tf-backend-wasm.min.js': () => packageFile('@tensorflow/tfjs-backend-wasm', 'dist/tf-backend-wasm.min.js'),
  'tf-backend-webgpu.min.js': () => packageFile('@tensorflow/tfjs-backend-webgpu', 'dist/tf-backend-webgpu.min.js'),
  'tfjs-backend-wasm.wasm': () => packageFile('@tensorflow/tfjs-backend-wasm', 'dist/tfjs-backend-wasm.wasm'),
  'tfjs-backend-wasm-simd.wasm': () => packageFile('@tensorflow/tfjs-backend-wasm', 'dist/tfjs-backend-wasm-simd.wasm'),
  'tfjs-backend-wasm-threaded-simd.wasm': () => packageFile('@tensorflow/tfjs-backend-wasm', 'dist/tfjs-backend-wasm-threaded-simd.wasm'),
};
/** How long the live model trains on each request before it predicts (the page asks again while it improves). */
const LIVE_TRAIN_MS = 700;
const MODEL_FILES = new Set(['model.json', 'weights.bin', 'gapseg.json']);
const BROWSER_IMAGES = /\.(png|jpe?g|webp|gif|bmp|avif)$/i;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.avif': 'image/avif',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  // Cross-origin isolation lets the page use threaded WebAssembly (SharedArrayBuffer).
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self' blob: 'wasm-unsafe-eval'; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; connect-src 'self' blob: data:; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string | Uint8Array,
  type: string,
  head: boolean,
  extra: Record<string, string> = {},
): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': String(buf.length),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(head ? undefined : buf);
}

function sendFile(res: http.ServerResponse, file: string, head: boolean): void {
  const type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  const size = fs.statSync(file).size;
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': String(size), 'Cache-Control': 'no-cache' });
  if (head) res.end();
  else
    fs.createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
}

/** A catalog file (a path relative to `rootReal`) checked as a request path would be. */
function catalogFile(rootReal: string, rel: string): string {
  return fileUnder(rootReal, encodeURIComponent(rel).replace(/%2F/g, '/'));
}

/** A file under `rootReal` named by an encoded request path, or an HTTP error. */
function fileUnder(rootReal: string, encoded: string): string {
  const r = resolveInside(rootReal, encoded);
  if ('status' in r) throw new HttpError(r.status, r.reason);
  return r.file;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) {
      reject(new HttpError(413, `upload larger than ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `upload larger than ${limit} bytes`));
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Hosts the server answers to: the address it is bound to, and localhost names when loopback. */
function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set([host, host.includes(':') ? `[${host}]` : host]);
  if (host === '127.0.0.1' || host === '::1' || host === 'localhost') ['127.0.0.1', 'localhost', '[::1]'].forEach((h) => names.add(h));
  return new Set([...names].map((h) => `${h}:${port}`.toLowerCase()));
}

/** Start the viewer on a folder. */
export async function startViewer(o: ViewerOptions): Promise<Viewer> {
  const catalog = buildCatalog(o.root, o.model, o.classes);
  const token = writeToken();
  const rootReal = catalog.root;
  const distReal = fs.realpathSync(COMPILED);
  if (!fs.existsSync(path.join(PAGE_DIR, 'index.html'))) throw new Error(`viewer page not found in ${PAGE_DIR}`);
  const pageReal = fs.realpathSync(PAGE_DIR);
  let modelReal = catalog.model ? fs.realpathSync(catalog.model.dir) : null;
  let modelVersion = 0;
  const datasets = catalog.datasets.map((d) => d.dir);
  const trainingUnavailable =
    datasets.length === 0
      ? 'no data set to train on (a folder with images/ and labels/)'
      : datasets.length > 1
        ? `several data sets here (${datasets.join(', ')}): view one of them to train from the page`
        : null;
  const training = trainingUnavailable
    ? null
    : new PageTraining({
        root: rootReal,
        dataset: path.join(rootReal, datasets[0]),
        extraArgs: o.trainArgs ?? [],
        currentModel: () => catalog.model?.dir ?? null,
        onModel: (runDir) => {
          const m = catalogModel(path.join(runDir, 'model'), path.relative(rootReal, runDir));
          catalog.model = m.model;
          modelReal = fs.realpathSync(m.model.dir);
          modelVersion += 1;
          live?.restart();
        },
        log: o.log,
      });
  const liveUnavailable = !catalog.classes
    ? 'no classes to paint with'
    : !catalog.items.some((it) => it.labelTarget)
      ? 'no image of a data set to paint'
      : !o.encoderWeights && !catalog.model
        ? 'no model and no pretrained weights to start live training from'
        : null;
  const live = liveUnavailable
    ? null
    : new LiveTraining({
        numClasses: catalog.classes!.classes.length,
        model: () => catalog.model?.dir ?? null,
        encoderWeights: o.encoderWeights ?? (() => Promise.reject(new Error('no pretrained weights given to the viewer'))),
        device: o.device ?? 'cpu',
        log: o.log,
      });
  const imageSizes = new Map<number, { width: number; height: number }>();
  const table = catalog.classes ? labelMap(catalog.classes) : null;
  let hosts = new Set<string>();
  const anyHost = o.host === '0.0.0.0' || o.host === '::';

  const publicCatalog = (): CatalogJson => ({
    title: catalog.title,
    classes: catalog.classes?.classes ?? null,
    voidValues: catalog.classes?.voidValues ?? [],
    model: catalog.model && {
      url: '/model/',
      version: modelVersion,
      source: catalog.model.source,
      recipe: catalog.model.recipe,
      multiple: catalog.model.multiple,
      radius: catalog.model.radius,
      info: catalog.model.info,
      refineCheck: catalog.model.refineCheck ?? null,
      refineLine: catalog.model.refineCheck ? describeRefineCheck(catalog.model.refineCheck) : null,
    },
    reports: catalog.reports.map((r) => `/files/${r.split('/').map(encodeURIComponent).join('/')}`),
    items: catalog.items.map((it) => ({
      id: it.id,
      name: it.name,
      group: it.group,
      image: `/api/image/${it.id}`,
      label: it.label && table ? `/api/classes/${it.id}/label` : null,
      truth: it.truth && table ? `/api/classes/${it.id}/truth` : null,
      pred: it.pred && table ? `/api/classes/${it.id}/pred` : null,
      // Paintable: an image of a data set, with classes to paint; its label file's version now.
      labelVersion: it.labelTarget && table ? labelVersion(path.join(rootReal, it.labelTarget)) : null,
    })),
    writeToken: token,
    canAddImages: catalog.datasets.length === 1 && !!catalog.classes,
    training: training ? { available: true } : { available: false, reason: trainingUnavailable as string },
    live: live ? { available: true } : { available: false, reason: liveUnavailable as string },
    notes: catalog.notes,
    maxUploadBytes: o.maxUploadBytes,
  });

  // Images the browser decodes itself are decoded here once first, so that a damaged file or a
  // decompression bomb gets a clear answer instead of a broken picture (or a browser out of memory).
  const decodes = new Map<string, Promise<void>>();
  const checkDecodes = (file: string): Promise<void> => {
    let p = decodes.get(file);
    if (!p) {
      p = readImage(file, o.limits).then(() => undefined);
      decodes.set(file, p);
    }
    return p;
  };

  const item = (idText: string) => {
    const id = Number(idText);
    const it = Number.isInteger(id) ? catalog.items[id] : undefined;
    if (!it) throw new HttpError(404, 'no such item');
    return it;
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!anyHost && !hosts.has(host)) throw new HttpError(421, 'unexpected Host header');
    const raw = req.url ?? '/';
    // The raw path, never normalised by a URL parser: "/a/%2e%2e/b" must reach the checks as is.
    const p = raw.split('?')[0];
    const method = req.method ?? 'GET';
    // Every upload and write comes from the page itself: its token, its origin.
    const requireWriter = () => {
      const refused = checkWriter(req.headers, token);
      if (refused) throw new HttpError(403, refused);
    };
    if (p === '/api/decode') {
      if (method !== 'POST') throw new HttpError(405, 'POST an image here');
      // Decoding costs memory up to the pixel limit: another site's page may not make the viewer do it.
      requireWriter();
      const body = await readBody(req, o.maxUploadBytes);
      if (body.length === 0) throw new HttpError(400, 'empty upload');
      const img = await decodeImageBuffer(body, 'upload', o.limits).catch((e: unknown) => {
        throw new HttpError(415, e instanceof GapsegError ? e.message : 'not a readable image');
      });
      send(res, 200, await encodePng(img.data, img.width, img.height, 3), 'image/png', false);
      return;
    }
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^\/api\/labels\/(\d+)$/))) {
      if (method !== 'PUT') throw new HttpError(405, 'PUT a label here');
      requireWriter();
      const it = item(m[1]);
      if (!it.labelTarget || !catalog.classes) throw new HttpError(403, 'not an image of the served data set: its label cannot be written');
      const body = await readBody(req, o.maxUploadBytes);
      const r = await saveLabel({ rootReal, catalog, item: it, body, headers: req.headers, limits: o.limits });
      if ('status' in r) throw new HttpError(r.status, r.reason);
      o.log(`viewer: saved ${it.labelTarget}`);
      send(res, 200, JSON.stringify(r satisfies LabelSavedJson), TYPES['.json'], false);
      return;
    }
    if (p === '/api/images') {
      if (method !== 'POST') throw new HttpError(405, 'POST an image here');
      requireWriter();
      if (catalog.datasets.length !== 1 || !catalog.classes)
        throw new HttpError(
          403,
          catalog.datasets.length > 1
            ? 'several data sets here: view one of them to add images'
            : 'no data set (with classes) to add images to',
        );
      const body = await readBody(req, o.maxUploadBytes);
      const r = await addImage(rootReal, catalog, String(req.headers['x-file-name'] ?? ''), body, o.limits);
      if ('status' in r) throw new HttpError(r.status, r.reason);
      o.log(`viewer: added ${r.item.image}`);
      return send(res, 200, JSON.stringify({ id: r.item.id, image: r.item.image } satisfies ImageAddedJson), TYPES['.json'], false);
    }
    if (p === '/api/train' || p === '/api/train/cancel') {
      if (!training) throw new HttpError(404, trainingUnavailable ?? 'no training here');
      if (p === '/api/train' && method === 'GET') return send(res, 200, JSON.stringify(training.current()), TYPES['.json'], false);
      if (method !== 'POST') throw new HttpError(405, 'POST to start or cancel training');
      requireWriter();
      const body = await readBody(req, 4096);
      if (p === '/api/train/cancel')
        return send(res, 200, JSON.stringify({ cancelled: training.cancel() } satisfies TrainCancelJson), TYPES['.json'], false);
      let epochs: unknown;
      try {
        epochs = (JSON.parse(body.toString() || '{}') as Partial<Record<keyof TrainRequest, unknown>>).epochs ?? 3;
      } catch {
        throw new HttpError(400, 'send {"epochs": n} as JSON');
      }
      const refused = training.start(epochs as number);
      if (refused) throw new HttpError(refused.status, refused.reason);
      return send(res, 202, JSON.stringify(training.current()), TYPES['.json'], false);
    }
    if ((m = p.match(/^\/api\/live\/(\d+)$/))) {
      if (!live) throw new HttpError(404, liveUnavailable ?? 'no live training here');
      if (method !== 'POST') throw new HttpError(405, 'POST labels here');
      requireWriter();
      const it = item(m[1]);
      if (!it.labelTarget) throw new HttpError(403, 'not an image of the served data set');
      const file = catalogFile(rootReal, it.image);
      let size = imageSizes.get(it.id);
      let decoded: Awaited<ReturnType<typeof readImage>> | null = null;
      if (!size) {
        decoded = await readImage(file, o.limits);
        size = { width: decoded.width, height: decoded.height };
        imageSizes.set(it.id, size);
      }
      const { width, height } = size;
      const body = await readBody(req, width * height);
      if (body.length !== 0 && body.length !== width * height)
        throw new HttpError(400, `${body.length} label bytes for a ${width}x${height} image: send one class index per pixel, or nothing`);
      const k = catalog.classes!.classes.length;
      if (body.some((c) => c >= k && c !== VOID_INDEX))
        throw new HttpError(400, `label bytes must be class indices below ${k}, or 255 for unlabelled`);
      let r: LivePrediction | null;
      try {
        r = await live.update({
          key: String(it.id),
          width,
          height,
          rgb: async () => (decoded ?? (await readImage(file, o.limits))).data,
          labels: body.length ? new Uint8Array(body) : null,
          trainMs: LIVE_TRAIN_MS,
        });
      } catch (e) {
        throw new HttpError(503, `live training: ${describeError(e)}`);
      }
      if (!r) return send(res, 204, '', 'text/plain', false);
      return send(res, 200, r.probs, 'application/octet-stream', false, {
        'X-Live-Steps': String(r.steps),
        'X-Live-Total-Steps': String(r.totalSteps),
        'X-Live-Loss': r.loss === null ? '' : r.loss.toFixed(5),
        'X-Live-Train-Ms': r.trainMs.toFixed(0),
        'X-Live-Predict-Ms': r.predictMs.toFixed(0),
      });
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new HttpError(405, 'only GET and HEAD');
    }
    const head = method === 'HEAD';
    if (p === '/' || p === '/index.html') return sendFile(res, path.join(pageReal, 'index.html'), head);
    if ((m = p.match(/^\/app\/js\/(.+\.js(?:\.map)?)$/))) return sendFile(res, fileUnder(distReal, m[1]), head);
    if ((m = p.match(/^\/app\/vendor\/([^/]+)$/))) {
      const f = Object.hasOwn(VENDOR, m[1]) ? VENDOR[m[1]]() : null;
      if (!f) throw new HttpError(404, 'not found');
      return sendFile(res, f, head);
    }
    if ((m = p.match(/^\/app\/(.+)$/))) return sendFile(res, fileUnder(pageReal, m[1]), head);
    if (p === '/api/catalog') return send(res, 200, JSON.stringify(publicCatalog()), TYPES['.json'], head);
    if ((m = p.match(/^\/api\/image\/(\d+)$/))) {
      const file = catalogFile(rootReal, item(m[1]).image);
      if (BROWSER_IMAGES.test(file)) {
        await checkDecodes(file);
        return sendFile(res, file, head);
      }
      const img = await readImage(file, o.limits);
      return send(res, 200, await encodePng(img.data, img.width, img.height, 3), 'image/png', head);
    }
    if ((m = p.match(/^\/api\/classes\/(\d+)\/(label|truth|pred)$/))) {
      const it = item(m[1]);
      const relFile = it[m[2] as 'label' | 'truth' | 'pred'];
      if (!relFile || !table) throw new HttpError(404, `no ${m[2]} mask`);
      const file = catalogFile(rootReal, relFile);
      // The version before the read: a change during it makes the page's save a conflict, not a loss.
      const version = m[2] === 'label' && it.labelTarget ? labelVersion(path.join(rootReal, it.labelTarget)) : null;
      const lab = await readLabel(file, o.limits);
      const idx = encodeLabels(lab.values, lab.width, table, path.relative(rootReal, file));
      return send(
        res,
        200,
        await encodePng(idx, lab.width, lab.height, 1),
        'image/png',
        head,
        version ? { 'X-Label-Version': version } : {},
      );
    }
    if ((m = p.match(/^\/model\/([^/]+)$/))) {
      if (!modelReal || !MODEL_FILES.has(m[1])) throw new HttpError(404, 'not found');
      return sendFile(res, fileUnder(modelReal, m[1]), head);
    }
    if ((m = p.match(/^\/files\/(.+)$/))) return sendFile(res, fileUnder(rootReal, m[1]), head);
    throw new HttpError(404, 'not found');
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof GapsegError ? 422 : 500;
      const msg = e instanceof HttpError || e instanceof GapsegError ? e.message : describeError(e);
      if (status === 500) o.log(`viewer: ${req.method} ${req.url}: ${describeError(e)}`);
      if (res.headersSent) res.destroy();
      else {
        // An oversized upload is not read to its end: answer, then drop the connection.
        if (status === 413) res.on('finish', () => req.destroy());
        send(
          res,
          status,
          JSON.stringify({ error: msg } satisfies ErrorJson),
          TYPES['.json'],
          false,
          status === 413 ? { Connection: 'close' } : {},
        );
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new GapsegError(`port ${o.port} on ${o.host} is in use; pick another with --port`)
          : e.code === 'EADDRNOTAVAIL'
            ? new GapsegError(`--host ${o.host}: no such address on this machine`)
            : e,
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(o.host, port);
  const shown = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${anyHost ? '127.0.0.1' : shown}:${port}/`,
    catalog,
    close: () =>
      new Promise<void>((resolve) => {
        training?.close();
        live?.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
