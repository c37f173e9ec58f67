/**
 * A TFLite MobileNetV2 (1.0, ImageNet) as gapseg's encoder weights: its operators, in order,
 * must be the network nets/mobilenetV2/encoder.ts defines (the stem, each block's expansion,
 * depthwise and projection with their strides and ReLU6s, the residual adds, the last 1x1
 * convolution); their dequantized float filters and biases become the encoder's tensors by
 * name. Anything else is refused with a one-line error naming the file and the operator, so a
 * file of another network can never be loaded as if it were this one. The 1001-class
 * classifier that follows is returned apart (tests classify photos with it).
 */
import { GapsegError } from '../../util/errors.js';
import { BLOCKS, STEM_CHANNELS, TOP_CHANNELS, blockInputs, isResidual } from '../../nets/mobilenetV2/encoder.js';
import { floatConvs, type FloatConv } from './dequantize.js';
import { readTflite, type TfliteModel, type TfliteOperator } from './reader.js';

/** The encoder's tensors by gapseg name, and the ImageNet classifier after it. */
export interface MobileNetV2Weights {
  encoder: Map<string, Float32Array>;
  /** The 1x1 convolution to the 1001 ImageNet logits (index 0 = background), after average pooling. */
  classifier: { kernel: Float32Array; bias: Float32Array; classes: number } | null;
  /** Input normalisation the weights were trained with, on the 0..1 scale: (x - mean) / std. */
  input: { mean: number; std: number };
}

/** Read a MobileNetV2 .tflite file into encoder weights (see the header); errors name the file. */
export function readMobileNetV2(file: string): MobileNetV2Weights {
  return mobileNetV2Weights(readTflite(file));
}

/** The encoder weights of a parsed TFLite MobileNetV2. */
export function mobileNetV2Weights(model: TfliteModel): MobileNetV2Weights {
  const convs = floatConvs(model);
  const ops = model.operators;
  let at = 0;
  const encoder = new Map<string, Float32Array>();
  const fail = (why: string): never => {
    throw new GapsegError(`${model.file}: not a MobileNetV2 1.0 gapseg can use: ${why}`);
  };
  const next = (what: string): TfliteOperator => {
    const op = ops[at++];
    if (!op) fail(`the operators end before ${what}`);
    return op as TfliteOperator;
  };
  const take = (
    name: string,
    what: string,
    op: 'CONV_2D' | 'DEPTHWISE_CONV_2D',
    k: number,
    cin: number,
    cout: number,
    stride: number,
    relu6: boolean,
  ): void => {
    const o = next(what);
    if (o.op !== op) fail(`operator ${o.index} is ${o.op}, expected ${op} (${what})`);
    const opts = o.options as { strides?: number[]; padding?: string; activation?: string; dilations?: number[] };
    const c = convs.get(o.index) as FloatConv;
    const [kh, kw, ci, co] = c.filter.shape;
    const shapeOk = op === 'CONV_2D' ? kh === k && kw === k && ci === cin && co === cout : kh === k && kw === k && ci === cin && co === 1;
    if (!shapeOk)
      fail(
        `operator ${o.index} (${what}) has a [${c.filter.shape}] filter, expected ${op === 'CONV_2D' ? `[${k},${k},${cin},${cout}]` : `[${k},${k},${cin},1]`}`,
      );
    if (opts.strides?.[0] !== stride || opts.strides?.[1] !== stride)
      fail(`operator ${o.index} (${what}) has strides [${opts.strides}], expected ${stride}`);
    if (opts.padding !== 'SAME' || opts.dilations?.some((d) => d !== 1))
      fail(`operator ${o.index} (${what}) is not a SAME-padded, undilated convolution`);
    if (opts.activation !== (relu6 ? 'RELU6' : 'NONE'))
      fail(`operator ${o.index} (${what}) has activation ${opts.activation}, expected ${relu6 ? 'RELU6' : 'none'}`);
    encoder.set(op === 'CONV_2D' ? `${name}/kernel` : `${name}/depthwise_kernel`, c.filter.values);
    encoder.set(`${name}/bias`, c.bias.values);
  };

  take('enc_stem', 'the stem', 'CONV_2D', 3, 3, STEM_CHANNELS, 2, true);
  blockInputs().forEach((cin, i) => {
    const b = BLOCKS[i];
    const mid = cin * b.expand;
    if (b.expand !== 1) take(`enc_b${i}_expand`, `block ${i}'s expansion`, 'CONV_2D', 1, cin, mid, 1, true);
    take(`enc_b${i}_dw`, `block ${i}'s depthwise convolution`, 'DEPTHWISE_CONV_2D', 3, mid, mid, b.stride, true);
    take(`enc_b${i}_project`, `block ${i}'s projection`, 'CONV_2D', 1, mid, b.out, 1, false);
    if (isResidual(i)) {
      const add = next(`block ${i}'s residual add`);
      if (add.op !== 'ADD' || (add.options.kind === 'add' && add.options.activation !== 'NONE'))
        fail(`operator ${add.index} is ${add.op}, expected block ${i}'s residual ADD`);
    }
  });
  take('enc_top', 'the last 1x1 convolution', 'CONV_2D', 1, BLOCKS[BLOCKS.length - 1].out, TOP_CHANNELS, 1, true);

  // The classifier, when present: average pooling, then a 1x1 convolution to the logits.
  let classifier: MobileNetV2Weights['classifier'] = null;
  if (ops[at]?.op === 'AVERAGE_POOL_2D' && ops[at + 1]?.op === 'CONV_2D') {
    const c = convs.get(ops[at + 1].index) as FloatConv;
    const [kh, kw, ci, co] = c.filter.shape;
    if (kh === 1 && kw === 1 && ci === TOP_CHANNELS) classifier = { kernel: c.filter.values, bias: c.bias.values, classes: co };
  }
  const input = model.tensors[model.inputs[0]];
  const q = input?.quantization;
  // A uint8 input quantized as (q - zero point) * scale holds x * 255 for x in 0..1: mean and std in 0..1 units.
  const norm = q && input.type === 'uint8' ? { mean: q.zeroPoint[0] / 255, std: 1 / (255 * q.scale[0]) } : { mean: 0.5, std: 0.5 };
  return { encoder, classifier, input: norm };
}
