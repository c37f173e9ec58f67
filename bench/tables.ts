/**
 * The gap benchmark's recorded results (docs/results/*.json, written by bench:gap) rendered into
 * the tables of README.md and docs/benchmarks.md, so that no figure in them is typed by hand.
 * `npm run docs:tables` rewrites the tables between their markers; `--check` only says whether
 * they are current (a test runs it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_DIR } from './common.js';

const ROOT = path.resolve(BENCH_DIR, '..');
export const RESULTS = path.join(ROOT, 'docs', 'results');

type Stat = { mean: number; min: number; max: number } | null;
interface Summary {
  dataset: string;
  gap: string;
  variant: string;
  seeds: number;
  stats: Record<'labelledAccuracy' | 'labelledMeanIoU' | 'gapAccuracy' | 'meanBF' | 'voidShare', Stat>;
  classIoU: number[];
}
interface Row {
  dataset: string;
  gap: string;
  variant: string;
  seed: number;
  auto: string | null;
}
export interface Results {
  protocol: string;
  seeds: number[];
  rows: Row[];
  summary: Summary[];
  /** Class names of the data sets whose per-class IoU is shown. */
  classNames?: Record<string, string[]>;
}

/** What each variant is, in words, and the README's order. */
const VARIANTS: [string, string][] = [
  ['gapseg', 'gapseg, no flags'],
  ['gapseg:plain', 'gapseg, `--refine none`'],
  ['no-gap-loss', '`--gap-loss none`'],
  ['no-gap-loss:plain', '`--gap-loss none --refine none`'],
  ['no-gap-loss-equal', '`--gap-loss none`, equal class weights'],
  ['no-gap-loss-equal:plain', '`--gap-loss none --refine none`, equal class weights'],
  ['before', '`--gap-loss none --class-balance 0 --refine none`, equal class weights (the defaults before)'],
  ['equal-weights', 'gapseg with equal class weights'],
  ['equal-weights:plain', 'the same, `--refine none`'],
  ['mfb', 'gapseg with median frequency class weights'],
  ['mfb:plain', 'the same, `--refine none`'],
  ['mfb-sqrt', 'gapseg with the square roots of median frequency weights (of all training images)'],
  ['mfb-sqrt:plain', 'the same, `--refine none`'],
  ['balance-1', '`--class-balance 1`'],
  ['balance-1:plain', '`--class-balance 1 --refine none`'],
  ['unet', '`--encoder unet`'],
  ['unet:plain', '`--encoder unet --refine none`'],
  ['unet-no-gap-loss', '`--encoder unet --gap-loss none`'],
  ['unet-no-gap-loss:plain', '`--encoder unet --gap-loss none --refine none`'],
  ['void-class', 'void as a class (fastai)'],
  ['void-forbid', 'void as a class, then forbidden'],
  ['void-ignored', 'void as an ignored output'],
  ['full-masks', 'full masks, no gap (upper bound)'],
];
/** The rows of the README's summary. */
const SUMMARY_ROWS = ['gapseg', 'before', 'void-forbid', 'void-ignored', 'void-class', 'full-masks'];
const DATASETS: [string, string][] = [
  ['smoke-256', 'smoke'],
  ['allsky-cloud', 'allsky-cloud'],
  ['camvid', 'CamVid'],
  ['sample-200', 'the sample'],
];

const pct = (s: Stat) => (s ? (100 * s.mean).toFixed(1) : 'n/a');
const f3 = (s: Stat) => (s ? s.mean.toFixed(3) : 'n/a');
const range = (s: Stat, f: (x: number) => string) => (s ? `${f(s.mean)} (${f(s.min)}-${f(s.max)})` : 'n/a');
const name = (v: string) => VARIANTS.find(([id]) => id === v)?.[1] ?? v;
const order = (v: string) => {
  const i = VARIANTS.findIndex(([id]) => id === v);
  return i < 0 ? VARIANTS.length : i;
};
const datasetName = (d: string) => DATASETS.find(([id]) => id === d)?.[1] ?? d;
const table = (header: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** Every recorded result file. */
export function readResults(dir = RESULTS): Results[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Results);
}

/** The (data set, gap) cases of the results, in the README's order. */
function cases(results: Results[]): { dataset: string; gap: string; summary: Summary[]; result: Results }[] {
  const out = results.flatMap((r) =>
    [...new Set(r.summary.map((s) => `${s.dataset}\u0000${s.gap}`))].map((k) => {
      const [dataset, gap] = k.split('\u0000');
      return {
        dataset,
        gap,
        result: r,
        summary: r.summary.filter((s) => s.dataset === dataset && s.gap === gap).sort((a, b) => order(a.variant) - order(b.variant)),
      };
    }),
  );
  const rank = (d: string) => {
    const i = DATASETS.findIndex(([id]) => id === d);
    return i < 0 ? DATASETS.length : i;
  };
  return out.sort((a, b) => rank(a.dataset) - rank(b.dataset) || a.gap.localeCompare(b.gap));
}

/** The README's table: per data set and gap, gapseg with no flags against the void fixes and full masks, means over seeds. */
export function renderSummary(results: Results[]): string {
  const rows = cases(results).flatMap((c) =>
    c.summary
      .filter((s) => SUMMARY_ROWS.includes(s.variant))
      .map((s, i) => [
        i === 0 ? `${datasetName(c.dataset)}, ${c.gap}` : '',
        name(s.variant),
        pct(s.stats.labelledAccuracy),
        f3(s.stats.labelledMeanIoU),
        pct(s.stats.gapAccuracy),
        f3(s.stats.meanBF),
        pct(s.stats.voidShare),
        String(s.seeds),
      ]),
  );
  return table(['data, gap', 'training', 'acc labelled %', 'mean IoU', 'acc in gap %', 'BF', 'predicted void %', 'seeds'], rows);
}

/** docs/benchmarks.md's tables: every variant of every case, mean (min-max) over seeds, what auto chose, per-class IoU. */
export function renderFull(results: Results[]): string {
  const parts: string[] = [];
  for (const c of cases(results)) {
    parts.push(`### ${datasetName(c.dataset)}, ${c.gap}`, '', `Seeds ${c.result.seeds.join(', ')}; ${c.result.protocol}.`, '');
    const chose = (variant: string) => {
      const autos = c.result.rows
        .filter((r) => r.dataset === c.dataset && r.gap === c.gap && r.variant === variant && r.auto)
        .map((r) => `${r.seed}: ${r.auto}`);
      return autos.join('; ');
    };
    parts.push(
      table(
        ['training', 'acc labelled %', 'mean IoU', 'acc in gap %', 'BF', 'predicted void %', '`--refine auto` chose (seed: choice)'],
        c.summary.map((s) => [
          name(s.variant),
          range(s.stats.labelledAccuracy, (x) => (100 * x).toFixed(1)),
          range(s.stats.labelledMeanIoU, (x) => x.toFixed(3)),
          range(s.stats.gapAccuracy, (x) => (100 * x).toFixed(1)),
          range(s.stats.meanBF, (x) => x.toFixed(3)),
          range(s.stats.voidShare, (x) => (100 * x).toFixed(1)),
          chose(s.variant),
        ]),
      ),
      '',
    );
    const classes = c.result.classNames?.[c.dataset];
    if (classes && classes.length > 2) {
      parts.push(
        `IoU per class (mean over seeds):`,
        '',
        table(
          ['training', ...classes, 'classes at IoU 0 on every seed'],
          c.summary.map((s) => [name(s.variant), ...s.classIoU.map((x) => x.toFixed(2)), String(s.classIoU.filter((x) => x === 0).length)]),
        ),
        '',
      );
    }
  }
  return parts.join('\n').trim();
}

/** `text` with the lines between `<!-- bench:name -->` and `<!-- /bench:name -->` replaced by `content`. */
export function replaceBlock(text: string, block: string, content: string): string {
  const open = `<!-- bench:${block} -->`;
  const close = `<!-- /bench:${block} -->`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`no ${open} ... ${close} block`);
  return `${text.slice(0, a + open.length)}\n${content}\n${text.slice(b)}`;
}

/** The files with their tables as the results render them. */
export function renderedFiles(results = readResults()): { file: string; text: string }[] {
  const readme = path.join(ROOT, 'README.md');
  const bench = path.join(ROOT, 'docs', 'benchmarks.md');
  return [
    { file: readme, text: replaceBlock(fs.readFileSync(readme, 'utf8'), 'summary', renderSummary(results)) },
    { file: bench, text: replaceBlock(fs.readFileSync(bench, 'utf8'), 'full', renderFull(results)) },
  ];
}

function main(): void {
  const check = process.argv.includes('--check');
  const stale = renderedFiles().filter((f) => fs.readFileSync(f.file, 'utf8') !== f.text);
  if (check) {
    for (const f of stale)
      console.error(`${path.relative(ROOT, f.file)}: its benchmark tables differ from docs/results (run npm run docs:tables)`);
    process.exit(stale.length ? 1 : 0);
  }
  for (const f of stale) {
    fs.writeFileSync(`${f.file}.tmp`, f.text);
    fs.renameSync(`${f.file}.tmp`, f.file);
    console.log(`rewrote the tables of ${path.relative(ROOT, f.file)}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(BENCH_DIR, '..', 'build', 'bench', 'tables.js')) main();
