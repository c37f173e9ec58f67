/** `gapseg eval`: metrics of a model on a data set, over labelled pixels only. */
import path from 'node:path';
import type { CommandSpec, Parsed } from './args.js';
import { flag, list, num, str } from './args.js';
import { CLASS_OPTIONS, MAX_PIXELS_OPTION, REFINE_OPTIONS, THREADS_OPTION, flipsOption, given, log, refineOption } from './common.js';
import { progressBars } from './progress.js';
import { openModel, type EvaluateOptions } from '../api/model.js';
import { formatReport } from '../evaluate/evalRun.js';
import { checkWritableDir, makeDir, writeFileAtomic } from '../util/atomic.js';
import { DEFAULT_BF_TOLERANCE, DEFAULT_BIOU_DILATION } from '../metrics/boundary.js';

export const evalSpec: CommandSpec = {
  name: 'eval',
  summary: 'evaluate a model on a data set (labelled pixels only)',
  usage: 'gapseg eval <run-or-model-dir> <dataset> [options]',
  description:
    'Reports pixel accuracy over labelled (non-void) pixels, per-class IoU and Dice, mean IoU and the\n' +
    'confusion matrix. Where a full truth exists (a truth/ folder beside labels/, --truth, or --make-gap),\n' +
    'also the accuracy inside the unlabelled gap, the boundary F1 (BF) and Boundary IoU against the full truth.\n' +
    'Always: the share of predicted frontier pixels lying in the gap, and the count of void-valued predictions.\n' +
    'Void pixels never count.',
  positional: { min: 2, max: 2, names: 'a run or model folder and a data set folder' },
  options: [
    { name: 'split', type: 'string', placeholder: 'name', help: 'test, valid, train, all, or auto (test if present, else all)', default: 'auto' },
    { name: 'json', type: 'string', placeholder: 'file', help: 'also write the metrics (and per-image rows) as JSON' },
    { name: 'truth', type: 'string', placeholder: 'dir', help: 'folder of full masks (gap-free), paired by name' },
    { name: 'make-gap', type: 'int', placeholder: 'px', help: 'erode labels by px pixels and use the full masks as truth', default: 0 },
    { name: 'gap-uneven', type: 'number', placeholder: 'u', help: 'with --make-gap: how uneven the gaps are, 0..1 (as train --gap-uneven makes them)', default: 0 },
    { name: 'bf-tolerance', type: 'number', placeholder: 'share', help: 'BF distance tolerance as a share of the image diagonal', default: DEFAULT_BF_TOLERANCE },
    { name: 'biou-band', type: 'number', placeholder: 'share', help: 'Boundary IoU band width as a share of the image diagonal', default: DEFAULT_BIOU_DILATION },
    { name: 'forbid', type: 'list', placeholder: 'name', help: 'classes never to predict' },
    ...REFINE_OPTIONS,
    ...CLASS_OPTIONS,
    MAX_PIXELS_OPTION,
    THREADS_OPTION,
    { name: 'quiet', type: 'boolean', help: 'no progress bar' },
  ],
  examples: ['gapseg eval runs/smoke data/smoke', 'gapseg eval runs/sky data/sky --split test --json sky-metrics.json'],
};

/** Run the eval command: open the model, evaluate it on the data set, print (and write) the metrics. */
export async function evalCommand(p: Parsed): Promise<number> {
  const [modelPath, dataset] = p.positional;
  const json = str(p, 'json');
  // A metrics file that cannot be written is found out before the evaluation, not after.
  if (json) checkWritableDir(path.dirname(path.resolve(json)), 0);
  const model = await openModel(modelPath, { threads: given(p, 'threads'), log });
  try {
    const result = await model.evaluate(dataset, {
      split: str(p, 'split') as EvaluateOptions['split'],
      truth: str(p, 'truth'),
      makeGap: num(p, 'make-gap'),
      gapUneven: num(p, 'gap-uneven'),
      forbid: list(p, 'forbid'),
      refine: refineOption(p),
      flips: flipsOption(p),
      classes: str(p, 'classes'),
      void: list(p, 'void'),
      classFile: str(p, 'class-file'),
      bfTolerance: num(p, 'bf-tolerance'),
      biouBand: num(p, 'biou-band'),
      maxPixels: given(p, 'max-pixels'),
      onProgress: progressBars(flag(p, 'quiet')),
    });
    process.stdout.write(formatReport(result, result.classes) + '\n');
    if (json) {
      await makeDir(path.dirname(path.resolve(json)));
      await writeFileAtomic(path.resolve(json), JSON.stringify({ model: model.source, dataset: path.resolve(dataset), ...result }, null, 2) + '\n');
      log(`metrics written to ${json}`);
    }
    return 0;
  } finally {
    model.close();
  }
}
