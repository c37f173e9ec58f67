/**
 * `npm run bench:predict`: prediction speed of the reference U-Net (depth 4, widths
 * 16-32-64-128, 256 bottleneck, 2 classes) at 3x256x256, batch 4, side by side in one run:
 *
 * - gapseg predict's network (gapseg's own export on ONNX Runtime in a worker thread), one
 *   batch at a time as the plain sessions below run (the ratio's figure), with the batches in
 *   flight that predict keeps, and with two sessions sharing the threads;
 * - ONNX Runtime on PyTorch's own export of the same network (plain session, main thread);
 * - ONNX Runtime on gapseg's export with the same plain session (graph vs graph);
 * - PyTorch eager as its users deploy it (bench/torch_predict.py, Debian's python3-torch):
 *   batch norm folded, in the faster of the two memory formats;
 * - gapseg on TensorFlow.js wasm;
 * - the whole folder pipeline (decode JPEG -> network -> argmax -> PNG encode -> write);
 * - the cost of forbidding one class, as a user pays it: 3- and 12-class models predicting the
 *   same folder with and without it, as a share of the whole time.
 * PyTorch, its ONNX export on ONNX Runtime and gapseg must give the same logits on a check
 * input (within AGREE), or the benchmark fails and prints no ratio.
 *
 * Rounds of the ONNX Runtime contenders are interleaved so that a change in machine load
 * hits them alike; the medians are compared. Results go to bench/results/predict.json.
 *
 * Options: --quick (smoke run), --rounds R, --iters M (batches per round), --images N
 * (pipeline folder), --threads T, --python PATH, --no-tfjs, --no-torch.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { createUNet, DEFAULT_UNET, unetValues, type UNetConfig } from '../src/nets/unet/unet.js';
import { saveModel } from '../src/formats/modelFolder.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { openPredictor } from '../src/predict/open.js';
import { predictStream } from '../src/predict/stream.js';
import { ResultRows } from '../src/predict/rows.js';
import { makeRng } from '../src/util/random.js';
import type { Predictor } from '../src/predict/model.js';
import { writeTorchWeights } from './torchWeights.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Args {
  quick: boolean;
  rounds: number;
  iters: number;
  images: number;
  threads: number;
  python: string | null;
  tfjs: boolean;
  torch: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    rounds: Number(get('rounds') ?? (quick ? 2 : 7)),
    iters: Number(get('iters') ?? (quick ? 3 : 6)),
    images: Number(get('images') ?? (quick ? 12 : 240)),
    threads: Number(get('threads') ?? 2),
    python: get('python') ?? null,
    tfjs: !argv.includes('--no-tfjs'),
    torch: !argv.includes('--no-torch'),
  };
}

const BATCH = 4;
/** Engines agree when their logits differ by at most this, relative to max(1, largest logit). */
const AGREE = 1e-3;
const SIZE = 256;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function findPython(explicit: string | null): string | null {
  const candidates = explicit ? [explicit] : ['/usr/bin/python3', 'python3'];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

function randomBatch(seed: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: BATCH * 3 * SIZE * SIZE }, () => rng.next() * 4 - 2);
}

/** Images per second of `iters` batches through a plain onnxruntime session (main thread). */
async function plainOrtRound(session: ort.InferenceSession, x: ort.Tensor, iters: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await session.run({ [session.inputNames[0]]: x });
  return (BATCH * iters) / ((performance.now() - t0) / 1000);
}

/**
 * Images per second of `iters` batches through a predictor's network: as many in flight as
 * predict keeps (depth undefined), or `depth` at a time (1: as a plain session runs them).
 */
async function predictorRound(p: Predictor, x: Float32Array, iters: number, depth = Math.max(2, p.inflight ?? 2)): Promise<number> {
  const t0 = performance.now();
  const queue: Promise<Float32Array>[] = [];
  for (let i = 0; i < iters; i++) {
    queue.push(p.net(x.slice(), BATCH, SIZE, SIZE));
    if (queue.length >= depth) await queue.shift();
  }
  await Promise.all(queue);
  return (BATCH * iters) / ((performance.now() - t0) / 1000);
}

async function writeImages(dir: string, n: number): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const rng = makeRng(1000 + i);
    const data = Buffer.alloc(SIZE * SIZE * 3);
    const cx = rng.next() * SIZE;
    const cy = rng.next() * SIZE;
    for (let p = 0; p < SIZE * SIZE; p++) {
      const x = p % SIZE;
      const y = Math.floor(p / SIZE);
      const blob = (x - cx) ** 2 + (y - cy) ** 2 < 3000 ? 90 : 0;
      for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.max(0, Math.min(255, 60 + x / 3 + c * 20 + blob + rng.next() * 30));
    }
    const f = path.join(dir, `img${String(i).padStart(5, '0')}.jpg`);
    await sharp(data, { raw: { width: SIZE, height: SIZE, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(f);
    files.push(f);
  }
  return files;
}

/** Time of the per-image result step (argmax, probabilities) of a k-class model with and without class 1 forbidden. */
function forbidCost(k: number, reps: number): { plainMs: number; forbidMs: number } {
  const all = [...Array(k).keys()];
  const oneForbidden = all.filter((c) => c !== 1);
  const rng = makeRng(9);
  const scores = Float32Array.from({ length: k * SIZE * SIZE }, () => rng.next() * 4 - 2);
  const time = (allowed: number[]) => {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) {
      const res = new ResultRows({
        width: SIZE,
        height: SIZE,
        nw: SIZE,
        nh: SIZE,
        numClasses: k,
        allowed,
        scores: 'logits',
        probClasses: [2],
        probBits: 8,
      });
      res.rows(0, SIZE, (y, c) => scores.subarray((c * SIZE + y) * SIZE, (c * SIZE + y + 1) * SIZE));
    }
    return (performance.now() - t0) / reps;
  };
  time(all);
  time(oneForbidden);
  const plain: number[] = [];
  const forbid: number[] = [];
  for (let i = 0; i < 5; i++) {
    plain.push(time(all));
    forbid.push(time(oneForbidden));
  }
  return { plainMs: median(plain), forbidMs: median(forbid) };
}

async function pipelineRun(
  files: string[],
  p: Predictor,
  outDir: string,
  forbidden: number[],
): Promise<{ rate: number; cpuCores: number }> {
  fs.rmSync(outDir, { recursive: true, force: true });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await predictStream(files, p, { outDir, forbidden });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  if (r.failed.length || r.predicted !== files.length) throw new Error(`pipeline predicted ${r.predicted} of ${files.length}`);
  return { rate: files.length / seconds, cpuCores: (cpu.user + cpu.system) / 1e6 / seconds };
}

/** A reference U-Net of k classes, saved and exported; its ONNX predictor as predict opens it. */
async function referenceModel(
  dir: string,
  k: number,
  threads: number,
): Promise<{ dir: string; net: ReturnType<typeof createUNet>; cfg: UNetConfig; file: string; maxDiff: number; maxLogit: number }> {
  const cfg: UNetConfig = { ...DEFAULT_UNET, numClasses: k };
  const net = createUNet(cfg, 1);
  const names = k === 2 ? ['background', 'object'] : Array.from({ length: k }, (_, i) => `class${i}`);
  await saveModel(dir, net, {
    classes: {
      classes: names.map((name, i) => ({ name, value: k === 2 ? i * 255 : i, color: [(40 * i) % 256, (90 * i) % 256, (150 * i) % 256] })),
      voidValues: [],
    },
    input: { scale: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: 512 },
    info: { bench: true },
  });
  const exported = await exportOnnx(dir, { threads, version: 'bench' });
  return { dir, net, cfg, file: exported.file, maxDiff: exported.maxDiff, maxLogit: exported.maxLogit };
}

/**
 * What forbidding costs a user: the same k-class model predicting the same folder with and
 * without class 1 forbidden, rounds interleaved; the cost as a share of the whole prediction time.
 */
async function forbidPipeline(
  tmp: string,
  files: string[],
  k: number,
  threads: number,
  rounds: number,
): Promise<{ k: number; plainSeconds: number; forbidSeconds: number; costShare: number }> {
  const model = await referenceModel(path.join(tmp, `model-k${k}`), k, threads);
  const p = await openPredictor(model.dir, { engine: 'onnx', threads, sessions: 1 });
  try {
    await pipelineRun(files.slice(0, Math.min(8, files.length)), p, path.join(tmp, `warm-k${k}`), []);
    const plain: number[] = [];
    const forbid: number[] = [];
    for (let r = 0; r < rounds; r++) {
      plain.push(files.length / (await pipelineRun(files, p, path.join(tmp, `out-k${k}`), [])).rate);
      forbid.push(files.length / (await pipelineRun(files, p, path.join(tmp, `out-k${k}-forbid`), [1])).rate);
    }
    const [a, b] = [median(plain), median(forbid)];
    return { k, plainSeconds: a, forbidSeconds: b, costShare: b / a - 1 };
  } finally {
    p.dispose();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gapseg-bench-predict-'));
  const log = (s: string) => process.stderr.write(s + '\n');
  try {
    log(
      `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), load ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}; threads ${args.threads}`,
    );
    await initEngine({ ...engineOptionsFromEnv(), threads: args.threads });
    const reference = await referenceModel(path.join(tmp, 'model'), 2, args.threads);
    const { net, cfg, dir: modelDir } = reference;
    const exported = { file: reference.file, maxDiff: reference.maxDiff, maxLogit: reference.maxLogit };
    log(`gapseg export: ${exported.file}, check max |diff| ${exported.maxDiff.toExponential(2)}`);

    // predict's default (one session with all threads), and two sessions sharing the threads.
    const onnxPred = await openPredictor(modelDir, { engine: 'onnx', threads: args.threads, sessions: 1 });
    const onnxTwo = await openPredictor(modelDir, { engine: 'onnx', threads: args.threads, sessions: 2 });
    const opts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: args.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    };
    const gapsegPlain = await ort.InferenceSession.create(exported.file, opts);

    // PyTorch: eager timing and its own ONNX export.
    let torch: Record<string, unknown> | null = null;
    let torchSession: ort.InferenceSession | null = null;
    let torchNote = '';
    const python = args.torch ? findPython(args.python) : null;
    if (args.torch && !python)
      torchNote =
        'PyTorch not found: install it with `apt-get install python3-torch` (Debian) and rerun (or pass --python PATH); gapseg figures only.';
    if (python) {
      const values = await unetValues(net);
      const tw = await writeTorchWeights(tmp, cfg, values);
      // gapseg's logits on a check input, for PyTorch to compare with.
      const [ch, cw] = [64, 96];
      const rng = makeRng(5);
      const cx = Float32Array.from({ length: 3 * ch * cw }, () => rng.next() * 4 - 2);
      const cy = await onnxPred.net(cx.slice(), 1, ch, cw);
      fs.writeFileSync(path.join(tmp, 'check-in.bin'), cx);
      fs.writeFileSync(path.join(tmp, 'check-out.bin'), cy);
      const manifest = {
        unet: cfg,
        ...tw,
        check: { input: path.join(tmp, 'check-in.bin'), logits: path.join(tmp, 'check-out.bin'), height: ch, width: cw },
      };
      fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(manifest));
      const torchOnnx = path.join(tmp, 'torch.onnx');
      log(`PyTorch eager (${python})...`);
      const r = spawnSync(
        python,
        [
          path.join(ROOT, 'bench', 'torch_predict.py'),
          '--manifest',
          path.join(tmp, 'manifest.json'),
          '--onnx-out',
          torchOnnx,
          '--batch',
          String(BATCH),
          '--size',
          String(SIZE),
          '--threads',
          String(args.threads),
          '--rounds',
          String(args.rounds),
          '--iters',
          String(args.iters),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      if (r.status !== 0) throw new Error(`torch_predict.py failed:\n${r.stderr}`);
      torch = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      // The engines must compute the same network, or no ratio means anything.
      const tol = AGREE * Math.max(1, torch.check_max_abs_logit as number);
      for (const key of ['check_max_abs_diff', 'check_fused_max_abs_diff']) {
        if (!((torch[key] as number) <= tol))
          throw new Error(`PyTorch and gapseg disagree: ${key} = ${torch[key]} (tolerance ${tol.toExponential(1)}); no ratio is printed`);
      }
      torchSession = await ort.InferenceSession.create(torchOnnx, opts);
      const a = (await torchSession.run({ [torchSession.inputNames[0]]: new ort.Tensor('float32', cx.slice(), [1, 3, ch, cw]) }))[
        torchSession.outputNames[0]
      ].data as Float32Array;
      const ortDiff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - cy[i])), 0);
      if (!(ortDiff <= tol))
        throw new Error(
          `ONNX Runtime on PyTorch's export and gapseg disagree by ${ortDiff} (tolerance ${tol.toExponential(1)}); no ratio is printed`,
        );
      log(
        `PyTorch ${torch.torch}: same network as gapseg within ${(torch.check_max_abs_diff as number).toExponential(2)} (batch norm folded ${(torch.check_fused_max_abs_diff as number).toExponential(2)}, its ONNX export on ONNX Runtime ${ortDiff.toExponential(2)}; largest logit ${(torch.check_max_abs_logit as number).toFixed(2)}); eager in ${torch.eager_format} format`,
      );
    }

    const x = randomBatch(3);
    const xt = new ort.Tensor('float32', x, [BATCH, 3, SIZE, SIZE]);
    const rates: Record<string, number[]> = {
      gapsegOnnx: [],
      gapsegOnnxOneAtATime: [],
      gapsegOnnxTwoSessions: [],
      ortGapsegExport: [],
      ortTorchExport: [],
    };
    // Warm-up of every contender.
    await predictorRound(onnxPred, x, 2);
    await predictorRound(onnxTwo, x, 2);
    await plainOrtRound(gapsegPlain, xt, 1);
    if (torchSession) await plainOrtRound(torchSession, xt, 1);
    for (let r = 0; r < args.rounds; r++) {
      rates.gapsegOnnx.push(await predictorRound(onnxPred, x, args.iters));
      // One batch at a time, as the plain sessions run: the like-for-like figure for the ratio.
      rates.gapsegOnnxOneAtATime.push(await predictorRound(onnxPred, x, args.iters, 1));
      rates.gapsegOnnxTwoSessions.push(await predictorRound(onnxTwo, x, args.iters));
      rates.ortGapsegExport.push(await plainOrtRound(gapsegPlain, xt, args.iters));
      if (torchSession) rates.ortTorchExport.push(await plainOrtRound(torchSession, xt, args.iters));
      log(
        `round ${r + 1}/${args.rounds}: gapseg ${rates.gapsegOnnx.at(-1)!.toFixed(1)} (two sessions ${rates.gapsegOnnxTwoSessions.at(-1)!.toFixed(1)}), ORT(gapseg export) ${rates.ortGapsegExport.at(-1)!.toFixed(1)}${torchSession ? `, ORT(PyTorch export) ${rates.ortTorchExport.at(-1)!.toFixed(1)}` : ''} img/s`,
      );
    }

    // The whole pipeline on a folder of JPEGs, without and with a forbidden class.
    const files = await writeImages(path.join(tmp, 'images'), args.images);
    await pipelineRun(files.slice(0, Math.min(8, files.length)), onnxPred, path.join(tmp, 'warm'), []);
    const pipe = await pipelineRun(files, onnxPred, path.join(tmp, 'out'), []);
    const pipeTwo = await pipelineRun(files, onnxTwo, path.join(tmp, 'out-two'), []);
    log(`pipeline: ${pipe.rate.toFixed(1)} img/s using ${pipe.cpuCores.toFixed(2)} cores (two sessions: ${pipeTwo.rate.toFixed(1)})`);
    // Forbidding, as a user pays it: K-class models, the same folder with and without a class forbidden.
    const forbidRuns = [];
    for (const k of [3, 12]) {
      forbidRuns.push({
        ...(await forbidPipeline(tmp, files, k, args.threads, args.quick ? 1 : 3)),
        resultStep: forbidCost(k, args.quick ? 5 : 40),
      });
      const f = forbidRuns[forbidRuns.length - 1];
      log(
        `forbid, ${k} classes: ${f.plainSeconds.toFixed(2)} s -> ${f.forbidSeconds.toFixed(2)} s for ${files.length} images (${(100 * f.costShare).toFixed(1)}%); result step ${f.resultStep.plainMs.toFixed(2)} -> ${f.resultStep.forbidMs.toFixed(2)} ms per image`,
      );
    }

    let tfjsRate: number | null = null;
    if (args.tfjs) {
      const tfjsPred = await openPredictor(modelDir, { engine: 'tfjs', threads: args.threads });
      await predictorRound(tfjsPred, x, 1);
      const t: number[] = [];
      for (let r = 0; r < Math.max(1, Math.min(3, args.rounds)); r++)
        t.push(await predictorRound(tfjsPred, x, Math.max(1, Math.ceil(args.iters / 2))));
      tfjsRate = median(t);
      tfjsPred.dispose();
    }
    onnxPred.dispose();
    onnxTwo.dispose();

    const med = Object.fromEntries(
      Object.entries(rates)
        .filter(([, v]) => v.length)
        .map(([k, v]) => [k, median(v)]),
    );
    const eager = torch ? (torch.eager_median as number) : null;
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() },
      setup: {
        network: 'reference U-Net depth 4, widths 16-32-64-128, bottleneck 256, 2 classes',
        input: `${BATCH}x3x${SIZE}x${SIZE}`,
        threads: args.threads,
        rounds: args.rounds,
        itersPerRound: args.iters,
        pipelineImages: args.images,
        quick: args.quick,
      },
      imagesPerSecond: {
        gapsegOnnx: med.gapsegOnnx,
        gapsegOnnxTwoSessions: med.gapsegOnnxTwoSessions,
        ortGapsegExport: med.ortGapsegExport,
        ortTorchExport: med.ortTorchExport ?? null,
        torchEager: eager,
        tfjsWasm: tfjsRate,
        gapsegOnnxOneAtATime: med.gapsegOnnxOneAtATime,
        pipeline: pipe.rate,
        pipelineTwoSessions: pipeTwo.rate,
      },
      rounds: rates,
      ratios: {
        gapsegVsOrtTorchExport: med.ortTorchExport ? med.gapsegOnnxOneAtATime / med.ortTorchExport : null,
        gapsegInflightVsOrtTorchExport: med.ortTorchExport ? med.gapsegOnnx / med.ortTorchExport : null,
        gapsegVsTorchEager: eager ? med.gapsegOnnx / eager : null,
        pipelineVsNetwork: pipe.rate / med.gapsegOnnx,
        pipelineTwoSessionsVsItsNetwork: pipeTwo.rate / med.gapsegOnnxTwoSessions,
        pipelineVsOrtTorchExport: med.ortTorchExport ? pipe.rate / med.ortTorchExport : null,
        tfjsVsGapsegOnnx: tfjsRate ? tfjsRate / med.gapsegOnnx : null,
      },
      pipelineCpuCores: pipe.cpuCores,
      forbid: forbidRuns.map((f) => ({
        ...f,
        resultStepShareOfImageTime: (f.resultStep.forbidMs - f.resultStep.plainMs) / ((1000 * f.plainSeconds) / files.length),
      })),
      export: { maxAbsDiff: exported.maxDiff, maxAbsLogit: exported.maxLogit },
      torch,
      note: torchNote || undefined,
    };

    const f = (v: number | null | undefined, d = 1) => (v === null || v === undefined ? 'n/a' : v.toFixed(d));
    const ref = med.ortTorchExport;
    const row = (name: string, v: number | null | undefined) =>
      `${name.padEnd(44)}${f(v).padStart(9)}${(ref && v ? f(v / ref, 2) : 'n/a').padStart(12)}${(eager && v ? f(v / eager, 2) : 'n/a').padStart(12)}`;
    const lines = [
      '',
      `prediction speed, reference U-Net, ${BATCH}x3x${SIZE}x${SIZE}, ${args.threads} threads${args.quick ? ' (QUICK SMOKE RUN: numbers are not meaningful)' : ''}`,
      `${'engine'.padEnd(44)}${'img/s'.padStart(9)}${'vs ORT(pt)'.padStart(12)}${'vs PyTorch'.padStart(12)}`,
      row('gapseg network, one batch at a time (as below)', med.gapsegOnnxOneAtATime),
      row('gapseg predict network (2+ batches in flight)', med.gapsegOnnx),
      row('gapseg network, 2 sessions sharing the threads', med.gapsegOnnxTwoSessions),
      row('ONNX Runtime, gapseg export (plain session)', med.ortGapsegExport),
      row('ONNX Runtime, PyTorch export (plain session)', med.ortTorchExport),
      row(`PyTorch eager (BN folded, ${torch ? String(torch.eager_format) : 'n/a'})`, eager),
      row('gapseg on TensorFlow.js wasm', tfjsRate),
      row('gapseg pipeline: JPEG folder -> PNGs', pipe.rate),
      row('gapseg pipeline, 2 sessions', pipeTwo.rate),
      '',
      `pipeline / network: ${f(result.ratios.pipelineVsNetwork, 2)} (goal >= 0.80), using ${f(pipe.cpuCores, 2)} of ${os.cpus().length} cores; with 2 sessions: ${f(result.ratios.pipelineTwoSessionsVsItsNetwork, 2)}`,
      `gapseg network / ONNX Runtime on PyTorch's export, both one batch at a time: ${f(result.ratios.gapsegVsOrtTorchExport, 3)} (goal >= 0.95); whole pipeline / that: ${f(result.ratios.pipelineVsOrtTorchExport, 2)}`,
      ...forbidRuns.map(
        (r) =>
          `forbidding one class of ${r.k}: the whole prediction of ${files.length} JPEGs ${f(r.plainSeconds, 2)} s -> ${f(r.forbidSeconds, 2)} s (${f(100 * r.costShare, 1)}%, run-to-run noise included); its result step ${f(r.resultStep.plainMs, 2)} -> ${f(r.resultStep.forbidMs, 2)} ms per image`,
      ),
      ...(torchNote ? ['', torchNote] : []),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    const outFile = path.join(ROOT, 'bench', 'results', 'predict.json');
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
    log(`written ${path.relative(process.cwd(), outFile)}`);
    await gapsegPlain.release();
    if (torchSession) await torchSession.release();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:predict failed: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
