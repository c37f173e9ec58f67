/**
 * gapseg's direct SIMD conv kernels against the stock routes on the reference U-Net's 3x3
 * conv shapes (batch 4, 256x256 input): forward (XNNPACK's Conv2D vs conv_fwd), input
 * gradient (a rotated-filter conv on XNNPACK vs on conv_fwd) and filter gradient (the
 * dilated-convolution route on XNNPACK vs conv_dw), with the relative differences of the
 * results. Each call reuses its filter, which favours XNNPACK (its operator cache); in
 * training every step has new filters. Prints a table, writes bench/results/kernels.json.
 *   npm run bench:kernels
 */
import * as tf from '@tensorflow/tfjs-core';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { withKernelRoutes, type KernelRoutes } from '../src/engine/routes.js';
import { median, table, writeResult, machine } from './common.js';

async function main(): Promise<void> {
  const info = await initEngine({ ...engineOptionsFromEnv(), threads: 2 });
  console.log(`wasm, ${info.threads} threads, fused multiply-add (relaxed SIMD): ${info.fma} (GAPSEG_FMA=0 turns it off at start-up)`);
  // [H, Cin, Cout] of the reference U-Net's 18 3x3 convs; each decoder level's first conv reads
  // the upsampled map and the skip connection, concatenated (2 x Cout channels).
  const layers: [number, number, number][] = [
    [256, 3, 16],
    [256, 16, 16],
    [128, 16, 32],
    [128, 32, 32],
    [64, 32, 64],
    [64, 64, 64],
    [32, 64, 128],
    [32, 128, 128],
    [16, 128, 256],
    [16, 256, 256],
    [32, 256, 128],
    [32, 128, 128],
    [64, 128, 64],
    [64, 64, 64],
    [128, 64, 32],
    [128, 32, 32],
    [256, 32, 16],
    [256, 16, 16],
  ];

  const time = (f: () => tf.Tensor): number => {
    f().dispose();
    const ts: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      const o = f();
      o.dataSync();
      o.dispose();
      ts.push(performance.now() - t0);
    }
    return median(ts);
  };
  /**
   * Time f on the stock routes (the given route switches) and on gapseg's kernels, and
   * the relative difference of their results (float noise only, or the timing means nothing).
   */
  const routes = (stock: Partial<KernelRoutes>, f: () => tf.Tensor): { stock: number; direct: number; diff: number } => {
    const [stockMs, ref] = withKernelRoutes(stock, () => [time(f), f()] as const);
    const directMs = time(f);
    const got = f();
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ref, got))).dataSync()[0] / tf.max(tf.abs(ref)).dataSync()[0]);
    tf.dispose([ref, got]);
    return { stock: stockMs, direct: directMs, diff };
  };
  const rows: (string | number)[][] = [];
  const results: {
    h: number;
    ci: number;
    co: number;
    fwdXnnpack: number;
    fwd: number;
    fwdErr: number;
    dxXnnpack: number;
    dx: number;
    conv: number;
    direct: number;
    relErr: number;
  }[] = [];
  for (const [h, ci, co] of layers) {
    const x = tf.randomNormal([4, h, h, ci]) as tf.Tensor4D;
    const dy = tf.randomNormal([4, h, h, co]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, ci, co]) as tf.Tensor4D;
    const dW = () =>
      tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        {
          strides: [1, 1],
          pad: 'same',
          dataFormat: 'NHWC',
          dimRoundingMode: undefined as unknown as string,
          filterShape: [3, 3, ci, co],
        },
      ) as tf.Tensor;
    const conv = () => tf.conv2d(x, w, 1, 'same');
    const dX = () =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy, filter: w },
          { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined as unknown as string, inputShape: [4, h, h, ci] },
        ) as tf.Tensor;
    const f = routes({ conv: 'xnnpack' }, conv);
    const d = routes({ conv: 'xnnpack' }, dX);
    // The filter gradient's convolution route as it runs where it is used (strides > 1): on
    // XNNPACK's Conv2D.
    const g = routes({ filterGradient: 'conv', conv: 'xnnpack' }, dW);
    rows.push([
      `${h}x${h} ${ci}->${co}`,
      f.stock,
      f.direct,
      f.diff.toExponential(1),
      d.stock,
      d.direct,
      g.stock,
      g.direct,
      g.diff.toExponential(1),
    ]);
    results.push({
      h,
      ci,
      co,
      fwdXnnpack: f.stock,
      fwd: f.direct,
      fwdErr: f.diff,
      dxXnnpack: d.stock,
      dx: d.direct,
      conv: g.stock,
      direct: g.direct,
      relErr: g.diff,
    });
    tf.dispose([x, dy, w]);
  }
  console.log(
    table(
      [
        'layer (batch 4)',
        'fwd XNNPACK ms',
        'fwd direct ms',
        'rel. diff',
        'dX XNNPACK ms',
        'dX direct ms',
        'dW conv route ms',
        'dW direct ms',
        'rel. diff',
      ],
      rows,
    ),
  );
  const sum = (k: 'fwdXnnpack' | 'fwd' | 'dxXnnpack' | 'dx' | 'conv' | 'direct') => results.reduce((a, r) => a + r[k], 0);
  const ms = (k: Parameters<typeof sum>[0]) => sum(k).toFixed(0);
  console.log(
    `\ntotals (ms): forward XNNPACK ${ms('fwdXnnpack')}, direct ${ms('fwd')}; input gradient XNNPACK ${ms('dxXnnpack')}, direct ${ms('dx')}; filter gradient conv route ${ms('conv')}, direct ${ms('direct')}`,
  );
  writeResult('kernels.json', { machine: machine(), threads: info.threads, fma: info.fma, results });
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
