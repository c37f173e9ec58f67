/**
 * The gap benchmark: where does each way of training put the frontier inside the band nobody
 * labelled, and does it predict "void"? gapseg as users run it (no flags: the pretrained
 * MobileNetV2 U-Net, the gap in the softmax, class-balanced crops, `--refine auto`) against the
 * void fixes users apply to the usual tools, and the full-mask model where full masks exist:
 *
 *   gapseg            `gapseg train` and `gapseg predict` with no option
 *   gapseg:plain      the same model, `--refine none`
 *   no-gap-loss       `--gap-loss none` (loss on labelled pixels only), predicted with refine auto;
 *                     :plain with --refine none
 *   before            what `gapseg train` did before the defaults followed the measurements:
 *                     `--gap-loss none --class-balance 0`, equal class weights, --refine none
 *   equal-weights     gapseg with equal class weights (the default weighs rare classes up when
 *                     there are three or more)
 *   unet, unet-no-gap-loss   the same on the U-Net from scratch (`--encoder unet`, the demo's)
 *   mfb               gapseg with median frequency class weights (data/balance.ts); mfb-sqrt with
 *                     their square roots; balance-1 with every crop centred on a class drawn at random
 *   void-class        void as one more class, trained as a class with equal weights (fastai's CamVid recipe)
 *   void-ignored      void as one more output with loss weight 0 (an ignore index), kept
 *   void-forbid       the void-class model with its void output forbidden ("bias -500")
 *   full-masks        trained on the full masks: the upper bound, where they exist
 *
 * Every run trains the same protocol (crop, batch, epochs, rate, seed; the pretrained encoder's
 * weights from ../shared/weights), through the API's trainConfig, so a row with no flags is
 * exactly what `gapseg train` does. Each keeps its epoch of best validation mean IoU over the
 * real classes (a void class does not count). Metrics on the test images at the training scale,
 * from the tested metrics modules.
 *
 * Data: the built-in sample (smoke-like blobs, 128 px) and ../shared/data/smoke (256 px), gaps
 * made by eroding each class (symmetric, and uneven: the two sides and the width differ along
 * a boundary, data/gaps.ts), the full masks the hidden truth; ../shared/data/allsky-cloud (its
 * real void: outside the lens) and ../shared/data/camvid (11 street classes, void along object
 * borders; val is the test split), both at half scale. Every seed in --seeds is trained in turn;
 * the table over seeds gives means with their range and the ratios to the peers.
 *
 *   npm run bench:gap -- --datasets smoke,allsky --seeds 1,2,3 [--variants gapseg,void-forbid,...]
 *     [--epochs 8] [--camvid-epochs 10] [--gap-kinds symmetric,uneven] [--keep-trained yes]
 *
 * Writes bench/results/gap.json (--results another name).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { readImage, readLabel, encodePng } from '../src/data/decode.js';
import { discoverDataset, type PairFiles } from '../src/data/dataset.js';
import { encodeLabels, labelMap, parseClassesFlag, VOID_INDEX, type ClassDescription } from '../src/data/classes.js';
import { resizeImage, resizeNearest } from '../src/data/resize.js';
import { makeGap } from '../src/data/gaps.js';
import { addClassCounts, emptyClassCounts, medianFrequencyWeights } from '../src/data/balance.js';
import { generateImage } from '../src/data/sample.js';
import { runTraining } from '../src/train/run.js';
import type { ValidReport } from '../src/train/loop.js';
import { trainConfig, type TrainOptions } from '../src/api/train.js';
import { openTfjsPredictor, predictModel } from '../src/predict/model.js';
import { flipsSetting, refineSettings, withFlips } from '../src/predict/refineCheck.js';
import { predictImage } from '../src/predict/pipeline.js';
import { allowedClasses } from '../src/predict/forbid.js';
import { addFrontierImage, emptyFrontierTotals, frontierImage, frontierReport } from '../src/metrics/frontierMetrics.js';
import { addImage, emptyTotals, report } from '../src/metrics/evaluate.js';
import { deriveSeed, makeRng, shuffled, stringHash } from '../src/util/random.js';
import { argString, BENCH_DIR, machine, table, writeResult } from './common.js';

/** A bad flag: one line and exit 2, before any work. */
function usage(message: string): never {
  console.error(`bench:gap: ${message}`);
  process.exit(2);
}
const list = (name: string, def: string) => argString(name, def).split(',').filter(Boolean);
const SHARED = path.resolve(argString('data', path.resolve(BENCH_DIR, '..', '..', 'shared', 'data')));
const WEIGHTS = path.resolve(argString('weights', path.join(SHARED, '..', 'weights', 'mobilenet_v2', 'mobilenet_v2_1.0_224_quant.tflite')));
const CACHE = argString('cache', path.join(os.tmpdir(), 'gapseg-bench-gap'));
const DATASETS = list('datasets', 'sample,smoke,allsky,camvid');
const SEEDS = list('seeds', '1').map(Number);
const EPOCHS = Number(argString('epochs', '8'));
const CAMVID_EPOCHS = Number(argString('camvid-epochs', '10'));
const CROP = Number(argString('crop', '128'));
/** Erosion of each class, in pixels at the training scale: the band is about twice as wide. */
const SAMPLE_GAP = Number(argString('sample-gap', '4'));
const SMOKE_GAP = Number(argString('smoke-gap', '4'));
const UNEVEN = Number(argString('uneven', '0.75'));
const GAP_KINDS = list('gap-kinds', 'symmetric,uneven');
const KEEP_TRAINED = argString('keep-trained', 'no') === 'yes';

/** Equal class weights: what the peers train with (and gapseg before it weighed rare classes up). */
const equal = (c: ClassDescription) => c.classes.map(() => 1);

/** How each row trains: options over the protocol's, on the real classes or with void as a class. */
interface Training {
  options: (d: DataSet) => Partial<TrainOptions>;
  /** Void is one more class of the network (the void fixes). */
  voidAsClass?: boolean;
  /** Trained on the full masks (one run serves every gap kind). */
  fullMasks?: boolean;
}
const TRAININGS: Record<string, Training> = {
  gapseg: { options: () => ({}) },
  'no-gap-loss': { options: () => ({ gapLoss: 'none' }) },
  before: { options: (d) => ({ gapLoss: 'none', classBalance: 0, classWeights: equal(d.real) }) },
  'equal-weights': { options: (d) => ({ classWeights: equal(d.real) }) },
  unet: { options: () => ({ encoder: 'unet' }) },
  'unet-no-gap-loss': { options: () => ({ encoder: 'unet', gapLoss: 'none' }) },
  mfb: { options: (d) => ({ classWeights: d.mfb }) },
  'mfb-sqrt': { options: (d) => ({ classWeights: d.mfb.map(Math.sqrt) }) },
  'balance-1': { options: () => ({ classBalance: 1 }) },
  'void-class': { options: (d) => ({ gapLoss: 'none', classWeights: equal(d.withVoid) }), voidAsClass: true },
  'void-ignored': { options: (d) => ({ gapLoss: 'none', classWeights: [...d.real.classes.map(() => 1), 0] }), voidAsClass: true },
  'full-masks': { options: () => ({ gapLoss: 'none' }), fullMasks: true },
};

/** A row of the table: a training, and how its model predicts. */
interface Variant {
  id: string;
  training: keyof typeof TRAININGS;
  refine: 'auto' | false;
  /** Forbid the void class (the void-forbid fix). */
  forbidVoid?: boolean;
}
const VARIANTS: Variant[] = [
  { id: 'gapseg', training: 'gapseg', refine: 'auto' },
  { id: 'gapseg:plain', training: 'gapseg', refine: false },
  { id: 'no-gap-loss', training: 'no-gap-loss', refine: 'auto' },
  { id: 'no-gap-loss:plain', training: 'no-gap-loss', refine: false },
  { id: 'before', training: 'before', refine: false },
  { id: 'unet', training: 'unet', refine: 'auto' },
  { id: 'unet:plain', training: 'unet', refine: false },
  { id: 'unet-no-gap-loss', training: 'unet-no-gap-loss', refine: 'auto' },
  { id: 'unet-no-gap-loss:plain', training: 'unet-no-gap-loss', refine: false },
  { id: 'equal-weights', training: 'equal-weights', refine: 'auto' },
  { id: 'equal-weights:plain', training: 'equal-weights', refine: false },
  { id: 'mfb', training: 'mfb', refine: 'auto' },
  { id: 'mfb:plain', training: 'mfb', refine: false },
  { id: 'mfb-sqrt', training: 'mfb-sqrt', refine: 'auto' },
  { id: 'mfb-sqrt:plain', training: 'mfb-sqrt', refine: false },
  { id: 'balance-1', training: 'balance-1', refine: 'auto' },
  { id: 'balance-1:plain', training: 'balance-1', refine: false },
  { id: 'void-class', training: 'void-class', refine: false },
  { id: 'void-ignored', training: 'void-ignored', refine: false },
  { id: 'void-forbid', training: 'void-class', refine: false, forbidVoid: true },
  { id: 'full-masks', training: 'full-masks', refine: false },
];
const WANTED = list('variants', 'gapseg,gapseg:plain,no-gap-loss,no-gap-loss:plain,void-class,void-ignored,void-forbid,full-masks');
const unknown = WANTED.filter((id) => !VARIANTS.some((v) => v.id === id));
if (unknown.length) usage(`--variants: no variant ${unknown.join(', ')} (known: ${VARIANTS.map((v) => v.id).join(', ')})`);
const badKind = GAP_KINDS.filter((k) => k !== 'symmetric' && k !== 'uneven');
if (badKind.length) usage(`--gap-kinds: symmetric or uneven, not ${badKind.join(', ')}`);
if (SEEDS.some((s) => !Number.isInteger(s))) usage('--seeds: integers, e.g. 1,2,3');
if (!fs.existsSync(WEIGHTS) && WANTED.some((id) => !id.startsWith('unet')))
  usage(`${WEIGHTS}: the MobileNetV2 weights are missing (--weights names them)`);

/** A prepared data set: its folder per gap kind, test images, classes and the class weights of the mfb row. */
interface DataSet {
  name: string;
  /** Gap kind -> folder holding images/, labels/ (and truth/), train.txt and test.txt. */
  folders: Map<string, string>;
  /** The folder of the full masks as labels (eroded sets only). */
  full: string | null;
  test: string[];
  real: ClassDescription;
  /** The real classes and void as one more class (named gap, so no rule makes it void). */
  withVoid: ClassDescription;
  epochs: number;
  mfb: number[];
}

/** Write a cache file whole (temp file, then rename), so that a concurrent run never reads it half-written. */
async function writeBytes(file: string, bytes: Uint8Array): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.promises.writeFile(tmp, bytes);
  await fs.promises.rename(tmp, file);
}

function link(target: string, at: string): void {
  if (!fs.existsSync(at)) fs.symlinkSync(target, at);
}

function writeLists(dir: string, train: string[], test: string[]): void {
  fs.writeFileSync(path.join(dir, 'train.txt'), train.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'test.txt'), test.join('\n') + '\n');
}

/** One image at the training scale with its full mask (class indices 0/1). */
interface Frame {
  name: string;
  rgb: Uint8Array;
  width: number;
  height: number;
  truth: Uint8Array;
}

const gapUnevenness = (kind: string) => (kind === 'uneven' ? UNEVEN : 0);

/** A two-class set with gaps made by eroding `erosion` px: images/, truth/, labels-<kind>/ and a folder per kind. */
async function prepareEroded(
  name: string,
  object: string,
  erosion: number,
  names: string[],
  frames: () => AsyncIterable<Frame>,
): Promise<DataSet> {
  const dir = path.join(CACHE, `${name}-e${erosion}`);
  const order = shuffled(makeRng(deriveSeed(2026, 1)), names);
  const nTest = Math.round(order.length * 0.2);
  const test = order.slice(0, nTest).sort();
  const train = order.slice(nTest).sort();
  const done = path.join(dir, `.done-${UNEVEN}`);
  if (!fs.existsSync(done)) {
    for await (const f of frames()) {
      await writeBytes(path.join(dir, 'images', `${f.name}.png`), await encodePng(f.rgb, f.width, f.height, 3));
      await writeBytes(
        path.join(dir, 'truth', `${f.name}.png`),
        await encodePng(
          f.truth.map((v) => (v ? 255 : 0)),
          f.width,
          f.height,
          1,
        ),
      );
      for (const kind of ['symmetric', 'uneven']) {
        const gap = makeGap(f.truth, f.width, f.height, erosion, gapUnevenness(kind), stringHash(f.name));
        await writeBytes(
          path.join(dir, `labels-${kind}`, `${f.name}.png`),
          await encodePng(
            gap.map((v) => (v === VOID_INDEX ? 128 : v ? 255 : 0)),
            f.width,
            f.height,
            1,
          ),
        );
      }
    }
    fs.writeFileSync(done, '');
  }
  const folders = new Map<string, string>();
  for (const kind of [...GAP_KINDS, 'full']) {
    const ds = path.join(dir, `ds-${kind}`);
    fs.mkdirSync(ds, { recursive: true });
    link('../images', path.join(ds, 'images'));
    link('../truth', path.join(ds, 'truth'));
    link(kind === 'full' ? '../truth' : `../labels-${kind}`, path.join(ds, 'labels'));
    writeLists(ds, train, test);
    if (kind !== 'full') folders.set(kind, ds);
  }
  const real = parseClassesFlag(`0=background,255=${object}`, ['128']);
  return {
    name,
    folders,
    full: path.join(dir, 'ds-full'),
    test,
    real,
    withVoid: parseClassesFlag(`0=background,255=${object},128=gap`),
    epochs: EPOCHS,
    mfb: await classWeights(path.join(dir, 'ds-full'), train, real),
  };
}

/** Median frequency weights of a set's training labels. */
async function classWeights(dir: string, train: string[], real: ClassDescription): Promise<number[]> {
  const counts = emptyClassCounts(real.classes.length);
  const table = labelMap(real);
  for (const name of train) {
    const lab = await readLabel(path.join(dir, 'labels', `${name}.png`));
    addClassCounts(counts, encodeLabels(lab.values, lab.width, table, name));
  }
  return medianFrequencyWeights(counts);
}

/** Smoke at half scale (256 px), full masks from its labels. */
async function prepareSmoke(): Promise<DataSet | null> {
  const src = path.join(SHARED, 'smoke');
  if (!fs.existsSync(src)) return null;
  const pairs = discoverDataset(src).splits.train;
  const table = labelMap(parseClassesFlag('0=background,255=smoke'));
  return prepareEroded(
    'smoke-256',
    'smoke',
    SMOKE_GAP,
    pairs.map((p) => p.name),
    async function* () {
      for (const p of pairs) {
        const img = await readImage(p.image);
        const lab = await readLabel(p.label);
        const [w, h] = [Math.round(img.width / 2), Math.round(img.height / 2)];
        const truth = resizeNearest(encodeLabels(lab.values, lab.width, table, p.label), lab.width, lab.height, w, h);
        yield { name: p.name, rgb: resizeImage(img.data, img.width, img.height, 3, w, h), width: w, height: h, truth };
      }
    },
  );
}

/** The built-in generator's smoke-like blobs (200 images of 128 px), whose full truth is known by construction. */
async function prepareSample(): Promise<DataSet> {
  const names = Array.from({ length: 200 }, (_, i) => `blob_${String(i).padStart(4, '0')}`);
  return prepareEroded('sample-200', 'blob', SAMPLE_GAP, names, async function* () {
    const rng = makeRng(2026);
    for (const name of names) {
      const g = generateImage(rng, 128, 0);
      yield { name, rgb: g.rgb, width: 128, height: 128, truth: g.truth };
    }
  });
}

/** A SegNet-style set with real void at half scale: its train split, and `testSplit` as the test images. */
async function prepareHalved(
  name: string,
  testSplit: 'test' | 'valid',
  real: ClassDescription,
  voidName: string,
  epochs: number,
): Promise<DataSet | null> {
  const src = path.join(SHARED, name);
  if (!fs.existsSync(src)) return null;
  const dir = path.join(CACHE, `${name}-half`);
  const layout = discoverDataset(src);
  const all: PairFiles[] = [...layout.splits.train, ...layout.splits[testSplit]];
  if (!fs.existsSync(path.join(dir, '.done'))) {
    for (const p of all) {
      const img = await readImage(p.image);
      const lab = await readLabel(p.label);
      const [w, h] = [Math.round(img.width / 2), Math.round(img.height / 2)];
      await writeBytes(
        path.join(dir, 'images', `${p.name}.png`),
        await encodePng(resizeImage(img.data, img.width, img.height, 3, w, h), w, h, 3),
      );
      await writeBytes(
        path.join(dir, 'labels', `${p.name}.png`),
        await encodePng(resizeNearest(Uint8Array.from(lab.values), lab.width, lab.height, w, h), w, h, 1),
      );
    }
    fs.writeFileSync(path.join(dir, '.done'), '');
  }
  const train = layout.splits.train.map((p) => p.name);
  const test = layout.splits[testSplit].map((p) => p.name);
  writeLists(dir, train, test);
  const voidValue = real.voidValues[0];
  const withVoid = {
    classes: [...real.classes, { name: voidName, value: voidValue, color: [0, 0, 0] as [number, number, number] }],
    voidValues: [],
  };
  return {
    name,
    folders: new Map([['real void', dir]]),
    full: null,
    test,
    real,
    withVoid,
    epochs,
    mfb: await classWeights(dir, train, real),
  };
}

/** CamVid's eleven classes from its codes.txt, void (its last line) unlabelled. */
function camvidClasses(): ClassDescription | null {
  const codes = path.join(SHARED, 'camvid', 'codes.txt');
  if (!fs.existsSync(codes)) return null;
  const names = fs
    .readFileSync(codes, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.trim());
  return parseClassesFlag(names.map((n, i) => `${i}=${n}`).join(','));
}

interface Row {
  dataset: string;
  gap: string;
  variant: string;
  seed: number;
  labelledAccuracy: number;
  /** Mean over real classes of IoU on labelled pixels (a void prediction counts against). */
  labelledMeanIoU: number;
  /** IoU on labelled pixels per real class, in class order. */
  classIoU: number[];
  gapAccuracy: number | null;
  meanBF: number | null;
  meanBoundaryIoU: number | null;
  voidShare: number;
  /** What --refine auto chose for this model (null: not asked). */
  auto: string | null;
  trainSeconds: number;
  epochs: number;
  /** The epoch of the kept model. */
  keptEpoch: number | null;
}

/** A run's metrics on the test images, against the gap labels, the full truth (eroded sets) and the real classes. */
async function evaluate(
  runDir: string,
  d: DataSet,
  folder: string,
  v: Variant,
): Promise<Omit<Row, 'dataset' | 'gap' | 'variant' | 'seed' | 'trainSeconds' | 'epochs' | 'keptEpoch'>> {
  const opened = openTfjsPredictor(runDir);
  const refine = refineSettings(v.refine, opened);
  const flips = flipsSetting(v.refine, opened);
  const predictor = withFlips(opened, flips);
  const classes = predictor.classes;
  const voidIndex = classes.findIndex((c) => !d.real.classes.some((r) => r.value === c.value));
  const allowed = allowedClasses(classes.length, v.forbidVoid && voidIndex >= 0 ? [voidIndex] : []);
  const realTable = labelMap(d.real);
  const kr = d.real.classes.length;
  const totals = emptyFrontierTotals(kr);
  // Labelled-pixel metrics over the real classes plus one column for void predictions, which
  // count as wrong wherever a pixel is labelled or lies in the gap.
  const scores = emptyTotals(kr + 1);
  let voids = 0;
  let pixels = 0;
  const truthDir = d.full ? path.join(folder, 'truth') : null;
  try {
    for (const name of d.test) {
      const image = await readImage(path.join(folder, 'images', `${name}.png`));
      const lab = await readLabel(path.join(folder, 'labels', `${name}.png`));
      const labels = encodeLabels(lab.values, lab.width, realTable, name);
      const truth = truthDir
        ? encodeLabels((await readLabel(path.join(truthDir, `${name}.png`))).values, lab.width, realTable, name)
        : undefined;
      const out = await predictImage(image, predictModel(predictor), allowed, refine);
      const values = Uint16Array.from(out.classes, (c) => classes[c].value);
      const pred = Uint8Array.from(out.classes, (c) => (c === voidIndex ? VOID_INDEX : realTable[classes[c].value]));
      for (const c of pred) if (c === VOID_INDEX) voids++;
      addImage(
        scores,
        labels,
        pred.map((c) => (c === VOID_INDEX ? kr : c)),
        truth,
      );
      pixels += pred.length;
      addFrontierImage(
        totals,
        frontierImage({
          width: image.width,
          height: image.height,
          numClasses: kr,
          labels,
          pred,
          predValues: values,
          truth: truth ?? labels,
          voidValues: d.real.voidValues,
        }),
      );
    }
  } finally {
    predictor.dispose();
  }
  const r = report(scores);
  const fr = frontierReport(totals);
  const classIoU = r.iou.slice(0, kr);
  return {
    labelledAccuracy: r.pixelAccuracy,
    labelledMeanIoU: classIoU.reduce((a, x) => a + (Number.isNaN(x) ? 0 : x), 0) / kr,
    classIoU,
    gapAccuracy: r.gapAccuracy,
    meanBF: fr.meanBF,
    meanBoundaryIoU: fr.meanBoundaryIoU,
    voidShare: voids / pixels,
    auto: v.refine === 'auto' ? `${flips ? 'flips' : 'no flips'}, ${refine ? 'CRF' : 'no CRF'}` : null,
  };
}

/** The best-epoch criterion of every run: validation mean IoU over the real classes (void, where a class, left out). */
function realClassMeanIoU(real: number[]): (valid: ValidReport) => number {
  return (valid) => {
    const defined = real.map((i) => valid.iou[i]).filter((x) => !Number.isNaN(x));
    return defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : NaN;
  };
}

/** Train one row's run (or keep a finished one): its seconds, epochs and kept epoch. */
async function train(
  name: string,
  d: DataSet,
  folder: string,
  runDir: string,
  seed: number,
  label: string,
): Promise<{ seconds: number; epochs: number; keptEpoch: number | null }> {
  const t = TRAININGS[name];
  const classes = t.voidAsClass ? d.withVoid : d.real;
  const scratch = t.options(d).encoder === 'unet';
  const options: TrainOptions = {
    out: runDir,
    classes,
    crop: CROP,
    batch: 8,
    epochs: d.epochs,
    lr: scratch ? 5e-3 : 2e-3,
    seed,
    tile: 512,
    validFraction: 0.1,
    ...(scratch ? { depth: 4, width: 8 } : { encoderWeights: WEIGHTS }),
    ...t.options(d),
  };
  const history = path.join(runDir, 'history.json');
  const kept = () => {
    const h = JSON.parse(fs.readFileSync(history, 'utf8')) as { seconds: number; valid: ValidReport | null }[];
    const best = JSON.parse(fs.readFileSync(path.join(runDir, 'model', 'gapseg.json'), 'utf8')) as {
      model?: { info?: { epoch?: number } };
    };
    return { seconds: h.reduce((a, e) => a + e.seconds, 0), epochs: h.length, keptEpoch: best.model?.info?.epoch ?? null };
  };
  if (KEEP_TRAINED && fs.existsSync(history) && fs.existsSync(path.join(runDir, 'model', 'gapseg.json')) && kept().epochs === d.epochs) {
    console.error(`  [${label}] kept: the finished run in ${runDir}`);
    return kept();
  }
  const real = classes.classes.map((c, i) => (d.real.classes.some((r) => r.value === c.value) ? i : -1)).filter((i) => i >= 0);
  await runTraining(runDir, trainConfig(t.fullMasks ? (d.full as string) : folder, options), {
    resume: false,
    force: true,
    log: (l) => console.error(`  [${label}] ${l}`),
    monitor: realClassMeanIoU(real),
  });
  return kept();
}

type Stat = { mean: number; min: number; max: number } | null;
const stat = (xs: (number | null)[]): Stat => {
  const v = xs.filter((x): x is number => x !== null && !Number.isNaN(x));
  return v.length ? { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v) } : null;
};
const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : (100 * x).toFixed(1));
const f3 = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(3));
const ratio = (a: Stat, b: Stat) => (a && b && b.mean > 0 ? (a.mean / b.mean).toFixed(2) : 'n/a');

/** Means over seeds per data set, gap and variant, with ratios to the peers measured in the same runs. */
function summarise(
  rows: Row[],
): { dataset: string; gap: string; variant: string; seeds: number; stats: Record<string, Stat>; classIoU: number[] }[] {
  const keys = [...new Set(rows.map((r) => `${r.dataset}\u0000${r.gap}\u0000${r.variant}`))];
  return keys.map((k) => {
    const [dataset, gap, variant] = k.split('\u0000');
    const rs = rows.filter((r) => r.dataset === dataset && r.gap === gap && r.variant === variant);
    const metrics = ['labelledAccuracy', 'labelledMeanIoU', 'gapAccuracy', 'meanBF', 'voidShare'] as const;
    const stats = Object.fromEntries(metrics.map((m) => [m, stat(rs.map((r) => r[m]))]));
    const classIoU = rs[0].classIoU.map(
      (_, c) => rs.reduce((a, r) => a + (Number.isNaN(r.classIoU[c]) ? 0 : r.classIoU[c]), 0) / rs.length,
    );
    return { dataset, gap, variant, seeds: rs.length, stats, classIoU };
  });
}

function printSummary(rows: Row[]): ReturnType<typeof summarise> {
  const summary = summarise(rows);
  const peer = (s: (typeof summary)[number], id: string) =>
    summary.find((x) => x.dataset === s.dataset && x.gap === s.gap && x.variant === id);
  const range = (s: Stat, f: (x: number | null) => string) => (s ? `${f(s.mean)} (${f(s.min)}-${f(s.max)})` : 'n/a');
  console.log(
    `\nGap benchmark, seeds ${SEEDS.join(', ')}: mean (min-max) over seeds; ratios of the means to void-forbid's and the full-mask model's, measured in the same runs; classes never found: real classes with IoU 0 on every seed\n`,
  );
  console.log(
    table(
      [
        'data set',
        'gap',
        'variant',
        'seeds',
        'acc labelled %',
        'mIoU',
        'acc in gap %',
        'BF',
        'predicted void %',
        'BF / void-forbid',
        'gap acc / void-forbid',
        'BF / full masks',
        'classes never found',
      ],
      summary.map((s) => {
        const vf = peer(s, 'void-forbid');
        const fm = peer(s, 'full-masks');
        const never = s.classIoU.filter((x) => x === 0).length;
        return [
          s.dataset,
          s.gap,
          s.variant,
          String(s.seeds),
          range(s.stats.labelledAccuracy, pct),
          range(s.stats.labelledMeanIoU, f3),
          range(s.stats.gapAccuracy, pct),
          range(s.stats.meanBF, f3),
          range(s.stats.voidShare, pct),
          ratio(s.stats.meanBF, vf?.stats.meanBF ?? null),
          ratio(s.stats.gapAccuracy, vf?.stats.gapAccuracy ?? null),
          ratio(s.stats.meanBF, fm?.stats.meanBF ?? null),
          String(never),
        ];
      }),
    ),
  );
  return summary;
}

async function main(): Promise<void> {
  await initEngine({ ...engineOptionsFromEnv(), threads: 2 });
  const started = Date.now();
  const missing: string[] = [];
  const sets: DataSet[] = [];
  const camvid = camvidClasses();
  for (const name of DATASETS) {
    const d =
      name === 'sample'
        ? await prepareSample()
        : name === 'smoke'
          ? await prepareSmoke()
          : name === 'allsky'
            ? await prepareHalved('allsky-cloud', 'test', parseClassesFlag('0=void,1=sky,2=cloud'), 'outside', EPOCHS)
            : name === 'camvid'
              ? camvid
                ? await prepareHalved('camvid', 'valid', camvid, 'gap', CAMVID_EPOCHS)
                : null
              : usage(`--datasets: sample, smoke, allsky or camvid, not ${name}`);
    if (d) sets.push(d);
    else missing.push(path.join(SHARED, name === 'allsky' ? 'allsky-cloud' : name));
  }
  if (missing.length) console.log(`not found, skipped: ${missing.join('; ')}`);
  const rows: Row[] = [];
  const variants = VARIANTS.filter((v) => WANTED.includes(v.id));
  for (const seed of SEEDS) {
    for (const d of sets) {
      for (const [gap, folder] of d.folders) {
        const trained = new Map<string, { seconds: number; epochs: number; keptEpoch: number | null }>();
        for (const v of variants.filter((x) => !(TRAININGS[x.training].fullMasks && !d.full))) {
          const t = TRAININGS[v.training];
          const runDir = path.join(CACHE, `runs-seed${seed}`, t.fullMasks ? `${d.name}-full` : `${d.name}-${gap}`, v.training);
          const label = `${d.name} ${gap} seed ${seed} ${v.training}`;
          if (!trained.has(v.training)) trained.set(v.training, await train(v.training, d, folder, runDir, seed, label));
          const m = await evaluate(runDir, d, folder, v);
          const row = {
            dataset: d.name,
            gap,
            variant: v.id,
            seed,
            ...m,
            ...(trained.get(v.training) as { seconds: number; epochs: number; keptEpoch: number | null }),
            trainSeconds: (trained.get(v.training) as { seconds: number }).seconds,
          };
          rows.push(row);
          console.error(
            `${label} -> ${v.id}: labelled ${pct(m.labelledAccuracy)}%, gap ${pct(m.gapAccuracy)}%, BF ${f3(m.meanBF)}${m.auto ? ` (auto: ${m.auto})` : ''}`,
          );
        }
      }
    }
    console.log(`\nseed ${seed}: metrics on the test images at the training scale\n`);
    console.log(
      table(
        [
          'data set',
          'gap',
          'variant',
          'acc labelled %',
          'mIoU',
          'IoU per class',
          'acc in gap %',
          'BF',
          'Boundary IoU',
          'predicted void %',
          'refine auto',
          'kept epoch',
          'train s',
        ],
        rows
          .filter((r) => r.seed === seed)
          .map((r) => [
            r.dataset,
            r.gap,
            r.variant,
            pct(r.labelledAccuracy),
            f3(r.labelledMeanIoU),
            r.classIoU.map(f3).join(' / '),
            pct(r.gapAccuracy),
            f3(r.meanBF),
            f3(r.meanBoundaryIoU),
            pct(r.voidShare),
            r.auto ?? '',
            `${r.keptEpoch ?? '?'}/${r.epochs}`,
            r.trainSeconds.toFixed(0),
          ]),
      ),
    );
  }
  const summary = printSummary(rows);
  const protocol = `crop ${CROP}, batch 8, ${EPOCHS} epochs (camvid ${CAMVID_EPOCHS}), lr 2e-3 pretrained / 5e-3 from scratch (U-Net depth 4 width 8), validation 10% of the training images; sample and smoke gaps: erosion ${SAMPLE_GAP} / ${SMOKE_GAP} px, uneven ${UNEVEN}`;
  console.log(`\nprotocol: ${protocol}; total ${((Date.now() - started) / 60000).toFixed(1)} min`);
  const classNames = Object.fromEntries(sets.map((d) => [d.name, d.real.classes.map((c) => c.name)]));
  const file = writeResult(argString('results', 'gap.json'), {
    machine: machine(),
    protocol,
    seeds: SEEDS,
    variants: WANTED,
    classNames,
    rows,
    summary,
  });
  console.log(`results: ${file}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
