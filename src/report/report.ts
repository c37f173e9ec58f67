/**
 * The training report: one self-contained HTML page (inline CSS and SVG, images as data:
 * URIs, no script, nothing fetched) with the loss and metric curves, the validation metrics
 * of the kept model, and a grid of validation images with label, prediction and frontier.
 * Pure: data in, HTML text out (see runReport.ts for the files).
 */
import type { EpochRecord } from '../train/loop.js';

/** One validation image, already rendered to small PNGs. */
export interface ReportSample {
  name: string;
  /** Size of the panels (the image may have been scaled down to fit). */
  width: number;
  height: number;
  /** data: URIs of the panels. */
  image: string;
  label: string;
  prediction: string;
  heat: string;
  /** SVG path data of the frontier, in panel pixel coordinates. */
  frontier: string;
  accuracy: number;
  meanIoU: number;
  gapAccuracy: number | null;
}

export interface ReportClass {
  name: string;
  value: number;
  color: readonly [number, number, number];
}

export interface ReportData {
  /** The run folder, as the reader knows it. */
  run: string;
  dataset: string;
  generatedAt: string;
  epochsPlanned: number;
  /** False while training is still going on (the page says so). */
  finished: boolean;
  settings: [string, string][];
  classes: ReportClass[];
  voidValues: number[];
  history: EpochRecord[];
  /** Epoch of the kept model (best validation mean IoU), if any. */
  bestEpoch: number | null;
  samples: ReportSample[];
  /** Epoch whose model predicted the sample grid. */
  samplesEpoch: number | null;
  /** Class whose probability the heat panels show. */
  focusClass: number;
}

/** Escape text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const pct = (x: number | null | undefined, digits = 2): string =>
  x === null || x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(digits)}%`;
const fix = (x: number | null | undefined, digits = 4): string =>
  x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits);
const rgb = (c: readonly number[]): string => `rgb(${c[0]},${c[1]},${c[2]})`;

interface Series {
  name: string;
  color: string;
  dash?: boolean;
  points: [number, number][];
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** An inline SVG line chart of per-epoch series (x = epoch). */
export function lineChart(title: string, series: Series[], xMax: number, y: { min: number; max: number | null; percent: boolean }): string {
  const W = 480;
  const H = 260;
  const m = { l: 52, r: 14, t: 30, b: 58 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => Number.isFinite(v));
  const yMax = y.max ?? niceMax(Math.max(...all, 0));
  const xs = (e: number) => m.l + (xMax <= 1 ? pw / 2 : ((e - 1) / (xMax - 1)) * pw);
  const ys = (v: number) => m.t + ph - ((v - y.min) / (yMax - y.min)) * ph;
  const out: string[] = [
    `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">`,
  ];
  out.push(`<text x="${m.l}" y="18" class="ct">${escapeHtml(title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = y.min + ((yMax - y.min) * i) / 4;
    const yy = ys(v).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${yy}" y2="${yy}" class="grid"/>`);
    out.push(`<text x="${m.l - 6}" y="${yy}" class="yt">${y.percent ? `${Math.round(v * 100)}%` : +v.toPrecision(3)}</text>`);
  }
  const step = Math.max(1, Math.ceil(xMax / 10));
  for (let e = 1; e <= xMax; e += step) out.push(`<text x="${xs(e).toFixed(1)}" y="${m.t + ph + 16}" class="xt">${e}</text>`);
  out.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 32}" class="xl">epoch</text>`);
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" class="frame"/>`);
  let lx = m.l;
  for (const s of series) {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length === 0) continue;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${xs(p[0]).toFixed(1)} ${ys(p[1]).toFixed(1)}`).join('');
    out.push(`<path d="${d}" stroke="${s.color}" class="line${s.dash ? ' dash' : ''}"/>`);
    for (const p of pts) {
      const label = `${s.name}, epoch ${p[0]}: ${y.percent ? pct(p[1]) : fix(p[1])}`;
      out.push(
        `<circle cx="${xs(p[0]).toFixed(1)}" cy="${ys(p[1]).toFixed(1)}" r="2.6" fill="${s.color}"><title>${escapeHtml(label)}</title></circle>`,
      );
    }
    const ly = H - 12;
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" class="line${s.dash ? ' dash' : ''}"/>`);
    out.push(`<text x="${lx + 22}" y="${ly}" class="lg">${escapeHtml(s.name)}</text>`);
    lx += 34 + s.name.length * 7.2;
  }
  out.push('</svg>');
  return out.join('');
}

function charts(d: ReportData): string {
  const h = d.history;
  const xMax = Math.max(d.epochsPlanned, h.length ? h[h.length - 1].epoch : 1, 1);
  const valid = h.filter((r) => r.valid);
  const loss = lineChart(
    'Loss (cross-entropy on labelled pixels)',
    [
      { name: 'train', color: '#1f77b4', points: h.map((r) => [r.epoch, r.trainLoss]) },
      {
        name: 'validation',
        color: '#d62728',
        points: valid.filter((r) => r.valid?.loss !== undefined).map((r) => [r.epoch, r.valid?.loss as number]),
      },
    ],
    xMax,
    { min: 0, max: null, percent: false },
  );
  const metricSeries: Series[] = [
    { name: 'accuracy', color: '#2ca02c', points: valid.map((r) => [r.epoch, r.valid?.pixelAccuracy as number]) },
    { name: 'mean IoU', color: '#9467bd', points: valid.map((r) => [r.epoch, r.valid?.meanIoU as number]) },
    { name: 'mean Dice', color: '#8c564b', dash: true, points: valid.map((r) => [r.epoch, r.valid?.meanDice as number]) },
  ];
  if (valid.some((r) => r.valid?.gapAccuracy !== null)) {
    metricSeries.push({
      name: 'gap accuracy',
      color: '#ff7f0e',
      points: valid.map((r) => [r.epoch, (r.valid?.gapAccuracy ?? NaN) as number]),
    });
  }
  const metrics = valid.length
    ? lineChart('Validation metrics (labelled pixels)', metricSeries, xMax, { min: 0, max: 1, percent: true })
    : '<p class="note">No validation images, so no validation metrics: every pair went to training.</p>';
  return `<div class="charts">${loss}${metrics}</div>`;
}

function metricsTables(d: ReportData): string {
  const rec = d.history.find((r) => r.epoch === d.bestEpoch) ?? d.history[d.history.length - 1];
  const v = rec?.valid;
  if (!rec || !v) return '<p class="note">No validation metrics yet.</p>';
  const kept = d.bestEpoch === rec.epoch ? `the kept model (epoch ${rec.epoch}, best validation mean IoU)` : `epoch ${rec.epoch}`;
  const summary = [
    ['accuracy on labelled pixels', pct(v.pixelAccuracy)],
    ['mean IoU', fix(v.meanIoU)],
    ['mean Dice', fix(v.meanDice)],
    ['accuracy inside the gap', v.gapAccuracy === null ? 'no full truth' : pct(v.gapAccuracy)],
    ['validation loss', fix(v.loss)],
    ['labelled pixels', v.pixels.toLocaleString('en')],
    ['images', String(v.images)],
  ];
  const rowSums = v.confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const colSums = d.classes.map((_, j) => v.confusion.reduce((a, row) => a + row[j], 0));
  const total = rowSums.reduce((a, b) => a + b, 0);
  const swatch = (c: ReportClass) => `<span class="sw" style="background:${rgb(c.color)}"></span>`;
  const perClass = d.classes
    .map(
      (c, i) =>
        `<tr><td>${swatch(c)}${escapeHtml(c.name)}</td><td>${c.value}</td><td>${fix(v.iou[i])}</td><td>${fix(v.dice[i])}</td>` +
        `<td>${pct(total ? rowSums[i] / total : NaN, 1)}</td><td>${pct(total ? colSums[i] / total : NaN, 1)}</td></tr>`,
    )
    .join('');
  const head = d.classes.map((c) => `<th>${escapeHtml(c.name)}</th>`).join('');
  const conf = v.confusion
    .map((row, i) => {
      const cells = row
        .map((n, j) => {
          const share = rowSums[i] ? n / rowSums[i] : 0;
          const bg = i === j ? `rgba(44,160,44,${(0.15 + 0.6 * share).toFixed(2)})` : `rgba(214,39,40,${(0.75 * share).toFixed(2)})`;
          return `<td style="background:${bg}">${n.toLocaleString('en')}<br><small>${pct(rowSums[i] ? share : NaN, 1)}</small></td>`;
        })
        .join('');
      return `<tr><th>${escapeHtml(d.classes[i].name)}</th>${cells}</tr>`;
    })
    .join('');
  return (
    `<p>Validation metrics of ${kept}, counted on labelled pixels only: void pixels count nowhere.</p>` +
    `<div class="tables"><table class="kv">${summary.map(([a, b]) => `<tr><th>${a}</th><td>${b}</td></tr>`).join('')}</table>` +
    `<table><thead><tr><th>class</th><th>label value</th><th>IoU</th><th>Dice</th><th>labelled share</th><th>predicted share</th></tr></thead><tbody>${perClass}</tbody></table>` +
    `<table class="conf"><thead><tr><th>truth \\ predicted</th>${head}</tr></thead><tbody>${conf}</tbody></table></div>`
  );
}

function sampleGrid(d: ReportData): string {
  if (d.samples.length === 0) return '<p class="note">No validation images to show.</p>';
  const focus = d.classes[d.focusClass]?.name ?? `class ${d.focusClass}`;
  const fig = (s: ReportSample, src: string, caption: string, frontier: boolean) =>
    `<figure><div class="px" style="aspect-ratio:${s.width}/${s.height}"><img src="${src}" alt="${escapeHtml(caption)}" width="${s.width}" height="${s.height}">` +
    (frontier
      ? `<svg viewBox="0 0 ${s.width} ${s.height}" preserveAspectRatio="none"><path d="${s.frontier}" class="fr-bg"/><path d="${s.frontier}" class="fr"/></svg>`
      : '') +
    `</div><figcaption>${escapeHtml(caption)}</figcaption></figure>`;
  const rows = d.samples
    .map(
      (s) =>
        `<div class="sample"><h3>${escapeHtml(s.name)} <small>accuracy ${pct(s.accuracy, 1)} · mean IoU ${fix(s.meanIoU, 3)}` +
        `${s.gapAccuracy === null ? '' : ` · in the gap ${pct(s.gapAccuracy, 1)}`}</small></h3>` +
        fig(s, s.image, 'image', false) +
        fig(s, s.label, 'label (void hatched)', false) +
        fig(s, s.prediction, 'prediction + frontier', true) +
        fig(s, s.heat, `p(${focus}) + frontier`, true) +
        '</div>',
    )
    .join('');
  const legend =
    d.classes.map((c) => `<span><span class="sw" style="background:${rgb(c.color)}"></span>${escapeHtml(c.name)}</span>`).join('') +
    '<span><span class="sw void"></span>void (unlabelled)</span><span><span class="sw fr-sw"></span>frontier</span>';
  return (
    `<p>Predictions of the model after epoch ${d.samplesEpoch ?? '–'} on the first ${d.samples.length} validation images. ` +
    `Classes drawn in black are left untinted.</p><p class="legend">${legend}</p><div class="grid">${rows}</div>`
  );
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:16px 28px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c6ccd8}
main{padding:8px 28px 40px;max-width:1200px}h2{margin:28px 0 8px;font-size:17px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;margin-left:8px;background:#2ca02c}.badge.running{background:#ff7f0e}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{background:#fff;border:1px solid #d8dce3;border-radius:6px;max-width:100%;height:auto}
.chart .ct{font-weight:600;font-size:13px}.chart .grid{stroke:#e6e8ec}.chart .frame{fill:none;stroke:#b8bec9}
.chart .yt{font-size:11px;text-anchor:end;dominant-baseline:middle;fill:#555}.chart .xt{font-size:11px;text-anchor:middle;fill:#555}
.chart .xl{font-size:11px;text-anchor:middle;fill:#555}.chart .lg{font-size:12px}.chart .line{fill:none;stroke-width:2}.chart .dash{stroke-dasharray:5 3}
table{border-collapse:collapse;background:#fff;margin:0 16px 12px 0}td,th{border:1px solid #d8dce3;padding:4px 10px;text-align:right}
th{background:#eef0f4;font-weight:600}table.kv th{text-align:left}td:first-child{text-align:left}.conf td{text-align:center;min-width:70px}
.tables{display:flex;flex-wrap:wrap;align-items:flex-start}
.sw{display:inline-block;width:14px;height:14px;border:1px solid #888;vertical-align:-2px;margin-right:6px}
.sw.void{background:repeating-linear-gradient(45deg,#ffe600 0 3px,#141414 3px 6px)}.sw.fr-sw{border:none;height:3px;vertical-align:3px;background:#00e5ff}
.legend span{margin-right:16px}.note{color:#666;font-style:italic}
.grid{display:flex;flex-direction:column;gap:10px}.sample{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:8px;background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:8px 10px}
.sample h3{grid-column:1/-1;margin:0;font-size:13px}.sample h3 small{font-weight:400;color:#555;margin-left:8px}
figure{margin:0}.px{position:relative;width:100%}.px img{width:100%;height:100%;display:block;image-rendering:pixelated}
.px svg{position:absolute;inset:0;width:100%;height:100%}.fr,.fr-bg{fill:none;vector-effect:non-scaling-stroke;stroke-linejoin:round}.fr{stroke:#00e5ff;stroke-width:1.6}.fr-bg{stroke:rgba(0,0,0,.7);stroke-width:3.6}
figcaption{font-size:12px;color:#555;text-align:center}dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:0}dt{color:#555}dd{margin:0}
`;

/** The report page. */
export function renderReport(d: ReportData): string {
  const last = d.history[d.history.length - 1];
  const status = d.finished
    ? `<span class="badge">finished</span>`
    : `<span class="badge running">training: epoch ${last ? last.epoch : 0} of ${d.epochsPlanned}</span>`;
  const settings = d.settings.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  const classes = d.classes.map((c) => `${escapeHtml(c.name)} = ${c.value}`).join(', ');
  const voids = d.voidValues.length ? d.voidValues.join(', ') : 'none';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gapseg report: ${escapeHtml(d.run)}</title><style>${CSS}</style></head>
<body><header><h1>gapseg training report${status}</h1><p>${escapeHtml(d.run)} · data ${escapeHtml(d.dataset)} · written ${escapeHtml(d.generatedAt)}</p></header>
<main>
<h2>Curves</h2>${charts(d)}
<h2>Final metrics</h2>${metricsTables(d)}
<h2>Validation images</h2>${sampleGrid(d)}
<h2>Run</h2><dl><dt>classes</dt><dd>${classes}</dd><dt>void label values</dt><dd>${voids}</dd>${settings}</dl>
</main></body></html>
`;
}
