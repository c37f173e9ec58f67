/**
 * What the viewer shows for a folder: the data set(s), predictions (from `gapseg predict`),
 * model and report found in the folder itself or its direct sub-folders (so the demo's
 * output folder, with data/, run/ and predictions/, shows everything at once). Paths are
 * kept relative to the root; the server checks each again when it is requested.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { readProblem } from '../util/files.js';
import { findClassFile, readClassFile, type ClassDescription } from '../data/classes.js';
import { baseName, discoverDataset } from '../data/dataset.js';
import { netMultiple, netReceptiveRadius } from '../nets/index.js';
import { refineCheckOf, type RefineCheck } from '../predict/refineCheck.js';
import { modelDirOf, readModelMeta, readModelValues } from '../formats/modelFolder.js';
import { viewRuns } from './training.js';
import type { ItemName, ModelInfo } from './wire.js';

/** An image of the list on the server: its files (the page sees URLs instead: ItemJson of wire.ts). */
export interface CatalogItem extends ItemName {
  /** Paths relative to the root (with "/"), or absent. */
  image: string;
  label?: string;
  truth?: string;
  /** Predicted label mask written by `gapseg predict`. */
  pred?: string;
  /** For an image of a data set: where its label file is (or goes, once painted), relative to the root. */
  labelTarget?: string;
  /** The data set folder it belongs to (relative to the root), for items with a labelTarget. */
  dataset?: string;
}

/** The model on the server: what the page is told of it (wire.ts) and its folder. */
export interface CatalogModel extends ModelInfo {
  /** Absolute model folder (model.json, weights.bin, gapseg.json). */
  dir: string;
  /** The refinement check training stored (validated here): the page starts its switches as `--refine auto` would. */
  refineCheck?: RefineCheck;
}

/** A data set of the folder, and where images added from the page and their labels go (relative to the root). */
export interface CatalogDataset {
  dir: string;
  imageDir: string;
  labelDir: string;
  /** The group its training images are listed under. */
  group: string;
}

export interface Catalog {
  root: string;
  datasets: CatalogDataset[];
  title: string;
  classes: ClassDescription | null;
  model: CatalogModel | null;
  /** report.html files, relative to the root. */
  reports: string[];
  items: CatalogItem[];
  notes: string[];
}

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|bmp|tiff?|avif)$/i;

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false; // missing, a broken symlink or a symlink loop
  }
}

/** Image files of a folder; entries that cannot be read (broken symlinks, loops) go to `skip`. */
function listImages(dir: string, skip: (file: string, problem: string) => void): string[] {
  const files: string[] = [];
  for (const n of fs
    .readdirSync(dir)
    .filter((x) => !x.startsWith('.') && IMAGE_EXT.test(x))
    .sort()) {
    const f = path.join(dir, n);
    const problem = readProblem(f);
    if (!problem) files.push(f);
    else if (!isDir(f)) skip(f, problem);
  }
  return files;
}

/** A model folder as the viewer serves it, with its classes; its weights are read once here, so that damaged ones are found on the server, not in the browser. */
export function catalogModel(dir: string, source: string): { model: CatalogModel; classes: ClassDescription } {
  const meta = readModelMeta(dir);
  readModelValues(dir, meta);
  const refineCheck = refineCheckOf(meta.info, path.join(dir, 'gapseg.json'));
  return {
    model: {
      dir,
      source,
      recipe: meta.input,
      multiple: netMultiple(meta.net),
      radius: netReceptiveRadius(meta.net),
      info: meta.info,
      refineCheck,
    },
    classes: meta.classes,
  };
}

/**
 * Find what a folder holds; `modelArg` is an explicit --model run or model folder, `classesArg`
 * a class description to use where the folder has none (for a set that is still to be labelled).
 */
export function buildCatalog(rootArg: string, modelArg?: string, classesArg?: ClassDescription): Catalog {
  if (!isDir(rootArg)) throw new GapsegError(`${rootArg}: not a folder`);
  const root = fs.realpathSync(rootArg);
  const rel = (p: string) => path.relative(root, p).split(path.sep).join('/');
  const notes: string[] = [];
  const items: CatalogItem[] = [];
  const datasets: CatalogDataset[] = [];
  const reports: string[] = [];
  let classes: ClassDescription | null = null;
  let model: CatalogModel | null = null;
  const predictions = new Map<string, string>();
  const predictionOverlays = new Map<string, string>();
  const subdirs = fs
    .readdirSync(root)
    .filter((n) => !n.startsWith('.') && n !== 'node_modules')
    .map((n) => path.join(root, n))
    .filter(isDir)
    .sort();
  const add = (it: Omit<CatalogItem, 'id'>) => items.push({ id: items.length, ...it });
  const skip = (f: string, problem: string) => notes.push(`skipped ${rel(f)}: ${problem}`);

  const openModel = (dir: string, source: string) => {
    ({ model, classes } = catalogModel(dir, source));
  };
  if (modelArg) openModel(modelDirOf(modelArg), modelArg);
  else {
    // The newest round of training from the page, if the folder has one.
    const newest = viewRuns(root).find((r) => fs.existsSync(path.join(r, 'model', 'gapseg.json')));
    if (newest) openModel(path.join(newest, 'model'), rel(newest));
  }

  // images/ alone is a data set whose labels are still to be painted.
  const isDataset = (dir: string) =>
    isDir(path.join(dir, 'images')) || (isDir(path.join(dir, 'train')) && isDir(path.join(dir, 'trainannot')));
  const isPredictions = (dir: string) => isDir(path.join(dir, 'labels')) && isDir(path.join(dir, 'overlays'));
  // A data set's or predictions folder's sub-folders are its own parts, not more folders to show.
  const candidates = isDataset(root) || isPredictions(root) ? [root] : [root, ...subdirs];
  for (const dir of candidates) {
    const label = dir === root ? path.basename(root) : rel(dir);
    if (fs.existsSync(path.join(dir, 'report.html'))) reports.push(rel(path.join(dir, 'report.html')));
    if (!model) {
      let found: string | null = null;
      try {
        found = modelDirOf(dir);
      } catch (e) {
        if (!(e instanceof GapsegError)) throw e;
      }
      try {
        if (found) openModel(found, rel(dir) || '.');
      } catch (e) {
        if (!(e instanceof GapsegError)) throw e;
        notes.push(`model not used: ${e.message}`);
      }
    }
    if (isDataset(dir)) {
      const layout = discoverDataset(dir, undefined, { unlabelled: true });
      for (const n of layout.notes) notes.push(`${label}: ${n}`);
      if (!classes) {
        const f = findClassFile(dir);
        if (f) classes = readClassFile(f);
      }
      const dataset = rel(dir);
      const [imgs, labs] = layout.kind === 'segnet' ? ['train', 'trainannot'] : ['images', 'labels'];
      datasets.push({ dir: dataset, imageDir: rel(path.join(dir, imgs)), labelDir: rel(path.join(dir, labs)), group: `${label}/train` });
      for (const split of ['train', 'valid', 'test'] as const) {
        for (const p of layout.splits[split]) {
          add({
            name: p.name,
            group: `${label}/${split}`,
            image: rel(p.image),
            label: rel(p.label),
            truth: p.truth ? rel(p.truth) : undefined,
            labelTarget: rel(p.label),
            dataset,
          });
        }
      }
      for (const u of layout.unlabelled) {
        add({
          name: u.name,
          group: `${label}/${u.split}`,
          image: rel(u.image),
          labelTarget: rel(path.join(u.labelDir, `${u.name}.png`)),
          dataset,
        });
      }
      continue;
    }
    // `gapseg predict` output: labels/ and overlays/ without images/.
    if (isPredictions(dir)) {
      for (const f of listImages(path.join(dir, 'labels'), skip)) predictions.set(baseName(f), rel(f));
      for (const f of listImages(path.join(dir, 'overlays'), skip)) predictionOverlays.set(baseName(f), rel(f));
      continue;
    }
    if (dir === root || subdirs.length < 20) {
      for (const f of listImages(dir, skip)) add({ name: baseName(f), group: label, image: rel(f) });
    }
  }
  // Predictions join the data set's images of the same name; the others are shown on their overlay.
  const byName = new Map(items.map((it) => [it.name, it]));
  for (const [name, pred] of predictions) {
    const it = byName.get(name);
    if (it) it.pred = pred;
    else if (predictionOverlays.has(name)) add({ name, group: 'predictions', image: predictionOverlays.get(name) as string, pred });
  }
  if (!classes && classesArg) classes = classesArg;
  if (!classes && items.some((it) => it.label || it.pred)) {
    notes.push('no class description (gapseg.json or codes.txt) and no model: labels cannot be shown');
  }
  const runConfig = path.join(root, 'config.json');
  if (fs.existsSync(runConfig) && !items.some((it) => it.label)) {
    try {
      const ds = (JSON.parse(fs.readFileSync(runConfig, 'utf8')) as { dataset?: string }).dataset;
      if (ds) notes.push(`this run was trained on ${ds}; to browse it with this model: gapseg view ${ds} --model ${rootArg}`);
    } catch {
      notes.push(`${runConfig}: not valid JSON`);
    }
  }
  if (items.length === 0 && !model) {
    throw new GapsegError(
      `${rootArg}: nothing to show: no data set (images/ + labels/), images, predictions or model here or in its sub-folders`,
    );
  }
  return { root, datasets, title: path.basename(root), classes, model, reports, items, notes };
}
