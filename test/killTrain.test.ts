/**
 * kill -9 during training, for real: the CLI is killed at seeded random moments (inside epochs)
 * and while it writes its checkpoint, then resumed with --resume until it finishes. After every
 * kill the run folder holds only whole files (the checkpoint passes its magic, length and CRC
 * checks, the model loads); every resume cleans the temporary files left behind; the final
 * checkpoint and model equal those of an uninterrupted run with the same seed and threads.
 */
import { disposeNet } from '../src/nets/index.js';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { engine, tmpDir } from './helpers.js';
import { FULL, crashLines, killBeforeEnd, startCli, tempFiles } from './faultHelpers.js';
import { writeSampleDataset } from '../src/data/sample.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { loadModel } from '../src/formats/modelFolder.js';

import { makeRng, randInt, type Rng } from '../src/util/random.js';

before(engine);

const EPOCHS = 5;
const trainArgs = (data: string, out: string) => [
  'train',
  data,
  '--out',
  out,
  '--epochs',
  String(EPOCHS),
  '--crop',
  '32',
  '--batch',
  '2',
  '--depth',
  '2',
  '--width',
  '8',
  '--tile',
  '64',
  '--seed',
  '7',
  '--threads',
  '2',
  '--quiet',
];

/** Everything in a run folder that a reader may open is whole; returns the temp files left. */
function checkRunFolder(run: string): string[] {
  const ck = path.join(run, 'checkpoint.bin');
  if (fs.existsSync(ck)) readCheckpoint(ck); // throws on bad magic, length or CRC
  for (const f of ['config.json', 'history.json', 'gapseg.json']) {
    if (fs.existsSync(path.join(run, f))) JSON.parse(fs.readFileSync(path.join(run, f), 'utf8'));
  }
  for (const dir of [path.join(run, 'model'), path.join(run, 'model.old')]) {
    if (fs.existsSync(path.join(dir, 'model.json'))) disposeNet(loadModel(dir).net);
  }
  return tempFiles(run);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Kill plan of one run: 'time' = at a random moment, 'ckpt' = while the checkpoint is written,
 * 'model' = while a better model is saved (its staging folder exists).
 */
type Kill = 'time' | 'ckpt' | 'model';

const KILL_CYCLE: Kill[] = ['time', 'ckpt', 'time', 'model'];

/** Epochs completed so far according to the run's checkpoint. */
function epochsDone(out: string): number {
  const f = path.join(out, 'checkpoint.bin');
  return fs.existsSync(f) ? readCheckpoint(f).state.epoch : 0;
}

/** Whether the run is in its last epoch: the checkpoint is read again only when it changes. */
function lastEpochRunning(out: string): () => boolean {
  let seen = -1;
  let epoch = 0;
  return () => {
    const mtime = fs.statSync(path.join(out, 'checkpoint.bin'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (mtime !== seen) {
      seen = mtime;
      epoch = epochsDone(out);
    }
    return epoch >= EPOCHS - 1;
  };
}

async function killedRun(data: string, out: string, plan: Kill[], rng: Rng, span: number): Promise<{ kills: number; inWrite: number }> {
  let kills = 0;
  let inWrite = 0;
  for (let attempt = 0; ; attempt++) {
    assert.ok(attempt < plan.length + 20, 'the run never finished');
    const resume = fs.existsSync(path.join(out, 'config.json'));
    const run = startCli(resume ? [...trainArgs(data, out), '--resume'] : trainArgs(data, out));
    const k = plan[attempt];
    if (k !== undefined) {
      // A random moment within what is left of the run (as long as a whole run takes, scaled),
      // or the write the plan names; at the latest once the last epoch runs, so that the kill
      // lands however fast or slow the machine is today.
      const late = lastEpochRunning(out);
      if (k === 'time')
        await killBeforeEnd(run, { ms: randInt(rng, 100, Math.round(span * (0.3 + (0.7 * (EPOCHS - epochsDone(out))) / EPOCHS))), late });
      else await killBeforeEnd(run, { dir: out, temp: k === 'ckpt' ? /^\.checkpoint\.bin\.tmp-/ : /^\.model\.tmp-/, late });
    }
    const exit = await run.exit;
    assert.deepEqual(crashLines(exit.stderr), [], exit.stderr);
    if (exit.signal === 'SIGKILL') {
      kills++;
      const temps = checkRunFolder(out);
      if (temps.some((t) => /^\.(checkpoint\.bin|model)\.tmp-/.test(path.basename(t)))) inWrite++;
      continue;
    }
    // Finished (before the kill it was given could land).
    assert.equal(exit.code, 0, exit.stderr);
    break;
  }
  assert.deepEqual(tempFiles(out), [], 'temporary files of killed runs are removed by the resumed ones');
  return { kills, inWrite };
}

test(
  `training killed with SIGKILL ${FULL ? 'many times' : 'a few times'} resumes to the uninterrupted result`,
  { timeout: FULL ? 1_800_000 : 300_000 },
  async () => {
    const dir = tmpDir();
    const data = path.join(dir, 'data');
    await writeSampleDataset(data, { count: 16, size: 48, gap: 2, seed: 11, valid: 3, test: 0 });

    const whole = path.join(dir, 'whole');
    const t0 = Date.now();
    const ref = await startCli(trainArgs(data, whole)).exit;
    assert.equal(ref.code, 0, ref.stderr);
    const span = Date.now() - t0;
    const a = readCheckpoint(path.join(whole, 'checkpoint.bin'));
    const aWeights = fs.readFileSync(path.join(whole, 'model', 'weights.bin'));

    const rng = makeRng(2024);
    const runs = FULL ? 3 : 1;
    let kills = 0;
    let inWrite = 0;
    for (let r = 0; r < runs; r++) {
      const plan: Kill[] = [];
      for (let i = 0; i < (FULL ? 8 : 4); i++) plan.push(KILL_CYCLE[i % KILL_CYCLE.length]);
      const out = path.join(dir, `killed${r}`);
      const got = await killedRun(data, out, plan, rng, span);
      kills += got.kills;
      inWrite += got.inWrite;
      const b = readCheckpoint(path.join(out, 'checkpoint.bin'));
      assert.equal(b.state.epoch, EPOCHS);
      assert.equal(b.state.adamStep, a.state.adamStep);
      assert.deepEqual([...b.values.keys()].sort(), [...a.values.keys()].sort());
      for (const [name, va] of a.values) {
        const d = maxDiff(va, b.values.get(name) as Float32Array);
        assert.ok(d <= 1e-6, `run ${r}: ${name} differs by ${d} from the uninterrupted run`);
      }
      const bw = fs.readFileSync(path.join(out, 'model', 'weights.bin'));
      assert.equal(bw.length, aWeights.length);
      const d = maxDiff(
        new Float32Array(aWeights.buffer.slice(aWeights.byteOffset), 0, aWeights.length / 4),
        new Float32Array(bw.buffer.slice(bw.byteOffset), 0, bw.length / 4),
      );
      assert.ok(d <= 1e-6, `run ${r}: best model differs by ${d}`);
    }
    console.log(
      `# kill -9 during training: ${kills} kills survived over ${runs} run(s), ${inWrite} of them with a checkpoint or model write in flight`,
    );
    assert.ok(kills >= runs * 2, `only ${kills} kills landed`);
  },
);

test('a model folder left as model.old (killed between the two renames of a save) is put back on --resume', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 6, size: 32, gap: 2, seed: 4, valid: 2, test: 0 });
  const out = path.join(dir, 'run');
  const args = ['train', data, '--out', out, '--epochs', '1', '--crop', '32', '--depth', '2', '--width', '4', '--threads', '2', '--quiet'];
  assert.equal((await startCli(args).exit).code, 0);
  const weights = fs.readFileSync(path.join(out, 'model', 'weights.bin'));
  fs.renameSync(path.join(out, 'model'), path.join(out, 'model.old'));
  const r = await startCli([...args, '--resume']).exit;
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readFileSync(path.join(out, 'model', 'weights.bin')), weights);
  assert.ok(!fs.existsSync(path.join(out, 'model.old')));
});
