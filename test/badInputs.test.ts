/**
 * Bad input, tried systematically: a corpus the test makes itself (broken and odd images, masks,
 * data set layouts, class files, model folders, ONNX files, run folders) is fed to every command
 * that reads it, through the built CLI (and the viewer's HTTP API). Each case must end in one of
 * two ways: a clear error (non-zero exit, not 70; exactly one stderr line starting "gapseg:", the
 * last, that names the file and the problem; no stack trace; within a time limit), or correct handling (the
 * run succeeds and its result is checked). The counts are printed at the end.
 */
import { disposeNet, netValues } from '../src/nets/index.js';
import type { UNetConfig } from '../src/nets/unet/unet.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { CLI, engine, errorLine, ROOT, TINY_NET, tmpDir, writePng } from './helpers.js';
import { crashLines, startCli } from './faultHelpers.js';
import { saveTinyModel, testImage } from './predictHelpers.js';
import { writeSampleDataset } from '../src/data/sample.js';
import { encodePng } from '../src/data/decode.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { loadModel } from '../src/formats/modelFolder.js';

import { unetToOnnx } from '../src/formats/onnx/unetGraph.js';
import { encodeOnnx } from '../src/formats/onnx/model.js';

// ---------------------------------------------------------------------------------------------
// Running cases and counting them

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run the CLI, killing it (and failing the case) if it takes longer than `ms`. */
function run(args: string[], ms = 90_000): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, ms);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

const tally = { tried: 0, handled: 0, errors: 0, correct: 0, perCommand: new Map<string, number>() };

interface Case {
  /** What is tried, e.g. "train: truncated PNG image". */
  name: string;
  command: string;
  args: string[];
  /** An error is expected: these strings in the one line, and the problem matching this. */
  error?: { mentions: string[]; problem: RegExp };
  /** Success is expected; this checks the result. */
  ok?: (r: Result) => void | Promise<void>;
}

/** The contract for a user mistake: one line on stderr, naming what is wrong. */
function checkError(r: Result, mentions: string[], problem: RegExp): void {
  const detail = `exit ${r.code}\nstderr:\n${r.stderr}\nstdout:\n${r.stdout}`;
  assert.ok(!r.timedOut, `hung\n${detail}`);
  assert.notEqual(r.code, 0, detail);
  assert.notEqual(r.code, 70, `exit 70 is an internal error\n${detail}`);
  assert.deepEqual(crashLines(r.stderr), [], `stack trace\n${detail}`);
  const line = errorLine(r.stderr, detail);
  for (const m of mentions) assert.ok(line.includes(m), `should name ${m}\n${detail}`);
  assert.match(line, problem, detail);
}

/** Run cases two at a time; every failure is collected, then reported together. */
async function runCases(cases: Case[]): Promise<void> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      tally.tried++;
      tally.perCommand.set(c.command, (tally.perCommand.get(c.command) ?? 0) + 1);
      const r = await run(c.args);
      try {
        if (c.error) checkError(r, c.error.mentions, c.error.problem);
        else {
          assert.ok(!r.timedOut, 'hung');
          assert.deepEqual(crashLines(r.stderr), [], r.stderr);
          assert.equal(r.code, 0, r.stderr);
          await c.ok?.(r);
        }
        tally.handled++;
        if (c.error) tally.errors++;
        else tally.correct++;
      } catch (e) {
        failures.push(`${c.name}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(failures, [], failures.join('\n\n'));
}

after(() => {
  const per = [...tally.perCommand].map(([c, n]) => `${c} ${n}`).join(', ');
  console.log(
    `# bad inputs: ${tally.tried} cases tried (${per}); ${tally.handled} handled: ${tally.errors} clear one-line errors, ${tally.correct} handled correctly`,
  );
});

// ---------------------------------------------------------------------------------------------
// The corpus

let base = '';
let model = '';
let onnxFile = '';
let template = '';
let counter = 0;

const fresh = (prefix: string) => path.join(base, `${prefix}-${counter++}`);

function pngChunk(type: string, data: Buffer): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  data.copy(b, 8);
  b.writeUInt32BE(zlib.crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])), 8 + data.length);
  return b;
}

/** A small PNG whose header declares width x height (a decompression bomb when large). */
function declaredPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  const idat = zlib.deflateSync(Buffer.alloc(64 * 1024));
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const W = 32;
const H = 32;
/** RGB content with 64 colours at most, so that palette, GIF and lossless WebP keep it exactly. */
function baseRgb(seed: number): Uint8Array {
  return testImage(W, H, seed).map((v) => Math.min(255, Math.round(v / 85) * 85));
}
const rawOf = (rgb: Uint8Array, channels = 3) => sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: channels as 3 } });

/** Broken images: how to make one at `file` (returns the path actually made) and the problem expected. */
const IMAGE_ERRORS: { name: string; make: (file: string) => Promise<string>; problem: RegExp }[] = [
  { name: 'zero-byte file', make: async (f) => (fs.writeFileSync(f, ''), f), problem: /cannot decode image \(empty file, 0 bytes\)/ },
  { name: 'text file named .png', make: async (f) => (fs.writeFileSync(f, 'just some text\n'), f), problem: /cannot decode image/ },
  {
    name: 'truncated PNG',
    make: async (f) => {
      const png = await encodePng(baseRgb(1), W, H, 3);
      fs.writeFileSync(f, png.subarray(0, png.length >> 1));
      return f;
    },
    problem: /cannot decode image/,
  },
  {
    name: 'PNG with a damaged chunk (CRC)',
    make: async (f) => {
      const png = Buffer.from(await encodePng(baseRgb(2), W, H, 3));
      png[png.length - 20] ^= 0xff;
      fs.writeFileSync(f, png);
      return f;
    },
    problem: /cannot decode image/,
  },
  {
    name: 'truncated JPEG',
    make: async (f) => {
      const jpg = await rawOf(baseRgb(3)).jpeg().toBuffer();
      fs.writeFileSync(f, jpg.subarray(0, jpg.length >> 1));
      return f;
    },
    problem: /cannot decode image/,
  },
  {
    name: 'JPEG with damaged entropy data',
    make: async (f) => {
      // Bytes of 0xfe early in the entropy-coded data: libjpeg warns "bad Huffman code" and decodes garbage.
      const jpg = Buffer.from(
        await rawOf(testImage(W, H, 4))
          .jpeg({ quality: 95 })
          .toBuffer(),
      );
      const sos = jpg.indexOf(Buffer.from([0xff, 0xda]));
      const start = sos + 2 + jpg.readUInt16BE(sos + 2);
      jpg.fill(0xfe, start + 5, start + 60);
      fs.writeFileSync(f, jpg);
      return f;
    },
    problem: /cannot decode image/,
  },
  { name: 'PNG declaring 0 x 0 pixels', make: async (f) => (fs.writeFileSync(f, declaredPng(0, 0)), f), problem: /cannot decode image/ },
  {
    name: 'decompression bomb (100000 x 100000 declared)',
    make: async (f) => (fs.writeFileSync(f, declaredPng(100000, 100000)), f),
    problem: /larger than the pixel limit \(\d+ pixels\); raise it with --max-pixels/,
  },
  {
    name: 'symlink loop',
    make: async (f) => {
      // The loop's other half is a dotfile, which folder listings leave out.
      const other = path.join(path.dirname(f), `.${path.basename(f)}.other`);
      fs.rmSync(f, { force: true });
      fs.symlinkSync(path.basename(other), f);
      fs.symlinkSync(path.basename(f), other);
      return f;
    },
    problem: /ELOOP: symlink loop/,
  },
  {
    name: 'broken symlink',
    make: async (f) => {
      fs.rmSync(f, { force: true });
      fs.symlinkSync('no-such-target.png', f);
      return f;
    },
    problem: /broken symlink/,
  },
  {
    name: 'file name that is not UTF-8',
    make: async (f) => {
      const bytes = Buffer.concat([Buffer.from(f.replace(/\.png$/, '')), Buffer.from([0xff, 0xfe]), Buffer.from('.png')]);
      const png = await encodePng(baseRgb(5), W, H, 3);
      fs.rmSync(f, { force: true });
      fs.writeFileSync(bytes, png);
      return bytes.toString('utf8');
    },
    problem: /file name is not valid UTF-8/,
  },
];

/** Odd but valid images: each decodes to a known RGB content (compared through predictions). */
const IMAGE_VARIANTS: {
  name: string;
  ext: string;
  make: (rgb: Uint8Array) => Promise<Buffer>;
  expect: (rgb: Uint8Array) => Uint8Array;
  exact: boolean;
}[] = [
  { name: 'grey PNG', ext: 'png', make: (rgb) => rawOf(grey(rgb), 1).png().toBuffer(), expect: (rgb) => replicate(grey(rgb)), exact: true },
  {
    name: 'grey + alpha PNG',
    ext: 'png',
    make: (rgb) =>
      rawOf(withAlpha(grey(rgb), 1), 2)
        .png()
        .toBuffer(),
    expect: (rgb) => replicate(grey(rgb)),
    exact: true,
  },
  {
    name: 'RGBA PNG (alpha varies)',
    ext: 'png',
    make: (rgb) => rawOf(withAlpha(rgb, 3), 4).png().toBuffer(),
    expect: (rgb) => rgb,
    exact: true,
  },
  {
    name: '16-bit RGB PNG',
    ext: 'png',
    make: (rgb) =>
      sharp(
        Uint16Array.from(rgb, (v) => v * 257),
        { raw: { width: W, height: H, channels: 3 } },
      )
        .toColourspace('rgb16')
        .png()
        .toBuffer(),
    expect: (rgb) => rgb,
    exact: true,
  },
  {
    name: '16-bit grey PNG',
    ext: 'png',
    make: (rgb) =>
      sharp(
        Uint16Array.from(grey(rgb), (v) => v * 257),
        { raw: { width: W, height: H, channels: 1 } },
      )
        .toColourspace('grey16')
        .png()
        .toBuffer(),
    expect: (rgb) => replicate(grey(rgb)),
    exact: true,
  },
  {
    name: 'palette PNG',
    ext: 'png',
    make: (rgb) => rawOf(rgb).png({ palette: true, colours: 256, dither: 0 }).toBuffer(),
    expect: (rgb) => rgb,
    exact: true,
  },
  { name: 'GIF', ext: 'gif', make: (rgb) => rawOf(rgb).gif({ dither: 0 }).toBuffer(), expect: (rgb) => rgb, exact: true },
  { name: 'lossless WebP', ext: 'webp', make: (rgb) => rawOf(rgb).webp({ lossless: true }).toBuffer(), expect: (rgb) => rgb, exact: true },
  { name: 'TIFF (LZW)', ext: 'tif', make: (rgb) => rawOf(rgb).tiff({ compression: 'lzw' }).toBuffer(), expect: (rgb) => rgb, exact: true },
  // Harmless damage that decoders skip: refusing these would refuse good pictures.
  {
    name: 'PNG with bytes after its end',
    ext: 'png',
    make: async (rgb) => Buffer.concat([await encodePng(rgb, W, H, 3), Buffer.from('trailing bytes')]),
    expect: (rgb) => rgb,
    exact: true,
  },
  {
    name: 'PNG with a damaged text chunk',
    ext: 'png',
    make: async (rgb) => {
      const png = await encodePng(rgb, W, H, 3);
      const text = pngChunk('tEXt', Buffer.from('Comment\0hello'));
      text[text.length - 1] ^= 1; // wrong CRC of an ancillary chunk
      return Buffer.concat([png.subarray(0, 33), text, png.subarray(33)]);
    },
    expect: (rgb) => rgb,
    exact: true,
  },
  {
    name: 'JPEG with bytes after its end',
    ext: 'jpg',
    make: async (rgb) => Buffer.concat([await rawOf(rgb).jpeg({ quality: 100 }).toBuffer(), Buffer.from('trailing')]),
    expect: (rgb) => rgb,
    exact: false,
  },
  {
    name: 'CMYK JPEG',
    ext: 'jpg',
    make: (rgb) => rawOf(rgb).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer(),
    expect: (rgb) => rgb,
    exact: false,
  },
];

function grey(rgb: Uint8Array): Uint8Array {
  const g = new Uint8Array(W * H);
  for (let i = 0; i < g.length; i++) g[i] = rgb[3 * i];
  return g;
}
function replicate(g: Uint8Array): Uint8Array {
  const out = new Uint8Array(g.length * 3);
  for (let i = 0; i < g.length; i++) out.fill(g[i], 3 * i, 3 * i + 3);
  return out;
}
function withAlpha(px: Uint8Array, channels: number): Uint8Array {
  const n = px.length / channels;
  const out = new Uint8Array(n * (channels + 1));
  for (let i = 0; i < n; i++) {
    out.set(px.subarray(i * channels, (i + 1) * channels), i * (channels + 1));
    out[i * (channels + 1) + channels] = 40 + ((i * 37) % 216);
  }
  return out;
}

/** A copy of the template data set (6 pairs of 32 x 32, gapseg.json, split lists). */
function dataset(): string {
  const d = fresh('data');
  fs.cpSync(template, d, { recursive: true });
  return d;
}
const IMG = (d: string, i = 1) => path.join(d, 'images', `blob_000${i}.png`);
const LAB = (d: string, i = 1) => path.join(d, 'labels', `blob_000${i}.png`);

const trainArgs = (d: string, ...extra: string[]) => ['train', d, '--out', fresh('run'), '--epochs', '1', ...TINY_NET, '--quiet', ...extra];
const evalArgs = (m: string, d: string, ...extra: string[]) => ['eval', m, d, '--threads', '1', '--quiet', ...extra];
const predictArgs = (m: string, input: string, ...extra: string[]) => [
  'predict',
  m,
  input,
  '--out',
  fresh('pred'),
  '--threads',
  '1',
  '--quiet',
  ...extra,
];

before(async () => {
  await engine();
  base = tmpDir('gapseg-bad-');
  model = path.join(base, 'model');
  await saveTinyModel(model, { depth: 2, width: 4, tile: 64 });
  const withOnnx = path.join(base, 'model-onnx');
  fs.cpSync(model, withOnnx, { recursive: true });
  await exportOnnx(withOnnx, { threads: 2, version: 'test' });
  onnxFile = path.join(withOnnx, 'model.onnx');
  template = path.join(base, 'template');
  await writeSampleDataset(template, { count: 6, size: 32, gap: 2, seed: 9, valid: 1, test: 0 });
});

// ---------------------------------------------------------------------------------------------
// Images

test('broken images: train, eval and predict (--strict, and skipping in a folder) name the file and the problem', async () => {
  const cases: Case[] = [];
  const folder = fresh('mixed');
  fs.mkdirSync(folder);
  await writePng(path.join(folder, 'good.png'), baseRgb(7), W, H, 3);
  for (const [i, bad] of IMAGE_ERRORS.entries()) {
    // As a training / evaluation image.
    const d = dataset();
    const file = await bad.make(IMG(d));
    cases.push({ name: `train: ${bad.name}`, command: 'train', args: trainArgs(d), error: { mentions: [file], problem: bad.problem } });
    cases.push({ name: `eval: ${bad.name}`, command: 'eval', args: evalArgs(model, d), error: { mentions: [file], problem: bad.problem } });
    // As an image to predict, alone with --strict.
    const alone = fresh('img');
    fs.mkdirSync(alone);
    const single = await bad.make(path.join(alone, `case-${i}-.png`));
    cases.push({
      name: `predict --strict: ${bad.name}`,
      command: 'predict',
      args: predictArgs(model, single, '--strict'),
      error: { mentions: [single], problem: bad.problem },
    });
    await bad.make(path.join(folder, `case-${i}-.png`));
  }
  // A folder of all of them and one good image: each bad one is reported and skipped, the good one predicted.
  const out = fresh('pred');
  const folderRun = run(['predict', model, folder, '--out', out, '--threads', '1', '--quiet']);
  await runCases(cases);

  tally.tried++;
  tally.perCommand.set('predict', (tally.perCommand.get('predict') ?? 0) + 1);
  const r = await folderRun;
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(crashLines(r.stderr), [], r.stderr);
  for (const [i, bad] of IMAGE_ERRORS.entries()) {
    const line = r.stderr.split('\n').find((l) => l.startsWith('error: ') && l.includes(`case-${i}-`));
    assert.ok(line, `${bad.name}: no error line\n${r.stderr}`);
    assert.match(line, bad.problem, line);
    assert.ok(line.endsWith('(skipped)'), line);
  }
  assert.match(r.stderr, new RegExp(`predicted 1 image\\(s\\) .*; ${IMAGE_ERRORS.length} failed`));
  assert.deepEqual(fs.readdirSync(path.join(out, 'labels')), ['good.png']);
  tally.handled++;
  tally.correct++;
});

test('--max-pixels: an image above the limit is refused before decoding by train, eval and predict; raising it lets a large image through', async () => {
  const d = dataset();
  const big = fresh('big');
  fs.mkdirSync(big);
  await writePng(path.join(big, 'wide.png'), testImage(300, 200, 1), 300, 200, 3);
  await runCases([
    {
      name: 'train --max-pixels 1000',
      command: 'train',
      args: trainArgs(d, '--max-pixels', '1000'),
      error: { mentions: [path.join(d, 'images')], problem: /larger than the pixel limit \(1000 pixels\)/ },
    },
    {
      name: 'eval --max-pixels 1000',
      command: 'eval',
      args: evalArgs(model, d, '--max-pixels', '1000'),
      error: { mentions: [path.join(d, 'images')], problem: /pixel limit \(1000 pixels\)/ },
    },
    {
      name: 'predict --max-pixels 59999 --strict',
      command: 'predict',
      args: predictArgs(model, path.join(big, 'wide.png'), '--max-pixels', '59999', '--strict'),
      error: { mentions: [path.join(big, 'wide.png')], problem: /pixel limit \(59999 pixels\)/ },
    },
    {
      name: 'predict --max-pixels 0',
      command: 'predict',
      args: predictArgs(model, path.join(big, 'wide.png'), '--max-pixels', '0'),
      error: { mentions: ['--max-pixels'], problem: /at least 1/ },
    },
    {
      name: 'predict --max-pixels 60000 (exactly the image)',
      command: 'predict',
      args: predictArgs(model, path.join(big, 'wide.png'), '--max-pixels', '60000'),
      ok: (r) => assert.match(r.stderr, /predicted 1 image/),
    },
  ]);
});

test('odd but valid images (grey, alpha, 16-bit, palette, GIF, WebP, TIFF, CMYK, harmless damage, odd names) predict like their RGB content', async () => {
  const dir = fresh('variants');
  const refDir = fresh('variants-ref');
  fs.mkdirSync(dir);
  fs.mkdirSync(refDir);
  for (const [i, v] of IMAGE_VARIANTS.entries()) {
    const rgb = baseRgb(20 + i);
    fs.writeFileSync(path.join(dir, `v${i}.${v.ext}`), await v.make(rgb));
    await writePng(path.join(refDir, `v${i}.png`), v.expect(rgb), W, H, 3);
  }
  // Names with spaces, accents and other scripts, and a 1 x 1 image.
  const odd = ['with space.png', 'accentué é.png', '日本語 画像.png', "quote's (1).png"];
  for (const [i, n] of odd.entries()) {
    await writePng(path.join(dir, n), baseRgb(40 + i), W, H, 3);
    await writePng(path.join(refDir, n), baseRgb(40 + i), W, H, 3);
  }
  await writePng(path.join(dir, 'one.png'), new Uint8Array([10, 200, 30]), 1, 1, 3);
  const out = fresh('variants-out');
  const refOut = fresh('variants-ref-out');
  await runCases([
    {
      name: 'predict: odd images',
      command: 'predict',
      args: ['predict', model, dir, '--out', out, '--engine', 'tfjs', '--threads', '1', '--quiet'],
    },
    {
      name: 'predict: their RGB twins',
      command: 'predict',
      args: ['predict', model, refDir, '--out', refOut, '--engine', 'tfjs', '--threads', '1', '--quiet'],
    },
  ]);
  const labels = async (f: string) => (await sharp(f).extractChannel(0).raw().toBuffer()) as Buffer;
  const overlay = async (f: string) => (await sharp(f).raw().toBuffer()) as Buffer;
  for (const [i, v] of IMAGE_VARIANTS.entries()) {
    tally.tried++;
    tally.perCommand.set('predict', (tally.perCommand.get('predict') ?? 0) + 1);
    const got = await overlay(path.join(out, 'overlays', `v${i}.png`));
    const want = await overlay(path.join(refOut, 'overlays', `v${i}.png`));
    assert.equal(got.length, want.length, v.name);
    if (v.exact) {
      assert.ok(got.equals(want), `${v.name}: overlay differs from its RGB twin's`);
      assert.ok(
        (await labels(path.join(out, 'labels', `v${i}.png`))).equals(await labels(path.join(refOut, 'labels', `v${i}.png`))),
        `${v.name}: labels differ`,
      );
    } else {
      // Colour-managed (CMYK): close to the content, never inverted or channel-swapped.
      let sum = 0;
      for (let j = 0; j < got.length; j++) sum += Math.abs(got[j] - want[j]);
      assert.ok(sum / got.length < 40, `${v.name}: mean difference ${sum / got.length}`);
    }
    tally.handled++;
    tally.correct++;
  }
  for (const n of odd) {
    tally.tried++;
    tally.perCommand.set('predict', (tally.perCommand.get('predict') ?? 0) + 1);
    const b = n.replace(/\.png$/, '');
    assert.ok((await labels(path.join(out, 'labels', `${b}.png`))).equals(await labels(path.join(refOut, 'labels', `${b}.png`))), n);
    tally.handled++;
    tally.correct++;
  }
  const one = await sharp(path.join(out, 'labels', 'one.png')).metadata();
  assert.deepEqual([one.width, one.height], [1, 1]);
});

// ---------------------------------------------------------------------------------------------
// Masks

test('broken or mismatched masks: train and eval name the file and the problem; odd valid masks train', async () => {
  const cases: Case[] = [];
  const maskError = async (name: string, edit: (d: string) => Promise<string>, problem: RegExp, commands = ['train', 'eval']) => {
    const d = dataset();
    const file = await edit(d);
    if (commands.includes('train'))
      cases.push({ name: `train: ${name}`, command: 'train', args: trainArgs(d), error: { mentions: [file], problem } });
    if (commands.includes('eval'))
      cases.push({ name: `eval: ${name}`, command: 'eval', args: evalArgs(model, d), error: { mentions: [file], problem } });
  };
  const lab = (v: (x: number, y: number) => number, w = W, h = H) =>
    Uint8Array.from({ length: w * h }, (_, i) => v(i % w, Math.floor(i / w)));
  await maskError(
    'label value outside the class description',
    async (d) => {
      await writePng(
        LAB(d),
        lab((x, y) => (x === 7 && y === 5 ? 42 : x < 16 ? 0 : 255)),
        W,
        H,
        1,
      );
      return LAB(d);
    },
    /label value 42 at pixel \(x=7, y=5\) is not in the class description/,
  );
  await maskError(
    'label smaller than its image',
    async (d) => {
      await writePng(
        LAB(d),
        lab(() => 0, W, 24),
        W,
        24,
        1,
      );
      return LAB(d);
    },
    /label is 32x24 but its image/,
  );
  await maskError(
    'colour label mask',
    async (d) => {
      await writePng(
        LAB(d),
        Uint8Array.from({ length: W * H * 3 }, (_, i) => (i % 3 === 0 ? 255 : 0)),
        W,
        H,
        3,
      );
      return LAB(d);
    },
    /label mask is a colour image/,
  );
  for (const bad of IMAGE_ERRORS.filter((b) => /zero-byte|truncated PNG|symlink loop/.test(b.name))) {
    await maskError(`label: ${bad.name}`, (d) => bad.make(LAB(d)), bad.problem);
  }
  await maskError(
    '16-bit label with a value unknown to the classes',
    async (d) => {
      const v = Uint16Array.from({ length: W * H }, (_, i) => (i === 3 ? 1000 : 0));
      fs.writeFileSync(LAB(d), await encodePng(v, W, H, 1));
      return LAB(d);
    },
    /label value 1000 at pixel \(x=3, y=0\)/,
  );
  await maskError(
    'an image without its label',
    async (d) => {
      fs.rmSync(LAB(d));
      return path.join(d, 'labels');
    },
    /no label for 1 image\(s\).*blob_0001\.png/,
  );
  await maskError(
    'full (truth) mask of another size',
    async (d) => {
      const t = path.join(d, 'truth', 'blob_0002.png');
      await writePng(
        t,
        lab(() => 0, 16, 16),
        16,
        16,
        1,
      );
      return t;
    },
    /full mask (is 16x16|size differs)/,
  );

  // Valid but unusual masks: training runs and learns from them.
  const okMask = async (name: string, write: (d: string) => Promise<void>, classes: string[]) => {
    const d = dataset();
    for (let i = 0; i < 6; i++) await write(path.join(d, 'labels', `blob_000${i}.png`));
    fs.rmSync(path.join(d, 'truth'), { recursive: true });
    fs.rmSync(path.join(d, 'gapseg.json'));
    const out = fresh('run');
    cases.push({
      name: `train: ${name}`,
      command: 'train',
      args: ['train', d, '--out', out, '--epochs', '1', ...TINY_NET, '--quiet', ...classes],
      ok: () => assert.ok(fs.existsSync(path.join(out, 'model', 'weights.bin')), `${name}: no model`),
    });
  };
  // Left: class a, a void stripe v, right: class b.
  const halves = (a: number, b: number, v: number) => (x: number) => (x < 14 ? a : x < 18 ? v : b);
  await okMask(
    'palette label (indices 0, 1, void 2)',
    async (f) => {
      const idx = lab(halves(0, 1, 2));
      const rgb = new Uint8Array(W * H * 3);
      const pal = [
        [0, 0, 0],
        [200, 30, 30],
        [90, 90, 90],
      ];
      idx.forEach((k, i) => rgb.set(pal[k], 3 * i));
      fs.writeFileSync(
        f,
        await sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } })
          .png({ palette: true, colours: 4, dither: 0 })
          .toBuffer(),
      );
    },
    ['--classes', '0=background,1=smoke', '--void', '2'],
  );
  await okMask(
    '16-bit label (values 0, 1000, void 2000)',
    async (f) => {
      const v = Uint16Array.from(lab(halves(0, 1, 2)), (k) => k * 1000);
      fs.writeFileSync(f, await encodePng(v, W, H, 1));
    },
    ['--classes', '0=background,1000=smoke', '--void', '2000'],
  );
  await okMask(
    'grey + alpha label',
    async (f) => {
      fs.writeFileSync(
        f,
        await rawOf(withAlpha(lab(halves(0, 255, 128)), 1), 2)
          .png()
          .toBuffer(),
      );
    },
    ['--classes', '0=background,255=smoke', '--void', '128'],
  );
  await okMask(
    'RGB label whose channels are equal',
    async (f) => {
      fs.writeFileSync(f, await encodePng(replicate(lab(halves(0, 255, 128))), W, H, 3));
    },
    ['--classes', '0=background,255=smoke', '--void', '128'],
  );
  await runCases(cases);
});

// ---------------------------------------------------------------------------------------------
// Data set layouts

test('broken data set layouts: train and eval name the folder or file and the problem; odd names train', async () => {
  const cases: Case[] = [];
  /** `edit` breaks a copy of the data set and returns what the error must name (and the data set argument, if not the copy). */
  const layout = (name: string, edit: (d: string) => string | [string, string], problem: RegExp, commands = ['train', 'eval']) => {
    const d = dataset();
    const got = edit(d);
    const [named, arg] = typeof got === 'string' ? [got, d] : got;
    for (const c of commands) {
      // train is given classes, so that the layout itself is what is tried.
      cases.push({
        name: `${c}: ${name}`,
        command: c,
        args: c === 'train' ? trainArgs(arg, '--classes', '0=background,255=smoke', '--void', '128') : evalArgs(model, arg),
        error: { mentions: [named], problem },
      });
    }
  };
  fs.writeFileSync(path.join(base, 'void.png'), await encodePng(new Uint8Array(W * H).fill(128), W, H, 1));
  layout(
    'an empty folder',
    (d) => {
      fs.rmSync(d, { recursive: true });
      fs.mkdirSync(d);
      return d;
    },
    /no image\/label pairs found/,
  );
  layout(
    'empty images/ and labels/',
    (d) => {
      for (const s of ['images', 'labels', 'truth']) fs.rmSync(path.join(d, s), { recursive: true });
      for (const s of ['images', 'labels']) fs.mkdirSync(path.join(d, s));
      for (const f of ['train.txt', 'valid.txt', 'test.txt']) fs.rmSync(path.join(d, f));
      return d;
    },
    /no image\/label pairs found in images\/ and labels\//,
  );
  layout('a file instead of a folder', (d) => [path.join(d, 'gapseg.json'), path.join(d, 'gapseg.json')], /not a folder/);
  layout('a missing folder', (d) => [path.join(d, 'nowhere'), path.join(d, 'nowhere')], /not found/);
  layout(
    'two images with the same base name',
    (d) => {
      fs.copyFileSync(IMG(d), path.join(d, 'images', 'blob_0001.jpg'));
      return path.join(d, 'images');
    },
    /two files share the base name "blob_0001"/,
  );
  layout(
    'a split list that is a folder',
    (d) => {
      fs.rmSync(path.join(d, 'valid.txt'));
      fs.mkdirSync(path.join(d, 'valid.txt'));
      return path.join(d, 'valid.txt');
    },
    /EISDIR: is a folder, not a file/,
  );
  layout(
    'a split list naming a missing pair',
    (d) => {
      fs.appendFileSync(path.join(d, 'valid.txt'), 'blob_0099\n');
      return path.join(d, 'valid.txt');
    },
    /lists "blob_0099", which has no image\/label pair/,
  );
  layout(
    'a pair in two split lists',
    (d) => {
      fs.appendFileSync(path.join(d, 'valid.txt'), 'blob_0000\n');
      return path.join(d, 'valid.txt');
    },
    /"blob_0000" is also listed in/,
  );
  layout(
    'a split list that is not UTF-8',
    (d) => {
      fs.writeFileSync(path.join(d, 'valid.txt'), Buffer.from([0x62, 0x6c, 0x6f, 0x62, 0xe9, 0x0a]));
      return path.join(d, 'valid.txt');
    },
    /not UTF-8 text/,
  );
  layout(
    'a file name that is not UTF-8 in images/',
    (d) => {
      fs.renameSync(IMG(d), Buffer.concat([Buffer.from(path.join(d, 'images', 'blob_0001')), Buffer.from([0xff]), Buffer.from('.png')]));
      return path.join(d, 'images', 'blob_0001\uFFFD.png');
    },
    /file name is not valid UTF-8/,
  );
  layout(
    'a truth/ folder missing a mask',
    (d) => {
      fs.rmSync(path.join(d, 'truth', 'blob_0003.png'));
      return path.join(d, 'truth');
    },
    /no full mask for image blob_0003\.png/,
  );
  layout(
    'every pixel void',
    (d) => {
      for (let i = 0; i < 6; i++) fs.writeFileSync(LAB(d, i), fs.readFileSync(path.join(base, 'void.png')));
      return d;
    },
    /every pixel of every label mask (of the \w+ split )?is void/,
    ['train', 'eval'],
  );

  // Names with spaces and non-ASCII letters, pairs matched with a _mask suffix: trains and predicts.
  const d = dataset();
  for (const s of ['train.txt', 'valid.txt', 'test.txt']) fs.rmSync(path.join(d, s));
  fs.rmSync(path.join(d, 'truth'), { recursive: true });
  const names = ['ciel bleu', 'fumée é', '煙 1', 'x (2)', 'a,b', 'plain'];
  for (let i = 0; i < 6; i++) {
    fs.renameSync(IMG(d, i), path.join(d, 'images', `${names[i]}.png`));
    fs.renameSync(LAB(d, i), path.join(d, 'labels', `${names[i]}${i % 2 ? '_mask' : ''}.png`));
  }
  const out = fresh('run');
  cases.push({
    name: 'train: names with spaces, accents, other scripts, commas, _mask suffixes',
    command: 'train',
    args: ['train', d, '--out', out, '--epochs', '1', '--crop', '32', '--depth', '2', '--width', '4', '--threads', '1', '--quiet'],
    ok: () => assert.ok(fs.existsSync(path.join(out, 'model', 'weights.bin'))),
  });
  cases.push({
    name: 'eval: the same names',
    command: 'eval',
    args: evalArgs(model, d),
    ok: (r) => assert.match(r.stdout, /split: all, 6 images/),
  });
  await runCases(cases);
});

// ---------------------------------------------------------------------------------------------
// Class descriptions

test('malformed codes.txt and gapseg.json: train (and predict --channel-file, eval --class-file) name the file and the problem', async () => {
  const cases: Case[] = [];
  const classFile = (name: string, file: string, content: string | Buffer | null, problem: RegExp) => {
    const d = dataset();
    fs.rmSync(path.join(d, 'gapseg.json'));
    const f = path.join(d, file);
    if (content === null) fs.mkdirSync(f);
    else fs.writeFileSync(f, content);
    cases.push({ name: `train: ${name}`, command: 'train', args: trainArgs(d), error: { mentions: [f], problem } });
    return f;
  };
  classFile('empty codes.txt', 'codes.txt', '', /empty; expected one class name per line/);
  classFile('codes.txt with a blank line', 'codes.txt', 'background\n\nsmoke\n', /line 2 is blank/);
  classFile('codes.txt naming a class twice', 'codes.txt', 'smoke\nsmoke\n', /class name "smoke" appears twice/);
  classFile('codes.txt in UTF-16', 'codes.txt', Buffer.from('\ufeffbackground\nsmoke\n', 'utf16le'), /is UTF-16 text; save it as UTF-8/);
  classFile('codes.txt in Latin-1', 'codes.txt', Buffer.from('fum\xe9e\nfond\n', 'latin1'), /not UTF-8 text/);
  classFile(
    'codes.txt that is binary (a PNG)',
    'codes.txt',
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 0xff]),
    /not UTF-8 text/,
  );
  classFile('codes.txt that is a folder', 'codes.txt', null, /EISDIR/);
  classFile('codes.txt with only void', 'codes.txt', 'void\n', /no real classes/);
  classFile('gapseg.json that is not JSON', 'gapseg.json', '{"classes": ["a", "b"', /not valid JSON/);
  classFile('gapseg.json that is null', 'gapseg.json', 'null', /expected a JSON object with a "classes" field/);
  classFile('gapseg.json whose classes is a number', 'gapseg.json', '{"classes": 3}', /missing "classes"/);
  classFile(
    'gapseg.json with a value out of range',
    'gapseg.json',
    '{"classes": {"0": "a", "70000": "b"}}',
    /label value 70000 is not an integer in 0\.\.65535/,
  );
  classFile(
    'gapseg.json with a value as text',
    'gapseg.json',
    '{"classes": [{"name": "a", "value": "0"}, {"name": "b", "value": 255}]}',
    /label value "0" is not an integer/,
  );
  classFile(
    'gapseg.json with a bad colour',
    'gapseg.json',
    '{"classes": [{"name": "a", "color": "red"}, "b"]}',
    /colour "red" is not "#rrggbb"/,
  );
  classFile(
    'gapseg.json voiding an unknown name',
    'gapseg.json',
    '{"classes": ["a", "b"], "void": "cloud"}',
    /void names "cloud", which is not a class name/,
  );
  classFile(
    'gapseg.json giving a value to two classes',
    'gapseg.json',
    '{"classes": [{"name": "a", "value": 1}, {"name": "b", "value": 1}]}',
    /label value 1 is given to two classes/,
  );
  classFile(
    'gapseg.json with 300 classes',
    'gapseg.json',
    JSON.stringify({ classes: Array.from({ length: 300 }, (_, i) => `c${i}`) }),
    /300 classes; at most 254/,
  );
  // The same files through --channel-file of predict (foreign ONNX channels) and --class-file of eval.
  const bad = classFile(
    'codes.txt in Latin-1 (again, for --class-file)',
    'codes.txt',
    Buffer.from('fum\xe9e\nfond\n', 'latin1'),
    /not UTF-8 text/,
  );
  cases.push({
    name: 'predict --channel-file: Latin-1 codes.txt',
    command: 'predict',
    args: predictArgs(onnxFile, IMG(template), '--channel-file', bad),
    error: { mentions: [bad], problem: /not UTF-8 text/ },
  });
  cases.push({
    name: 'eval --class-file: Latin-1 codes.txt',
    command: 'eval',
    args: evalArgs(model, template, '--class-file', bad),
    error: { mentions: [bad], problem: /not UTF-8 text/ },
  });
  // A UTF-8 codes.txt with a byte-order mark and CRLF line ends is fine (labels 0, 1 and void 2).
  const d = dataset();
  fs.rmSync(path.join(d, 'gapseg.json'));
  fs.rmSync(path.join(d, 'truth'), { recursive: true });
  for (let i = 0; i < 6; i++) {
    const v = await sharp(LAB(d, i)).extractChannel(0).raw().toBuffer();
    await writePng(
      LAB(d, i),
      Uint8Array.from(v, (x) => (x === 255 ? 1 : x === 128 ? 2 : 0)),
      W,
      H,
      1,
    );
  }
  fs.writeFileSync(path.join(d, 'codes.txt'), '\ufeffbackground\r\nsmoke\r\nvoid\r\n');
  const out = fresh('run');
  cases.push({
    name: 'train: codes.txt with a BOM and CRLF',
    command: 'train',
    args: ['train', d, '--out', out, '--epochs', '1', '--crop', '32', '--depth', '2', '--width', '4', '--threads', '1', '--quiet'],
    ok: () => {
      const meta = JSON.parse(fs.readFileSync(path.join(out, 'gapseg.json'), 'utf8')) as { classes: { name: string }[] };
      assert.equal(meta.classes[0].name, 'background', 'the BOM is not part of the first name');
    },
  });
  await runCases(cases);
});

// ---------------------------------------------------------------------------------------------
// Models: folders, ONNX files

test('damaged model folders and ONNX files: predict, eval, export and view name the file and the problem', async () => {
  const cases: Case[] = [];
  const img = IMG(template);
  const damaged = (name: string, edit: (m: string) => string, problem: RegExp, commands = ['predict', 'eval', 'export', 'view']) => {
    const m = fresh('model');
    fs.cpSync(model, m, { recursive: true });
    const named = edit(m);
    for (const c of commands) {
      const args =
        c === 'predict'
          ? predictArgs(m, img, '--engine', 'tfjs')
          : c === 'eval'
            ? evalArgs(m, template)
            : c === 'export'
              ? ['export', m, '--out', path.join(fresh('export'), 'm.onnx')]
              : ['view', template, '--model', m, '--port', '0'];
      cases.push({ name: `${c}: ${name}`, command: c, args, error: { mentions: [named], problem } });
    }
  };
  const editJson = (m: string, f: (j: { model: { unet: Record<string, unknown>; input: Record<string, unknown> } }) => void) => {
    const file = path.join(m, 'gapseg.json');
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    f(j);
    fs.writeFileSync(file, JSON.stringify(j));
    return file;
  };
  damaged(
    'model.json that is not JSON',
    (m) => (fs.writeFileSync(path.join(m, 'model.json'), '{"format": '), path.join(m, 'model.json')),
    /not valid JSON/,
  );
  damaged(
    'truncated weights.bin',
    (m) => {
      const f = path.join(m, 'weights.bin');
      fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 100));
      return path.join(m, 'model.json');
    },
    /weights file is shorter than the manifest says/,
  );
  damaged(
    'missing weights.bin',
    (m) => (fs.rmSync(path.join(m, 'weights.bin')), path.join(m, 'weights.bin')),
    /cannot read \(ENOENT: not found\)/,
  );
  damaged(
    'gapseg.json without a model section',
    (m) => (fs.writeFileSync(path.join(m, 'gapseg.json'), '{"classes": ["a", "b"]}'), path.join(m, 'gapseg.json')),
    /has no "model" section/,
  );
  damaged(
    'gapseg.json with depth "x"',
    (m) => editJson(m, (j) => (j.model.unet.depth = 'x')),
    /model\.unet\.depth must be an integer in 1\.\.8, not "x"/,
  );
  damaged(
    'gapseg.json without input.mean',
    (m) => editJson(m, (j) => delete j.model.input.mean),
    /model\.input\.mean must be three numbers/,
  );
  damaged(
    'gapseg.json with a negative std',
    (m) => editJson(m, (j) => (j.model.input.std = [1, -1, 1])),
    /model\.input\.std must be three positive numbers/,
  );
  damaged(
    'gapseg.json with 3 outputs for 2 classes',
    (m) => editJson(m, (j) => (j.model.unet.numClasses = 3)),
    /model has 3 outputs but 2 classes are described/,
  );
  damaged(
    'gapseg.json with a damaged refineCheck',
    (m) => editJson(m, (j) => ((j.model as { info?: Record<string, unknown> }).info = { refineCheck: { images: 'x' } })),
    /its refineCheck \(gapseg\.json, model\.info\) is damaged/,
    ['predict', 'eval', 'view'],
  );
  damaged(
    'weights of another network size',
    (m) => (editJson(m, (j) => (j.model.unet.baseWidth = 8)), path.join(m, 'model.json')),
    /weight .* has \d+ values, expected \d+/,
  );
  damaged(
    'a run folder without a model yet',
    (m) => {
      for (const f of fs.readdirSync(m)) fs.rmSync(path.join(m, f));
      fs.writeFileSync(path.join(m, 'config.json'), '{}');
      return m;
    },
    /this run has no model yet/,
    ['predict', 'eval', 'export'],
  );

  // ONNX files.
  const onnxCase = (name: string, bytes: Uint8Array, problem: RegExp, extra: string[] = []) => {
    const f = path.join(fresh('onnx'), 'm.onnx');
    fs.mkdirSync(path.dirname(f));
    fs.writeFileSync(f, bytes);
    cases.push({ name: `predict: ${name}`, command: 'predict', args: predictArgs(f, img, ...extra), error: { mentions: [f], problem } });
    return f;
  };
  const good = fs.readFileSync(onnxFile);
  onnxCase('zero-byte .onnx', Buffer.alloc(0), /not an ONNX model/);
  onnxCase('text in a .onnx', Buffer.from('not a model at all\n'), /not an ONNX model/);
  onnxCase('truncated .onnx', good.subarray(0, good.length >> 1), /not an ONNX model|truncated/);
  const { net, meta } = loadModel(model);
  const values = await netValues(net);
  disposeNet(net);
  const withMeta = (metadata: Record<string, string>) =>
    encodeOnnx(unetToOnnx(meta.net as UNetConfig, values, { metadata, producerVersion: 'test' }));
  onnxCase(
    'gapseg .onnx whose class metadata is not JSON',
    withMeta({ 'gapseg.json': '{"classes": [', 'gapseg.input': '{}' }),
    /metadata gapseg\.json\).*not valid JSON/,
  );
  onnxCase(
    'gapseg .onnx without its input recipe',
    withMeta({ 'gapseg.json': '{"classes": ["a", "b"]}' }),
    /metadata "gapseg\.input" is missing or incomplete/,
  );
  onnxCase('an .onnx without gapseg metadata and no --channel-file', withMeta({}), /name its output channels with --channel-file/);
  onnxCase('an .onnx whose channels --channels miscounts', withMeta({}), /3 (classes|channels|names)|outputs? .*2|2 outputs?/, [
    '--channels',
    'a,b,c',
  ]);
  // A damaged model.onnx inside a model folder: predict says so; export replaces it.
  const m = fresh('model');
  fs.cpSync(path.dirname(onnxFile), m, { recursive: true });
  fs.writeFileSync(path.join(m, 'model.onnx'), good.subarray(0, 200));
  cases.push({
    name: 'predict: a model folder with a truncated model.onnx',
    command: 'predict',
    args: predictArgs(m, img),
    error: { mentions: [path.join(m, 'model.onnx')], problem: /not an ONNX model/ },
  });
  cases.push({
    name: 'export: over a truncated model.onnx',
    command: 'export',
    args: ['export', m],
    ok: () => assert.ok(fs.readFileSync(path.join(m, 'model.onnx')).length > 1000),
  });
  // eval and export take gapseg folders only: a .onnx file is named as such.
  cases.push({
    name: 'eval: an .onnx file',
    command: 'eval',
    args: evalArgs(onnxFile, template),
    error: { mentions: [onnxFile], problem: /not a gapseg run or model folder/ },
  });
  cases.push({
    name: 'export: an .onnx file',
    command: 'export',
    args: ['export', onnxFile],
    error: { mentions: [onnxFile], problem: /not a gapseg run or model folder/ },
  });
  await runCases(cases);
});

// ---------------------------------------------------------------------------------------------
// Run folders (train --resume)

test('damaged run folders: train --resume names config.json or checkpoint.bin and the problem, before loading data', async () => {
  const good = fresh('run');
  const r = await run(['train', template, '--out', good, '--epochs', '2', ...TINY_NET, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const cases: Case[] = [];
  const damaged = (name: string, file: 'config.json' | 'checkpoint.bin', edit: (f: string) => void, problem: RegExp) => {
    const d = fresh('run');
    fs.cpSync(good, d, { recursive: true });
    const f = path.join(d, file);
    edit(f);
    cases.push({
      name: `train --resume: ${name}`,
      command: 'train',
      args: ['train', template, '--out', d, '--resume', '--quiet'],
      error: { mentions: [f], problem },
    });
  };
  const json = (f: string, change: (c: Record<string, unknown>) => void) => {
    const c = JSON.parse(fs.readFileSync(f, 'utf8'));
    change(c);
    fs.writeFileSync(f, JSON.stringify(c));
  };
  damaged(
    'config.json that is not JSON',
    'config.json',
    (f) => fs.writeFileSync(f, '{"dataset": '),
    /not valid JSON.*start over with --force/,
  );
  damaged('config.json that is empty', 'config.json', (f) => fs.writeFileSync(f, ''), /not valid JSON/);
  damaged('config.json that is a list', 'config.json', (f) => fs.writeFileSync(f, '[]'), /not a run configuration/);
  damaged('config.json without the data set', 'config.json', (f) => json(f, (c) => delete c.dataset), /"dataset" is missing/);
  damaged(
    'config.json with a crop of "big"',
    'config.json',
    (f) => json(f, (c) => (c.crop = 'big')),
    /"crop" must be an integer between 16 and 4096, not "big"/,
  );
  damaged(
    'config.json whose crop does not fit the depth',
    'config.json',
    (f) => json(f, (c) => (c.crop = 34)),
    /"crop" must be a multiple of 2\^depth/,
  );
  damaged('config.json with broken classes', 'config.json', (f) => json(f, (c) => (c.classes = { classes: 'x' })), /"classes" must hold/);
  damaged(
    'config.json with three class weights for two classes',
    'config.json',
    (f) => json(f, (c) => (c.classWeights = [1, 2, 3])),
    /"classWeights" must be null or 2/,
  );
  damaged(
    'config.json with a gap loss of 7',
    'config.json',
    (f) => json(f, (c) => (c.gapLoss = 7)),
    /"gapLoss" must be "softmax" or "none", not 7; the run folder is damaged/,
  );
  damaged(
    'config.json of a gap loss gapseg no longer has',
    'config.json',
    (f) => json(f, (c) => (c.gapLoss = { kind: 'ramp', weight: 1 })),
    /trained with the gap loss "ramp", which gapseg no longer has; start over with --force/,
  );
  damaged('zero-byte checkpoint', 'checkpoint.bin', (f) => fs.writeFileSync(f, ''), /not a gapseg checkpoint/);
  damaged(
    'truncated checkpoint',
    'checkpoint.bin',
    (f) => fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 2000)),
    /checkpoint is truncated/,
  );
  damaged(
    'checkpoint with a flipped bit',
    'checkpoint.bin',
    (f) => {
      const b = fs.readFileSync(f);
      b[b.length - 9] ^= 4;
      fs.writeFileSync(f, b);
    },
    /checkpoint data is damaged \(CRC mismatch\)/,
  );
  damaged(
    'checkpoint with a garbage header',
    'checkpoint.bin',
    (f) => fs.writeFileSync(f, Buffer.concat([Buffer.from('GAPSEGCK'), Buffer.from([16, 0, 0, 0]), Buffer.from('{"version":1}   ')])),
    /checkpoint header is damaged/,
  );
  damaged('checkpoint that is a folder', 'checkpoint.bin', (f) => (fs.rmSync(f), fs.mkdirSync(f)), /cannot read checkpoint \(EISDIR\)/);
  damaged(
    'checkpoint of another network',
    'checkpoint.bin',
    (f) => json(path.join(path.dirname(f), 'config.json'), (c) => (c.width = 8)),
    /does not belong to this run's config\.json/,
  );
  damaged(
    'checkpoint from a later epoch than the run has',
    'checkpoint.bin',
    (f) => json(path.join(path.dirname(f), 'config.json'), (c) => (c.epochs = 1)),
    /epoch 2 is not in 0\.\.1/,
  );
  await runCases(cases);
});

// ---------------------------------------------------------------------------------------------
// The viewer

interface Http {
  status: number;
  body: Buffer;
}

async function get(url: string, init?: RequestInit): Promise<Http> {
  const r = await fetch(url, init);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

test('gapseg view: startup errors are one line; bad images, masks, uploads and requests get clear HTTP answers', async () => {
  const cases: Case[] = [];
  const emptyDir = fresh('empty');
  fs.mkdirSync(emptyDir);
  const loopData = dataset();
  await IMAGE_ERRORS.find((b) => b.name === 'symlink loop')!.make(IMG(loopData));
  cases.push({
    name: 'view: a missing folder',
    command: 'view',
    args: ['view', path.join(base, 'nowhere'), '--port', '0'],
    error: { mentions: [path.join(base, 'nowhere')], problem: /not a folder/ },
  });
  cases.push({
    name: 'view: a file',
    command: 'view',
    args: ['view', IMG(template), '--port', '0'],
    error: { mentions: [IMG(template)], problem: /not a folder/ },
  });
  cases.push({
    name: 'view: an empty folder',
    command: 'view',
    args: ['view', emptyDir, '--port', '0'],
    error: { mentions: [emptyDir], problem: /nothing to show/ },
  });
  cases.push({
    name: 'view: a data set with a symlink loop',
    command: 'view',
    args: ['view', loopData, '--port', '0'],
    error: { mentions: [IMG(loopData)], problem: /symlink loop/ },
  });
  cases.push({
    name: 'view: --max-pixels 0',
    command: 'view',
    args: ['view', template, '--port', '0', '--max-pixels', '0'],
    error: { mentions: ['--max-pixels'], problem: /at least 1/ },
  });
  await runCases(cases);

  // A folder of every broken image (loose files), a data set with a bad mask, and a model.
  const root = fresh('view');
  fs.mkdirSync(root);
  for (const [i, bad] of IMAGE_ERRORS.entries()) await bad.make(path.join(root, `case-${i}-.png`));
  await writePng(path.join(root, 'big.png'), testImage(300, 200, 1), 300, 200, 3);
  const d = path.join(root, 'data');
  fs.cpSync(template, d, { recursive: true });
  await writePng(
    LAB(d),
    Uint8Array.from({ length: W * H }, (_, i) => (i === 0 ? 42 : 0)),
    W,
    H,
    1,
  );
  const viewer = startCli(['view', root, '--model', model, '--port', '0', '--max-pixels', '50000']);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    viewer.child.stdout?.on('data', (c) => {
      out += c;
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    void viewer.exit.then((e) => reject(new Error(`viewer exited: ${e.stderr}`)));
  });
  try {
    const catalog = JSON.parse((await get(`${url}api/catalog`)).body.toString()) as {
      items: { id: number; name: string; image: string; label: string | null }[];
      notes: string[];
      writeToken: string;
    };
    const upload = (body: string | Uint8Array<ArrayBuffer>) =>
      get(`${url}api/decode`, { method: 'POST', body, headers: { 'X-Gapseg-Token': catalog.writeToken } });
    const byName = new Map(catalog.items.map((it) => [it.name, it]));
    // Asked one after another: the oversized upload, whose connection is dropped, comes last.
    const answers: [string, () => Promise<Http>, number, RegExp][] = [];
    for (const [i, bad] of IMAGE_ERRORS.entries()) {
      const it = byName.get(`case-${i}-`);
      if (!it) {
        // Not listed (symlinks, names Node cannot open): a note says why.
        const note = catalog.notes.find((n) => n.includes(`case-${i}-`));
        tally.tried++;
        tally.perCommand.set('view', (tally.perCommand.get('view') ?? 0) + 1);
        assert.ok(note, `${bad.name}: neither listed nor noted\n${catalog.notes.join('\n')}`);
        assert.match(note, bad.problem, note);
        tally.handled++;
        tally.errors++;
        continue;
      }
      answers.push([`image: ${bad.name}`, () => get(`${url}${it.image.slice(1)}`), 422, bad.problem]);
    }
    answers.push([
      'image above --max-pixels',
      () => get(`${url}${byName.get('big')!.image.slice(1)}`),
      422,
      /pixel limit \(50000 pixels\)/,
    ]);
    const badLabel = catalog.items.find((it) => it.name === 'blob_0001' && it.label)!;
    answers.push([
      'mask with a value outside the classes',
      () => get(`${url}${badLabel.label!.slice(1)}`),
      422,
      /label value 42 at pixel \(x=0, y=0\)/,
    ]);
    answers.push(['no such item', () => get(`${url}api/image/99999`), 404, /no such item/]);
    answers.push(['upload: not an image', () => upload('hello'), 415, /upload: cannot decode image/]);
    answers.push(['upload: empty', () => upload(''), 400, /empty upload/]);
    answers.push(["upload without the page's token", () => get(`${url}api/decode`, { method: 'POST', body: 'hello' }), 403, /write token/]);
    answers.push([
      'upload: decompression bomb',
      () => upload(new Uint8Array(declaredPng(100000, 100000))),
      415,
      /pixel limit|cannot decode/,
    ]);
    const truncated = new Uint8Array((await encodePng(baseRgb(1), W, H, 3)).subarray(0, 300));
    answers.push(['upload: truncated PNG', () => upload(truncated), 415, /cannot decode image/]);
    answers.push(['upload: too large', () => upload(new Uint8Array(40 * 1024 * 1024)), 413, /larger than/]);
    answers.push(['file outside the folder', () => get(`${url}files/..%2f..%2fetc%2fpasswd`), 403, /leaves the folder/]);
    answers.push(['malformed path encoding', () => get(`${url}files/%E0%A4%A`), 400, /malformed/]);
    for (const [name, p, status, problem] of answers) {
      tally.tried++;
      tally.perCommand.set('view', (tally.perCommand.get('view') ?? 0) + 1);
      let reply: Http;
      try {
        reply = await p();
      } catch (e) {
        // An oversized upload may be cut off after the answer: the connection is dropped on purpose.
        assert.ok(name === 'upload: too large', `${name}: ${(e as Error).message}`);
        tally.handled++;
        tally.errors++;
        continue;
      }
      const text = reply.body.toString();
      assert.equal(reply.status, status, `${name}: ${text}`);
      assert.match((JSON.parse(text) as { error: string }).error, problem, `${name}: ${text}`);
      tally.handled++;
      tally.errors++;
    }
    // The good parts still work.
    assert.equal((await get(`${url}api/image/${byName.get('blob_0000')!.id}`)).status, 200);
    assert.equal((await get(`${url}model/weights.bin`)).status, 200);
  } finally {
    viewer.child.kill('SIGINT');
    const e = await viewer.exit;
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(crashLines(e.stderr), [], e.stderr);
  }
});
