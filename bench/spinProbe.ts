import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/model/engine.js';
import { median } from './common.js';
await initEngine({ threads: 2 });
const x = tf.randomNormal([4, 64, 64, 64]) as tf.Tensor4D;
const dy = tf.randomNormal([4, 64, 64, 64]) as tf.Tensor4D;
const a = tf.randomNormal([256, 64]) as tf.Tensor2D;
const b = tf.randomNormal([64, 64]) as tf.Tensor2D;
const dW = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 64, 64] }) as tf.Tensor;
for (const before of ['none', 'matmul', 'matmul+sleep']) {
  const ts: number[] = [];
  for (let r = 0; r < 15; r++) {
    if (before !== 'none') { const m = tf.matMul(a, b); m.dataSync(); m.dispose(); }
    if (before === 'matmul+sleep') { const t = performance.now(); while (performance.now() - t < 50); }
    const t0 = performance.now(); const o = dW(); o.dataSync(); o.dispose(); ts.push(performance.now() - t0);
  }
  console.log(before, median(ts).toFixed(1));
}
process.exit(0);
