/**
 * kill -9 during batch prediction, for real: the CLI is killed at seeded random moments while
 * it works through a folder, then rerun with --resume until it finishes. Every image ends with
 * each of its outputs exactly once, each a whole PNG equal to an uninterrupted run's, and the
 * temporary files of the killed runs are gone. With both engines (TensorFlow.js and ONNX Runtime).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { engine, tmpDir } from './helpers.js';
import { FULL, crashLines, killBeforeEnd, startCli, tempFiles } from './faultHelpers.js';
import { saveTinyModel, writeTestImage } from './predictHelpers.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { makeRng, randInt } from '../src/util/random.js';

const OUTPUTS = ['labels', 'overlays', 'probs'];
const COUNT = FULL ? 80 : 40;

let model = '';
let images = '';

before(async () => {
  await engine();
  const dir = tmpDir();
  model = path.join(dir, 'model');
  await saveTinyModel(model, { depth: 2, width: 8 });
  await exportOnnx(model, { threads: 2, version: 'test' });
  images = path.join(dir, 'images');
  for (let i = 0; i < COUNT; i++)
    await writeTestImage(path.join(images, `im${String(i).padStart(3, '0')}.png`), 48 + (i % 5) * 8, 40 + (i % 3) * 8, i);
});

/** Every output of every image, once, decodable, as PNG; returns their bytes by relative path. */
async function checkOutputs(out: string): Promise<Map<string, Buffer>> {
  const names = fs.readdirSync(images).map((f) => f.replace(/\.png$/, ''));
  const files = new Map<string, Buffer>();
  for (const sub of OUTPUTS) {
    const listed = fs
      .readdirSync(path.join(out, sub))
      .filter((f) => !f.startsWith('.'))
      .sort();
    assert.deepEqual(listed, names.map((n) => `${n}.png`).sort(), `${sub}/ holds each image's output exactly once`);
    for (const f of listed) {
      const bytes = fs.readFileSync(path.join(out, sub, f));
      const meta = await sharp(bytes, { failOn: 'warning' }).metadata();
      assert.equal(meta.format, 'png', `${sub}/${f}`);
      await sharp(bytes, { failOn: 'warning' }).raw().toBuffer(); // decodes whole
      files.set(`${sub}/${f}`, bytes);
    }
  }
  return files;
}

for (const engineName of ['tfjs', 'onnx'] as const) {
  test(
    `prediction (${engineName}) killed with SIGKILL mid-folder resumes to every output exactly once`,
    { timeout: FULL ? 1_200_000 : 300_000 },
    async () => {
      const dir = tmpDir();
      const args = (out: string) => ['predict', model, images, '--out', out, '--engine', engineName, '--threads', '2', '--quiet'];
      const whole = path.join(dir, 'whole');
      const t0 = Date.now();
      const ref = await startCli(args(whole)).exit;
      assert.equal(ref.code, 0, ref.stderr);
      const span = Date.now() - t0;
      const expected = await checkOutputs(whole);

      const rng = makeRng(engineName === 'tfjs' ? 31 : 32);
      const runs = FULL ? 3 : 1;
      let kills = 0;
      let leftTemps = 0;
      for (let r = 0; r < runs; r++) {
        const out = path.join(dir, `killed${r}`);
        const planned = FULL ? 6 : 3;
        for (let attempt = 0; ; attempt++) {
          assert.ok(attempt < planned + 10, 'prediction never finished');
          const run = startCli(attempt === 0 ? args(out) : [...args(out), '--resume']);
          // A random moment within what is left (as long as a whole run takes, scaled by the images
          // left), at the latest when a quarter of the images is left, so that the kill lands
          // however fast or slow the machine is today.
          const doneNow = () =>
            fs.existsSync(path.join(out, 'overlays'))
              ? fs.readdirSync(path.join(out, 'overlays')).filter((f) => !f.startsWith('.')).length
              : 0;
          const done = doneNow();
          const late = () => doneNow() >= COUNT - Math.ceil(COUNT / 4);
          if (attempt < planned)
            await killBeforeEnd(run, { ms: randInt(rng, 150, Math.round(span * (0.3 + (0.7 * (COUNT - done)) / COUNT))), late });
          const exit = await run.exit;
          assert.deepEqual(crashLines(exit.stderr), [], exit.stderr);
          if (exit.signal === 'SIGKILL') {
            kills++;
            leftTemps += tempFiles(out).length;
            // Whatever is there under its real name is a whole PNG.
            for (const sub of OUTPUTS) {
              const d = path.join(out, sub);
              for (const f of fs.existsSync(d) ? fs.readdirSync(d).filter((x) => !x.startsWith('.')) : []) {
                await sharp(path.join(d, f), { failOn: 'warning' }).raw().toBuffer();
              }
            }
            continue;
          }
          // Finished (a kill sent as it was exiting may land too late: that is fine).
          assert.equal(exit.code, 0, exit.stderr);
          break;
        }
        assert.deepEqual(tempFiles(out), [], 'temporary files of killed runs are removed by the resumed ones');
        const got = await checkOutputs(out);
        for (const [f, bytes] of expected) assert.ok(got.get(f)?.equals(bytes), `${f} differs from the uninterrupted run`);
      }
      console.log(
        `# kill -9 during prediction (${engineName}): ${kills} kills survived over ${runs} run(s) of ${COUNT} images; ${leftTemps} temp files left by kills, all removed on resume`,
      );
      assert.ok(kills >= runs, `only ${kills} kills landed`);
    },
  );
}
