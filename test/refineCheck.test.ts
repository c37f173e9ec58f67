/**
 * The refinement check: training measures on its validation images whether `--refine crf`
 * keeps the labelled pixels right, stores the verdict in the model, and `--refine auto`
 * follows it in predict, eval, ONNX Runtime and the API; a model without one is refused.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_DENSE_CRF } from '../src/crf/denseCrf.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { encodePng } from '../src/data/decode.js';
import {
  checkRefinement,
  describeAuto,
  FLIPS_GAIN,
  flipsSetting,
  REFINE_COST,
  refineCheckOf,
  refineSettings,
  type RefineCheck,
} from '../src/predict/refineCheck.js';
import type { PredictModel } from '../src/predict/pipeline.js';
import { FLIP_VIEWS } from '../src/predict/flips.js';
import { openModel } from '../src/index.js';
import { makeRng } from '../src/util/random.js';
import { engine, errorLine, runCli, throwsUser, TINY_NET, tmpDir, writePng } from './helpers.js';
import { readGrey, saveTinyModel } from './predictHelpers.js';

before(engine);

const [W, H, EDGE, FRONTIER] = [64, 24, 24, 30];

/** A network whose frontier lies at x = FRONTIER (class 1 to the right), whatever the image. */
const fixedFrontier: PredictModel = {
  net: async (_input, n, h, w) => {
    const out = new Float32Array(n * 2 * h * w);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(b * 2 + 1) * h * w + y * w + x] = (x + 0.5 - FRONTIER) / 3;
    return out;
  },
  plan: { scale: 1, pad: false, tile: 256, radius: 0, multiple: 1, mean: [0, 0, 0], std: [1, 1, 1] },
  scores: 'logits',
  batch: 1,
  numClasses: 2,
};

/** An image with its colour edge at x = EDGE, labelled with class 1 from x = `from`, void on columns in `gap`. */
function labelled(from: number, gap: [number, number] = [0, 0]): { width: number; height: number; image: Uint8Array; labels: Uint8Array } {
  const rng = makeRng(7);
  const image = new Uint8Array(W * H * 3).map((_, j) => (Math.floor(j / 3) % W < EDGE ? 60 : 180) + Math.floor(rng.next() * 8));
  const labels = new Uint8Array(W * H).map((_, i) => {
    const x = i % W;
    return x >= gap[0] && x < gap[1] ? VOID_INDEX : x >= from ? 1 : 0;
  });
  return { width: W, height: H, image, labels };
}

test('the refinement check: refine where refining keeps the labelled pixels right (up to a small cost), not where it moves the frontier off them; no labelled pixel, no verdict', async () => {
  // The object's edge is the colour edge: refinement moves the frontier onto it.
  const onEdge = await checkRefinement(fixedFrontier, [labelled(EDGE)], [0, 1]);
  assert.ok(onEdge, 'a verdict');
  assert.equal(onEdge.refine, true);
  assert.ok(onEdge.refinedAccuracy > onEdge.accuracy + 0.05, `${onEdge.accuracy} -> ${onEdge.refinedAccuracy}`);
  assert.deepEqual([onEdge.images, onEdge.pixels], [1, W * H]);
  // The object's edge is where the network puts it, a colour step away: refinement would move it wrongly.
  const offEdge = await checkRefinement(fixedFrontier, [labelled(FRONTIER), labelled(FRONTIER)], [0, 1]);
  assert.ok(offEdge);
  assert.equal(offEdge.refine, false);
  assert.ok(offEdge.refinedAccuracy < offEdge.accuracy - 0.05, `${offEdge.accuracy} -> ${offEdge.refinedAccuracy}`);
  assert.equal(offEdge.images, 2);
  // What refinement changes inside the gap counts for nothing: a tie, which refines.
  const gapOnly = await checkRefinement(fixedFrontier, [labelled(FRONTIER, [EDGE - 4, FRONTIER + 4])], [0, 1]);
  assert.ok(gapOnly);
  assert.equal(gapOnly.accuracy, gapOnly.refinedAccuracy);
  assert.equal(gapOnly.refine, true);
  assert.equal(await checkRefinement(fixedFrontier, [labelled(FRONTIER, [0, W])], [0, 1]), null);
  // Refinement may cost up to REFINE_COST of labelled accuracy: one labelled column it moves
  // wrongly (x = FRONTIER - 1, H pixels) among many or few images whose gap hides the rest.
  const oneColumn = labelled(FRONTIER, [EDGE - 4, FRONTIER - 1]);
  const hidden = labelled(FRONTIER, [EDGE - 4, FRONTIER + 4]);
  const many = await checkRefinement(fixedFrontier, [oneColumn, ...Array(25).fill(hidden)], [0, 1]);
  assert.ok(many);
  const cost = many.accuracy - many.refinedAccuracy;
  assert.ok(Math.abs(cost - H / many.pixels) < 1e-9 && cost < REFINE_COST, `cost ${cost}`);
  assert.equal(many.refine, true, 'a cost below the limit');
  const few = await checkRefinement(fixedFrontier, [oneColumn, ...Array(3).fill(hidden)], [0, 1]);
  assert.ok(few && few.accuracy - few.refinedAccuracy > REFINE_COST);
  assert.equal(few.refine, false, 'a cost above it');
});

/** A network right everywhere (class 1) but on its left quarter, where it is wrong by less than it is right elsewhere. */
const leftBiased: PredictModel = {
  ...fixedFrontier,
  net: async (_input, n, h, w) => {
    const out = new Float32Array(n * 2 * h * w);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(b * 2 + 1) * h * w + y * w + x] = x < w / 4 ? -1 : 3;
    return out;
  },
};

test('the refinement check averages flips where they raise the labelled accuracy by FLIPS_GAIN, and judges the CRF on what it would refine', async () => {
  const allObject = { ...labelled(0), labels: new Uint8Array(W * H).fill(1) };
  const biased = await checkRefinement(leftBiased, [allObject], [0, 1]);
  assert.ok(biased && biased.flipsAccuracy !== undefined && biased.flipsRefinedAccuracy !== undefined);
  // The left quarter is wrong plainly; averaged with its right-hand mirror, it is right.
  assert.equal(biased.accuracy, 0.75);
  assert.equal(biased.flipsAccuracy, 1);
  assert.equal(biased.flips, true);
  // Refinement is judged on the flip-averaged predictions when flips are chosen.
  assert.equal(biased.refine, biased.flipsAccuracy - biased.flipsRefinedAccuracy <= REFINE_COST);
  // Four network passes per image (one window each here): the plain prediction is the unflipped view's.
  let calls = 0;
  const counted: PredictModel = { ...leftBiased, net: (input, n, h, w) => (calls++, leftBiased.net(input, n, h, w)) };
  const twice = await checkRefinement(counted, [allObject, allObject], [0, 1]);
  assert.deepEqual(twice, { ...biased, images: 2, pixels: 2 * biased.pixels });
  assert.equal(calls, 2 * FLIP_VIEWS);
  // A frontier fixed in the window (x = FRONTIER) is mirrored by the left-right flip, so the
  // average moves it off the labels: no flips.
  const mirrored = await checkRefinement(fixedFrontier, [labelled(EDGE)], [0, 1]);
  assert.ok(mirrored && mirrored.flipsAccuracy !== undefined && mirrored.flipsAccuracy < mirrored.accuracy);
  assert.equal(mirrored.flips, false);
  assert.ok(FLIPS_GAIN > 0);
});

test("refine 'auto' follows the stored verdict; a model without a check is not refined, and the log says so; a damaged check is refused in one line", () => {
  const check = (refine: boolean): RefineCheck => ({
    images: 3,
    pixels: 100,
    accuracy: 0.9,
    refinedAccuracy: refine ? 0.91 : 0.89,
    refine,
  });
  assert.deepEqual(refineSettings('auto', { refineCheck: check(true) }), DEFAULT_DENSE_CRF);
  assert.equal(refineSettings('auto', { refineCheck: check(false) }), null);
  assert.deepEqual(refineSettings(true, {}), DEFAULT_DENSE_CRF);
  assert.equal(refineSettings(false, { refineCheck: check(true) }), null, 'refine none');
  assert.equal(refineSettings('auto', {}), null, 'no check, no refinement');
  assert.match(
    describeAuto({ source: 'runs/old' }),
    /^note: runs\/old holds no refinement check .* --refine auto predicts without refinement; --refine crf refines$/,
  );
  assert.match(
    describeAuto({ source: 'm', refineCheck: check(true) }),
    /^refine check on 3 validation image\(s\).*\(stored with the model\)$/,
  );
  assert.equal(refineCheckOf({}, 'f'), undefined);
  assert.deepEqual(refineCheckOf({ refineCheck: check(true) }, 'f'), check(true));
  throwsUser(
    () => refineCheckOf({ refineCheck: { ...check(true), refine: 'yes' } }, 'm/gapseg.json'),
    'm/gapseg.json: its refineCheck',
    'is damaged',
  );
  // Flips: as asked when asked, else as the check says under 'auto'; a check from before flips says no.
  const withFlipsVerdict = (flips: boolean): RefineCheck => ({ ...check(true), flipsAccuracy: 0.92, flipsRefinedAccuracy: 0.93, flips });
  assert.equal(flipsSetting('auto', { refineCheck: withFlipsVerdict(true) }), true);
  assert.equal(flipsSetting('auto', { refineCheck: withFlipsVerdict(false) }), false);
  assert.equal(flipsSetting('auto', { refineCheck: check(true) }), false, 'a check stored before flips');
  assert.equal(flipsSetting('auto', { refineCheck: withFlipsVerdict(true) }, false), false, 'asked: no flips');
  assert.equal(flipsSetting(undefined, { refineCheck: withFlipsVerdict(true) }), false, 'no option, no flips');
  assert.equal(flipsSetting(true, {}, true), true);
  assert.deepEqual(refineCheckOf({ refineCheck: withFlipsVerdict(true) }, 'f'), withFlipsVerdict(true));
  throwsUser(
    () => refineCheckOf({ refineCheck: { ...check(true), flips: true } }, 'm/gapseg.json'),
    'm/gapseg.json: its refineCheck',
    'flipsAccuracy, flipsRefinedAccuracy and flips go together',
  );
});

test('gapseg train stores the check in the model; predict, eval, ONNX Runtime and the API follow it by default (--refine auto)', async () => {
  const data = tmpDir('gapseg-check-data-');
  fs.mkdirSync(path.join(data, 'images'));
  fs.mkdirSync(path.join(data, 'labels'));
  const rng = makeRng(5);
  const size = 32;
  for (let i = 0; i < 5; i++) {
    const edge = 10 + 3 * i;
    const lab = new Uint8Array(size * size).map((_, j) => (j % size < edge - 2 ? 0 : j % size >= edge + 2 ? 255 : 128));
    const rgb = new Uint8Array(size * size * 3).map((_, j) => (Math.floor(j / 3) % size >= edge ? 190 : 50) + Math.floor(rng.next() * 30));
    await writePng(path.join(data, 'images', `img${i}.png`), rgb, size, size, 3);
    fs.writeFileSync(path.join(data, 'labels', `img${i}.png`), await encodePng(lab, size, size, 1));
  }
  const run = path.join(tmpDir('gapseg-check-run-'), 'run');
  const r = await runCli([
    'train',
    data,
    '--out',
    run,
    '--classes',
    '0=background,255=smoke',
    '--void',
    '128',
    ...TINY_NET,
    '--epochs',
    '2',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const meta = JSON.parse(fs.readFileSync(path.join(run, 'model', 'gapseg.json'), 'utf8')) as {
    model: { info: { refineCheck: RefineCheck; epoch: number } };
  };
  const check = meta.model.info.refineCheck;
  assert.equal(check.images, 1, 'one validation image of five (20%)');
  assert.ok(check.pixels > 0 && check.pixels < size * size, 'labelled pixels only');
  assert.ok(check.flipsAccuracy !== undefined && check.flipsRefinedAccuracy !== undefined);
  assert.equal(check.flips, check.flipsAccuracy - check.accuracy >= FLIPS_GAIN - 1e-12);
  const [base, refinedBase] = check.flips ? [check.flipsAccuracy, check.flipsRefinedAccuracy] : [check.accuracy, check.refinedAccuracy];
  assert.equal(check.refine, base - refinedBase <= REFINE_COST + 1e-12);
  assert.ok(Number.isInteger(meta.model.info.epoch), 'the rest of the info stays');
  assert.match(
    r.stderr,
    new RegExp(
      `refine check on 1 validation image\\(s\\): labelled accuracy [0-9.]+% plain, [0-9.]+% refined, [0-9.]+% flip-averaged, [0-9.]+% both: --refine auto ${check.flips ? 'averages flips' : 'does not average flips'}.* ${check.refine ? 'refines' : 'does not refine'}`,
    ),
  );

  const predict = async (model: string, out: string, extra: string[]) => {
    const p = await runCli(['predict', model, path.join(data, 'images'), '--out', path.join(run, out), '--quiet', ...extra]);
    assert.equal(p.code, 0, p.stderr);
    return p;
  };
  const auto = await predict(run, 'auto', []);
  assert.match(auto.stderr, /refine check on 1 validation image.*\(stored with the model\)/);
  await predict(run, 'auto-named', ['--refine', 'auto']);
  await predict(run, 'crf', ['--refine', 'crf']);
  await predict(run, 'plain', ['--refine', 'none']);
  // What auto chose, asked for by hand.
  const chosen = [...(check.flips ? ['--flips'] : []), ...(check.refine ? ['--refine', 'crf'] : [])];
  await predict(run, 'chosen', chosen.length ? chosen : ['--refine', 'none']);
  const same = async (a: string, b: string) => {
    for (let i = 0; i < 5; i++)
      assert.deepEqual(
        (await readGrey(path.join(run, a, 'labels', `img${i}.png`))).data,
        (await readGrey(path.join(run, b, 'labels', `img${i}.png`))).data,
        `${a} and ${b}, img${i}`,
      );
  };
  /** Labels that differ between two prediction folders, over the five images. */
  const differing = async (a: string, b: string) => {
    let n = 0;
    for (let i = 0; i < 5; i++) {
      const [x, y] = [
        await readGrey(path.join(run, a, 'labels', `img${i}.png`)),
        await readGrey(path.join(run, b, 'labels', `img${i}.png`)),
      ];
      n += x.data.filter((v, j) => v !== y.data[j]).length;
    }
    return n;
  };
  assert.ok((await differing('crf', 'plain')) > 0, 'refinement changes some labels here, so which way auto went shows');
  await predict(run, 'flips', ['--flips', '--refine', 'none']);
  const flipped = await differing('flips', 'plain');
  assert.ok(flipped > 0, '--flips changes some labels here too');
  await same('auto', 'chosen');
  await same('auto', 'auto-named');
  // The check travels in the exported ONNX model's metadata.
  const ex = await runCli(['export', run]);
  assert.equal(ex.code, 0, ex.stderr);
  const onnx = path.join(run, 'model', 'model.onnx');
  await predict(onnx, 'onnx-auto', ['--refine', 'auto']);
  await predict(onnx, 'onnx-chosen', chosen.length ? chosen : ['--refine', 'none']);
  await same('onnx-auto', 'onnx-chosen');
  await same('onnx-chosen', 'chosen');
  const ev = await runCli(['eval', run, data, '--refine', 'auto', '--split', 'all', '--quiet']);
  assert.equal(ev.code, 0, ev.stderr);
  const m = await openModel(run, { log: () => undefined });
  try {
    assert.deepEqual(m.refineCheck, check);
  } finally {
    m.close();
  }

  // A model without a check predicts unrefined under auto, and says so; --crf goes with crf only.
  const tiny = path.join(run, 'tiny');
  await saveTinyModel(tiny, { depth: 2, width: 4 });
  const unchecked = await runCli(['predict', tiny, path.join(data, 'images'), '--out', path.join(run, 'x'), '--quiet']);
  assert.equal(unchecked.code, 0, unchecked.stderr);
  assert.match(unchecked.stderr, /^note: .*tiny holds no refinement check .* predicts without refinement/m);
  await runCli(['predict', tiny, path.join(data, 'images'), '--out', path.join(run, 'y'), '--quiet', '--refine', 'none']);
  for (let i = 0; i < 5; i++)
    assert.deepEqual(
      (await readGrey(path.join(run, 'x', 'labels', `img${i}.png`))).data,
      (await readGrey(path.join(run, 'y', 'labels', `img${i}.png`))).data,
    );
  const stray = await runCli([
    'predict',
    run,
    path.join(data, 'images'),
    '--out',
    path.join(run, 'x'),
    '--refine',
    'auto',
    '--crf',
    'sigmaRGB=5',
  ]);
  assert.equal(stray.code, 2, stray.stderr);
  assert.match(errorLine(stray.stderr, stray.stderr), /--crf goes with --refine crf/);
});
