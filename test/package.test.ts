/**
 * gapseg as users get it: the packed tarball installed into a fresh project the way a machine
 * that reaches only the npm registry installs it (npm's cache first, with ONNX Runtime's
 * CUDA download made to fail as it fails without internet access). There: the installed
 * command, the library imported from an .mjs file and from a .ts file type-checked against the
 * shipped types, the README's TypeScript example type-checked and run, and every `npx gapseg`
 * command of the README run as written, on small generated data standing in for its folders.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { ROOT, engine, errorLine, tmpDir, writePng } from './helpers.js';
import { foreignModel, halves, saveTinyModel, writeTestImage } from './predictHelpers.js';
import { generateImage, writeSampleDataset } from '../src/data/sample.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { makeRng } from '../src/util/random.js';
import { readmeCommands, readmeTypeScript, splitCommand } from './readme.js';
import { noRealWeights, realWeights } from './mobilenetFixture.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a user's shell: none of the repository's npm settings, ONNX Runtime's downloads unreachable. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // `npm test` passes its own settings on as npm_config_*, and CI sets ONNXRUNTIME_NODE_INSTALL.
    if (k.startsWith('npm_') || k.startsWith('ONNXRUNTIME_NODE_INSTALL')) continue;
    env[k] = v;
  }
  // ONNX Runtime's install script fetches through global-agent, which honours these: its
  // download then fails at once, as it does on a machine without internet access.
  env.GLOBAL_AGENT_HTTP_PROXY = 'http://127.0.0.1:9';
  env.GLOBAL_AGENT_HTTPS_PROXY = 'http://127.0.0.1:9';
  // gapseg's cache, holding the MobileNetV2 weights where ../shared has them, and no download.
  env.GAPSEG_CACHE_DIR = userCache;
  env.GAPSEG_WEIGHTS_URL = 'http://127.0.0.1:9/weights-are-not-downloaded-in-tests';
  return env;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 600_000, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...userEnv(), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const detail = (r: Run) => `exit ${r.code}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`;
const version = (pkg: string) =>
  (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
const npmInstall = (cwd: string, ...args: string[]) =>
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...args], cwd);

let project = '';
let userCache = '';
let files: string[] = [];
let ortAtInstall = false;

before(async () => {
  await engine();
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is built (npm test builds it first)');
  const packDir = tmpDir('gapseg-pack-');
  // dist/ is the build of this very tree (npm test runs the build first), so pack skips prepare.
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], ROOT);
  assert.equal(pack.code, 0, detail(pack));
  const info = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  files = info[0].files.map((f) => f.path);
  project = tmpDir('gapseg-user-');
  userCache = tmpDir('gapseg-user-cache-');
  const weights = realWeights();
  if (weights) fs.copyFileSync(weights, path.join(userCache, path.basename(weights)));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'uses-gapseg', private: true, type: 'module' }, null, 2));
  const install = await npmInstall(project, path.join(packDir, info[0].filename));
  assert.equal(install.code, 0, `npm install of the tarball failed\n${detail(install)}`);
  ortAtInstall = fs.existsSync(path.join(project, 'node_modules', 'onnxruntime-node', 'package.json'));
});

test('in the repository, once built, npx gapseg runs the command package.json names, and npm warns of no unknown setting', async () => {
  const r = await run('npx', ['gapseg', '--version'], ROOT);
  assert.equal(r.code, 0, detail(r));
  assert.match(r.stdout, /^gapseg \d+\.\d+\.\d+/);
  assert.doesNotMatch(r.stderr, /Unknown (project|env|cli|user) config/);
});

test('the tarball holds the built library and command, the viewer page and the README, and nothing of the development tree', () => {
  for (const f of [
    'package.json',
    'README.md',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'dist/view/page/app.js',
    'src/view/page/index.html',
    'src/view/page/style.css',
  ]) {
    assert.ok(files.includes(f), `${f} missing from the tarball`);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    main: string;
    types: string;
    exports: Record<string, { types: string; default: string }>;
    scripts: Record<string, string>;
  };
  for (const f of [pkg.bin.gapseg, pkg.main, pkg.types, pkg.exports['.'].default, pkg.exports['.'].types])
    assert.ok(files.includes(f.replace(/^\.\//, '')), `package.json names ${f}, which the tarball lacks`);
  for (const hook of ['prepare', 'preinstall', 'install', 'postinstall'])
    assert.equal(pkg.scripts[hook], undefined, `the package runs no ${hook} script on its users' machines`);
  const stray = files.filter(
    (f) =>
      /^(test|bench|build|scratch|scripts|\.ci)\//.test(f) ||
      (f.startsWith('src/') && !f.startsWith('src/view/page/')) ||
      (f.endsWith('.ts') && !f.endsWith('.d.ts')),
  );
  assert.deepEqual(stray, [], 'development files in the tarball');
});

test('installed offline, the package works without ONNX Runtime: npx gapseg runs, and ONNX work names the install command for its CPU build', async () => {
  assert.ok(fs.existsSync(path.join(project, 'node_modules', '.bin', 'gapseg')), 'the gapseg bin is linked');
  const help = await run('npx', ['gapseg', '--help'], project);
  assert.equal(help.code, 0, detail(help));
  assert.match(help.stdout, /usage: gapseg <command>/);
  const v = await run('npx', ['gapseg', '--version'], project);
  assert.equal(
    v.stdout.trim(),
    `gapseg ${(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`,
  );
  if (ortAtInstall) {
    // This npm ran no install script (or reached the download): ONNX Runtime came in whole.
    console.log('# onnxruntime-node installed in full here; the fallback without it is not exercised');
  } else {
    const model = path.join(project, 'tiny-model');
    await saveTinyModel(model);
    const ex = await run('npx', ['gapseg', 'export', model], project);
    assert.notEqual(ex.code, 0, detail(ex));
    assert.match(
      errorLine(ex.stderr, detail(ex)),
      /needs ONNX Runtime: .*not installed; .*ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node/,
    );
    await writeTestImage(path.join(project, 'tiny-in', 'a.png'), 40, 30, 1);
    // A current export (made here, where ONNX Runtime is installed): the installed gapseg cannot
    // run it, says so, and predicts with TensorFlow.js.
    await exportOnnx(model, { threads: 1, version: 'test' });
    const pred = await run('npx', ['gapseg', 'predict', model, 'tiny-in', '--out', 'tiny-out'], project);
    assert.equal(pred.code, 0, detail(pred));
    assert.match(
      pred.stderr,
      /^warning: ONNX Runtime .* is not installed, so .*model\.onnx is not used: predicting with TensorFlow\.js \(slower\); install its CPU build with/m,
      detail(pred),
    );
    assert.match(pred.stderr, /^engine: TensorFlow\.js wasm/m);
    fs.rmSync(model, { recursive: true });
  }
  // The route the message names to ONNX Runtime's CPU build, offline: no npm warning on the way.
  const ort = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', `onnxruntime-node@${version('onnxruntime-node')}`],
    project,
    600_000,
    { ONNXRUNTIME_NODE_INSTALL: 'skip' },
  );
  assert.equal(ort.code, 0, detail(ort));
  assert.doesNotMatch(ort.stderr, /Unknown (project|env|cli|user) config/, detail(ort));
  assert.ok(fs.existsSync(path.join(project, 'node_modules', 'onnxruntime-node', 'package.json')));
});

test('the library: imported from an .mjs file, and from a .ts file type-checked against the shipped types', async () => {
  fs.writeFileSync(
    path.join(project, 'check.mjs'),
    `import * as gapseg from 'gapseg';
const names = Object.keys(gapseg).sort();
let refused = '';
try { await gapseg.train('no-such-folder', { out: 'x' }); } catch (e) { refused = e instanceof gapseg.GapsegError ? e.message : 'not a GapsegError: ' + e; }
console.log(JSON.stringify({ names, version: gapseg.version(), refused }));
`,
  );
  const r = await run('node', ['check.mjs'], project);
  assert.equal(r.code, 0, detail(r));
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { names: string[]; version: string; refused: string };
  for (const n of ['train', 'openModel', 'exportModel', 'view', 'makeSample', 'GapsegError', 'version'])
    assert.ok(out.names.includes(n), `${n} not exported`);
  assert.match(out.refused, /no-such-folder: data set folder not found/);
  const tsVersion = version('typescript');
  const types = await npmInstall(project, `typescript@${tsVersion}`, `@types/node@${version('@types/node')}`);
  assert.equal(types.code, 0, detail(types));
  fs.writeFileSync(
    path.join(project, 'typed.ts'),
    `import { openModel, train, type Model, type Prediction, type TrainOptions } from 'gapseg';
const options: TrainOptions = { out: 'run', epochs: 1, classes: '0=background,255=smoke', void: [128] };
export async function labelOf(file: string): Promise<Uint8Array> {
  const run = await train('data', options);
  const model: Model = await openModel(run.modelDir);
  const p: Prediction = await model.predict(file, { forbid: ['smoke'] });
  model.close();
  return p.labelMap;
}
// @ts-expect-error an unknown option is a type error
export const wrong: TrainOptions = { out: 'run', epoch: 3 };
`,
  );
  const tsc = await run(
    'npx',
    ['tsc', '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'typed.ts'],
    project,
  );
  assert.equal(tsc.code, 0, `the shipped types do not check\n${detail(tsc)}`);
});

test('the library from a CommonJS project: require() on the Node versions package.json names, and a TypeScript file in CommonJS mode (module NodeNext) type-checks against the shipped types', async () => {
  const engines = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const [major, minor] = process.versions.node.split('.').map(Number);
  assert.ok(
    (major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major > 22,
    `this Node.js (${process.version}) is outside ${engines}, the range with require() of ES modules`,
  );
  const cjs = path.join(project, 'cjs');
  fs.mkdirSync(cjs, { recursive: true });
  fs.writeFileSync(path.join(cjs, 'package.json'), JSON.stringify({ name: 'uses-gapseg-cjs', private: true, type: 'commonjs' }, null, 2));
  fs.writeFileSync(
    path.join(cjs, 'check.js'),
    `const gapseg = require('gapseg');
gapseg.train('no-such-folder', { out: 'x' }).catch((e) => {
  console.log(JSON.stringify({ names: Object.keys(gapseg).sort(), version: gapseg.version(), refused: e instanceof gapseg.GapsegError ? e.message : String(e) }));
});
`,
  );
  const r = await run('node', ['check.js'], cjs);
  assert.equal(r.code, 0, detail(r));
  assert.equal(r.stderr, '', 'no warning on require()');
  const out = JSON.parse(r.stdout.trim()) as { names: string[]; version: string; refused: string };
  for (const n of ['train', 'openModel', 'exportModel', 'view', 'makeSample', 'GapsegError', 'version'])
    assert.ok(out.names.includes(n), `${n} not exported to require()`);
  assert.match(out.refused, /no-such-folder: data set folder not found/);
  fs.writeFileSync(
    path.join(cjs, 'typed.ts'),
    `import { openModel, type TrainOptions } from 'gapseg';
const options: TrainOptions = { out: 'run', epochs: 1 };
export async function classesOf(dir: string): Promise<string[]> {
  const model = await openModel(dir);
  model.close();
  return model.classes.map((c) => c.name + String(options.epochs));
}
`,
  );
  // The project's own tsc: npx inside cjs/, a package of its own, would look for it there.
  const tsc = await run(
    path.join(project, 'node_modules', '.bin', 'tsc'),
    ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'typed.ts'],
    cjs,
  );
  assert.equal(tsc.code, 0, `the shipped types do not check from a CommonJS module\n${detail(tsc)}`);
});

test("the README's TypeScript example type-checks against the shipped types and runs", async () => {
  fs.mkdirSync(path.join(project, 'example'), { recursive: true });
  fs.writeFileSync(path.join(project, 'example', 'example.ts'), readmeTypeScript(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')));
  const tsc = await run(
    'npx',
    [
      'tsc',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--outDir',
      'example/js',
      'example/example.ts',
    ],
    project,
  );
  assert.equal(tsc.code, 0, `the README example does not type-check\n${detail(tsc)}`);
  const r = await run('node', ['example/js/example.js'], project);
  assert.equal(r.code, 0, detail(r));
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^epoch 1: mIoU \d\.\d{3}$/);
  // width, height, whether the forbidden class appears (never), the frontier's classes.
  assert.match(lines[lines.length - 1], /^128 128 false 1$/, detail(r));
});

/** Small generated stand-ins for the folders the README's commands name, inside `project`. */
async function readmeFixtures(): Promise<void> {
  const rng = makeRng(3);
  // data/smoke: full masks (0 = background, 255 = smoke), gaps made by --make-gap.
  for (let i = 0; i < 3; i++) {
    const g = generateImage(rng, 64, 0);
    await writePng(path.join(project, 'data/smoke/images', `frame${i}.png`), g.rgb, 64, 64, 3);
    await writePng(
      path.join(project, 'data/smoke/labels', `frame${i}.png`),
      g.truth.map((v) => (v ? 255 : 0)),
      64,
      64,
      1,
    );
  }
  for (const dir of ['photos', 'frames'])
    for (let i = 0; i < 2; i++) await writeTestImage(path.join(project, dir, `p${i}.png`), 72 + 8 * i, 56, 10 + i);
  // camvid.onnx: a model trained elsewhere with void as its third channel, named by codes.txt.
  fs.writeFileSync(path.join(project, 'camvid.onnx'), foreignModel({}));
  fs.writeFileSync(path.join(project, 'codes.txt'), 'background\nsmoke\nvoid\n');
  await halves(path.join(project, 'frames', 'halves.png'));
  // mysmoke: photos to label in the viewer, no labels yet.
  for (const n of ['a', 'b'])
    await writePng(path.join(project, 'mysmoke', 'images', `${n}.png`), new Uint8Array(32 * 32 * 3).fill(n === 'a' ? 60 : 180), 32, 32, 3);
  // demo-out: what npm run demo leaves, a data set and a run with its model.
  await writeSampleDataset(path.join(project, 'demo-out/data'), { count: 4, size: 64, gap: 3, seed: 2, valid: 1, test: 1 });
  await saveTinyModel(path.join(project, 'demo-out/run/model'));
}

/** Run the viewer until it serves its page, then stop it as a user does (Ctrl-C). */
async function viewOnce(args: string[]): Promise<Run> {
  // A process group of its own, so that Ctrl-C reaches npx and the command it runs, as in a terminal.
  const child = spawn('npx', ['gapseg', ...args], { cwd: project, env: userEnv(), detached: true });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`viewer did not start\n${stderr}`)), 120_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /at (http:\/\/[^\s]+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('close', () => reject(new Error(`viewer exited\n${stderr}`)));
  });
  const status = await new Promise<number>((resolve, reject) =>
    http.get(url, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject),
  );
  assert.equal(status, 200, `GET ${url}`);
  const code = await new Promise<number>((resolve) => {
    // npx itself ends by the signal, as it does in a terminal; the viewer must end cleanly.
    child.on('close', (c, signal) => resolve(c ?? (signal === 'SIGINT' ? 0 : -1)));
    process.kill(-child.pid!, 'SIGINT');
  });
  assert.match(stderr, /^[1-9]\d* image\(s\)/m, `the viewer lists the folder's images\n${stderr}`);
  assert.doesNotMatch(stderr, /internal error|\n\s+at /, stderr);
  return { code, stdout, stderr };
}

/** The README's and the guides' text, in the order a reader meets them. */
function documents(): { file: string; text: string }[] {
  const docs = fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort();
  return ['README.md', ...docs.map((f) => path.join('docs', f))].map((file) => ({
    file,
    text: fs.readFileSync(path.join(ROOT, file), 'utf8'),
  }));
}

/** A train command that trains the pretrained network needs its weights (in the user's cache here only where ../shared has them). */
const needsWeights = (args: string[]) =>
  args[0] === 'train' && !args.includes('unet') && !args.includes('--depth') && !args.includes('--width') && !args.includes('--init-from');

test('every npx gapseg command of the README and of docs/ runs as written in the installed project', async (t) => {
  await readmeFixtures();
  const ran: string[] = [];
  let count = 0;
  for (const doc of documents()) {
    const commands = readmeCommands(doc.text);
    count += commands.length;
    for (const command of commands) {
      const args = splitCommand(command).slice(2);
      if (needsWeights(args) && noRealWeights()) {
        // The commands after it use its run: a small model of the same classes stands in.
        t.diagnostic(`not run: ${command} (${noRealWeights()}); a tiny model stands in for its run`);
        await saveTinyModel(path.join(project, args[args.indexOf('--out') + 1], 'model'));
        continue;
      }
      const r = args[0] === 'view' && !args.includes('--help') ? await viewOnce(args) : await run('npx', ['gapseg', ...args], project);
      assert.equal(r.code, 0, `${doc.file}: ${command}\n${detail(r)}`);
      ran.push(command);
    }
  }
  assert.ok(count >= 15, `only ${count} commands found in the README and docs/`);
  // What the commands were to leave behind.
  for (const f of [
    'predictions/labels/p0.png',
    'predictions/frontier/p0.svg',
    'refined/labels/p0.png',
    'unsure/uncertainty/p0.png',
    'plain/labels/p0.png',
    'metrics.json',
    'runs/smoke/model/model.onnx',
    'pred/labels/halves.png',
    'camvid-pred/labels/p0.png',
    'runs/smoke-more/model/model.json',
  ]) {
    assert.ok(fs.existsSync(path.join(project, f)), `${f} was not written (commands run: ${ran.join(' | ')})`);
  }
  if (!noRealWeights()) assert.ok(fs.existsSync(path.join(project, 'runs/smoke/report.html')), 'the pretrained run wrote its report');
  const metrics = JSON.parse(fs.readFileSync(path.join(project, 'metrics.json'), 'utf8')) as { report: { pixels: number } };
  assert.ok(metrics.report.pixels > 0);
});
