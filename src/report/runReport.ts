/**
 * A run's report.html (written atomically) from what the training run knows: its settings,
 * history and the latest validation previews. As an observer of the run it is rewritten after
 * every epoch, so the report of a run in progress is never more than one epoch old.
 */
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { TrainObserver } from '../train/run.js';
import { netConfigOf, type TrainConfig } from '../train/config.js';
import { describeNet } from '../nets/index.js';
import type { EpochRecord } from '../train/loop.js';
import { previewSource, renderPreview, type PreviewSource } from './previews.js';
import { renderReport } from './report.js';
import { describeGapLoss } from '../losses/trainingLoss.js';
import { describeRefineCheck, type RefineCheck } from '../predict/refineCheck.js';

export const REPORT_FILE = 'report.html';

/** How many validation images the report shows. */
export const REPORT_SAMPLES = 6;

export interface RunReportInput {
  config: TrainConfig;
  history: EpochRecord[];
  bestEpoch: number | null;
  previews: PreviewSource[];
  /** Epoch whose model made the previews. */
  previewEpoch: number | null;
  /** The kept model's refinement check, once training has ended. */
  refineCheck?: RefineCheck | null;
}

function settingsOf(c: TrainConfig): [string, string][] {
  return [
    ['class source', c.classSource],
    [
      'model',
      `${describeNet(netConfigOf(c))}${c.encoder === 'mobilenet_v2' ? `, ImageNet weights ${c.encoderWeights}; fine-tuning: ${c.fineTune?.freezeEpochs ?? 0} epoch(s) frozen, then the encoder at 1/${c.fineTune?.encoderLrDiv ?? 1} of the rate` : ''}`,
    ],
    ['epochs, batch, crop', `${c.epochs}, ${c.batch}, ${c.crop}px`],
    ['learning rate, weight decay', `${c.lr}, ${c.weightDecay}`],
    ['scale, tile', `${c.scale}, ${c.tile}`],
    ['made gaps', c.makeGap > 0 ? `${c.makeGap}px${c.gapUneven ? `, uneven ${c.gapUneven}` : ''}` : 'no'],
    ['class weights', c.classWeights ? c.classWeights.join(', ') : 'none'],
    ['gap loss', describeGapLoss(c.gapLoss)],
    ['validation fraction', `${Math.round(c.validFraction * 100)}% at random, when the data set lists no split`],
    ['seed', String(c.seed)],
  ];
}

/** Write <runDir>/report.html; returns its path. */
export async function writeRunReport(runDir: string, r: RunReportInput): Promise<string> {
  const colors = r.config.classes.classes.map((c) => c.color);
  const samples = [];
  for (const p of r.previews) samples.push(await renderPreview(p, colors));
  const last = r.history[r.history.length - 1];
  const html = renderReport({
    run: path.resolve(runDir),
    dataset: r.config.dataset,
    generatedAt: new Date().toISOString().replace('T', ' ').slice(0, 19) + ' UTC',
    epochsPlanned: r.config.epochs,
    finished: !!last && last.epoch >= r.config.epochs,
    settings: [
      ...settingsOf(r.config),
      ...(r.refineCheck ? ([['refinement', describeRefineCheck(r.refineCheck)]] as [string, string][]) : []),
    ],
    classes: r.config.classes.classes,
    voidValues: r.config.classes.voidValues,
    history: r.history,
    bestEpoch: r.bestEpoch,
    samples,
    samplesEpoch: r.previewEpoch,
    focusClass: colors.length - 1,
  });
  const file = path.join(runDir, REPORT_FILE);
  await writeFileAtomic(file, html);
  return file;
}

/** The observer that keeps <runDir>/report.html current: previews of the first validation images, rewritten each epoch. */
export function reportObserver(): TrainObserver {
  const previews: PreviewSource[] = [];
  return {
    onValidImage: (i, sample, probs, pred) => {
      if (i < REPORT_SAMPLES) previews[i] = previewSource(sample, probs, pred);
    },
    onEpochEnd: async (r, run) => {
      await writeRunReport(run.runDir, {
        config: run.config,
        history: run.history,
        bestEpoch: run.bestEpoch,
        previews,
        previewEpoch: r.epoch,
      });
    },
    onRunEnd: async (run, refineCheck) => {
      // Without previews (a finished run resumed, no epoch validated here) the last report stands.
      if (refineCheck && previews.length > 0)
        await writeRunReport(run.runDir, {
          config: run.config,
          history: run.history,
          bestEpoch: run.bestEpoch,
          previews,
          previewEpoch: run.history.at(-1)?.epoch ?? null,
          refineCheck,
        });
    },
  };
}
