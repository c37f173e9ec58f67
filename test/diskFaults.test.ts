/**
 * Full disks and unwritable folders, for real: a small tmpfs (mounted by the test, which needs
 * root; skipped with a message otherwise) filled up to a chosen free space, a read-only bind
 * mount (or a chmod 0555 folder when not root), and a file where a folder is expected.
 * Each command answers with one line naming the path and the problem and a non-zero exit:
 * before any work when it can tell (no space at all, read-only, not a folder), otherwise at the
 * first failed write, with every earlier output whole and no temporary file left behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { engine, runCli, tmpDir, type CliResult } from './helpers.js';
import { crashLines, tempFiles } from './faultHelpers.js';
import { saveTinyModel, writeTestImage } from './predictHelpers.js';
import { writeSampleDataset } from '../src/data/sample.js';
import { readCheckpoint } from '../src/train/checkpoint.js';

const mounts: string[] = [];
let base = '';
let model = '';
let images = '';
let data = '';

/** Mount a tmpfs of `bytes` at a fresh folder, or return the reason it cannot be done. */
function mountTmpfs(bytes: number): string | { skip: string } {
  const dir = fs.mkdtempSync(path.join(base, 'tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    return { skip: `cannot mount a tmpfs here (needs root): ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}` };
  }
  mounts.push(dir);
  return dir;
}

/** Leave exactly about `free` bytes free on the file system of `dir` with a filler file. */
function fillTo(dir: string, free: number): string {
  const filler = path.join(dir, 'filler.bin');
  const st = fs.statfsSync(dir);
  const avail = st.bavail * st.bsize + (fs.existsSync(filler) ? fs.statSync(filler).size : 0);
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, avail - free)));
  return filler;
}

/** A folder that cannot be written: a read-only bind mount as root, chmod 0555 otherwise. */
function unwritableDir(): string | { skip: string } {
  const dir = fs.mkdtempSync(path.join(base, 'ro-'));
  const isRoot = process.getuid?.() === 0;
  try {
    if (isRoot) {
      execFileSync('mount', ['--bind', '-o', 'ro', dir, dir], { stdio: 'pipe' });
      mounts.push(dir);
    } else fs.chmodSync(dir, 0o555);
    fs.writeFileSync(path.join(dir, 'probe'), 'x');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EROFS' || (e as NodeJS.ErrnoException).code === 'EACCES') return dir;
    return { skip: `cannot make a read-only folder here: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}` };
  }
  fs.rmSync(path.join(dir, 'probe'));
  return { skip: 'this user can write into read-only folders' };
}

/** The last stderr line is the one-line error, naming `file` and the problem; no stack trace. */
function assertWriteError(r: CliResult, file: string, problem: RegExp): void {
  const detail = `exit ${r.code}\n${r.stderr}`;
  assert.notEqual(r.code, 0, detail);
  assert.notEqual(r.code, 70, detail);
  assert.deepEqual(crashLines(r.stderr), [], detail);
  const last = r.stderr.trimEnd().split('\n').pop() ?? '';
  assert.ok(last.startsWith(`gapseg: ${file}`), `error should name ${file}\n${detail}`);
  assert.match(last, problem, detail);
}

before(async () => {
  await engine();
  base = tmpDir('gapseg-disk-');
  model = path.join(base, 'model');
  await saveTinyModel(model, { depth: 2, width: 4 });
  images = path.join(base, 'images');
  // Noisy 256 x 256 images: about 200 KB of outputs each.
  for (let i = 0; i < 12; i++) await writeTestImage(path.join(images, `big${String(i).padStart(2, '0')}.png`), 256, 256, i);
  data = path.join(base, 'data');
  await writeSampleDataset(data, { count: 8, size: 48, gap: 2, seed: 5, valid: 2, test: 0 });
});

after(() => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', [m], { stdio: 'pipe' });
    } catch {
      // already gone
    }
  }
});

test('predict onto a full disk: refused before work; onto a nearly full one: stops at the first failed write, earlier outputs whole', async (t) => {
  const disk = mountTmpfs(4 * 1024 * 1024);
  if (typeof disk !== 'string') return t.skip(disk.skip);
  const filler = fillTo(disk, 0);
  const out = path.join(disk, 'pred');
  const full = await runCli(['predict', model, images, '--out', out, '--engine', 'tfjs', '--quiet']);
  assertWriteError(full, out, /cannot write \(ENOSPC: (no space left on the device|only \d+ KiB free on its disk)\)/);
  assert.equal(full.stderr.trim().split('\n').length, 1, 'refused before any work');
  assert.ok(!fs.existsSync(out));

  fillTo(disk, 1.2 * 1024 * 1024);
  const r = await runCli(['predict', model, images, '--out', out, '--engine', 'tfjs', '--quiet']);
  assertWriteError(r, out, /cannot write \(ENOSPC: no space left on the device\)/);
  const labels = fs.readdirSync(path.join(out, 'labels')).filter((f) => !f.startsWith('.'));
  assert.ok(labels.length > 0 && labels.length < 12, `some images were written before the disk filled (${labels.length})`);
  for (const sub of ['labels', 'overlays', 'probs']) {
    const d = path.join(out, sub);
    for (const f of fs.existsSync(d) ? fs.readdirSync(d) : []) await sharp(path.join(d, f), { failOn: 'warning' }).raw().toBuffer();
  }
  assert.deepEqual(tempFiles(out), [], 'no temporary file is left by the failed writes');

  // With space again, --resume completes the folder.
  fs.rmSync(filler);
  const again = await runCli(['predict', model, images, '--out', out, '--engine', 'tfjs', '--resume', '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(fs.readdirSync(path.join(out, 'overlays')).length, 12);
});

test('predict --npy onto a disk that fills up: every partial .npy is removed, those of images still in flight too', async (t) => {
  const disk = mountTmpfs(4 * 1024 * 1024);
  if (typeof disk !== 'string') return t.skip(disk.skip);
  fillTo(disk, 1.5 * 1024 * 1024);
  const out = path.join(disk, 'pred');
  const r = await runCli(['predict', model, images, '--out', out, '--engine', 'tfjs', '--npy', '--refine', 'none', '--quiet']);
  assertWriteError(r, out, /cannot write \(ENOSPC: no space left on the device\)/);
  assert.deepEqual(tempFiles(out), [], 'no temporary file is left by the failed writes');
});

test('train onto a disk that fills up after the first epoch: one-line error, the checkpoint of epoch 1 is kept and resumes', async (t) => {
  // depth 3, width 8: a checkpoint of about 1.5 MB, so that the disk can hold one but not two.
  const args = (out: string) => [
    'train',
    data,
    '--out',
    out,
    '--epochs',
    '3',
    '--crop',
    '32',
    '--depth',
    '3',
    '--width',
    '8',
    '--tile',
    '64',
    '--threads',
    '2',
    '--quiet',
  ];
  const ref = path.join(base, 'train-ref');
  const refRun = await runCli(args(ref));
  assert.equal(refRun.code, 0, refRun.stderr);
  const sizeOf = (p: string): number =>
    fs.statSync(p).isDirectory() ? fs.readdirSync(p).reduce((a, f) => a + sizeOf(path.join(p, f)), 0) : fs.statSync(p).size;
  const runBytes = sizeOf(ref);
  const ckBytes = fs.statSync(path.join(ref, 'checkpoint.bin')).size;

  const disk = mountTmpfs(runBytes + 4 * ckBytes);
  if (typeof disk !== 'string') return t.skip(disk.skip);
  const filler = fillTo(disk, 0);
  const out = path.join(disk, 'run');
  const full = await runCli(args(out));
  assertWriteError(full, out, /ENOSPC/);
  assert.equal(full.stderr.trim().split('\n').length, 1, 'refused before loading the data');
  assert.ok(!fs.existsSync(out), 'no run folder is made');

  // Room for one epoch's files and half a checkpoint more: the second checkpoint cannot be written beside the first.
  fillTo(disk, runBytes + ckBytes / 2);
  const r = await runCli(args(out));
  assertWriteError(r, path.join(out, 'checkpoint.bin'), /cannot write \(ENOSPC: no space left on the device\)/);
  assert.match(r.stderr, /epoch 1\/3/);
  assert.equal(readCheckpoint(path.join(out, 'checkpoint.bin')).state.epoch, 1, 'the last good checkpoint is kept whole');
  assert.deepEqual(tempFiles(out), []);

  fs.rmSync(filler);
  const resumed = await runCli([...args(out), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming after epoch 1 of 3/);
  assert.equal(readCheckpoint(path.join(out, 'checkpoint.bin')).state.epoch, 3);
});

test('a read-only output folder is refused before any work by train, predict, eval --json and export --out', async (t) => {
  const ro = unwritableDir();
  if (typeof ro !== 'string') return t.skip(ro.skip);
  const cases: [string[], string][] = [
    [['train', data, '--out', path.join(ro, 'run'), '--epochs', '1', '--crop', '32', '--depth', '2', '--width', '4'], path.join(ro, 'run')],
    [['predict', model, images, '--out', path.join(ro, 'pred')], path.join(ro, 'pred')],
    [['predict', model, images, '--out', ro], ro],
    [['eval', model, data, '--json', path.join(ro, 'm.json'), '--quiet'], ro],
    [['export', model, '--out', path.join(ro, 'sub', 'm.onnx')], path.join(ro, 'sub')],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  results.forEach((r, i) => {
    assertWriteError(r, cases[i][1], /cannot write \((EROFS: read-only file system|EACCES: permission denied)\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${cases[i][0][0]}: refused before any work\n${r.stderr}`);
  });
});

test('a file where an output folder is expected is named, before any work', async () => {
  const file = path.join(base, 'a-file');
  fs.writeFileSync(file, 'not a folder');
  const results = await Promise.all([
    runCli(['predict', model, images, '--out', file, '--quiet']),
    runCli(['predict', model, images, '--out', path.join(file, 'pred'), '--quiet']),
    runCli(['train', data, '--out', file, '--epochs', '1', '--crop', '32', '--depth', '2', '--width', '4', '--quiet']),
    runCli(['eval', model, data, '--json', path.join(file, 'm.json'), '--quiet']),
  ]);
  for (const r of results) {
    assertWriteError(r, file, /cannot write \(.*(is a file, not a folder)/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // An output sub-folder that is a file: found at the first write, named.
  const out = path.join(base, 'pred-blocked');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'overlays'), 'in the way');
  const r = await runCli(['predict', model, path.join(images, 'big00.png'), '--out', out, '--engine', 'tfjs', '--quiet']);
  assertWriteError(r, path.join(out, 'overlays'), /a file is in the way of this folder/);
});
