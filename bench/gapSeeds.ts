/**
 * Summary of the gap benchmark over training seeds: reads bench/results/gap.json (seed 1) and
 * gap-seed<N>.json (written by `npm run bench:gap -- --seed N`), and prints, per data set, gap
 * and variant, the mean and the range over the seeds found, plus how often each variant beat
 * plain gapseg on the same seed. A single seed of this small budget is noisy (one run can lose
 * 10 BF points); this is the table to draw conclusions from. Pretrained variants (mobilenet_v2+...)
 * are compared with mobilenet_v2 and bounded by mobilenet_v2+full-masks, the others with gapseg
 * and full-masks; the share of the distance closed is computed from the means over seeds.
 * --prefix p reads p.json and p-seed<N>.json instead (bench:gap's --results). Writes
 * bench/results/<prefix>-seeds.json.
 *
 *   for s in 2 3; do npm run bench:gap -- --datasets sample --seed $s; done
 *   node build/bench/gapSeeds.js
 */
import fs from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, argString, table, writeResult } from './common.js';

const PREFIX = argString('prefix', 'gap');

interface Row {
  dataset: string;
  gap: string;
  variant: string;
  labelledAccuracy: number;
  gapAccuracy: number | null;
  meanBF: number | null;
  meanBoundaryIoU: number | null;
  voidShare: number;
}

type Metric = 'labelledAccuracy' | 'gapAccuracy' | 'meanBF' | 'meanBoundaryIoU' | 'voidShare';
const METRICS: Metric[] = ['labelledAccuracy', 'gapAccuracy', 'meanBF', 'meanBoundaryIoU', 'voidShare'];

function readSeeds(): Map<number, Row[]> {
  const out = new Map<number, Row[]>();
  const files = fs.existsSync(RESULTS_DIR) ? fs.readdirSync(RESULTS_DIR) : [];
  for (const f of files) {
    if (!f.startsWith(PREFIX)) continue;
    const m = /^(?:-seed(\d+))?\.json$/.exec(f.slice(PREFIX.length));
    if (!m) continue;
    const data = JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, f), 'utf8')) as { rows: Row[] };
    out.set(m[1] ? Number(m[1]) : 1, data.rows);
  }
  return out;
}

/** The variant a variant is measured against: mobilenet_v2 for the pretrained ones, gapseg otherwise. */
const baseOf = (variant: string) => (variant.startsWith('mobilenet_v2') ? 'mobilenet_v2' : 'gapseg');
const fullOf = (variant: string) => (variant.startsWith('mobilenet_v2') ? 'mobilenet_v2+full-masks' : 'full-masks');

function main(): void {
  const seeds = readSeeds();
  if (seeds.size < 2) {
    console.log(`found ${seeds.size} gap benchmark result(s) in ${RESULTS_DIR}: run \`npm run bench:gap -- --seed N\` for more seeds first`);
    process.exit(1);
  }
  const seedList = [...seeds.keys()].sort((a, b) => a - b);
  // Only the (data set, gap) cases every seed ran.
  const key = (r: Row) => `${r.dataset}\u0000${r.gap}\u0000${r.variant}`;
  const keys = [...new Set(seedList.flatMap((s) => seeds.get(s)!.map(key)))].filter((k) => seedList.every((s) => seeds.get(s)!.some((r) => key(r) === k)));
  const pick = (s: number, k: string) => seeds.get(s)!.find((r) => key(r) === k)!;
  const summary = keys.map((k) => {
    const [dataset, gap, variant] = k.split('\u0000');
    const stats = Object.fromEntries(
      METRICS.map((m) => {
        const xs = seedList.map((s) => pick(s, k)[m]).filter((x): x is number => x !== null);
        return [m, xs.length ? { mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs) } : null];
      }),
    ) as Record<Metric, { mean: number; min: number; max: number } | null>;
    const base = `${dataset}\u0000${gap}\u0000${baseOf(variant)}`;
    // Seeds on which this variant placed the frontier better than its base (BF), for the same data and seed.
    const beatsGapseg = variant === baseOf(variant) || !keys.includes(base) ? null : seedList.filter((s) => (pick(s, k).meanBF ?? 0) > (pick(s, base).meanBF ?? 0)).length;
    return { dataset, gap, variant, stats, beatsGapsegBF: beatsGapseg };
  });
  // The share of the distance from the base to the full-mask model closed, from the means.
  const closed = summary.flatMap((r) => {
    const of = (variant: string) => summary.find((x) => x.dataset === r.dataset && x.gap === r.gap && x.variant === variant);
    const base = of(baseOf(r.variant));
    const full = of(fullOf(r.variant));
    if (!base || !full || r === base || r === full || r.variant.endsWith('full-masks')) return [];
    const share = (m: Metric) => {
      const [a, b, f] = [r.stats[m]?.mean, base.stats[m]?.mean, full.stats[m]?.mean];
      return a === undefined || b === undefined || f === undefined || f - b < 0.01 ? null : (a - b) / (f - b);
    };
    return [{ dataset: r.dataset, gap: r.gap, variant: r.variant, gapAccuracy: share('gapAccuracy'), meanBF: share('meanBF') }];
  });
  const pct = (s: { mean: number; min: number; max: number } | null) => (s ? `${(100 * s.mean).toFixed(1)} (${(100 * s.min).toFixed(1)}-${(100 * s.max).toFixed(1)})` : 'n/a');
  const f3 = (s: { mean: number; min: number; max: number } | null) => (s ? `${s.mean.toFixed(3)} (${s.min.toFixed(3)}-${s.max.toFixed(3)})` : 'n/a');
  console.log(`\nGap benchmark over seeds ${seedList.join(', ')}: mean (min-max)\n`);
  console.log(
    table(
      ['data set', 'gap', 'variant', 'acc labelled %', 'acc in gap %', 'BF', 'Boundary IoU', 'predicted void %', 'BF > base'],
      summary.map((r) => [r.dataset, r.gap, r.variant, pct(r.stats.labelledAccuracy), pct(r.stats.gapAccuracy), f3(r.stats.meanBF), f3(r.stats.meanBoundaryIoU), pct(r.stats.voidShare), r.beatsGapsegBF === null ? '' : `${r.beatsGapsegBF}/${seedList.length}`]),
    ),
  );
  const f2 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(2));
  if (closed.length) {
    console.log(`\nShare of the distance from the base (gapseg, or mobilenet_v2 for mobilenet_v2+...) to the full-mask model closed, from the means (n/a: full masks not ahead by 0.01)\n`);
    console.log(table(['data set', 'gap', 'variant', 'acc in gap', 'BF'], closed.map((c) => [c.dataset, c.gap, c.variant, f2(c.gapAccuracy), f2(c.meanBF)])));
  }
  const file = writeResult(`${PREFIX}-seeds.json`, { seeds: seedList, summary, closed });
  console.log(`results: ${file}`);
}

main();
