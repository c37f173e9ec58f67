/** Inference of a gapseg U-Net with TensorFlow.js (the fallback when no ONNX model exists). */
import * as tf from '@tensorflow/tfjs-core';
import { unetForward, type UNet } from '../model/unet.js';
import type { LogitsFn } from './tiling.js';

/** A LogitsFn running the net in inference mode. */
export function tfjsLogits(net: UNet): LogitsFn {
  return async (input, n, height, width) => {
    const y = tf.tidy(() => unetForward(net, tf.tensor4d(input, [n, height, width, net.config.inChannels]), false));
    try {
      return (await y.data()) as Float32Array;
    } finally {
      y.dispose();
    }
  };
}
