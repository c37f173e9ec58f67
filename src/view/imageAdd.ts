/**
 * Adding an image to the served data set from the page: only from the page itself (labelSave.ts
 * checkWriter), size-limited by the server's upload limit, decoded before it is kept (a file that
 * does not decode is refused), under a plain file name that pairs with no image already there,
 * written atomically into the data set's images folder; it joins the catalog unlabelled.
 */
import fs from 'node:fs';
import path from 'node:path';
import { baseName } from '../data/dataset.js';
import { decodeImageBuffer, type DecodeLimits } from '../data/decode.js';
import { GapsegError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Catalog, CatalogItem } from './catalog.js';
import { writableFolderInside } from './safePath.js';

const IMAGE_NAME = /^[\w\- ()+,]+(\.[\w\- ()+,]+)*\.(png|jpe?g|webp|tiff?|bmp)$/i;

export type AddResult = { item: CatalogItem } | { status: 400 | 403 | 409 | 415; reason: string };

/** Adds run one after the other, so that two uploads of one name never both pass the check for it. */
let queue: Promise<unknown> = Promise.resolve();

/** Add an uploaded image named `rawName` (percent-encoded) to the catalog's one data set. */
export function addImage(rootReal: string, catalog: Catalog, rawName: string, body: Buffer, limits?: DecodeLimits): Promise<AddResult> {
  const next = queue.catch(() => undefined).then(() => addNow(rootReal, catalog, rawName, body, limits));
  queue = next;
  return next;
}

async function addNow(rootReal: string, catalog: Catalog, rawName: string, body: Buffer, limits?: DecodeLimits): Promise<AddResult> {
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    return { status: 400, reason: 'malformed file name' };
  }
  if (!IMAGE_NAME.test(name) || name.length > 200)
    return {
      status: 400,
      reason: `"${name}": not a plain image file name (letters, digits, - _ . ( ) + , and spaces; .png, .jpg, .webp, .tif or .bmp)`,
    };
  if (body.length === 0) return { status: 400, reason: 'empty upload' };
  const ds = catalog.datasets[0];
  const base = baseName(name);
  if (catalog.items.some((it) => it.dataset === ds.dir && it.name === base))
    return { status: 409, reason: `the data set already has an image named ${base}; rename the file` };
  try {
    await decodeImageBuffer(body, name, limits);
  } catch (e) {
    return { status: 415, reason: e instanceof GapsegError ? e.message : `${name}: not a readable image` };
  }
  const target = path.join(rootReal, ds.imageDir, name);
  // The images folder may not lead outside the served folder through a symlink.
  const refused = writableFolderInside(rootReal, path.dirname(target));
  if (refused) return { status: 403, reason: `${ds.imageDir}/${name}: ${refused}` };
  if (fs.existsSync(target)) return { status: 409, reason: `${ds.imageDir}/${name} exists` };
  await writeFileAtomic(target, body);
  const rel = (p: string) => path.relative(rootReal, p).split(path.sep).join('/');
  const item: CatalogItem = {
    id: catalog.items.length,
    name: base,
    group: ds.group,
    image: rel(target),
    labelTarget: `${ds.labelDir}/${base}.png`,
    dataset: ds.dir,
  };
  catalog.items.push(item);
  return { item };
}
