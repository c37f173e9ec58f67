/**
 * `npm run bench:predict`: prediction speed of the reference U-Net (depth 4, widths
 * 16-32-64-128, 256 bottleneck, 2 classes) at 3x256x256, batch 4, side by side in one run:
 *
 * - gapseg predict's network (gapseg's own export on ONNX Runtime in a worker thread, as
 *   predict runs it), and the same with two sessions sharing the threads;
 * - ONNX Runtime on PyTorch's own export of the same network (plain session, main thread);
 * - ONNX Runtime on gapseg's export with the same plain session (graph vs graph);
 * - PyTorch eager (bench/torch_predict.py, Debian's python3-torch);
 * - gapseg on TensorFlow.js wasm;
 * - the whole folder pipeline (decode JPEG -> network -> argmax -> PNG encode -> write);
 * - the cost of forbidding a class.
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
import { convKernelToOnnx, upKernelToOnnx } from '../src/formats/onnx/unetGraph.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { openPredictor } from '../src/predict/open.js';
import { predictStream } from '../src/predict/stream.js';
import { ResultRows } from '../src/predict/rows.js';
import { makeRng } from '../src/util/random.js';
import type { Predictor } from '../src/predict/model.js';

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
const SIZE = 256;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** gapseg tensor names -> PyTorch state_dict names of bench/torch_predict.py's UNet. */
async function writeTorchWeights(dir: string, cfg: UNetConfig, values: Map<string, Float32Array>): Promise<{ weights: string; tensors: { name: string; shape: number[]; offset: number }[] }> {
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  const w = Array.from({ length: cfg.depth + 1 }, (_, i) => cfg.baseWidth * 2 ** i);
  const v = (n: string) => values.get(n)!;
  const block = (gname: string, tname: string, cin: number, cout: number) => {
    for (const [n, conv, bn] of [[1, 0, 1], [2, 3, 4]] as const) {
      const ci = n === 1 ? cin : cout;
      tensors.push({ name: `${tname}.${conv}.weight`, shape: [cout, ci, 3, 3], data: convKernelToOnnx(v(`${gname}_conv${n}/kernel`), 3, 3, ci, cout) });
      tensors.push({ name: `${tname}.${bn}.weight`, shape: [cout], data: v(`${gname}_bn${n}/gamma`) });
      tensors.push({ name: `${tname}.${bn}.bias`, shape: [cout], data: v(`${gname}_bn${n}/beta`) });
      tensors.push({ name: `${tname}.${bn}.running_mean`, shape: [cout], data: v(`${gname}_bn${n}/moving_mean`) });
      tensors.push({ name: `${tname}.${bn}.running_var`, shape: [cout], data: v(`${gname}_bn${n}/moving_variance`) });
    }
  };
  let cin = cfg.inChannels;
  for (let i = 0; i < cfg.depth; i++) {
    block(`enc${i}`, `enc.${i}`, cin, w[i]);
    cin = w[i];
  }
  block('mid', 'mid', cin, w[cfg.depth]);
  for (let i = cfg.depth - 1; i >= 0; i--) {
    const j = cfg.depth - 1 - i;
    tensors.push({ name: `up.${j}.weight`, shape: [w[i + 1], w[i], 2, 2], data: upKernelToOnnx(v(`dec${i}_up/kernel`), w[i + 1], w[i]) });
    tensors.push({ name: `up.${j}.bias`, shape: [w[i]], data: v(`dec${i}_up/bias`) });
    block(`dec${i}`, `dec.${j}`, 2 * w[i], w[i]);
  }
  tensors.push({ name: 'head.weight', shape: [cfg.numClasses, w[0], 1, 1], data: convKernelToOnnx(v('head/kernel'), 1, 1, w[0], cfg.numClasses) });
  tensors.push({ name: 'head.bias', shape: [cfg.numClasses], data: v('head/bias') });
  const file = path.join(dir, 'torch-weights.bin');
  const fd = fs.openSync(file, 'w');
  let offset = 0;
  const index = tensors.map((t) => {
    fs.writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    const e = { name: t.name, shape: t.shape, offset };
    offset += t.data.byteLength;
    return e;
  });
  fs.closeSync(fd);
  return { weights: file, tensors: index };
}

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

/** Images per second of `iters` batches through a predictor's network, as many in flight as predict keeps. */
async function predictorRound(p: Predictor, x: Float32Array, iters: number): Promise<number> {
  const depth = Math.max(2, p.inflight ?? 2);
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
    await sharp(data, { raw: { width: SIZE, height: SIZE, channels: 3 } }).jpeg({ quality: 90 }).toFile(f);
    files.push(f);
  }
  return files;
}

/** Time of the per-image result step (argmax, probabilities) with and without a forbidden class. */
function forbidCost(reps: number): { plainMs: number; forbidMs: number } {
  const k = 3;
  const rng = makeRng(9);
  const scores = Float32Array.from({ length: k * SIZE * SIZE }, () => rng.next() * 4 - 2);
  const time = (allowed: number[]) => {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) {
      const res = new ResultRows({ width: SIZE, height: SIZE, nw: SIZE, nh: SIZE, numClasses: k, allowed, scores: 'logits', probClasses: [1], probBits: 8 });
      res.rows(0, SIZE, (y, c) => scores.subarray((c * SIZE + y) * SIZE, (c * SIZE + y + 1) * SIZE));
    }
    return (performance.now() - t0) / reps;
  };
  time([0, 1, 2]);
  time([0, 1]);
  const plain: number[] = [];
  const forbid: number[] = [];
  for (let i = 0; i < 5; i++) {
    plain.push(time([0, 1, 2]));
    forbid.push(time([0, 1]));
  }
  return { plainMs: median(plain), forbidMs: median(forbid) };
}

async function pipelineRun(files: string[], p: Predictor, outDir: string, forbidden: number[]): Promise<{ rate: number; cpuCores: number }> {
  fs.rmSync(outDir, { recursive: true, force: true });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await predictStream(files, p, { outDir, forbidden });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  if (r.failed.length || r.predicted !== files.length) throw new Error(`pipeline predicted ${r.predicted} of ${files.length}`);
  return { rate: files.length / seconds, cpuCores: (cpu.user + cpu.system) / 1e6 / seconds };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gapseg-bench-predict-'));
  const log = (s: string) => process.stderr.write(s + '\n');
  try {
    log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; threads ${args.threads}`);
    await initEngine({ ...engineOptionsFromEnv(), threads: args.threads });
    const cfg: UNetConfig = { ...DEFAULT_UNET, numClasses: 2 };
    const net = createUNet(cfg, 1);
    const modelDir = path.join(tmp, 'model');
    await saveModel(modelDir, net, {
      classes: { classes: [{ name: 'background', value: 0, color: [0, 0, 0] }, { name: 'object', value: 255, color: [230, 25, 75] }], voidValues: [] },
      input: { scale: 1, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], tile: 512 },
      info: { bench: true },
    });
    const exported = await exportOnnx(modelDir, { threads: args.threads, version: 'bench' });
    log(`gapseg export: ${exported.file}, check max |diff| ${exported.maxDiff.toExponential(2)}`);

    // predict's default (one session with all threads), and two sessions sharing the threads.
    const onnxPred = await openPredictor(modelDir, { engine: 'onnx', threads: args.threads, sessions: 1 });
    const onnxTwo = await openPredictor(modelDir, { engine: 'onnx', threads: args.threads, sessions: 2 });
    const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: args.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
    const gapsegPlain = await ort.InferenceSession.create(exported.file, opts);

    // PyTorch: eager timing and its own ONNX export.
    let torch: Record<string, unknown> | null = null;
    let torchSession: ort.InferenceSession | null = null;
    let torchNote = '';
    const python = args.torch ? findPython(args.python) : null;
    if (args.torch && !python) torchNote = 'PyTorch not found: install it with `apt-get install python3-torch` (Debian) and rerun (or pass --python PATH); gapseg figures only.';
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
      const manifest = { unet: cfg, ...tw, check: { input: path.join(tmp, 'check-in.bin'), logits: path.join(tmp, 'check-out.bin'), height: ch, width: cw } };
      fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(manifest));
      const torchOnnx = path.join(tmp, 'torch.onnx');
      log(`PyTorch eager (${python})...`);
      const r = spawnSync(
        python,
        [path.join(ROOT, 'bench', 'torch_predict.py'), '--manifest', path.join(tmp, 'manifest.json'), '--onnx-out', torchOnnx, '--batch', String(BATCH), '--size', String(SIZE), '--threads', String(args.threads), '--rounds', String(args.rounds), '--iters', String(args.iters)],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      if (r.status !== 0) throw new Error(`torch_predict.py failed:\n${r.stderr}`);
      torch = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      torchSession = await ort.InferenceSession.create(torchOnnx, opts);
      log(`PyTorch ${torch.torch}: same network as gapseg within ${(torch.check_max_abs_diff as number).toExponential(2)} (largest logit ${(torch.check_max_abs_logit as number).toFixed(2)})`);
    }

    const x = randomBatch(3);
    const xt = new ort.Tensor('float32', x, [BATCH, 3, SIZE, SIZE]);
    const rates: Record<string, number[]> = { gapsegOnnx: [], gapsegOnnxTwoSessions: [], ortGapsegExport: [], ortTorchExport: [] };
    // Warm-up of every contender.
    await predictorRound(onnxPred, x, 2);
    await predictorRound(onnxTwo, x, 2);
    await plainOrtRound(gapsegPlain, xt, 1);
    if (torchSession) await plainOrtRound(torchSession, xt, 1);
    for (let r = 0; r < args.rounds; r++) {
      rates.gapsegOnnx.push(await predictorRound(onnxPred, x, args.iters));
      rates.gapsegOnnxTwoSessions.push(await predictorRound(onnxTwo, x, args.iters));
      rates.ortGapsegExport.push(await plainOrtRound(gapsegPlain, xt, args.iters));
      if (torchSession) rates.ortTorchExport.push(await plainOrtRound(torchSession, xt, args.iters));
      log(`round ${r + 1}/${args.rounds}: gapseg ${rates.gapsegOnnx.at(-1)!.toFixed(1)} (two sessions ${rates.gapsegOnnxTwoSessions.at(-1)!.toFixed(1)}), ORT(gapseg export) ${rates.ortGapsegExport.at(-1)!.toFixed(1)}${torchSession ? `, ORT(PyTorch export) ${rates.ortTorchExport.at(-1)!.toFixed(1)}` : ''} img/s`);
    }

    // The whole pipeline on a folder of JPEGs, without and with a forbidden class.
    const files = await writeImages(path.join(tmp, 'images'), args.images);
    await pipelineRun(files.slice(0, Math.min(8, files.length)), onnxPred, path.join(tmp, 'warm'), []);
    const pipe = await pipelineRun(files, onnxPred, path.join(tmp, 'out'), []);
    const pipeTwo = await pipelineRun(files, onnxTwo, path.join(tmp, 'out-two'), []);
    const pipeForbid = await pipelineRun(files, onnxPred, path.join(tmp, 'out-forbid'), [1]);
    log(`pipeline: ${pipe.rate.toFixed(1)} img/s using ${pipe.cpuCores.toFixed(2)} cores (two sessions: ${pipeTwo.rate.toFixed(1)}); with a forbidden class ${pipeForbid.rate.toFixed(1)} img/s`);
    const fc = forbidCost(args.quick ? 5 : 40);

    let tfjsRate: number | null = null;
    if (args.tfjs) {
      const tfjsPred = await openPredictor(modelDir, { engine: 'tfjs', threads: args.threads });
      await predictorRound(tfjsPred, x, 1);
      const t: number[] = [];
      for (let r = 0; r < Math.max(1, Math.min(3, args.rounds)); r++) t.push(await predictorRound(tfjsPred, x, Math.max(1, Math.ceil(args.iters / 2))));
      tfjsRate = median(t);
      tfjsPred.dispose();
    }
    onnxPred.dispose();
    onnxTwo.dispose();

    const med = Object.fromEntries(Object.entries(rates).filter(([, v]) => v.length).map(([k, v]) => [k, median(v)]));
    const eager = torch ? (torch.eager_median as number) : null;
    const perImageMs = 1000 / pipe.rate;
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() },
      setup: { network: 'reference U-Net depth 4, widths 16-32-64-128, bottleneck 256, 2 classes', input: `${BATCH}x3x${SIZE}x${SIZE}`, threads: args.threads, rounds: args.rounds, itersPerRound: args.iters, pipelineImages: args.images, quick: args.quick },
      imagesPerSecond: {
        gapsegOnnx: med.gapsegOnnx,
        gapsegOnnxTwoSessions: med.gapsegOnnxTwoSessions,
        ortGapsegExport: med.ortGapsegExport,
        ortTorchExport: med.ortTorchExport ?? null,
        torchEager: eager,
        tfjsWasm: tfjsRate,
        pipeline: pipe.rate,
        pipelineTwoSessions: pipeTwo.rate,
        pipelineForbid: pipeForbid.rate,
      },
      rounds: rates,
      ratios: {
        gapsegVsOrtTorchExport: med.ortTorchExport ? med.gapsegOnnx / med.ortTorchExport : null,
        gapsegVsTorchEager: eager ? med.gapsegOnnx / eager : null,
        pipelineVsNetwork: pipe.rate / med.gapsegOnnx,
        pipelineTwoSessionsVsItsNetwork: pipeTwo.rate / med.gapsegOnnxTwoSessions,
        pipelineVsOrtTorchExport: med.ortTorchExport ? pipe.rate / med.ortTorchExport : null,
        tfjsVsGapsegOnnx: tfjsRate ? tfjsRate / med.gapsegOnnx : null,
      },
      pipelineCpuCores: pipe.cpuCores,
      forbid: {
        resultStepMsPlain: fc.plainMs,
        resultStepMsForbid: fc.forbidMs,
        costFractionOfImageTime: (fc.forbidMs - fc.plainMs) / perImageMs,
        pipelineRateRatio: pipeForbid.rate / pipe.rate,
      },
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
      row('gapseg predict network (ONNX Runtime, worker)', med.gapsegOnnx),
      row('gapseg network, 2 sessions sharing the threads', med.gapsegOnnxTwoSessions),
      row('ONNX Runtime, gapseg export (plain session)', med.ortGapsegExport),
      row('ONNX Runtime, PyTorch export (plain session)', med.ortTorchExport),
      row('PyTorch eager', eager),
      row('gapseg on TensorFlow.js wasm', tfjsRate),
      row('gapseg pipeline: JPEG folder -> PNGs', pipe.rate),
      row('gapseg pipeline, 2 sessions', pipeTwo.rate),
      row('gapseg pipeline, one class forbidden', pipeForbid.rate),
      '',
      `pipeline / network: ${f(result.ratios.pipelineVsNetwork, 2)} (goal >= 0.80), using ${f(pipe.cpuCores, 2)} of ${os.cpus().length} cores; with 2 sessions: ${f(result.ratios.pipelineTwoSessionsVsItsNetwork, 2)}`,
      `gapseg network / ONNX Runtime on PyTorch's export: ${f(result.ratios.gapsegVsOrtTorchExport, 3)} (goal >= 0.95); whole pipeline / that: ${f(result.ratios.pipelineVsOrtTorchExport, 2)}`,
      `forbidding: result step ${f(fc.plainMs, 2)} ms -> ${f(fc.forbidMs, 2)} ms per 256x256 image (3 classes, one forbidden) = ${f(100 * result.forbid.costFractionOfImageTime, 2)}% of the per-image time (goal < 2%)`,
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
