/**
 * The gap benchmark: where do models put the frontier inside the band nobody labelled, and
 * do they predict "void"? Same network and budget for every variant:
 *
 *   gapseg        one output per real class, loss over labelled pixels only
 *   gapseg+uncertain  the same plus even odds taught in the gap (--gap-loss uncertain)
 *   gapseg+ramp   the same plus targets ramping across the gap (--gap-loss ramp); +refine: refined
 *   gapseg+crf    the same plus the Gated CRF gap loss (--gap-loss crf) on all pixels, one
 *                 row per weight in --crf-weights (other settings: the CLI defaults)
 *   void-class    void as a third class, trained as a class (fastai's CamVid recipe)
 *   void-ignored  void as a third output with zero loss weight (ignore index); 3 outputs kept
 *   void-forbid   the void-class model with the void output forbidden at prediction ("bias -500");
 *                 void-forbid+refine, that refined by gapseg's dense CRF over the real classes;
 *                 void-forbid+flips, that with gapseg's flip averaging
 *   full-masks    an upper bound: trained on the full masks (where they exist: the sample and smoke)
 *   mobilenet_v2  gapseg's loss on the ImageNet-pretrained MobileNetV2 U-Net (--encoder
 *                 mobilenet_v2, fine-tuned: frozen epochs, then all); +crf with the gap loss;
 *                 +full-masks trained on the full masks: the pretrained variants' upper bound
 *                 (on smoke the scratch full-mask model learns nothing, so it bounds nothing);
 *                 +crf-targets with the CRF-targets gap loss (--gap-loss crf-targets); +mean-teacher
 *                 with self-training in the gap (the mean-teacher gap loss); +refine and
 *                 +crf-targets+refine: those models' predictions refined by the dense CRF
 *                 (predict --refine crf; no training of their own); +void-class, +void-ignored,
 *                 +void-forbid, +void-forbid+refine: the void fixes on the pretrained encoder
 *                 (fastai's recipe);
 *                 +uncertain with even odds taught in the gap (--gap-loss uncertain), and
 *                 +uncertain+refine, that model refined by the dense CRF; +band with a band
 *                 output trained on the gap beside the classes (--gap-loss band), +band+refine;
 *                 +band-softmax with that output in the classes' softmax during training
 *                 (--band-softmax: void-class's training, crops and initial draws included, no void output kept), +band-softmax+refine;
 *                 +refine-auto and +band-softmax+refine-auto: predict --refine auto, refined
 *                 (flip averaging, dense CRF) where the model's own check on its validation
 *                 images says so; +flips, +band-softmax+flips, +void-forbid+flips: those models
 *                 with the network's scores averaged over the four flips (predict --flips)
 *                 +ramp with targets ramping across the gap (--gap-loss ramp), +ramp+refine
 *
 * With the pretrained variants, every from-scratch variant trains for as long as they do
 * (the same training time, not the same epochs): its epoch count is the MobileNetV2 run's
 * seconds over the seconds of a one-epoch probe of the scratch U-Net on the same data.
 *
 * Every variant keeps the epoch with the best validation mean IoU over the real classes (a
 * void class, where a variant has one, does not count), and every table figure comes from the
 * tested metrics modules (metrics/evaluate, metrics/frontierMetrics).
 *
 * Data: the built-in generator's smoke-like blobs and ../shared/data/smoke (gaps made by eroding
 * each class by e px at the training scale, so the band is ~2e px wide; the full masks are the
 * hidden truth; with --uneven u also uneven gaps, whose two sides and width along a boundary
 * differ per image (data/gaps.ts), so that a frontier put in the middle of the band does not win), and ../shared/data/allsky-cloud (its real void: outside the lens and the sun).
 * Smoke plumes are small and faint: at a budget that fits the hour, models from scratch learn
 * little of them, the pretrained ones (mobilenet_v2, with the weights) do; the generated sample
 * carries the gap-width study. Images are resized to the training scale once, into a cache
 * folder. Metrics on each data set's test images, at the training scale. Writes
 * bench/results/gap.json (--results another name). For the gapseg+crf variants the table below
 * adds the share of the distance from gapseg to full-masks they close.
 *
 * --keep-trained yes evaluates runs an earlier invocation finished (same cache and settings)
 * instead of training them again.
 *
 *   npm run bench:gap [-- --epochs 6 --gaps 2,4,8 --datasets smoke,allsky --max-train 0
 *                        --crf-weights 0.1,0.3 --variants gapseg,gapseg+crf,mobilenet_v2,full-masks
 *                        --mobile-epochs 4 --freeze-epochs 1 --encoder-lr-div 10]
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
import { DEFAULT_TRAIN, runTraining } from '../src/train/run.js';
import { DEFAULT_FINE_TUNE, type ValidReport } from '../src/train/loop.js';
import { DEFAULT_CRF, DEFAULT_CRF_TARGETS, DEFAULT_MEAN_TEACHER, DEFAULT_UNCERTAIN, DEFAULT_RAMP, DEFAULT_BAND, type GapLossConfig } from '../src/losses/gapLoss.js';
import { DEFAULT_DENSE_CRF, type DenseCrfParams } from '../src/crf/denseCrf.js';
import { openTfjsPredictor } from '../src/predict/model.js';
import { describeRefineCheck, flipsSetting, refineSettings, withFlips } from '../src/predict/refineCheck.js';
import { predictImage, predictModel } from '../src/predict/pipeline.js';
import { allowedClasses } from '../src/predict/forbid.js';
import { addFrontierImage, emptyFrontierTotals, frontierImage, frontierReport } from '../src/metrics/frontierMetrics.js';
import { addImage, emptyTotals, report } from '../src/metrics/evaluate.js';
import { deriveSeed, makeRng, shuffled, stringHash } from '../src/util/random.js';
import { argNumber, argString, BENCH_DIR, machine, table, writeResult } from './common.js';

/** The shared data sets: beside the repository root, or --data (e.g. from a git worktree). */
const SHARED = path.resolve(argString('data', path.resolve(BENCH_DIR, '..', '..', 'shared', 'data')));
const EPOCHS = Number(argString('epochs', '6'));
const GAPS = argString('gaps', '2,4,8').split(',').map(Number);
const DATASETS = argString('datasets', 'sample,smoke,allsky').split(',');
const MAX_TRAIN = Number(argString('max-train', '0'));
const WIDTH = Number(argString('width', '8'));
const CACHE = argString('cache', path.join(os.tmpdir(), 'gapseg-bench-gap'));
const CRF_WEIGHTS = argString('crf-weights', [...new Set([DEFAULT_CRF.weight, 0.01])].join(',')).split(',').filter(Boolean).map(Number);
/** Variant ids to run (default all); void-forbid needs void-class. */
const VARIANTS = argString('variants', '').split(',').filter(Boolean);
/** Loss weight of the smoke class in every smoke variant (smoke is ~3% of labelled pixels). */
const SMOKE_WEIGHT = Number(argString('smoke-weight', '1'));
/** Smoke frames (512 px) are shrunk by this factor; its plumes are small, 1/4 erases many. */
const SMOKE_DIV = Number(argString('smoke-div', '2'));
const SMOKE_GAPS = argString('smoke-gaps', '2').split(',').map(Number);
/** Unevenness of the extra, uneven gaps (0: symmetric gaps only); see data/gaps.ts. */
const UNEVEN = Number(argString('uneven', '0.75'));

/** A way to make gaps: erode by e px, symmetric (u = 0) or uneven. */
interface GapSpec {
  e: number;
  u: number;
}
/** A bad flag: one line and exit 2, before any work. */
function usage(message: string): never {
  console.error(`bench:gap: ${message}`);
  process.exit(2);
}
/** With --symmetric no, only the uneven gaps (a further seed of them without retraining the rest). */
const SYMMETRIC = argString('symmetric', 'yes');
if (SYMMETRIC !== 'yes' && SYMMETRIC !== 'no') usage(`--symmetric must be yes or no, not ${SYMMETRIC}`);
if (SYMMETRIC === 'no' && !(UNEVEN > 0)) usage('--symmetric no needs --uneven above 0: no gaps would be left');
const gapSpecs = (erosions: number[]): GapSpec[] => erosions.flatMap((e) => [...(SYMMETRIC === 'yes' ? [{ e, u: 0 }] : []), ...(UNEVEN > 0 ? [{ e, u: UNEVEN }] : [])]);
const gapKey = (g: GapSpec) => (g.u ? `e${g.e}-u${g.u}` : `e${g.e}`);
const gapName = (g: GapSpec) => `${2 * g.e} px band${g.u ? `, uneven ${g.u}` : ''} (erode ${g.e})`;
const SAMPLE_IMAGES = Number(argString('sample-images', '200'));
/** Training seed (initialisation, crops, augmentation) of every variant; the data stay the same. */
const SEED = Number(argString('seed', '1'));
const SMOKE_EPOCHS = Number(argString('smoke-epochs', '6'));
const CROP = Number(argString('crop', '128'));
/** Share of crops centred on a randomly drawn class (see AugmentOptions.classBalance). */
const CLASS_BALANCE = Number(argString('class-balance', '0.5'));
/** The MobileNetV2 file; the pretrained variants are skipped, saying so, where it is absent. */
const WEIGHTS = path.resolve(argString('weights', path.join(SHARED, '..', 'weights', 'mobilenet_v2', 'mobilenet_v2_1.0_224_quant.tflite')));
/** Epochs of the pretrained variants (DEFAULT_FINE_TUNE's frozen epochs first), and their peak rate. */
const MOBILE_EPOCHS = Number(argString('mobile-epochs', '4'));
/** Their fine-tuning schedule (default train's): frozen epochs first, the encoder's rate divisor. */
const FINE_TUNE = { freezeEpochs: argNumber('freeze-epochs', DEFAULT_FINE_TUNE.freezeEpochs), encoderLrDiv: argNumber('encoder-lr-div', DEFAULT_FINE_TUNE.encoderLrDiv) };
const MOBILE_LR = Number(argString('mobile-lr', '2e-3'));
/** Epochs of the CamVid runs (all pretrained). */
const CAMVID_EPOCHS = Number(argString('camvid-epochs', '15'));
const PRETRAINED = ['mobilenet_v2', 'mobilenet_v2+band', 'mobilenet_v2+band+refine', 'mobilenet_v2+band-softmax', 'mobilenet_v2+band-softmax+refine', 'mobilenet_v2+refine-auto', 'mobilenet_v2+band-softmax+refine-auto', 'mobilenet_v2+uncertain', 'mobilenet_v2+uncertain+refine', 'mobilenet_v2+ramp', 'mobilenet_v2+ramp+refine', 'mobilenet_v2+ramp-crf', 'mobilenet_v2+ramp-crf+refine', 'mobilenet_v2+crf', 'mobilenet_v2+crf-targets', 'mobilenet_v2+mean-teacher', 'mobilenet_v2+refine', 'mobilenet_v2+crf-targets+refine', 'mobilenet_v2+full-masks', 'mobilenet_v2+void-class', 'mobilenet_v2+void-ignored', 'mobilenet_v2+void-forbid', 'mobilenet_v2+void-forbid+refine', 'mobilenet_v2+flips', 'mobilenet_v2+band-softmax+flips', 'mobilenet_v2+void-forbid+flips'];
/**
 * Evaluate a variant's finished run from an earlier invocation (same cache, seed and settings:
 * the caller's promise) instead of training it again; its training seconds come from its history.
 */
const KEEP_TRAINED = argString('keep-trained', 'no') === 'yes';
/** Weight of the band loss in the +band variants. */
const BAND_WEIGHT = argNumber('band-weight', DEFAULT_BAND.weight);
/** Weight of the distance-ramp gap loss in the +ramp variants. */
const RAMP_WEIGHT = argNumber('ramp-weight', DEFAULT_RAMP.weight);
/** Weight of the even-odds gap loss in the +uncertain variants. */
const UNCERTAIN_WEIGHT = argNumber('uncertain-weight', DEFAULT_UNCERTAIN.weight);
/** Weight of the CRF-targets gap loss in the +crf-targets variants. */
const TARGETS_WEIGHT = argNumber('targets-weight', DEFAULT_CRF_TARGETS.weight);
/** Every variant id --variants may name. */
const CAMVID_ONLY = ['mobilenet_v2+no-balance', 'mobilenet_v2+mfb', 'mobilenet_v2+band-softmax+mfb', 'mobilenet_v2+band-softmax+mfb+refine-auto'];
const KNOWN = [...CAMVID_ONLY, 'gapseg', 'gapseg+refine', 'gapseg+uncertain', 'gapseg+ramp', 'gapseg+ramp+refine', 'gapseg+crf', 'void-class', 'void-ignored', 'void-forbid', 'void-forbid+refine', 'void-forbid+flips', 'full-masks', ...PRETRAINED];
const unknown = VARIANTS.filter((v) => !KNOWN.includes(v));
if (unknown.length) usage(`--variants: no variant ${unknown.join(', ')} (known: ${KNOWN.join(', ')})`);
const wanted = (id: string) => VARIANTS.length === 0 || VARIANTS.includes(id) || (id.startsWith('gapseg+crf') && VARIANTS.includes('gapseg+crf'));

/** The wanted variants and the ones whose model they reuse (void-forbid needs void-class trained). */
function selected(vs: Variant[]): Variant[] {
  return vs.filter((v) => wanted(v.id) || vs.some((u) => u.reuse === v.id && wanted(u.id)));
}

/** The gapseg+crf variants: one per CRF weight. */
function crfVariants(classes: ClassDescription, dataset: string, classWeights?: number[]): Variant[] {
  return CRF_WEIGHTS.map((weight) => ({
    id: CRF_WEIGHTS.length > 1 ? `gapseg+crf w${weight}` : 'gapseg+crf',
    classes,
    classWeights,
    dataset,
    gapLoss: { ...DEFAULT_CRF, weight },
  }));
}

/**
 * The usual fixes, with void as a third output: trained as a class, ignored (zero loss weight),
 * and the void-class model with void forbidden at prediction; from scratch or on the pretrained
 * encoder (ids prefixed mobilenet_v2+, as fastai users train them).
 */
function voidFixes(three: ClassDescription, voidName: string, classWeights: number[] | undefined, ignoredWeights: number[], dataset: string, pretrainedEncoder = false): Variant[] {
  const pre = pretrainedEncoder ? 'mobilenet_v2+' : '';
  const on = pretrainedEncoder ? { encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS } : {};
  return [
    { id: `${pre}void-class`, classes: three, classWeights, dataset, voidAsClass: voidName, ...on },
    { id: `${pre}void-ignored`, classes: three, classWeights: ignoredWeights, dataset, voidAsClass: voidName, ...on },
    { id: `${pre}void-forbid`, classes: three, forbid: [voidName], reuse: `${pre}void-class`, dataset, ...on },
    { id: `${pre}void-forbid+refine`, classes: three, forbid: [voidName], reuse: `${pre}void-class`, dataset, refine: DEFAULT_DENSE_CRF, ...on },
    { id: `${pre}void-forbid+flips`, classes: three, forbid: [voidName], reuse: `${pre}void-class`, dataset, flips: true, ...on },
  ];
}

interface Prepared {
  dir: string;
  train: string[];
  test: string[];
}

/**
 * Write a cache file whole (temp file, then rename), so that another invocation sharing the
 * cache never reads it half-written: one preparing other gap widths rewrote the images under a
 * running one, which then failed on an empty file.
 */
async function writeBytes(file: string, bytes: Uint8Array): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.promises.writeFile(tmp, bytes);
  await fs.promises.rename(tmp, file);
}

function link(target: string, at: string): void {
  if (!fs.existsSync(at)) fs.symlinkSync(target, at);
}

/** One image at the training scale with its full mask (class indices 0/1). */
interface Frame {
  name: string;
  rgb: Uint8Array;
  width: number;
  height: number;
  truth: Uint8Array;
}

/**
 * A data set with gaps made by erosion, cached in `dir`: images/, truth/ (full masks, 0/255),
 * labels-e<px>/ per erosion (128 = void), and ds-e<px>/ + ds-full/ folders with split lists.
 */
async function prepareEroded(dir: string, names: string[], gaps: GapSpec[], frames: () => AsyncIterable<Frame>): Promise<Prepared> {
  const order = shuffled(makeRng(deriveSeed(2026, 1)), names);
  const nTest = Math.round(order.length * 0.2);
  const test = order.slice(0, nTest).sort();
  const train = order.slice(nTest).sort();
  const done = path.join(dir, `.done-${gaps.map(gapKey).join('-')}`);
  if (!fs.existsSync(done)) {
    for await (const f of frames()) {
      const { width: w, height: h } = f;
      await writeBytes(path.join(dir, 'images', `${f.name}.png`), await encodePng(f.rgb, w, h, 3));
      await writeBytes(path.join(dir, 'truth', `${f.name}.png`), await encodePng(f.truth.map((v) => (v ? 255 : 0)), w, h, 1));
      for (const g of gaps) {
        const gap = makeGap(f.truth, w, h, g.e, g.u, stringHash(f.name));
        await writeBytes(path.join(dir, `labels-${gapKey(g)}`, `${f.name}.png`), await encodePng(gap.map((v) => (v === VOID_INDEX ? 128 : v ? 255 : 0)), w, h, 1));
      }
    }
    fs.writeFileSync(done, '');
  }
  const lists = (ds: string) => {
    fs.writeFileSync(path.join(ds, 'train.txt'), trainSubset(train).join('\n') + '\n');
    fs.writeFileSync(path.join(ds, 'test.txt'), test.join('\n') + '\n');
  };
  for (const g of gaps) {
    const ds = path.join(dir, `ds-${gapKey(g)}`);
    fs.mkdirSync(ds, { recursive: true });
    link('../images', path.join(ds, 'images'));
    link('../truth', path.join(ds, 'truth'));
    link(`../labels-${gapKey(g)}`, path.join(ds, 'labels'));
    lists(ds);
  }
  const full = path.join(dir, 'ds-full');
  fs.mkdirSync(full, { recursive: true });
  link('../images', path.join(full, 'images'));
  link('../truth', path.join(full, 'truth'));
  link('../truth', path.join(full, 'labels'));
  lists(full);
  return { dir, train, test };
}

/** Smoke at scale 1/SMOKE_DIV (256 px by default), full masks from its labels. */
async function prepareSmoke(): Promise<Prepared | null> {
  const src = path.join(SHARED, 'smoke');
  if (!fs.existsSync(src)) return null;
  const pairs = discoverDataset(src).splits.train;
  const table = labelMap(parseClassesFlag('0=background,255=smoke'));
  return prepareEroded(path.join(CACHE, `smoke-${512 / SMOKE_DIV}`), pairs.map((p) => p.name), gapSpecs(SMOKE_GAPS), async function* () {
    for (const p of pairs) {
      const img = await readImage(p.image);
      const lab = await readLabel(p.label);
      const [w, h] = [Math.round(img.width / SMOKE_DIV), Math.round(img.height / SMOKE_DIV)];
      const truth = resizeNearest(encodeLabels(lab.values, lab.width, table, p.label), lab.width, lab.height, w, h);
      yield { name: p.name, rgb: resizeImage(img.data, img.width, img.height, 3, w, h), width: w, height: h, truth };
    }
  });
}

/** The built-in generator's smoke-like blobs (128 px), whose full truth is known by construction. */
async function prepareSample(): Promise<Prepared> {
  const count = SAMPLE_IMAGES;
  const names = Array.from({ length: count }, (_, i) => `blob_${String(i).padStart(4, '0')}`);
  return prepareEroded(path.join(CACHE, `sample-${count}`), names, gapSpecs(GAPS), async function* () {
    const rng = makeRng(2026);
    for (const name of names) {
      const g = generateImage(rng, 128, 0);
      yield { name, rgb: g.rgb, width: 128, height: 128, truth: g.truth };
    }
  });
}

/**
 * A SegNet-style set at scale 1/2, cached as images/ + labels/ with train.txt and test.txt:
 * allsky-cloud (480x360 -> 240x180; its own train/test split) and CamVid (480x360 -> 240x180;
 * its val split is the test split, as it has no test split here).
 */
async function prepareHalved(name: string, cacheName: string, testSplit: 'test' | 'valid'): Promise<Prepared | null> {
  const src = path.join(SHARED, name);
  if (!fs.existsSync(src)) return null;
  const dir = path.join(CACHE, cacheName);
  const layout = discoverDataset(src);
  const all: PairFiles[] = [...layout.splits.train, ...layout.splits[testSplit]];
  if (!fs.existsSync(path.join(dir, '.done'))) {
    for (const p of all) {
      const img = await readImage(p.image);
      const lab = await readLabel(p.label);
      const [w, h] = [Math.round(img.width / 2), Math.round(img.height / 2)];
      await writeBytes(path.join(dir, 'images', `${p.name}.png`), await encodePng(resizeImage(img.data, img.width, img.height, 3, w, h), w, h, 3));
      await writeBytes(path.join(dir, 'labels', `${p.name}.png`), await encodePng(resizeNearest(Uint8Array.from(lab.values), lab.width, lab.height, w, h), w, h, 1));
    }
    fs.writeFileSync(path.join(dir, '.done'), '');
  }
  const train = layout.splits.train.map((p) => p.name);
  const test = layout.splits[testSplit].map((p) => p.name);
  fs.writeFileSync(path.join(dir, 'train.txt'), trainSubset(train).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'test.txt'), test.join('\n') + '\n');
  return { dir, train, test };
}

function trainSubset(names: string[]): string[] {
  return MAX_TRAIN > 0 ? names.slice(0, MAX_TRAIN) : names;
}

interface Variant {
  id: string;
  /** Classes the model is trained with (void-as-class variants list the void value as a class). */
  classes: ClassDescription;
  classWeights?: number[];
  /** Class names never predicted. */
  forbid?: string[];
  /** The class that stands for void in a void-as-a-class variant: not counted when the best epoch is chosen. */
  voidAsClass?: string;
  /** Evaluate the model trained by another variant. */
  reuse?: string;
  /** Epochs, when not the benchmark's --epochs. */
  epochs?: number;
  dataset: string;
  gapLoss?: GapLossConfig;
  /** A pretrained encoder: trained with gapseg's loss from the ImageNet MobileNetV2. */
  encoder?: 'mobilenet_v2';
  /** Predictions refined by the dense CRF (predict --refine crf), or as the model's check says (auto: flips too). */
  refine?: DenseCrfParams | 'auto';
  /** The network's scores averaged over the four flips of each window (predict --flips). */
  flips?: boolean;
  /** Share of class-balanced crops, when not the benchmark's --class-balance. */
  classBalance?: number;
}

interface Row {
  dataset: string;
  gap: string;
  variant: string;
  labelledAccuracy: number;
  /** Mean over real classes of IoU on labelled pixels (a void prediction counts against). */
  labelledMeanIoU: number;
  /** IoU on labelled pixels per real class, in class order (the object's is the last). */
  classIoU: number[];
  gapAccuracy: number | null;
  meanBF: number | null;
  meanBoundaryIoU: number | null;
  voidShare: number;
  frontierInGap: number | null;
  /** Seconds per test image of prediction (refinement included). */
  predictSeconds: number;
  trainSeconds: number;
  /** Epochs trained (the scratch variants' come from the equal-time probe). */
  epochs: number;
}

/** A run's metrics on the test images. */
type Scores = Omit<Row, 'dataset' | 'gap' | 'variant' | 'trainSeconds' | 'epochs'>;

/** Evaluate a run on the test images against the gap labels, the full truth and the real classes. */
async function evaluate(runDir: string, ds: string, test: string[], real: ClassDescription, forbid: string[], truthDir: string | null, refineOption?: DenseCrfParams | 'auto', flips?: boolean): Promise<Scores> {
  const opened = openTfjsPredictor(runDir);
  const refine = refineOption === 'auto' ? refineSettings('auto', opened) : refineOption;
  const predictor = withFlips(opened, flipsSetting(refineOption, opened, flips));
  if (refineOption === 'auto' && predictor.refineCheck) console.log(`  [${path.basename(runDir)}] ${describeRefineCheck(predictor.refineCheck)}`);
  const k = predictor.classes.length;
  const allowed = allowedClasses(k, forbid.map((n) => predictor.classes.findIndex((c) => c.name === n)));
  const realTable = labelMap(real);
  const voidValue = real.voidValues[0];
  const totals = emptyFrontierTotals(real.classes.length);
  const kr = real.classes.length;
  // Labelled-pixel metrics over the real classes plus one column for void predictions, which
  // count as wrong wherever a pixel is labelled or lies in the gap.
  const scores = emptyTotals(kr + 1);
  let voids = 0;
  let pixels = 0;
  let predictSeconds = 0;
  try {
    for (const name of test) {
      const image = await readImage(path.join(ds, 'images', `${name}.png`));
      const lab = await readLabel(path.join(ds, 'labels', `${name}.png`));
      const labels = encodeLabels(lab.values, lab.width, realTable, name);
      const truth = truthDir ? encodeLabels((await readLabel(path.join(truthDir, `${name}.png`))).values, lab.width, realTable, name) : undefined;
      const t0 = performance.now();
      const out = await predictImage(image, predictModel(predictor), allowed, refine);
      predictSeconds += (performance.now() - t0) / 1000;
      const values = Uint16Array.from(out.classes, (c) => predictor.classes[c].value);
      // Predicted label values mapped to the real classes; a void prediction becomes VOID_INDEX.
      const pred = Uint8Array.from(values, (v) => (v === voidValue ? VOID_INDEX : realTable[v]));
      for (const c of pred) if (c === VOID_INDEX) voids++;
      addImage(scores, labels, pred.map((c) => (c === VOID_INDEX ? kr : c)), truth);
      pixels += pred.length;
      addFrontierImage(totals, frontierImage({ width: image.width, height: image.height, numClasses: kr, labels, pred, predValues: values, truth: truth ?? labels, voidValues: real.voidValues }));
    }
  } finally {
    predictor.dispose();
  }
  const r = report(scores);
  const fr = frontierReport(totals);
  return {
    labelledAccuracy: r.pixelAccuracy,
    labelledMeanIoU: r.iou.slice(0, kr).reduce((a, x) => a + (Number.isNaN(x) ? 0 : x), 0) / kr,
    classIoU: r.iou.slice(0, kr),
    gapAccuracy: r.gapAccuracy,
    meanBF: fr.meanBF,
    meanBoundaryIoU: fr.meanBoundaryIoU,
    voidShare: voids / pixels,
    frontierInGap: fr.frontierInGap,
    predictSeconds: predictSeconds / test.length,
  };
}

/** The best-epoch criterion shared by every variant: validation mean IoU over the real classes. */
function realClassMeanIoU(v: Variant): (valid: ValidReport) => number {
  const real = v.classes.classes.map((c, i) => (c.name === v.voidAsClass ? -1 : i)).filter((i) => i >= 0);
  return (valid) => {
    const defined = real.map((i) => valid.iou[i]).filter((x) => !Number.isNaN(x));
    return defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : NaN;
  };
}

async function runVariant(v: Variant, runsDir: string, gapLabel: string): Promise<number> {
  const runDir = path.join(runsDir, v.id);
  const epochs = v.epochs ?? EPOCHS;
  if (KEEP_TRAINED && fs.existsSync(path.join(runDir, 'model')) && fs.existsSync(path.join(runDir, 'history.json'))) {
    const history = JSON.parse(fs.readFileSync(path.join(runDir, 'history.json'), 'utf8')) as { seconds: number }[];
    if (history.length === epochs) {
      console.error(`  [${gapLabel} ${v.id}] kept: the finished ${epochs}-epoch run in ${runDir}`);
      return history.reduce((a, e) => a + e.seconds, 0);
    }
  }
  const t0 = Date.now();
  await runTraining(
    runDir,
    {
      ...DEFAULT_TRAIN,
      dataset: v.dataset,
      classSource: 'bench',
      classes: v.classes,
      classWeights: v.classWeights ?? null,
      crop: CROP,
      augment: { ...DEFAULT_TRAIN.augment, classBalance: v.classBalance ?? CLASS_BALANCE },
      batchSize: 8,
      epochs,
      lr: 5e-3,
      depth: 4,
      baseWidth: WIDTH,
      seed: SEED,
      tile: 512,
      validFraction: 0.1,
      gapLoss: v.gapLoss ?? null,
      ...(v.encoder ? { encoder: v.encoder, encoderWeights: WEIGHTS, fineTune: FINE_TUNE, lr: MOBILE_LR } : {}),
    },
    { resume: false, force: true, log: (l) => console.error(`  [${gapLabel} ${v.id}] ${l}`), monitor: realClassMeanIoU(v) },
  );
  return (Date.now() - t0) / 1000;
}

/** The least lead (gap accuracy, BF) of full-masks over gapseg for a share of it to be reported. */
const MIN_DISTANCE = 0.01;

/**
 * Per gap and gap-loss variant: (variant - base) / (upper - base) for gap accuracy and BF, where
 * base and upper are gapseg and full-masks for the scratch variants, mobilenet_v2 and
 * mobilenet_v2+full-masks for the pretrained ones.
 */
function distanceClosed(rows: Row[]): { gap: string; variant: string; gapAccuracy: number | null; meanBF: number | null; labelledChange: number }[] {
  const out = [];
  for (const r of rows) {
    const pretrained = r.variant.startsWith('mobilenet_v2+') && r.variant !== 'mobilenet_v2+full-masks';
    if (r.dataset === 'allsky-cloud' || !(r.variant.startsWith('gapseg+') || pretrained)) continue;
    const [baseId, fullId] = pretrained ? ['mobilenet_v2', 'mobilenet_v2+full-masks'] : ['gapseg', 'full-masks'];
    const base = rows.find((b) => b.dataset === r.dataset && b.gap === r.gap && b.variant === baseId);
    const full = rows.find((b) => b.dataset === r.dataset && b.gap === r.gap && b.variant === fullId);
    if (!base || !full) continue;
    // No share where the full-mask model is not ahead by a margin: the ratio would be noise over noise.
    const share = (a: number | null, b: number | null, f: number | null) => (a === null || b === null || f === null || f - b < MIN_DISTANCE ? null : (a - b) / (f - b));
    out.push({
      gap: `${r.dataset} ${r.gap}`,
      variant: r.variant,
      gapAccuracy: share(r.gapAccuracy, base.gapAccuracy, full.gapAccuracy),
      meanBF: share(r.meanBF, base.meanBF, full.meanBF),
      labelledChange: r.labelledAccuracy - base.labelledAccuracy,
    });
  }
  return out;
}

async function main(): Promise<void> {
  await initEngine({ ...engineOptionsFromEnv(), threads: 2 });
  const rows: Row[] = [];
  const started = Date.now();
  const runsDir = path.join(CACHE, SEED === 1 ? 'runs' : `runs-seed${SEED}`);
  const missing: string[] = [];
  const eroded: { id: string; prepare: () => Promise<Prepared | null>; gaps: number[]; weight: number; epochs: number; missing: string }[] = [
    { id: 'sample', prepare: prepareSample, gaps: GAPS, weight: 1, epochs: EPOCHS, missing: '' },
    { id: 'smoke', prepare: prepareSmoke, gaps: SMOKE_GAPS, weight: SMOKE_WEIGHT, epochs: SMOKE_EPOCHS, missing: 'smoke' },
  ];
  const havePretrained = fs.existsSync(WEIGHTS);
  if (!havePretrained && PRETRAINED.some(wanted)) missing.push(`the MobileNetV2 weights (${WEIGHTS}; the pretrained variants)`);
  /** The pretrained variants of a data set (none without the weights). */
  const pretrained = (classes: ClassDescription, dataset: string, classWeights: number[] | undefined, fixes: Variant[]): Variant[] =>
    havePretrained
      ? [
          ...fixes,
          { id: 'mobilenet_v2', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS },
          { id: 'mobilenet_v2+band', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, gapLoss: { ...DEFAULT_BAND, weight: BAND_WEIGHT } },
          { id: 'mobilenet_v2+band+refine', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2+band', refine: DEFAULT_DENSE_CRF },
          { id: 'mobilenet_v2+band-softmax', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, gapLoss: { ...DEFAULT_BAND, weight: BAND_WEIGHT, softmax: true } },
          { id: 'mobilenet_v2+band-softmax+refine', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2+band-softmax', refine: DEFAULT_DENSE_CRF },
          { id: 'mobilenet_v2+band-softmax+refine-auto', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2+band-softmax', refine: 'auto' },
          { id: 'mobilenet_v2+refine-auto', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2', refine: 'auto' },
          { id: 'mobilenet_v2+flips', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2', flips: true },
          { id: 'mobilenet_v2+band-softmax+flips', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2+band-softmax', flips: true },
          { id: 'mobilenet_v2+uncertain', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, gapLoss: { ...DEFAULT_UNCERTAIN, weight: UNCERTAIN_WEIGHT } },
          { id: 'mobilenet_v2+ramp', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, gapLoss: { ...DEFAULT_RAMP, weight: RAMP_WEIGHT } },
          { id: 'mobilenet_v2+ramp-crf', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, gapLoss: { ...DEFAULT_RAMP, weight: RAMP_WEIGHT, crf: DEFAULT_DENSE_CRF } },
          { id: 'mobilenet_v2+ramp-crf+refine', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2+ramp-crf', refine: DEFAULT_DENSE_CRF },
          { id: 'mobilenet_v2+ramp+refine', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2+ramp', refine: DEFAULT_DENSE_CRF },
          { id: 'mobilenet_v2+crf', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, gapLoss: { ...DEFAULT_CRF, weight: CRF_WEIGHTS[0] } },
          { id: 'mobilenet_v2+crf-targets', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, gapLoss: { ...DEFAULT_CRF_TARGETS, weight: TARGETS_WEIGHT } },
          { id: 'mobilenet_v2+mean-teacher', classes, classWeights, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, gapLoss: DEFAULT_MEAN_TEACHER },
          { id: 'mobilenet_v2+refine', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2', refine: DEFAULT_DENSE_CRF },
          { id: 'mobilenet_v2+crf-targets+refine', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2+crf-targets', refine: DEFAULT_DENSE_CRF },
          { id: 'mobilenet_v2+uncertain+refine', classes, dataset, encoder: 'mobilenet_v2' as const, epochs: MOBILE_EPOCHS, reuse: 'mobilenet_v2+uncertain', refine: DEFAULT_DENSE_CRF },
        ]
      : [];
  /**
   * Train and evaluate one data set's variants, the pretrained ones first; the scratch ones then
   * train for as long (epochs from a one-epoch probe), or for `epochs` without pretrained runs.
   * Returns the scratch epochs used, for the data set's other runs.
   */
  async function trainVariants(variants: Variant[], dir: string, label: string, epochs: number, scratchEpochs: number | null, score: (v: Variant, runDir: string) => Promise<Scores>, push: (v: Variant, m: Scores, t: number, epochs: number) => void): Promise<number> {
    const times: Record<string, number> = {};
    const results: { v: Variant; m: Scores }[] = [];
    const first = variants.filter((v) => v.encoder);
    for (const v of first) {
      if (!v.reuse) times[v.id] = await runVariant(v, dir, label);
      results.push({ v, m: await score(v, path.join(dir, v.reuse ?? v.id)) });
    }
    const trained = first.filter((v) => !v.reuse);
    let e = scratchEpochs ?? epochs;
    if (trained.length && scratchEpochs === null) {
      const budget = trained.reduce((a, v) => a + times[v.id], 0) / trained.length;
      const probe = variants.find((v) => !v.encoder && !v.reuse && !v.gapLoss) ?? variants.find((v) => !v.encoder && !v.reuse);
      if (probe) {
        const t1 = await runVariant({ ...probe, id: 'probe', epochs: 1 }, dir, label);
        e = Math.max(1, Math.round(budget / t1));
        console.error(`  [${label}] pretrained runs took ${budget.toFixed(0)} s; one scratch epoch ${t1.toFixed(0)} s: the scratch variants train ${e} epochs`);
      }
    }
    for (const v of variants.filter((x) => !x.encoder)) {
      if (!v.reuse) times[v.id] = await runVariant({ ...v, epochs: e }, dir, label);
      results.push({ v, m: await score(v, path.join(dir, v.reuse ?? v.id)) });
    }
    // Table order: the scratch variants as listed, then the pretrained ones.
    for (const r of [...results.filter((x) => !x.v.encoder), ...results.filter((x) => x.v.encoder)]) {
      push(r.v, r.m, times[r.v.reuse ?? r.v.id], r.v.encoder ? (r.v.epochs ?? EPOCHS) : e);
      console.error(`${label} ${r.v.id}: ${JSON.stringify(r.m)}`);
    }
    return e;
  }
  for (const d of eroded.filter((x) => DATASETS.includes(x.id))) {
    const prepared = await d.prepare();
    if (!prepared) {
      missing.push(d.missing);
      continue;
    }
    const objectName = d.id === 'smoke' ? 'smoke' : 'blob';
    const real = parseClassesFlag(`0=background,255=${objectName}`, ['128']);
    const three = parseClassesFlag(`0=background,255=${objectName},128=gap`);
    const w2 = [1, d.weight];
    let scratchEpochs: number | null = null;
    for (const g of gapSpecs(d.gaps)) {
      const ds = path.join(prepared.dir, `ds-${gapKey(g)}`);
      const variants: Variant[] = [
        { id: 'gapseg', classes: real, classWeights: w2, dataset: ds },
        { id: 'gapseg+refine', classes: real, dataset: ds, reuse: 'gapseg', refine: DEFAULT_DENSE_CRF },
        { id: 'gapseg+uncertain', classes: real, classWeights: w2, dataset: ds, gapLoss: { ...DEFAULT_UNCERTAIN, weight: UNCERTAIN_WEIGHT } },
        { id: 'gapseg+ramp', classes: real, classWeights: w2, dataset: ds, gapLoss: { ...DEFAULT_RAMP, weight: RAMP_WEIGHT } },
        { id: 'gapseg+ramp+refine', classes: real, dataset: ds, reuse: 'gapseg+ramp', refine: DEFAULT_DENSE_CRF },
        ...crfVariants(real, ds, w2),
        ...voidFixes(three, 'gap', [1, d.weight, 1], [1, d.weight, 0], ds),
      ];
      scratchEpochs = await trainVariants(
        selected([...variants, ...pretrained(real, ds, w2, voidFixes(three, 'gap', [1, d.weight, 1], [1, d.weight, 0], ds, true))]),
        path.join(runsDir, `${d.id}-${gapKey(g)}`),
        `${d.id} ${gapKey(g)}`,
        d.epochs,
        scratchEpochs,
        (v, runDir) => evaluate(runDir, ds, prepared.test, real, v.forbid ?? [], path.join(ds, 'truth'), v.refine, v.flips),
        (v, m, t, epochs) => rows.push({ dataset: d.id, gap: gapName(g), variant: v.id, ...m, trainSeconds: t, epochs }),
      );
    }
    if (havePretrained && wanted('mobilenet_v2+full-masks')) {
      const full = path.join(prepared.dir, 'ds-full');
      const id = 'mobilenet_v2+full-masks';
      const t = await runVariant({ id, classes: real, classWeights: w2, dataset: full, encoder: 'mobilenet_v2', epochs: MOBILE_EPOCHS }, path.join(runsDir, `${d.id}-full`), `${d.id} full`);
      for (const g of gapSpecs(d.gaps)) {
        const ds = path.join(prepared.dir, `ds-${gapKey(g)}`);
        const m = await evaluate(path.join(runsDir, `${d.id}-full`, id), ds, prepared.test, real, [], path.join(ds, 'truth'));
        rows.push({ dataset: d.id, gap: gapName(g), variant: id, ...m, trainSeconds: t, epochs: MOBILE_EPOCHS });
      }
    }
    if (wanted('full-masks')) {
      const full = path.join(prepared.dir, 'ds-full');
      const t = await runVariant({ id: 'full-masks', classes: real, classWeights: w2, dataset: full, epochs: scratchEpochs ?? d.epochs }, path.join(runsDir, `${d.id}-full`), `${d.id} full`);
      for (const g of gapSpecs(d.gaps)) {
        const ds = path.join(prepared.dir, `ds-${gapKey(g)}`);
        const m = await evaluate(path.join(runsDir, `${d.id}-full`, 'full-masks'), ds, prepared.test, real, [], path.join(ds, 'truth'));
        rows.push({ dataset: d.id, gap: gapName(g), variant: 'full-masks', ...m, trainSeconds: t, epochs: scratchEpochs ?? d.epochs });
      }
    }
  }
  if (DATASETS.includes('allsky')) {
    const sky = await prepareHalved('allsky-cloud', 'allsky-240', 'test');
    if (!sky) missing.push('allsky-cloud');
    else {
      const real = parseClassesFlag('0=void,1=sky,2=cloud');
      const three = parseClassesFlag('0=outside,1=sky,2=cloud');
      const variants: Variant[] = [
        { id: 'gapseg', classes: real, dataset: sky.dir },
        { id: 'gapseg+uncertain', classes: real, dataset: sky.dir, gapLoss: { ...DEFAULT_UNCERTAIN, weight: UNCERTAIN_WEIGHT } },
        { id: 'gapseg+ramp', classes: real, dataset: sky.dir, gapLoss: { ...DEFAULT_RAMP, weight: RAMP_WEIGHT } },
        ...crfVariants(real, sky.dir),
        ...voidFixes(three, 'outside', undefined, [0, 1, 1], sky.dir),
      ];
      await trainVariants(
        selected([...variants, ...pretrained(real, sky.dir, undefined, voidFixes(three, 'outside', undefined, [0, 1, 1], sky.dir, true))]),
        path.join(runsDir, 'allsky'),
        'allsky',
        EPOCHS,
        null,
        (v, runDir) => evaluate(runDir, sky.dir, sky.test, real, v.forbid ?? [], null, v.refine, v.flips),
        (v, m, t, epochs) => rows.push({ dataset: 'allsky-cloud', gap: 'real void', variant: v.id, ...m, trainSeconds: t, epochs }),
      );
    }
  }
  if (DATASETS.includes('camvid')) {
    const street = await prepareHalved('camvid', 'camvid-240', 'valid');
    if (!street) missing.push('camvid');
    else {
      const names = fs.readFileSync(path.join(SHARED, 'camvid', 'codes.txt'), 'utf8').trim().split('\n').map((l) => l.trim());
      const voidValue = names.indexOf('void');
      const realNames = names.map((n, i) => `${i}=${n}`).filter((_, i) => i !== voidValue);
      const real = parseClassesFlag(realNames.join(','), [String(voidValue)]);
      const withVoid = parseClassesFlag([...realNames, `${voidValue}=gap`].join(','));
      // Median frequency weights from the training labels (the split the runs train on).
      const counts = emptyClassCounts(real.classes.length);
      const table = labelMap(real);
      for (const name of trainSubset(street.train)) {
        const lab = await readLabel(path.join(street.dir, 'labels', `${name}.png`));
        addClassCounts(counts, encodeLabels(lab.values, lab.width, table, name));
      }
      const mfb = medianFrequencyWeights(counts);
      console.error(`  [camvid] median frequency weights: ${mfb.map((w, i) => `${real.classes[i].name} ${w.toFixed(2)}`).join(', ')}`);
      const on = { dataset: street.dir, encoder: 'mobilenet_v2' as const, epochs: CAMVID_EPOCHS };
      const band = { ...DEFAULT_BAND, weight: BAND_WEIGHT, softmax: true };
      const variants: Variant[] = [
        { id: 'mobilenet_v2', classes: real, ...on },
        { id: 'mobilenet_v2+refine-auto', classes: real, ...on, reuse: 'mobilenet_v2', refine: 'auto' },
        { id: 'mobilenet_v2+no-balance', classes: real, ...on, classBalance: 0 },
        { id: 'mobilenet_v2+mfb', classes: real, classWeights: mfb, ...on },
        { id: 'mobilenet_v2+band-softmax', classes: real, ...on, gapLoss: band },
        { id: 'mobilenet_v2+band-softmax+refine-auto', classes: real, ...on, reuse: 'mobilenet_v2+band-softmax', refine: 'auto' },
        { id: 'mobilenet_v2+band-softmax+mfb', classes: real, classWeights: mfb, ...on, gapLoss: band },
        { id: 'mobilenet_v2+band-softmax+mfb+refine-auto', classes: real, ...on, reuse: 'mobilenet_v2+band-softmax+mfb', refine: 'auto' },
        { id: 'mobilenet_v2+void-class', classes: withVoid, ...on, voidAsClass: 'gap' },
        { id: 'mobilenet_v2+void-ignored', classes: withVoid, classWeights: [...mfb.map(() => 1), 0], ...on, voidAsClass: 'gap' },
        { id: 'mobilenet_v2+void-forbid', classes: withVoid, forbid: ['gap'], reuse: 'mobilenet_v2+void-class', ...on },
      ];
      if (!havePretrained) missing.push(`the MobileNetV2 weights (${WEIGHTS}; every camvid variant)`);
      else {
        await trainVariants(
          variants.filter((v) => wanted(v.id) || variants.some((u) => u.reuse === v.id && wanted(u.id))),
          path.join(runsDir, 'camvid'),
          'camvid',
          CAMVID_EPOCHS,
          null,
          (v, runDir) => evaluate(runDir, street.dir, street.test, real, v.forbid ?? [], null, v.refine, v.flips),
          (v, m, t, epochs) => rows.push({ dataset: 'camvid', gap: 'real void', variant: v.id, ...m, trainSeconds: t, epochs }),
        );
      }
    }
  }
  if (missing.length) console.log(`not found, skipped: ${missing.map((m) => (m.startsWith('the ') ? m : `${path.join(SHARED, m)}`)).join('; ')}`);
  const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const f3 = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(3));
  console.log(
    `\nGap benchmark: U-Net depth 4 width ${WIDTH}, crop ${CROP}, batch 8, class-balanced crops ${CLASS_BALANCE}, one-cycle Adam lr 5e-3, seed ${SEED}; sample: ${SAMPLE_IMAGES} generated 128-px images (80% train), ${EPOCHS} epochs; smoke at 1/${SMOKE_DIV} scale, loss weight ${SMOKE_WEIGHT}, ${SMOKE_EPOCHS} epochs; allsky-cloud at 1/2 scale, ${EPOCHS} epochs; ${havePretrained && PRETRAINED.some(wanted) ? `mobilenet_v2: the ImageNet MobileNetV2 U-Net, ${MOBILE_EPOCHS} epochs (${FINE_TUNE.freezeEpochs} frozen), lr ${MOBILE_LR}, encoder at 1/${FINE_TUNE.encoderLrDiv}; the scratch variants then train for as long (epochs in the log, seconds in the table); ` : ''}metrics on the test images at the training scale\n`,
  );
  console.log(
    table(
      ['data set', 'gap', 'variant', 'acc labelled', 'mIoU labelled', 'IoU per class', 'acc in gap', 'BF', 'Boundary IoU', 'predicted void', 'epochs', 'train s', 'predict s/img'],
      rows.map((r) => [r.dataset, r.gap, r.variant, pct(r.labelledAccuracy), f3(r.labelledMeanIoU), r.classIoU.map(f3).join(' / '), pct(r.gapAccuracy), f3(r.meanBF), f3(r.meanBoundaryIoU), pct(r.voidShare), String(r.epochs), r.trainSeconds.toFixed(0), r.predictSeconds.toFixed(3)]),
    ),
  );
  const closed = distanceClosed(rows);
  if (closed.length) {
    console.log(`\nShare of the distance to the full-mask model closed by the gap losses and refinement (scratch: gapseg to full-masks; pretrained: mobilenet_v2 to mobilenet_v2+full-masks; 1 = full-mask quality, 0 = none, < 0 = worse; n/a where the full-mask model is not ahead by ${MIN_DISTANCE})\n`);
    console.log(table(['gap', 'variant', 'acc in gap', 'BF', 'acc labelled change'], closed.map((c) => [c.gap, c.variant, f3(c.gapAccuracy), f3(c.meanBF), `${(100 * c.labelledChange).toFixed(1)} pts`])));
  }
  const crfNote = CRF_WEIGHTS.length ? ` --crf-weights ${CRF_WEIGHTS.join(',')}` : '';
  const variantsNote = VARIANTS.length ? ` --variants ${VARIANTS.join(',')}` : '';
  console.log(`\ntotal ${((Date.now() - started) / 60000).toFixed(1)} min; reproduce: npm run bench:gap -- --epochs ${EPOCHS} --width ${WIDTH} --smoke-weight ${SMOKE_WEIGHT} --smoke-div ${SMOKE_DIV} --crop ${CROP} --class-balance ${CLASS_BALANCE} --gaps ${GAPS.join(',')} --smoke-gaps ${SMOKE_GAPS.join(',')} --uneven ${UNEVEN}${SYMMETRIC === 'no' ? ' --symmetric no' : ''} --sample-images ${SAMPLE_IMAGES} --smoke-epochs ${SMOKE_EPOCHS} --mobile-epochs ${MOBILE_EPOCHS} --mobile-lr ${MOBILE_LR} --freeze-epochs ${FINE_TUNE.freezeEpochs} --encoder-lr-div ${FINE_TUNE.encoderLrDiv} --datasets ${DATASETS.join(",")}${SEED !== 1 ? ` --seed ${SEED}` : ''}${MAX_TRAIN ? ` --max-train ${MAX_TRAIN}` : ''}${crfNote}${variantsNote}`);
  const file = writeResult(argString('results', SEED === 1 ? 'gap.json' : `gap-seed${SEED}.json`), { machine: machine(), settings: { EPOCHS, GAPS, DATASETS, MAX_TRAIN, WIDTH, CRF_WEIGHTS, crf: DEFAULT_CRF, VARIANTS, SEED, UNEVEN, MOBILE_EPOCHS, MOBILE_LR, FINE_TUNE }, rows, closed });
  console.log(`results: ${file}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
