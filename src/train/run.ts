/**
 * A training run on disk. The run folder holds:
 *   config.json     every setting, so the run can be resumed and reproduced
 *   gapseg.json     the class description used
 *   history.json    per-epoch loss and validation metrics
 *   checkpoint.bin  state after the last completed epoch (for --resume)
 *   model/          the best model so far by validation mean IoU (layers format + gapseg.json),
 *                   with the refinement check on the validation images once training ends
 * Every file is replaced atomically. Anything else (a report, progress display, callbacks of a
 * program) is an observer of the run, wired by the caller: training knows no screen or report.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { describeEngine, engineInfo } from '../engine/engine.js';
import { checkWritableDir, makeDir, recoverDir, removeStaleTemps, writeFileAtomic } from '../util/atomic.js';
import { deriveSeed, makeRng, shuffled } from '../util/random.js';
import { classesToJson, findClassFile, readClassFile, type ClassDescription } from '../data/classes.js';
import { discoverDataset, type DatasetLayout, type PairFiles } from '../data/dataset.js';
import { assertSomeLabelled, channelStats, classCounts, loadSamples, type Sample } from '../data/load.js';
import {
  activationFloats,
  GAP_HEAD,
  buildNet,
  createNet,
  describeNet,
  disposeNet,
  initialValuesOf,
  netSpecs,
  parameterCount,
  type AnyNet,
  type NetConfig,
} from '../nets/index.js';
import { readMobileNetV2 } from '../formats/tflite/mobilenetV2.js';
import { readModelMeta, readModelValues, saveModel, setModelInfo, type InputRecipe } from '../formats/modelFolder.js';
import { DEFAULT_DENSE_CRF } from '../crf/denseCrf.js';
import { openTfjsPredictor, predictModel } from '../predict/model.js';
import { checkRefinement, describeRefineCheck, type RefineCheck } from '../predict/refineCheck.js';
import { createAdamState, disposeAdamState } from './adam.js';
import { readCheckpoint, restoreAdam, saveCheckpoint, splitCheckpointValues, type LoadedCheckpoint } from './checkpoint.js';
import { checkCheckpointFits, readRunConfig } from './runConfig.js';
import { majorityReport } from '../metrics/evaluate.js';
import { defaultClassWeights } from '../data/balance.js';
import { trainLoop, type EpochRecord, type LoopSettings, type ValidImageObserver, type ValidReport } from './loop.js';
import { noProgress, type Progress, type ProgressFactory } from '../util/progress.js';
import { DEFAULT_GAP_LOSS, defaultGapLoss, describeGapLoss, trainingLoss } from '../losses/trainingLoss.js';
import { netConfigOf, type TrainConfig } from './config.js';

/** The weights file of a pretrained encoder, which a run that names one must have. */
function requireWeights(cfg: TrainConfig): string {
  if (!cfg.encoderWeights) throw new GapsegError('a MobileNetV2 encoder needs its ImageNet weights (encoderWeights is not set)');
  return cfg.encoderWeights;
}

/** What an observer of a run sees after each epoch. */
export interface RunState {
  runDir: string;
  config: TrainConfig;
  history: EpochRecord[];
  bestEpoch: number | null;
}

/** Something that follows a run (a report, a program's callback), in the way fastai's callbacks do. */
export interface TrainObserver {
  /** Each validation image with its probabilities and predicted classes, as the epoch validates. */
  onValidImage?: ValidImageObserver;
  /** After each epoch, once the run folder holds its checkpoint, history and (if better) model. */
  onEpochEnd?: (record: EpochRecord, run: RunState) => void | Promise<void>;
  /** Once training has ended and the kept model holds its refinement check (null: none). */
  onRunEnd?: (run: RunState, refineCheck: RefineCheck | null) => void | Promise<void>;
}

export interface RunOptions {
  resume: boolean;
  /** Start over in a folder that already holds a run. */
  force: boolean;
  /** Notes and per-epoch summaries, one line each. */
  log?: (line: string) => void;
  /** Progress of loading and of each epoch (no display by default). */
  progress?: ProgressFactory;
  observers?: TrainObserver[];
  /**
   * What the kept model maximises, from an epoch's validation metrics (default: mean IoU over
   * the model's classes; without validation images, the lowest training loss is kept).
   */
  monitor?: (valid: ValidReport) => number;
  /** With resume: the data set the caller names, which must be the run's own. */
  dataset?: string;
  /** Pause after this many epochs in total (the run stays resumable with --resume). */
  stopAfterEpochs?: number;
}

export interface RunResult {
  runDir: string;
  history: EpochRecord[];
  bestEpoch: number | null;
  seconds: number;
  /** The kept model's refinement check on the validation images (null: none to check on). */
  refineCheck: RefineCheck | null;
}

/** Resolve the class description: explicit > file given > beside the data set. */
export function resolveClasses(
  dataset: string,
  fromFlags: ClassDescription | null,
  classFile: string | null,
): { classes: ClassDescription; source: string } {
  // A missing data set is the first thing to say, not its missing class description.
  const st = fs.statSync(dataset, { throwIfNoEntry: false });
  if (!st) throw new GapsegError(`${dataset}: data set folder not found`);
  if (!st.isDirectory())
    throw new GapsegError(`${dataset}: not a folder; a data set is a folder with images/ and labels/ (or train/ and trainannot/)`);
  if (fromFlags) return { classes: fromFlags, source: '--classes' };
  if (classFile) return { classes: readClassFile(classFile), source: classFile };
  const found = findClassFile(dataset);
  if (!found) {
    throw new GapsegError(
      `${dataset}: no class description; add a gapseg.json or codes.txt beside the data, or pass e.g. --classes "0=background,255=smoke" --void 128`,
    );
  }
  return { classes: readClassFile(found), source: found };
}

/** Split training pairs into train/valid by a seeded random fraction (when the files give no split). */
export function randomSplit(pairs: PairFiles[], fraction: number, seed: number): { train: PairFiles[]; valid: PairFiles[] } {
  if (pairs.length < 2 || fraction <= 0) return { train: pairs, valid: [] };
  const order = shuffled(makeRng(deriveSeed(seed, 3)), pairs);
  const nValid = Math.min(pairs.length - 1, Math.max(1, Math.round(pairs.length * fraction)));
  const valid = order.slice(0, nValid).sort((a, b) => a.name.localeCompare(b.name));
  const validNames = new Set(valid.map((p) => p.name));
  return { train: pairs.filter((p) => !validNames.has(p.name)), valid };
}

/** A saved model's values with a gap output added where the run trains one (saved models have none): its initial values. */
function withFreshGapHead(ucfg: NetConfig, values: Map<string, Float32Array>, seed: number): Map<string, Float32Array> {
  if (!ucfg.gapOutput) return values;
  const fresh = initialValuesOf(netSpecs(ucfg), deriveSeed(seed, 0));
  for (const name of Object.values(GAP_HEAD)) values.set(name, fresh.get(name) as Float32Array);
  return values;
}

/**
 * Float32 copies of the activations a training step holds at its peak, per activation float
 * of the network (nets/index.ts activationFloats), fitted on measured heaps and kept above
 * them: both networks' hand-written backward passes free as they go (the MobileNetV2 U-Net's
 * heap measured at up to 5.7 copies from crop 128 to 512, batch 2 to 8).
 */
const ACTIVATION_COPIES: Record<string, number> = { unet: 14, mobilenet_v2_unet: 7 };

/**
 * Peak wasm-heap bytes of training, estimated from the shapes: 14 float32 copies of the
 * per-level activations of a batch (forward activations kept for the backward pass, the
 * gradients in flight and kernel temporaries) plus 6 copies of the parameters (weights,
 * gradients, Adam moments, packed filters) and 32 MB of fixed overhead. Fitted on the
 * measured heaps of configurations from crop 64 to 512, width 8 to 64, depth 3 to 5 and
 * batch 2 to 16, and kept above every one of them (test/memory.test.ts checks that it covers).
 */
export function estimateTrainingBytes(
  cfg: Pick<TrainConfig, 'crop' | 'batch' | 'depth' | 'width' | 'classes' | 'encoder' | 'decoderWidths'>,
): number {
  const net = netConfigOf(cfg);
  const copies = ACTIVATION_COPIES[net.kind ?? 'unet'];
  return copies * 4 * activationFloats(net, cfg.crop) * cfg.batch + 6 * 4 * parameterCount(net) + 32e6;
}

/** The wasm heap cannot grow beyond 4 GiB. */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;

function describeEpoch(r: EpochRecord, epochs: number): string {
  const v = r.valid;
  const parts = [`epoch ${r.epoch}/${epochs}`, `loss ${r.trainLoss.toFixed(4)}`];
  if (v) {
    parts.push(`valid acc ${(100 * v.pixelAccuracy).toFixed(2)}%`, `mIoU ${v.meanIoU.toFixed(4)}`);
    if (v.gapAccuracy !== null) parts.push(`gap acc ${(100 * v.gapAccuracy).toFixed(2)}%`);
  }
  parts.push(`${r.seconds.toFixed(1)}s`, `${r.imagesPerSecond.toFixed(1)} img/s`);
  return parts.join('  ');
}

/** Refuse a run folder inside a folder of the data set's files: its files would mix with the images or labels. */
function checkOutsideData(runDir: string, layout: DatasetLayout): void {
  const run = path.resolve(runDir);
  // The data set's own folder holds its class description, which the run's would replace.
  if (run === path.resolve(layout.root)) throw new GapsegError(`${runDir}: is the data set's own folder; put the run folder elsewhere`);
  const pairs = [...layout.splits.train, ...layout.splits.valid, ...layout.splits.test];
  const folders = new Set(
    [...pairs.flatMap((p) => [p.image, p.label, ...(p.truth ? [p.truth] : [])]), ...layout.unlabelled.map((u) => u.image)].map((f) =>
      path.dirname(path.resolve(f)),
    ),
  );
  for (const f of folders) {
    if (run === f || run.startsWith(f + path.sep))
      throw new GapsegError(`${runDir}: lies inside ${f}, a folder of the data set's files; put the run folder elsewhere`);
  }
}

/** Run (or resume) a training run in `runDir`. */
export async function runTraining(runDir: string, given: TrainConfig | null, opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const progress = opts.progress ?? noProgress;
  const observers = opts.observers ?? [];
  const configFile = path.join(runDir, 'config.json');
  const checkpointFile = path.join(runDir, 'checkpoint.bin');
  let cfg: TrainConfig;
  if (opts.resume) {
    if (!fs.existsSync(configFile)) throw new GapsegError(`${runDir}: nothing to resume (no config.json); start the run without --resume`);
    cfg = readRunConfig(configFile);
    const named = given?.dataset ?? opts.dataset;
    if (named && path.resolve(named) !== path.resolve(cfg.dataset)) {
      throw new GapsegError(`${runDir}: this run was trained on ${cfg.dataset}, not ${named}`);
    }
    if (given && given.epochs !== cfg.epochs) {
      log(`note: --resume keeps the run's own settings (epochs ${cfg.epochs}); other options are ignored`);
    }
  } else {
    if (!given) throw new Error('runTraining: no config');
    cfg = given;
    if (fs.existsSync(configFile) && !opts.force) {
      throw new GapsegError(`${runDir}: already holds a run; continue it with --resume, or start over with --force`);
    }
  }
  const names = cfg.classes.classes.map((c) => `${c.value}=${c.name}`);
  if (names.length < 2) {
    throw new GapsegError(
      `${cfg.classSource}: ${names.length} real class${names.length === 1 ? '' : 'es'} (${names.join(', ') || 'none'}; void: ${cfg.classes.voidValues.join(', ') || 'none'}): training needs at least two, what surely is the object and what surely is not`,
    );
  }
  if (cfg.classWeights && cfg.classWeights.length !== cfg.classes.classes.length) {
    throw new GapsegError(
      `${cfg.classWeights.length} class weights given for ${cfg.classes.classes.length} classes (${cfg.classes.classes.map((c) => c.name).join(', ')})`,
    );
  }
  const estimate = estimateTrainingBytes(cfg);
  // The wasm heap's limit; a GPU's memory is the device's own, and TensorFlow.js says when it runs out.
  const onGpu = engineInfo()?.backend === 'webgpu';
  if (!onGpu && estimate > WASM_HEAP_LIMIT * 0.9) {
    const perBatch = estimateTrainingBytes({ ...cfg, batch: 1 });
    let fit = cfg.batch;
    while (fit > 1 && estimateTrainingBytes({ ...cfg, batch: fit }) > WASM_HEAP_LIMIT * 0.8) fit--;
    const hint = perBatch > WASM_HEAP_LIMIT * 0.8 ? 'a smaller --crop or --width' : `--batch ${fit}, or a smaller --crop`;
    throw new GapsegError(
      `training would need about ${(estimate / 1024 ** 3).toFixed(1)} GiB of memory, more than the 4 GiB wasm heap can hold; use ${hint}`,
    );
  }

  // Refuse an unwritable or full run folder before the data is loaded (nothing is created here).
  checkWritableDir(runDir);
  let ck: LoadedCheckpoint | null = null;
  if (opts.resume) {
    // A kill between the two renames of a model replacement leaves only model.old.
    await recoverDir(path.join(runDir, 'model'));
    if (fs.existsSync(checkpointFile)) {
      ck = readCheckpoint(checkpointFile);
      checkCheckpointFits(ck, netConfigOf(cfg), cfg.epochs, checkpointFile);
    }
  }

  const layout = discoverDataset(cfg.dataset, undefined, { unlabelled: cfg.skipUnlabelled === true });
  checkOutsideData(runDir, layout);
  for (const note of layout.notes) log(`note: ${note}`);
  if (layout.unlabelled.length > 0) log(`note: ${layout.unlabelled.length} image(s) have no label file yet and are left out`);
  if (layout.splits.train.length + layout.splits.valid.length === 0)
    throw new GapsegError(`${cfg.dataset}: no image has a label file yet; paint some (gapseg view) or add labels/`);
  let trainPairs = layout.splits.train;
  let validPairs = layout.splits.valid;
  if (!layout.validFromFiles) ({ train: trainPairs, valid: validPairs } = randomSplit(trainPairs, cfg.validFraction, cfg.seed));
  const total = trainPairs.length + validPairs.length;
  const loadBar: Progress = progress('loading', total, 'img');
  const loadOpts = {
    classes: cfg.classes,
    scale: cfg.scale,
    makeGap: cfg.makeGap,
    gapUneven: cfg.gapUneven ?? 0,
    limits: cfg.maxPixels ? { maxPixels: cfg.maxPixels } : undefined,
    onLoaded: () => loadBar.tick(),
  };
  const train: Sample[] = await loadSamples(trainPairs, loadOpts);
  const valid: Sample[] = await loadSamples(validPairs, loadOpts);
  loadBar.done();
  assertSomeLabelled(train, cfg.dataset);
  const k = cfg.classes.classes.length;
  // Weights where none were given (kept in config.json, so that a resumed run keeps them).
  if (!opts.resume && cfg.classWeights === null) {
    const weights = defaultClassWeights(
      train.map((s) => s.labels),
      k,
    );
    if (weights) {
      cfg = { ...cfg, classWeights: weights };
      log(
        `class weights (square roots of median frequency balancing): ${cfg.classes.classes.map((c, i) => `${c.name} ${weights[i].toFixed(2)}`).join(', ')}`,
      );
    }
  }
  const counts = classCounts(train, k);
  const labelled = counts.slice(0, k).reduce((a, b) => a + b, 0);
  // The gap loss where none was given (kept in config.json): sparse labels' void is no gap.
  const voidShare = counts[k] / Math.max(labelled + counts[k], 1);
  const gapLoss = cfg.gapLoss ?? defaultGapLoss(voidShare);
  if (cfg.gapLoss === null && gapLoss !== DEFAULT_GAP_LOSS)
    log(
      `note: ${(100 * voidShare).toFixed(1)}% of the training pixels are unlabelled, so the labels are sparse (strokes) and their void is no gap between classes: training on the labelled pixels only (--gap-loss ${gapLoss})`,
    );
  cfg = { ...cfg, gapLoss };
  log(
    `data: ${train.length} training, ${valid.length} validation images${layout.validFromFiles ? '' : ` (random ${Math.round(cfg.validFraction * 100)}%)`}; ` +
      `${((100 * counts[k]) / (labelled + counts[k])).toFixed(1)}% of training pixels are void; classes ${cfg.classes.classes.map((c, i) => `${c.name} ${((100 * counts[i]) / Math.max(labelled, 1)).toFixed(1)}%`).join(', ')}`,
  );
  log(
    `memory: about ${Math.round(estimate / 1e6)} MB of ${onGpu ? 'GPU memory' : 'the 4 GiB wasm heap'} (crop ${cfg.crop}, batch ${cfg.batch})`,
  );
  for (let i = 0; i < k; i++)
    if (counts[i] === 0) log(`warning: class "${cfg.classes.classes[i].name}" has no labelled pixel in the training images`);

  const ucfg = netConfigOf(cfg);
  // A pretrained encoder expects the normalisation it was trained with; a U-Net from scratch the data's own.
  // A run refining a model keeps the normalisation that model learned with.
  const start = cfg.initFrom ? readModelMeta(cfg.initFrom) : null;
  const pretrained = cfg.encoder === 'mobilenet_v2' && !start ? readMobileNetV2(requireWeights(cfg)) : null;
  const stats = start
    ? { mean: start.input.mean, std: start.input.std }
    : pretrained
      ? {
          mean: [pretrained.input.mean, pretrained.input.mean, pretrained.input.mean],
          std: [pretrained.input.std, pretrained.input.std, pretrained.input.std],
        }
      : channelStats(train);
  const recipe: InputRecipe = { scale: cfg.scale, mean: stats.mean, std: stats.std, tile: cfg.tile };
  let net: AnyNet;
  let adam;
  let startEpoch = 0;
  let history: EpochRecord[] = [];
  let bestScore = -Infinity;
  let bestEpoch: number | null = null;
  if (ck) {
    const parts = splitCheckpointValues(ck.values);
    net = buildNet(ucfg, parts.net);
    adam = restoreAdam(net, parts.m, parts.v, ck.state.adamStep, ck.state.adamParamSteps);
    startEpoch = ck.state.epoch;
    history = (ck.state.extra.history as EpochRecord[]) ?? [];
    bestScore = (ck.state.extra.bestScore as number) ?? -Infinity;
    bestEpoch = (ck.state.extra.bestEpoch as number | null) ?? null;
    log(`resuming after epoch ${startEpoch} of ${cfg.epochs}`);
  } else {
    net = start
      ? buildNet(ucfg, withFreshGapHead(ucfg, readModelValues(cfg.initFrom as string, start), cfg.seed))
      : createNet(ucfg, deriveSeed(cfg.seed, 0), pretrained?.encoder);
    if (start) log(`starting from the weights of ${cfg.initFrom}`);
    adam = createAdamState(net.params);
    await makeDir(runDir);
    await removeStaleTemps(runDir);
    await writeFileAtomic(configFile, JSON.stringify(cfg, null, 2) + '\n');
    await writeFileAtomic(path.join(runDir, 'gapseg.json'), JSON.stringify(classesToJson(cfg.classes), null, 2) + '\n');
    for (const f of ['checkpoint.bin', 'history.json', 'report.html']) await fs.promises.rm(path.join(runDir, f), { force: true });
    await fs.promises.rm(path.join(runDir, 'model'), { recursive: true, force: true });
  }
  await removeStaleTemps(runDir);
  const engine = engineInfo();
  if (engine) log(describeEngine(engine));
  log(
    `model: ${describeNet(ucfg)}${pretrained ? ` (ImageNet weights from ${cfg.encoderWeights})` : ''}, ${parameterCount(ucfg).toLocaleString('en')} parameters, ${k} outputs (${cfg.classes.classes.map((c) => c.name).join(', ')}); void has none${ucfg.gapOutput ? '; a gap output beside them while training (not in the saved model)' : ''}`,
  );
  log(`gap loss: ${describeGapLoss(gapLoss)}`);
  const loss = trainingLoss(gapLoss);
  const settings: LoopSettings = {
    epochs: cfg.epochs,
    batch: cfg.batch,
    lr: cfg.lr,
    weightDecay: cfg.weightDecay,
    classWeights: cfg.classWeights,
    seed: cfg.seed,
    augment: { ...cfg.augment, size: cfg.crop, gapCrops: loss.gapCrops },
    mean: recipe.mean,
    std: recipe.std,
    tile: cfg.tile,
    loss,
    fineTune: cfg.encoder === 'mobilenet_v2' ? (cfg.fineTune ?? null) : null,
  };
  let bar: Progress | null = null;
  try {
    await trainLoop(net, adam, train, valid, settings, startEpoch, Math.min(cfg.epochs, opts.stopAfterEpochs ?? cfg.epochs), {
      onEpochStart: (epoch, steps) => {
        bar = progress(`epoch ${epoch + 1}/${cfg.epochs}`, steps * cfg.batch, 'img');
      },
      onStep: (_e, _s, _n, loss) => bar?.tick(cfg.batch, `loss ${loss.toFixed(4)}`),
      onValidImage: (i, smp, probs, pred) => {
        for (const o of observers) o.onValidImage?.(i, smp, probs, pred);
      },
      onEpochEnd: async (r) => {
        bar?.done();
        history.push(r);
        log(describeEpoch(r, cfg.epochs));
        const score = r.valid ? (opts.monitor ? opts.monitor(r.valid) : r.valid.meanIoU) : -r.trainLoss;
        const info = { epoch: r.epoch, valid: r.valid, dataset: cfg.dataset, trainedAt: new Date().toISOString() };
        if (!(score <= bestScore)) {
          bestScore = Number.isNaN(score) ? -Infinity : score;
          bestEpoch = r.epoch;
          await saveModel(path.join(runDir, 'model'), net, { classes: cfg.classes, input: recipe, info });
        }
        await writeFileAtomic(path.join(runDir, 'history.json'), JSON.stringify(history, null, 2) + '\n');
        await saveCheckpoint(checkpointFile, net, adam, {
          epoch: r.epoch,
          adamStep: adam.step,
          adamParamSteps: adam.paramSteps,
          extra: { history, bestScore, bestEpoch },
        });
        for (const o of observers) await o.onEpochEnd?.(r, { runDir, config: cfg, history, bestEpoch });
      },
    });
  } finally {
    disposeNet(net);
    disposeAdamState(adam);
  }
  const kept = bestEpoch !== null ? history.find((r) => r.epoch === bestEpoch)?.valid : null;
  if (kept && valid.length > 0) {
    const lazy = majorityReport(
      valid.map((v) => v.labels),
      k,
    );
    if (!(kept.meanIoU > lazy.report.meanIoU)) {
      log(
        `warning: the kept model (epoch ${bestEpoch}) is no better than predicting "${cfg.classes.classes[lazy.classIndex].name}" everywhere ` +
          `(validation mean IoU ${kept.meanIoU.toFixed(3)} against ${lazy.report.meanIoU.toFixed(3)}): it has learnt nothing yet; train longer (--epochs) or check that the labels mark every class`,
      );
    }
  }
  const refineCheck = await storeRefineCheck(path.join(runDir, 'model'), valid, progress, log);
  for (const o of observers) await o.onRunEnd?.({ runDir, config: cfg, history, bestEpoch }, refineCheck);
  return { runDir, history, bestEpoch, seconds: (Date.now() - started) / 1000, refineCheck };
}

/** Run the refinement check on the kept model's validation images and store it in the model. */
async function storeRefineCheck(
  modelDir: string,
  valid: Sample[],
  progress: ProgressFactory,
  log: (line: string) => void,
): Promise<RefineCheck | null> {
  if (valid.length === 0 || !fs.existsSync(path.join(modelDir, 'gapseg.json'))) return null;
  const p = openTfjsPredictor(modelDir);
  try {
    const bar = progress('refine check', valid.length, 'img');
    // The samples are at the training scale already.
    const model = { ...predictModel(p), plan: { ...p.plan, scale: 1 } };
    const check = await checkRefinement(model, valid, [...p.classes.keys()], DEFAULT_DENSE_CRF, () => bar.tick(1));
    bar.done();
    if (!check) return null;
    log(describeRefineCheck(check));
    await setModelInfo(modelDir, 'refineCheck', check);
    return check;
  } finally {
    p.dispose();
  }
}
