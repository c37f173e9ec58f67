import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tinyRun } from './viewFixtures.js';
import { train } from '../src/index.js';
import { renderReport, type ReportData } from '../src/report/report.js';
import type { EpochRecord } from '../src/train/loop.js';

/** Every resource reference of an HTML page that is not inline (data:) or a fragment. */
export function externalReferences(html: string): string[] {
  const refs: string[] = [];
  for (const m of html.matchAll(/\b(?:src|href|xlink:href|action|poster|srcset)\s*=\s*["']?([^"'\s>]+)/gi))
    if (!/^(data:|#)/i.test(m[1])) refs.push(m[1]);
  for (const m of html.matchAll(/url\(\s*["']?([^"')]+)/gi)) if (!/^(data:|#)/i.test(m[1])) refs.push(m[1]);
  for (const m of html.matchAll(/@import\s+["']?([^"';]+)/gi)) refs.push(m[1]);
  return refs;
}

test('a training run writes a self-contained report.html with curves, metrics and previews', async () => {
  const { run, data, result } = await tinyRun();
  const file = path.join(run, 'report.html');
  const html = fs.readFileSync(file, 'utf8');
  assert.deepEqual(externalReferences(html), []);
  assert.doesNotMatch(html, /<script/i, 'no script needed');
  assert.doesNotMatch(html, /<link\b/i);
  assert.match(html, /<span class="badge">finished<\/span>/);
  // Curves: both series of the loss chart, one point per epoch each.
  assert.equal((html.match(/<title>train, epoch \d/g) ?? []).length, 2);
  assert.equal((html.match(/<title>validation, epoch \d/g) ?? []).length, 2);
  // The metrics table shows the kept epoch's numbers from history.json.
  const history = JSON.parse(fs.readFileSync(path.join(run, 'history.json'), 'utf8')) as EpochRecord[];
  const kept = history.find((r) => r.epoch === result.bestEpoch) as EpochRecord;
  assert.ok(kept.valid && Number.isFinite(kept.valid.loss) && kept.valid.loss > 0, 'validation loss recorded');
  assert.ok(html.includes(`${(100 * kept.valid.pixelAccuracy).toFixed(2)}%`));
  assert.ok(html.includes(kept.valid.meanIoU.toFixed(4)));
  // Four validation images, four panels each, inline JPEGs, with the frontier overlaid.
  assert.equal((html.match(/<div class="sample">/g) ?? []).length, 4);
  assert.equal((html.match(/src="data:image\/jpeg;base64,/g) ?? []).length, 16);
  assert.equal((html.match(/<path d="[^"]*" class="fr"\/>/g) ?? []).length, 8, 'a frontier over prediction and probability panels');
  assert.match(html, /void \(unlabelled\)/);
  // Once training ended, the refinement check's verdict is among the settings.
  assert.ok(result.refineCheck, 'the tiny run has validation images');
  assert.match(
    html,
    /refine check on \d+ validation image\(s\): labelled accuracy [0-9.]+% plain, [0-9.]+% refined, [0-9.]+% flip-averaged, [0-9.]+% both: --refine auto (averages flips|does not average flips).* (refines|does not refine)/,
  );
  // Resuming the finished run validates nothing: the report keeps its previews and verdict.
  await train(data, { out: run, resume: true });
  const again = fs.readFileSync(file, 'utf8');
  assert.equal((again.match(/<div class="sample">/g) ?? []).length, 4);
  assert.match(again, /refine check on \d+ validation image/);
});

test('report escapes names and marks a run in progress', () => {
  const rec: EpochRecord = { epoch: 1, trainLoss: 0.7, lr: 1e-3, seconds: 1, imagesPerSecond: 4, valid: null };
  const d: ReportData = {
    run: 'runs/<x>',
    dataset: 'data/"q"',
    generatedAt: 'now',
    epochsPlanned: 5,
    finished: false,
    settings: [['seed', '1']],
    classes: [
      { name: 'back<ground>', value: 0, color: [0, 0, 0] },
      { name: 'smoke & fire', value: 255, color: [230, 25, 75] },
    ],
    voidValues: [128],
    history: [rec],
    bestEpoch: null,
    samples: [],
    samplesEpoch: null,
    focusClass: 1,
  };
  const html = renderReport(d);
  assert.ok(!html.includes('<x>') && !html.includes('back<ground>'));
  assert.ok(html.includes('back&lt;ground&gt;') && html.includes('smoke &amp; fire'));
  assert.match(html, /training: epoch 1 of 5/);
  assert.match(html, /No validation images/);
  assert.deepEqual(externalReferences(html), []);
});
