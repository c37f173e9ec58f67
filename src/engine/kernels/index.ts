/**
 * Registers gapseg's kernels for the wasm backend: the missing filter gradient of conv2d and
 * gradients of depthwise conv2d, and faster variants of stock kernels. Each one has a test
 * against the cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilter } from './conv2dBackpropFilter.js';
import { batchMatMulOnConvKernels } from './matMul.js';
import { conv2dBackpropInputViaConv } from './conv2dBackpropInput.js';
import { overrideKernel } from './compose.js';
import { conv2dDirect, fusedConv2dDirect } from './conv2d.js';
import { registerBatchNormReluKernels } from './batchNormRelu.js';
import { registerGradientKernels } from './gradients.js';
import { depthwiseConv2dDirect, fusedDepthwiseConv2dDirect, registerDepthwiseGradients } from './depthwise.js';
import { registerAdamKernel } from './adam.js';
import { registerChannelKernels } from './channels.js';

let registered = false;

/** Register (once) the custom kernels for 'wasm'. Call before the backend is first used. */
export function registerGapsegKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')) {
    tf.registerKernel({
      kernelName: tf.Conv2DBackpropFilter,
      backendName: 'wasm',
      kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc,
    });
  }
  overrideKernel(tf.BatchMatMul, 'wasm', batchMatMulOnConvKernels);
  overrideKernel(tf.Conv2D, 'wasm', conv2dDirect);
  overrideKernel(tf.FusedConv2D, 'wasm', fusedConv2dDirect);
  overrideKernel(tf.Conv2DBackpropInput, 'wasm', conv2dBackpropInputViaConv);
  overrideKernel(tf.DepthwiseConv2dNative, 'wasm', depthwiseConv2dDirect);
  overrideKernel(tf.FusedDepthwiseConv2D, 'wasm', fusedDepthwiseConv2dDirect);
  registerDepthwiseGradients();
  registerBatchNormReluKernels();
  registerGradientKernels();
  registerAdamKernel();
  registerChannelKernels();
}
