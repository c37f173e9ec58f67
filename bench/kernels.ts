/**
 * Filter-gradient routes on the reference U-Net's conv shapes (batch 4, 256x256 input):
 * the dilated-convolution route and the im2col + GEMM route, against the forward conv of
 * the same layer. Used to choose `useIm2Col`; prints a table and writes
 * bench/results/kernels.json.   npm run bench:kernels
 */
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/model/engine.js';
import { median, table, writeResult, machine } from './common.js';

async function main(): Promise<void> {
  await initEngine({ threads: 2 });
  // [H, Cin, Cout] of the reference U-Net's 3x3 convs (decoder first convs read 2*C channels).
  const layers: [number, number, number][] = [
    [256, 3, 16], [256, 16, 16], [128, 16, 32], [128, 32, 32], [64, 32, 64], [64, 64, 64], [32, 64, 128], [32, 128, 128],
    [16, 128, 256], [16, 256, 256], [32, 128, 128], [64, 64, 64], [128, 32, 32], [256, 16, 16],
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
  const rows: (string | number)[][] = [];
  const results: { h: number; ci: number; co: number; fwd: number; conv: number; im2col: number; chosen: number }[] = [];
  for (const [h, ci, co] of layers) {
    const x = tf.randomNormal([4, h, h, ci]) as tf.Tensor4D;
    const dy = tf.randomNormal([4, h, h, co]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, ci, co]) as tf.Tensor4D;
    const dW = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined as unknown as string, filterShape: [3, 3, ci, co] }) as tf.Tensor;
    const fwd = time(() => tf.conv2d(x, w, 1, 'same'));
    process.env.GAPSEG_DW_ROUTE = 'conv';
    const conv = time(dW);
    process.env.GAPSEG_DW_ROUTE = 'im2col';
    const im2col = time(dW);
    delete process.env.GAPSEG_DW_ROUTE;
    const chosen = time(dW);
    rows.push([`${h}x${h} ${ci}->${co}`, fwd, conv, im2col, chosen, chosen / fwd]);
    results.push({ h, ci, co, fwd, conv, im2col, chosen });
    tf.dispose([x, dy, w]);
  }
  console.log(table(['layer (batch 4)', 'forward ms', 'dW conv ms', 'dW im2col ms', 'dW chosen ms', 'chosen/forward'], rows));
  const sum = (k: 'fwd' | 'conv' | 'im2col' | 'chosen') => results.reduce((a, r) => a + r[k], 0);
  console.log(`\ntotals: forward ${sum('fwd').toFixed(0)} ms, dW conv ${sum('conv').toFixed(0)} ms, dW im2col ${sum('im2col').toFixed(0)} ms, dW chosen ${sum('chosen').toFixed(0)} ms`);
  writeResult('kernels.json', { machine: machine(), results });
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
