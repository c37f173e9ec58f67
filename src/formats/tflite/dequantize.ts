/**
 * From a parsed TFLite graph to float32 weights in TF.js layouts: dequantization
 * (real = scale * (q - zero_point), per tensor or per channel), conv filters OHWI -> HWIO,
 * depthwise filters [1, H, W, C*M] -> [H, W, C, M], and int32 biases scaled by
 * input_scale * weight_scale as TFLite's own kernels do.
 */
import { GapsegError } from '../../util/errors.js';
import type { TfliteModel, TfliteTensor, Quantization } from './reader.js';

/** Float values with their shape, in row-major order. */
export interface FloatArray {
  shape: number[];
  values: Float32Array;
}

/** Float filter and bias of one convolution, in the layouts tf.conv2d / tf.depthwiseConv2d take. */
export interface FloatConv {
  filter: FloatArray;
  bias: FloatArray;
}

type Raw = Float32Array | Int32Array | Int16Array | Int8Array | Uint8Array;

function fail(model: { file: string }, t: TfliteTensor, why: string): GapsegError {
  return new GapsegError(`${model.file}: tensor ${t.index} (${t.name}) ${why}`);
}

/** The constant values of a tensor in its own element type (copied, hence aligned); null for an activation. */
export function rawValues(t: TfliteTensor): Raw | null {
  if (!t.data) return null;
  // The file's bytes need not be aligned for a wider view; a copy always is.
  const copy = t.data.slice().buffer;
  switch (t.type) {
    case 'float32':
      return new Float32Array(copy);
    case 'int32':
      return new Int32Array(copy);
    case 'int16':
      return new Int16Array(copy);
    case 'int8':
      return new Int8Array(copy);
    case 'uint8':
      return new Uint8Array(copy);
    default:
      return null;
  }
}

/** scale * (q - zero_point) for every value, with the scale and zero point of its channel. */
export function dequantizeValues(q: ArrayLike<number>, shape: number[], quant: Quantization): Float32Array {
  const out = new Float32Array(q.length);
  if (quant.scale.length === 1) {
    const s = quant.scale[0];
    const z = quant.zeroPoint[0];
    for (let i = 0; i < q.length; i++) out[i] = s * (q[i] - z);
    return out;
  }
  // Per channel along `dimension`: index i lies in channel floor(i / inner) % channels.
  const channels = shape[quant.dimension];
  const inner = shape.slice(quant.dimension + 1).reduce((a, d) => a * d, 1);
  for (let i = 0; i < q.length; i++) {
    const c = Math.floor(i / inner) % channels;
    out[i] = quant.scale[c] * (q[i] - quant.zeroPoint[c]);
  }
  return out;
}

/** Float values of a constant tensor: float32 as it is, uint8/int8/int16/int32 dequantized. */
export function dequantize(model: { file: string }, t: TfliteTensor): Float32Array {
  const raw = rawValues(t);
  if (!raw) throw fail(model, t, t.data ? `has type ${t.type}, which gapseg does not read` : 'has no constant data');
  if (raw instanceof Float32Array) return raw;
  if (!t.quantization) throw fail(model, t, `has type ${t.type} but no quantization scale`);
  return dequantizeValues(raw, t.shape, t.quantization);
}

/** OHWI (TFLite conv filter) to HWIO (TF.js conv2d filter). */
export function ohwiToHwio(values: Float32Array, [o, h, w, i]: number[]): Float32Array {
  const out = new Float32Array(values.length);
  for (let oc = 0; oc < o; oc++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = ((oc * h + y) * w + x) * i;
        const dst = (y * w + x) * i * o + oc;
        for (let ic = 0; ic < i; ic++) out[dst + ic * o] = values[src + ic];
      }
    }
  }
  return out;
}

/**
 * Float bias of a quantized convolution: TFLite's kernels read int32 biases with the scale
 * input_scale * filter_scale (per output channel for per-channel filters), and refuse a file
 * whose bias tensor states another scale; so do we.
 */
export function dequantizeBias(
  model: { file: string },
  bias: TfliteTensor,
  input: TfliteTensor,
  filter: TfliteTensor,
  channels: number,
): Float32Array {
  const raw = rawValues(bias);
  if (!raw) throw fail(model, bias, bias.data ? `has type ${bias.type}, which gapseg does not read as a bias` : 'has no constant data');
  if (raw instanceof Float32Array) return raw;
  if (!(raw instanceof Int32Array)) throw fail(model, bias, `has type ${bias.type}; a quantized bias is int32`);
  if (!input.quantization || !filter.quantization)
    throw fail(model, bias, "is int32 but its convolution's input or filter has no quantization");
  const inScale = input.quantization.scale[0];
  const fScale = filter.quantization.scale;
  const out = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const scale = inScale * fScale[fScale.length === 1 ? 0 : c];
    const stated = bias.quantization?.scale[bias.quantization.scale.length === 1 ? 0 : c];
    if (stated !== undefined && Math.abs(stated - scale) > 1e-6 * Math.min(stated, scale)) {
      throw fail(model, bias, `has scale ${stated} for channel ${c}, but input scale x filter scale is ${scale}`);
    }
    out[c] = raw[c] * scale;
  }
  return out;
}

/**
 * Float filters and biases of every CONV_2D and DEPTHWISE_CONV_2D, by operator index, in TF.js
 * layouts: conv [H, W, I, O], depthwise [H, W, C, M] (M = filter channels / input channels).
 */
export function floatConvs(model: TfliteModel): Map<number, FloatConv> {
  const convs = new Map<number, FloatConv>();
  for (const op of model.operators) {
    if (op.options.kind !== 'conv' && op.options.kind !== 'depthwise') continue;
    const [xi, fi, bi] = op.inputs;
    const x = model.tensors[xi];
    const f = model.tensors[fi];
    if (!f || f.shape.length !== 4 || !x || x.shape.length !== 4) {
      throw new GapsegError(`${model.file}: operator ${op.index} (${op.op}) needs a 4-d input and a 4-d constant filter`);
    }
    const values = dequantize(model, f);
    let filter: FloatArray;
    let channels: number;
    if (op.options.kind === 'conv') {
      const [o, h, w, i] = f.shape;
      if (i !== x.shape[3]) throw fail(model, f, `has ${i} input channels, but its input has ${x.shape[3]}`);
      filter = { shape: [h, w, i, o], values: ohwiToHwio(values, f.shape) };
      channels = o;
    } else {
      const [one, h, w, cm] = f.shape;
      const c = x.shape[3];
      // The depth_multiplier option is optional in newer files; the shapes always say it.
      if (one !== 1 || cm % c !== 0) throw fail(model, f, `of shape [${f.shape}] is no depthwise filter for ${c} input channels`);
      // [1, H, W, C*M] and [H, W, C, M] hold the same values in the same order.
      filter = { shape: [h, w, c, cm / c], values };
      channels = cm;
    }
    const bias = bi === undefined || bi < 0 ? new Float32Array(channels) : dequantizeBias(model, model.tensors[bi], x, f, channels);
    if (bias.length !== channels) throw fail(model, model.tensors[bi], `has ${bias.length} values for ${channels} output channels`);
    convs.set(op.index, { filter, bias: { shape: [channels], values: bias } });
  }
  return convs;
}
