/**
 * A gapseg U-Net as an ONNX graph, NCHW: input "image" [batch, C, height, width] (dynamic
 * batch and sides, multiples of 2^depth), output "logits" [batch, K, height, width].
 * Inference-mode batch norm is folded into the preceding convolution (weights scaled per
 * output channel, bias = beta - mean * scale), so the graph holds only Conv, Relu, MaxPool,
 * ConvTranspose and Concat.
 */
import { levelWidths, type UNetConfig } from '../../nets/unet/unet.js';
import { DTYPE, type OnnxModel, type OnnxNode, type OnnxTensor } from './model.js';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'logits';

function need(values: Map<string, Float32Array>, name: string): Float32Array {
  const v = values.get(name);
  if (!v) throw new Error(`missing weight ${name}`);
  return v;
}

/**
 * Keras 3x3 (or 1x1) kernel [kh, kw, in, out] to ONNX [out, in, kh, kw], each output
 * channel multiplied by scale[o].
 */
export function convKernelToOnnx(k: Float32Array, kh: number, kw: number, cin: number, cout: number, scale?: Float32Array): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let c = 0; c < cin; c++) {
        const src = ((y * kw + x) * cin + c) * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + c) * kh + y) * kw + x] = k[src + o] * (scale ? scale[o] : 1);
      }
    }
  }
  return out;
}

/** Keras Conv2DTranspose kernel [2, 2, out, in] to ONNX ConvTranspose [in, out, 2, 2]. */
export function upKernelToOnnx(k: Float32Array, cin: number, cout: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      for (let o = 0; o < cout; o++) {
        for (let c = 0; c < cin; c++) out[((c * cout + o) * 2 + a) * 2 + b] = k[((a * 2 + b) * cout + o) * cin + c];
      }
    }
  }
  return out;
}

/** Per-channel scale and shift of inference batch norm: y = x * scale + shift. */
export function foldBatchNorm(
  gamma: Float32Array,
  beta: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
): { scale: Float32Array; shift: Float32Array } {
  const scale = new Float32Array(gamma.length);
  const shift = new Float32Array(gamma.length);
  for (let o = 0; o < gamma.length; o++) {
    // In float64, then rounded once, so folding adds no error beyond one rounding.
    const s = gamma[o] / Math.sqrt(variance[o] + eps);
    scale[o] = s;
    shift[o] = beta[o] - mean[o] * s;
  }
  return { scale, shift };
}

export interface UNetOnnxOptions {
  /** metadata_props entries (class description, input recipe...). */
  metadata: Record<string, string>;
  docString?: string;
  producerVersion: string;
}

/** A model of gapseg's graph contract: NCHW image in, one logit plane per class out, any batch and size. */
export function segmentationModel(
  name: string,
  nodes: OnnxNode[],
  initializers: OnnxTensor[],
  inChannels: number,
  numClasses: number,
  opts: UNetOnnxOptions,
): OnnxModel {
  return {
    graph: {
      name,
      nodes,
      initializers,
      inputs: [{ name: ONNX_INPUT, elemType: DTYPE.float, dims: ['batch', inChannels, 'height', 'width'] }],
      outputs: [{ name: ONNX_OUTPUT, elemType: DTYPE.float, dims: ['batch', numClasses, 'height', 'width'] }],
    },
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producer: 'gapseg',
    producerVersion: opts.producerVersion,
    docString: opts.docString,
    metadata: opts.metadata,
  };
}

/** Build the ONNX model of a U-Net from its config and named values. */
export function unetToOnnx(cfg: UNetConfig, values: Map<string, Float32Array>, opts: UNetOnnxOptions): OnnxModel {
  const widths = levelWidths(cfg);
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const ints = (name: string, value: number[]) => ({ name, type: 'ints' as const, value });

  const convBnRelu = (x: string, level: string, n: number, cin: number, cout: number): string => {
    const k = need(values, `${level}_conv${n}/kernel`);
    const bn = `${level}_bn${n}`;
    const { scale, shift } = foldBatchNorm(
      need(values, `${bn}/gamma`),
      need(values, `${bn}/beta`),
      need(values, `${bn}/moving_mean`),
      need(values, `${bn}/moving_variance`),
      cfg.bnEpsilon,
    );
    const w = `${level}_conv${n}.weight`;
    const b = `${level}_conv${n}.bias`;
    inits.push({ name: w, dims: [cout, cin, 3, 3], data: convKernelToOnnx(k, 3, 3, cin, cout, scale) });
    inits.push({ name: b, dims: [cout], data: shift });
    const y = `${level}_conv${n}`;
    nodes.push({
      op: 'Conv',
      name: y,
      inputs: [x, w, b],
      outputs: [y],
      attrs: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [1, 1])],
    });
    const r = `${level}_relu${n}`;
    nodes.push({ op: 'Relu', name: r, inputs: [y], outputs: [r] });
    return r;
  };

  let h = ONNX_INPUT;
  let cin = cfg.inChannels;
  const skips: string[] = [];
  for (let i = 0; i < cfg.depth; i++) {
    h = convBnRelu(h, `enc${i}`, 1, cin, widths[i]);
    h = convBnRelu(h, `enc${i}`, 2, widths[i], widths[i]);
    skips.push(h);
    const p = `enc${i}_pool`;
    nodes.push({ op: 'MaxPool', name: p, inputs: [h], outputs: [p], attrs: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] });
    h = p;
    cin = widths[i];
  }
  h = convBnRelu(h, 'mid', 1, cin, widths[cfg.depth]);
  h = convBnRelu(h, 'mid', 2, widths[cfg.depth], widths[cfg.depth]);
  for (let i = cfg.depth - 1; i >= 0; i--) {
    const up = `dec${i}_up`;
    inits.push({
      name: `${up}.weight`,
      dims: [widths[i + 1], widths[i], 2, 2],
      data: upKernelToOnnx(need(values, `${up}/kernel`), widths[i + 1], widths[i]),
    });
    inits.push({ name: `${up}.bias`, dims: [widths[i]], data: need(values, `${up}/bias`) });
    nodes.push({
      op: 'ConvTranspose',
      name: up,
      inputs: [h, `${up}.weight`, `${up}.bias`],
      outputs: [up],
      attrs: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])],
    });
    // The decoder's first conv reads [up, skip], in this order (as unetForward does).
    const cat = `dec${i}_concat`;
    nodes.push({ op: 'Concat', name: cat, inputs: [up, skips[i]], outputs: [cat], attrs: [{ name: 'axis', type: 'int', value: 1 }] });
    h = convBnRelu(cat, `dec${i}`, 1, 2 * widths[i], widths[i]);
    h = convBnRelu(h, `dec${i}`, 2, widths[i], widths[i]);
  }
  const k = cfg.numClasses;
  inits.push({ name: 'head.weight', dims: [k, widths[0], 1, 1], data: convKernelToOnnx(need(values, 'head/kernel'), 1, 1, widths[0], k) });
  inits.push({ name: 'head.bias', dims: [k], data: need(values, 'head/bias') });
  nodes.push({
    op: 'Conv',
    name: 'head',
    inputs: [h, 'head.weight', 'head.bias'],
    outputs: [ONNX_OUTPUT],
    attrs: [ints('kernel_shape', [1, 1])],
  });

  return segmentationModel('gapseg_unet', nodes, inits, cfg.inChannels, k, opts);
}
