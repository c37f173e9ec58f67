/** Inference of a gapseg network with TensorFlow.js (the fallback when no ONNX model exists). */
import * as tf from '@tensorflow/tfjs-core';
import { netForward, type AnyNet } from '../nets/index.js';
import type { NetFn } from './netFn.js';

/** A NetFn (planar NCHW in and out) running the net in inference mode. */
export function tfjsNet(net: AnyNet): NetFn {
  return async (input, n, height, width) => {
    const c = net.config.inChannels;
    const y = tf.tidy(() => {
      const x = tf.transpose(tf.tensor4d(input, [n, c, height, width]), [0, 2, 3, 1]) as tf.Tensor4D;
      return tf.transpose(netForward(net, x, false), [0, 3, 1, 2]);
    });
    try {
      return (await y.data()) as Float32Array;
    } finally {
      y.dispose();
    }
  };
}
