/**
 * Data set discovery: pairing by base name in the images/+labels/ and SegNet layouts,
 * truth folders, split lists, and the errors for what cannot be paired.
 * Discovery decodes nothing, so the files here are empty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { baseName, discoverDataset, readSplitList, type PairFiles } from '../src/data/dataset.js';
import { throwsUser, tmpDir } from './helpers.js';

/** Create empty files (and their folders) under root. */
function touch(root: string, ...files: string[]): void {
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), '');
  }
}

function write(root: string, file: string, text: string): void {
  fs.writeFileSync(path.join(root, file), text);
}

/** The pairs as "name: image-file label-file" relative to root, for readable comparisons. */
function rel(root: string, pairs: PairFiles[]): string[] {
  return pairs.map(
    (p) => `${p.name}: ${path.relative(root, p.image)} ${path.relative(root, p.label)}${p.truth ? ` ${path.relative(root, p.truth)}` : ''}`,
  );
}

test('baseName drops the last extension only, and keeps names without one', () => {
  assert.equal(baseName('/x/a.png'), 'a');
  assert.equal(baseName('/x/a.b.png'), 'a.b');
  assert.equal(baseName('/x/0001TP_006690'), '0001TP_006690');
  assert.equal(baseName('/x/.hidden'), '.hidden');
});

test('images/ + labels/: pairs by base name across extensions and without extensions', () => {
  const root = tmpDir();
  touch(
    root,
    'images/a.jpg',
    'images/b.png',
    'images/c',
    'labels/a.png',
    'labels/b.tif',
    'labels/c',
    'images/.DS_Store',
    'labels/Thumbs.db',
  );
  const d = discoverDataset(root);
  assert.equal(d.kind, 'images-labels');
  assert.deepEqual(rel(root, d.splits.train), ['a: images/a.jpg labels/a.png', 'b: images/b.png labels/b.tif', 'c: images/c labels/c']);
  assert.deepEqual(d.splits.valid, []);
  assert.deepEqual(d.splits.test, []);
  assert.equal(d.validFromFiles, false);
});

test('images/ + labels/: labels with a suffix such as _mask', () => {
  const root = tmpDir();
  touch(root, 'images/a.jpg', 'images/b.jpg', 'labels/a_mask.png', 'labels/b_mask.png');
  const d = discoverDataset(root);
  assert.deepEqual(rel(root, d.splits.train), ['a: images/a.jpg labels/a_mask.png', 'b: images/b.jpg labels/b_mask.png']);
});

test('truth/ folder beside labels/ gives every pair its full mask', () => {
  const root = tmpDir();
  touch(root, 'images/a.jpg', 'images/b.jpg', 'labels/a.png', 'labels/b.png', 'truth/a.png', 'truth/b');
  const d = discoverDataset(root);
  assert.deepEqual(rel(root, d.splits.train), ['a: images/a.jpg labels/a.png truth/a.png', 'b: images/b.jpg labels/b.png truth/b']);
  // A truth folder missing one mask is an error naming the folder and the image.
  fs.rmSync(path.join(root, 'truth/b'));
  throwsUser(() => discoverDataset(root), path.join(root, 'truth'), 'b.jpg');
  // An explicit truth folder overrides <root>/truth.
  touch(root, 'full/a.png', 'full/b.png');
  const e = discoverDataset(root, path.join(root, 'full'));
  assert.deepEqual(rel(root, e.splits.train), ['a: images/a.jpg labels/a.png full/a.png', 'b: images/b.jpg labels/b.png full/b.png']);
});

test('split lists train.txt, valid.txt, test.txt select pairs by name', () => {
  const root = tmpDir();
  touch(root, ...['a', 'b', 'c', 'd', 'e'].flatMap((n) => [`images/${n}.jpg`, `labels/${n}.png`]));
  write(root, 'train.txt', 'a.jpg\n# comment\n\nb\n');
  write(root, 'valid.txt', 'images/c.jpg,labels/c.png\r\n');
  write(root, 'test.txt', 'd.jpg labels/d.png\n');
  const d = discoverDataset(root);
  assert.deepEqual(
    d.splits.train.map((p) => p.name),
    ['a', 'b'],
  );
  assert.deepEqual(
    d.splits.valid.map((p) => p.name),
    ['c'],
  );
  assert.deepEqual(
    d.splits.test.map((p) => p.name),
    ['d'],
  );
  assert.equal(d.validFromFiles, true);
  assert.equal(d.notes.length, 1, 'the unlisted pair e is reported');
  assert.match(d.notes[0], /^1 pair/);
});

test('split lists: without train.txt, training takes every pair not listed elsewhere; val.txt works too', () => {
  const root = tmpDir();
  touch(root, ...['a', 'b', 'c', 'd'].flatMap((n) => [`images/${n}.jpg`, `labels/${n}.png`]));
  write(root, 'val.txt', 'b\n');
  write(root, 'test.txt', 'd\n');
  const d = discoverDataset(root);
  assert.deepEqual(
    d.splits.train.map((p) => p.name),
    ['a', 'c'],
  );
  assert.deepEqual(
    d.splits.valid.map((p) => p.name),
    ['b'],
  );
  assert.deepEqual(
    d.splits.test.map((p) => p.name),
    ['d'],
  );
  assert.deepEqual(d.notes, []);
});

test('readSplitList: first entry of "path,path", "path path" and tab lines, by base name', () => {
  const root = tmpDir();
  write(root, 'l.txt', '/SegNet/CamVid/train/0001TP_006690.png,/SegNet/CamVid/trainannot/0001TP_006690.png\nx.png\ty.png\n z \n#c\n');
  assert.deepEqual(readSplitList(path.join(root, 'l.txt')), ['0001TP_006690', 'x', 'z']);
});

test('SegNet layout: train/ + trainannot/, test/ + testannot/, lists with foreign path prefixes', () => {
  const root = tmpDir();
  touch(root, 'train/0001TP_006690.png', 'train/0001TP_006720.png', 'train/0001TP_006750.png');
  touch(root, 'trainannot/0001TP_006690.png', 'trainannot/0001TP_006720.png', 'trainannot/0001TP_006750.png');
  touch(root, 'test/Seq05VD_f00000.png', 'testannot/Seq05VD_f00000.png');
  write(
    root,
    'train.txt',
    '/SegNet/CamVid/train/0001TP_006690.png,/SegNet/CamVid/trainannot/0001TP_006690.png\n' +
      '/SegNet/CamVid/train/0001TP_006720.png,/SegNet/CamVid/trainannot/0001TP_006720.png\n',
  );
  write(root, 'test.txt', '/SegNet/CamVid/test/Seq05VD_f00000.png /SegNet/CamVid/testannot/Seq05VD_f00000.png\n');
  const d = discoverDataset(root);
  assert.equal(d.kind, 'segnet');
  assert.deepEqual(rel(root, d.splits.train), [
    '0001TP_006690: train/0001TP_006690.png trainannot/0001TP_006690.png',
    '0001TP_006720: train/0001TP_006720.png trainannot/0001TP_006720.png',
  ]);
  assert.deepEqual(rel(root, d.splits.test), ['Seq05VD_f00000: test/Seq05VD_f00000.png testannot/Seq05VD_f00000.png']);
  assert.deepEqual(d.splits.valid, []);
  assert.equal(d.validFromFiles, false);
  assert.equal(d.notes.length, 1, 'the pair left out of train.txt is reported');
});

test('SegNet layout with val/ + valannot/ and files without extension', () => {
  const root = tmpDir();
  touch(root, 'train/a', 'trainannot/a', 'val/b', 'valannot/b');
  const d = discoverDataset(root);
  assert.deepEqual(rel(root, d.splits.train), ['a: train/a trainannot/a']);
  assert.deepEqual(rel(root, d.splits.valid), ['b: val/b valannot/b']);
  assert.equal(d.validFromFiles, true);
});

test('error: images without labels names the label folder and the images', () => {
  const root = tmpDir();
  touch(root, 'images/a.jpg', 'images/b.jpg', 'images/c.jpg', 'labels/a.png');
  throwsUser(() => discoverDataset(root), path.join(root, 'labels'), /no label for 2 image/, 'b.jpg', 'c.jpg');
});

test('error: two files with the same base name', () => {
  const root = tmpDir();
  touch(root, 'images/a.jpg', 'images/a.png', 'labels/a.png');
  throwsUser(() => discoverDataset(root), path.join(root, 'images'), '"a"', 'a.jpg', 'a.png');
  const root2 = tmpDir();
  touch(root2, 'images/a.jpg', 'labels/a.png', 'labels/a.tif');
  throwsUser(() => discoverDataset(root2), path.join(root2, 'labels'), '"a"');
});

test('error: no pairs (empty folders, unknown layout, empty SegNet train/)', () => {
  const empty = tmpDir();
  fs.mkdirSync(path.join(empty, 'images'));
  fs.mkdirSync(path.join(empty, 'labels'));
  throwsUser(() => discoverDataset(empty), empty, /no image\/label pairs/);
  const other = tmpDir();
  touch(other, 'pics/a.jpg', 'masks/a.png');
  throwsUser(() => discoverDataset(other), other, /no image\/label pairs/, 'images/');
  const segnet = tmpDir();
  fs.mkdirSync(path.join(segnet, 'train'));
  fs.mkdirSync(path.join(segnet, 'trainannot'));
  throwsUser(() => discoverDataset(segnet), segnet, /no image\/label pairs/);
});

test('error: the data set is a file, or does not exist', () => {
  const root = tmpDir();
  touch(root, 'file.png');
  throwsUser(() => discoverDataset(path.join(root, 'file.png')), path.join(root, 'file.png'), /not a folder/);
  throwsUser(() => discoverDataset(path.join(root, 'nope')), path.join(root, 'nope'), /not found/);
});

test('error: a split list naming a pair that does not exist', () => {
  const root = tmpDir();
  touch(root, 'images/a.jpg', 'labels/a.png');
  write(root, 'valid.txt', 'a\nghost.jpg\n');
  throwsUser(() => discoverDataset(root), path.join(root, 'valid.txt'), '"ghost"');
  const seg = tmpDir();
  touch(seg, 'train/a.png', 'trainannot/a.png');
  write(seg, 'train.txt', '/SegNet/CamVid/train/b.png,/SegNet/CamVid/trainannot/b.png\n');
  throwsUser(() => discoverDataset(seg), path.join(seg, 'train.txt'), '"b"');
});

test('split lists: a pair listed in two splits, or twice, is refused', () => {
  const root = tmpDir();
  touch(root, 'images/a.png', 'images/b.png', 'labels/a.png', 'labels/b.png');
  write(root, 'train.txt', 'a\nb\n');
  write(root, 'valid.txt', 'b\n');
  throwsUser(() => discoverDataset(root), 'valid.txt', '"b"', 'train.txt');
  write(root, 'valid.txt', '');
  write(root, 'train.txt', 'a\na\n');
  throwsUser(() => discoverDataset(root), 'train.txt', '"a"');
});

test('split lists: names may contain spaces; commas or tabs separate image and label', () => {
  const root = tmpDir();
  fs.writeFileSync(path.join(root, 'l.txt'), 'my image 1.png\n/x/y/img 2.png,/x/z/lab 2.png\nimg3\tlab3\n');
  assert.deepEqual(readSplitList(path.join(root, 'l.txt')), ['my image 1', 'img 2', 'img3']);
});
