/**
 * Saving a label painted in the viewer: only from the page itself (its write token, same
 * origin), only to the label file of an image of the served data set, in the set's own
 * convention (data/labelFile.ts), atomically, and never over a file that changed on disk since
 * the page read it (its version: modification time and size).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { classesToJson, findClassFile } from '../data/classes.js';
import { imageDimensions, type DecodeLimits } from '../data/decode.js';
import { defaultLabelFormat, encodeLabelFile, labelFormatOf, labelValuesOf, type LabelFormat } from '../data/labelFile.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Catalog, CatalogItem } from './catalog.js';
import { isInside, writableFolderInside } from './safePath.js';

/** A fresh secret the page receives with the catalog and sends back with every write. */
export function writeToken(): string {
  return crypto.randomBytes(24).toString('hex');
}

/** Why a write request is refused (not the page's own: token, origin, fetch site), or null. */
export function checkWriter(headers: IncomingHttpHeaders, token: string): string | null {
  const given = headers['x-gapseg-token'];
  if (typeof given !== 'string' || given.length !== token.length || !crypto.timingSafeEqual(Buffer.from(given), Buffer.from(token))) {
    return 'missing or wrong write token: only the viewer page itself uploads and writes';
  }
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${headers.host}`) return `request from another origin (${origin})`;
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `request from another site (${site})`;
  return null;
}

/** The version of a label file the page read: modification time and size, or "none" while it does not exist. */
export function labelVersion(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${Math.round(st.mtimeMs * 1000)}-${st.size}`;
  } catch {
    return 'none';
  }
}

export interface SaveRequest {
  rootReal: string;
  catalog: Catalog;
  item: CatalogItem;
  /** Class indices, one byte per pixel (255 = void). */
  body: Buffer;
  headers: IncomingHttpHeaders;
  limits?: DecodeLimits;
}

export type SaveResult = { version: string; label: string; classFile: string | null } | { status: 400 | 403 | 409; reason: string };

/** Saves of one file run one after the other, so that a version check and its write are never interleaved with another's. */
const queues = new Map<string, Promise<unknown>>();

/** Save a painted label as the item's label file. */
export function saveLabel(r: SaveRequest): Promise<SaveResult> {
  const target = path.join(r.rootReal, r.item.labelTarget as string);
  const before = queues.get(target) ?? Promise.resolve();
  const next = before.catch(() => undefined).then(() => saveNow(r, target));
  queues.set(target, next);
  void next.finally(() => queues.get(target) === next && queues.delete(target)).catch(() => undefined);
  return next;
}

async function saveNow(r: SaveRequest, target: string): Promise<SaveResult> {
  const { rootReal, catalog, item } = r;
  const classes = catalog.classes!;
  const rel = item.labelTarget as string;
  const width = Number(r.headers['x-label-width']);
  const height = Number(r.headers['x-label-height']);
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    return { status: 400, reason: 'X-Label-Width and X-Label-Height must give the label size' };
  if (r.body.length !== width * height)
    return { status: 400, reason: `${width}x${height} label needs ${width * height} bytes, got ${r.body.length}` };
  const image = await imageDimensions(path.join(rootReal, item.image), r.limits);
  if (image.width !== width || image.height !== height)
    return { status: 400, reason: `label is ${width}x${height}, the image ${item.image} is ${image.width}x${image.height}` };
  if (!isInside(rootReal, target)) return { status: 403, reason: `${rel}: not a label file of the data set` };
  // Neither the folder nor the file may lead outside the served folder through a symlink.
  const refused = writableFolderInside(rootReal, path.dirname(target));
  if (refused) return { status: 403, reason: `${rel}: ${refused}` };
  if (fs.existsSync(target) && (fs.lstatSync(target).isSymbolicLink() || !fs.statSync(target).isFile()))
    return { status: 403, reason: `${rel}: not a plain file` };
  const version = labelVersion(target);
  if (r.headers['if-match'] !== version)
    return {
      status: 409,
      reason: `${rel} changed on disk since the page read it; reload the image to see it (your strokes are kept in the page until then)`,
    };
  const values = labelValuesOf(new Uint8Array(r.body.buffer, r.body.byteOffset, r.body.length), classes, rel);
  const bytes = await encodeLabelFile(values, width, height, formatFor(r, target), rel);
  await writeFileAtomic(target, bytes);
  item.label = rel;
  let classFile: string | null = null;
  // A data set labelled from nothing gets its class description, so that training finds it.
  const dataset = path.join(rootReal, item.dataset ?? '');
  if (!findClassFile(dataset)) {
    await writeFileAtomic(path.join(dataset, 'gapseg.json'), `${JSON.stringify(classesToJson(classes), null, 2)}\n`);
    classFile = path.relative(rootReal, path.join(dataset, 'gapseg.json')).split(path.sep).join('/');
  }
  return { version: labelVersion(target), label: rel, classFile };
}

/** The file's own convention, else that of another label file of the same data set, else grey. */
function formatFor(r: SaveRequest, target: string): LabelFormat {
  if (fs.existsSync(target)) return labelFormatOf(target);
  const sibling = r.catalog.items.find((it) => it.dataset === r.item.dataset && it.label && it !== r.item);
  return sibling ? labelFormatOf(path.join(r.rootReal, sibling.label as string)) : defaultLabelFormat(r.catalog.classes!);
}
