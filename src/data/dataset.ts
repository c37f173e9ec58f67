/**
 * Finding a data set on disk: image/label pairs matched by base name, in one of two layouts,
 * with optional split lists and an optional folder of full ("truth") masks.
 *
 *   <root>/images/ + <root>/labels/ [+ <root>/truth/] [+ train.txt, valid.txt, test.txt]
 *   <root>/train/ + <root>/trainannot/, val/ + valannot/, test/ + testannot/  (SegNet)
 *
 * Pure discovery: no pixel is decoded here (see load.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError, fsProblem } from '../util/errors.js';
import { readProblem, readTextFile } from '../util/files.js';

/** One image with its label mask and, when known, its full (gap-free) mask. */
export interface PairFiles {
  name: string;
  image: string;
  label: string;
  truth?: string;
}

export type SplitName = 'train' | 'valid' | 'test';

/** An image with no label file yet, and the folder its label file belongs in (the labelling viewer's). */
export interface UnlabelledImage {
  name: string;
  image: string;
  labelDir: string;
  split: SplitName;
}

/** How discovery treats images without a label file. */
export interface DiscoverOptions {
  /**
   * List them in `unlabelled` (an images/ folder without labels/ is then a data set with no
   * labels yet) instead of refusing the data set: for the viewer, where they get labelled.
   */
  unlabelled?: boolean;
}

export interface DatasetLayout {
  root: string;
  kind: 'images-labels' | 'segnet';
  splits: Record<SplitName, PairFiles[]>;
  /** True when the train/valid split came from the files (lists or folders), not from chance. */
  validFromFiles: boolean;
  /** Things the user should know about how the files were read (unlisted pairs...). */
  notes: string[];
  /** Images without a label file, when DiscoverOptions.unlabelled asked for them. */
  unlabelled: UnlabelledImage[];
}

const IGNORED = new Set(['thumbs.db', 'desktop.ini']);

/** Base name used for pairing: the file name without its last extension, if it has one. */
export function baseName(file: string): string {
  const b = path.basename(file);
  const dot = b.lastIndexOf('.');
  return dot > 0 ? b.slice(0, dot) : b;
}

function listFiles(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new GapsegError(`${dir}: cannot list folder (${fsProblem(e)})`);
  }
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.') || IGNORED.has(e.name.toLowerCase())) continue;
    const full = path.join(dir, e.name);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(full);
    } catch {
      throw new GapsegError(`${full}: ${readProblem(full) ?? 'cannot read'}`);
    }
    if (stat.isFile()) files.push(full);
  }
  return files.sort();
}

function indexByBase(files: string[], dir: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const f of files) {
    const b = baseName(f);
    const prev = map.get(b);
    if (prev) {
      throw new GapsegError(
        `${dir}: two files share the base name "${b}" (${path.basename(prev)}, ${path.basename(f)}); pairing by name would be ambiguous`,
      );
    }
    map.set(b, f);
  }
  return map;
}

const LABEL_SUFFIXES = ['', '_mask', '_label', '_labels', '-mask', '_L', '_P', '_gt'];

/**
 * Pair every image of `imageDir` with the label of the same base name in `labelDir`. An image
 * without one is an error, unless `unlabelled` collects them (labelDir may then not exist yet).
 */
export function pairFolder(
  imageDir: string,
  labelDir: string,
  truthDir?: string,
  unlabelled?: Omit<UnlabelledImage, 'split'>[],
): PairFiles[] {
  const images = indexByBase(listFiles(imageDir), imageDir);
  const labels = unlabelled && !isDir(labelDir) ? new Map<string, string>() : indexByBase(listFiles(labelDir), labelDir);
  const truths = truthDir ? indexByBase(listFiles(truthDir), truthDir) : null;
  const pairs: PairFiles[] = [];
  const unmatched: string[] = [];
  for (const [name, image] of images) {
    const label = LABEL_SUFFIXES.map((s) => labels.get(name + s)).find((x) => x !== undefined);
    if (!label) {
      if (unlabelled) unlabelled.push({ name, image, labelDir });
      else unmatched.push(path.basename(image));
      continue;
    }
    const truth = truths ? LABEL_SUFFIXES.map((s) => truths.get(name + s)).find((x) => x !== undefined) : undefined;
    if (truths && !truth) throw new GapsegError(`${truthDir}: no full mask for image ${path.basename(image)}`);
    pairs.push({ name, image, label, ...(truth ? { truth } : {}) });
  }
  if (unmatched.length > 0) {
    throw new GapsegError(
      `${labelDir}: no label for ${unmatched.length} image(s) of ${imageDir} (${unmatched.slice(0, 5).join(', ')}${unmatched.length > 5 ? ', ...' : ''}); labels pair with images by base name`,
    );
  }
  return pairs;
}

/**
 * Names listed in a split file: one entry per line, "image", "image,label" or
 * "image<TAB>label" (a line without comma or tab is one name, spaces included).
 */
export function readSplitList(file: string): string[] {
  const text = readTextFile(file);
  const names: string[] = [];
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const first = /[,\t]/.test(line) ? line.split(/[,\t]/)[0].trim() : line;
    names.push(baseName(first));
  }
  return names;
}

/** The pairs a split list names; names of images still unlabelled (`pending`) are passed over. */
function selectListed(pairs: PairFiles[], list: string[], listFile: string, pending: Set<string> = new Set()): PairFiles[] {
  const byName = new Map(pairs.map((p) => [p.name, p]));
  return list.flatMap((n) => {
    const p = byName.get(n);
    if (!p && pending.has(n)) return [];
    if (!p) throw new GapsegError(`${listFile}: lists "${n}", which has no image/label pair`);
    return [p];
  });
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Discover the layout of a data set folder. `truthDir` overrides <root>/truth. */
export function discoverDataset(root: string, truthDir?: string, opts: DiscoverOptions = {}): DatasetLayout {
  if (!fs.existsSync(root)) throw new GapsegError(`${root}: data set folder not found`);
  if (!isDir(root))
    throw new GapsegError(`${root}: not a folder; a data set is a folder with images/ and labels/ (or train/ and trainannot/)`);
  const notes: string[] = [];
  const splits: Record<SplitName, PairFiles[]> = { train: [], valid: [], test: [] };
  const unlabelled: UnlabelledImage[] = [];
  const truth = truthDir ?? (isDir(path.join(root, 'truth')) ? path.join(root, 'truth') : undefined);
  const labelling = opts.unlabelled === true;

  if (isDir(path.join(root, 'images')) && (isDir(path.join(root, 'labels')) || labelling)) {
    const pending: Omit<UnlabelledImage, 'split'>[] = [];
    const all = pairFolder(path.join(root, 'images'), path.join(root, 'labels'), truth, labelling ? pending : undefined);
    if (all.length === 0 && !labelling) throw new GapsegError(`${root}: no image/label pairs found in images/ and labels/`);
    const lists: Partial<Record<SplitName, string>> = {};
    for (const [split, names] of [
      ['train', ['train.txt']],
      ['valid', ['valid.txt', 'val.txt']],
      ['test', ['test.txt']],
    ] as const) {
      const f = names.map((n) => path.join(root, n)).find((x) => fs.existsSync(x));
      if (f) lists[split] = f;
    }
    const pendingNames = new Set(pending.map((u) => u.name));
    const splitOf = new Map<string, SplitName>();
    for (const split of ['valid', 'test'] as const) if (lists[split]) for (const n of readSplitList(lists[split]!)) splitOf.set(n, split);
    unlabelled.push(...pending.map((u) => ({ ...u, split: splitOf.get(u.name) ?? 'train' })));
    if (Object.keys(lists).length === 0) {
      splits.train = all;
      return { root, kind: 'images-labels', splits, validFromFiles: false, notes, unlabelled };
    }
    const used = new Map<string, string>();
    for (const split of ['train', 'valid', 'test'] as const) {
      const f = lists[split];
      if (!f) continue;
      splits[split] = selectListed(all, readSplitList(f), f, pendingNames);
      for (const p of splits[split]) {
        const other = used.get(p.name);
        // A pair in two splits (or twice in one) would leak validation data into training.
        if (other)
          throw new GapsegError(`${f}: "${p.name}" is also listed in ${path.basename(other)}; each pair may be in one split, once`);
        used.set(p.name, f);
      }
    }
    if (!lists.train) {
      splits.train = all.filter((p) => !used.has(p.name));
      for (const p of splits.train) used.set(p.name, 'train');
    }
    const unused = all.length - used.size;
    if (unused > 0) notes.push(`${unused} pair(s) are in no split list and are not used`);
    return { root, kind: 'images-labels', splits, validFromFiles: splits.valid.length > 0, notes, unlabelled };
  }

  const segnet: [SplitName, string, string][] = [
    ['train', 'train', 'trainannot'],
    ['valid', 'val', 'valannot'],
    ['test', 'test', 'testannot'],
  ];
  if (isDir(path.join(root, 'train')) && isDir(path.join(root, 'trainannot'))) {
    for (const [split, img, ann] of segnet) {
      if (!isDir(path.join(root, img)) || (!isDir(path.join(root, ann)) && !labelling)) continue;
      const pending: Omit<UnlabelledImage, 'split'>[] = [];
      let pairs = pairFolder(path.join(root, img), path.join(root, ann), undefined, labelling ? pending : undefined);
      unlabelled.push(...pending.map((u) => ({ ...u, split })));
      const listFile = path.join(root, `${img}.txt`);
      if (fs.existsSync(listFile)) {
        const names = readSplitList(listFile);
        if (names.length > 0) {
          const listed = selectListed(pairs, names, listFile, new Set(pending.map((u) => u.name)));
          if (listed.length < pairs.length)
            notes.push(`${pairs.length - listed.length} pair(s) of ${img}/ are not in ${img}.txt and are not used`);
          pairs = listed;
        }
      }
      splits[split] = pairs;
    }
    if (splits.train.length === 0 && !labelling) throw new GapsegError(`${root}: no image/label pairs found in train/ and trainannot/`);
    return { root, kind: 'segnet', splits, validFromFiles: splits.valid.length > 0, notes, unlabelled };
  }
  throw new GapsegError(`${root}: no image/label pairs found; expected images/ + labels/ or train/ + trainannot/ folders`);
}
