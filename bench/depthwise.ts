/**
 * gapseg's depthwise kernels on MobileNetV2's 17 depthwise 3x3 layers at a 256x256 input,
 * batch 4: forward (XNNPACK's, with the filter reused and with a new filter each call as in
 * training, vs depthwise_fwd), input gradient and filter gradient (which the wasm backend does
 * not have otherwise), ms per layer and in total, with the relative difference of the forward
 * results. With PyTorch installed (bench/torch_depthwise.py), its depthwise conv forward and
 * backward on the same shapes and thread count, NCHW and channels_last. Times are the fastest
 * of 15 calls in each of BENCH_PASSES (3) passes: on a machine shared with other work, the
 * median mostly measures the others. BENCH_THREADS: threads (2). Prints a table, writes
 * bench/results/depthwise-<threads>t.json.
 *   npm run bench:depthwise
 */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { withKernelRoutes } from '../src/engine/routes.js';
import { simdKernels } from '../src/engine/simd/index.js';
import { BENCH_DIR, findTorchPython, machine, table, TORCH_HINT, writeResult } from './common.js';

/** [input size, channels, stride, how many layers of MobileNetV2 have this shape]. */
export const LAYERS: [number, number, number, number][] = [
  [128, 32, 1, 1],
  [128, 96, 2, 1],
  [64, 144, 1, 1],
  [64, 144, 2, 1],
  [32, 192, 1, 2],
  [32, 192, 2, 1],
  [16, 384, 1, 4],
  [16, 576, 1, 2],
  [16, 576, 2, 1],
  [8, 960, 1, 3],
];
const BATCH = 4;
const THREADS = Number(process.env.BENCH_THREADS) || 2;
const PASSES = Number(process.env.BENCH_PASSES) || 3;

type TorchRow = { fwd: number; dx: number; dw: number };
type TorchTimes = { nchw: TorchRow[]; channelsLast: TorchRow[] };

function torchTimes(): TorchTimes | null {
  const peer = findTorchPython();
  if (!peer) {
    console.log(TORCH_HINT);
    return null;
  }
  const r = spawnSync(
    peer.python,
    [
      path.join(BENCH_DIR, 'torch_depthwise.py'),
      '--threads',
      String(THREADS),
      '--batch',
      String(BATCH),
      '--layers',
      JSON.stringify(LAYERS),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`torch_depthwise.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as TorchTimes;
}

async function main(): Promise<void> {
  const info = await initEngine({ ...engineOptionsFromEnv(), threads: THREADS });
  console.log(`wasm, ${info.threads} threads, fused multiply-add (relaxed SIMD): ${info.fma}`);
  // Kernels share their work only with helper threads that have started.
  simdKernels(tf.backend())?.team.awaitHelpers(60_000);
  const time = (f: () => tf.Tensor): number => {
    const warm = f();
    warm.dataSync();
    warm.dispose();
    const ts: number[] = [];
    for (let r = 0; r < 15; r++) {
      // The wasm backend runs kernels synchronously: no read-back (which would copy the output).
      const t0 = performance.now();
      const o = f();
      ts.push(performance.now() - t0);
      o.dispose();
    }
    return Math.min(...ts);
  };
  /** One pass over the layers: each kernel's fastest of 15 calls. */
  const pass = (): Record<string, number>[] =>
    LAYERS.map(([hw, c, s, count]) => {
      const o = hw / s;
      const x = tf.randomNormal([BATCH, hw, hw, c]) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, c, 1]) as tf.Tensor4D;
      const dy = tf.randomNormal([BATCH, o, o, c]) as tf.Tensor4D;
      const attrs = { strides: [s, s], pad: 'same', dilations: [1, 1], dimRoundingMode: undefined as unknown as string };
      const fwd = () => tf.depthwiseConv2d(x, w, s, 'same');
      // A new filter tensor per call: XNNPACK builds and packs a new operator, as in each training step.
      const fwdNewFilter = () => tf.tidy(() => tf.depthwiseConv2d(x, tf.clone(w), s, 'same'));
      const dx = () =>
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape }) as tf.Tensor;
      const dw = () =>
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }) as tf.Tensor;
      const [xnn, xnnNew, ref] = withKernelRoutes({ depthwise: 'xnnpack' }, () => [time(fwd), time(fwdNewFilter), fwd()] as const);
      const ours = time(fwd);
      const oursNew = time(fwdNewFilter);
      const got = fwd();
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ref, got))).dataSync()[0] / tf.max(tf.abs(ref)).dataSync()[0]);
      const row = { hw, c, s, count, xnn, xnnNew, ours, oursNew, diff, dx: time(dx), dw: time(dw) };
      tf.dispose([x, w, dy, ref, got]);
      return row;
    });
  // Several passes, PyTorch's between ours, keeping each cell's fastest: the other work on a
  // shared machine comes and goes.
  const fastest = <T extends Record<string, number>>(a: T[], b: T[]): T[] =>
    a.map((r, i) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.min(v, b[i][k])])) as T);
  let results = pass();
  let torch = torchTimes();
  for (let p = 1; p < PASSES; p++) {
    results = fastest(results, pass());
    const t = torch && torchTimes();
    if (torch && t) torch = { nchw: fastest(torch.nchw, t.nchw), channelsLast: fastest(torch.channelsLast, t.channelsLast) };
  }
  const name = (r: Record<string, number>) => `${r.hw}x${r.hw}x${r.c} s${r.s}${r.count > 1 ? ` (x${r.count})` : ''}`;
  const header = [
    'layer (batch 4)',
    'fwd XNNPACK',
    'XNNPACK new filter',
    'fwd gapseg',
    'new filter',
    'rel. diff',
    'dx gapseg',
    'dW gapseg',
  ];
  if (torch) header.push('torch NCHW fwd', 'dx', 'dW', 'torch channels_last fwd', 'dx', 'dW');
  const rows = results.map((r, i) => {
    const row: (string | number)[] = [name(r), r.xnn, r.xnnNew, r.ours, r.oursNew, r.diff.toExponential(1), r.dx, r.dw];
    if (torch) for (const k of ['nchw', 'channelsLast'] as const) row.push(torch[k][i].fwd, torch[k][i].dx, torch[k][i].dw);
    return row;
  });
  const total = (f: (i: number) => number) => results.reduce((a, r, i) => a + r.count * f(i), 0);
  const totals: (string | number)[] = [
    'total, 17 layers',
    ...['xnn', 'xnnNew', 'ours', 'oursNew'].map((k) => total((i) => results[i][k])),
    '',
    total((i) => results[i].dx),
    total((i) => results[i].dw),
  ];
  if (torch)
    for (const k of ['nchw', 'channelsLast'] as const)
      for (const p of ['fwd', 'dx', 'dw'] as const) totals.push(total((i) => torch[k][i][p]));
  console.log(`ms per call, fastest of 15 calls in each of ${PASSES} passes, ${THREADS} threads\n`);
  console.log(table(header, [...rows, totals]));
  writeResult(`depthwise-${THREADS}t.json`, { machine: machine(), threads: info.threads, fma: info.fma, batch: BATCH, results, torch });
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
