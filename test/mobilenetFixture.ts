/**
 * A MobileNetV2 1.0 as a float32 TFLite file with seeded random weights, for the tests that
 * need a pretrained encoder without the real ImageNet file: the same operators, shapes, strides
 * and activations as TFLite's MobileNetV2, a small classifier after it. Also where the real
 * weights are ($GAPSEG_WEIGHTS_DIR, else ../shared/weights beside the repository).
 */
import fs from 'node:fs';
import path from 'node:path';
import { BLOCKS, STEM_CHANNELS, TOP_CHANNELS, blockInputs, isResidual } from '../src/nets/mobilenetV2/encoder.js';
import { makeRng, normal } from '../src/util/random.js';
import { ROOT } from './helpers.js';
import { buildTflite, bytesOf, type GraphSpec, type OpSpec, type TensorSpec } from './tfliteBuild.js';

/** The folder of the real weights (it may not exist). */
export function weightsDir(): string {
  return process.env.GAPSEG_WEIGHTS_DIR || path.join(ROOT, '..', 'shared', 'weights');
}

/** The real MobileNetV2 .tflite file, or null when it is not there. */
export function realWeights(): string | null {
  const f = path.join(weightsDir(), 'mobilenet_v2', 'mobilenet_v2_1.0_224_quant.tflite');
  return fs.existsSync(f) ? f : null;
}

/** Why the tests that need the real weights skip (false when they run). */
export function noRealWeights(): string | false {
  return realWeights()
    ? false
    : `no MobileNetV2 weights at ${path.join(weightsDir(), 'mobilenet_v2')} (set GAPSEG_WEIGHTS_DIR to the folder holding mobilenet_v2/)`;
}

export interface SyntheticOptions {
  seed?: number;
  /** Change one operator's stride (to test that the reader refuses another network). */
  breakStride?: number;
  /** Classes of the classifier after the encoder. */
  classes?: number;
}

/** A synthetic float MobileNetV2 TFLite file: its bytes, and its filters in TFLite layouts by gapseg name. */
export function syntheticMobileNetV2(opts: SyntheticOptions = {}): {
  bytes: Uint8Array;
  filters: Map<string, { ohwi: Float32Array; bias: Float32Array; shape: number[] }>;
} {
  const rng = makeRng(opts.seed ?? 1);
  const tensors: TensorSpec[] = [];
  const operators: OpSpec[] = [];
  const filters = new Map<string, { ohwi: Float32Array; bias: Float32Array; shape: number[] }>();
  const add = (t: TensorSpec) => tensors.push(t) - 1;
  let size = 224;
  const act = (name: string, channels: number) => add({ name, shape: [1, size, size, channels], type: 'float32' });
  const convOp = (
    name: string,
    input: number,
    k: number,
    cin: number,
    cout: number,
    stride: number,
    depthwise: boolean,
    relu6: boolean,
  ): number => {
    const shape = depthwise ? [1, k, k, cout] : [cout, k, k, cin];
    const n = shape.reduce((a, b) => a * b, 1);
    const std = Math.sqrt(2 / (depthwise ? k * k : k * k * cin));
    const w = Float32Array.from({ length: n }, () => normal(rng) * std);
    const b = Float32Array.from({ length: cout }, () => 0.05 * normal(rng));
    filters.set(name, { ohwi: w, bias: b, shape });
    const wi = add({ name: `${name}/weights`, shape, type: 'float32', data: bytesOf(w) });
    const bi = add({ name: `${name}/bias`, shape: [cout], type: 'float32', data: bytesOf(b) });
    if (stride === 2) size /= 2;
    const out = act(`${name}/out`, cout);
    const s = (operators.length === opts.breakStride ? 3 - stride : stride) as 1 | 2;
    operators.push(
      depthwise
        ? {
            op: 'DEPTHWISE_CONV_2D',
            inputs: [input, wi, bi],
            outputs: [out],
            padding: 'SAME',
            strides: [s, s],
            depthMultiplier: 1,
            activation: relu6 ? 'RELU6' : 'NONE',
          }
        : {
            op: 'CONV_2D',
            inputs: [input, wi, bi],
            outputs: [out],
            padding: 'SAME',
            strides: [s, s],
            activation: relu6 ? 'RELU6' : 'NONE',
          },
    );
    return out;
  };
  const input = act('input', 3);
  let h = convOp('enc_stem', input, 3, 3, STEM_CHANNELS, 2, false, true);
  blockInputs().forEach((cin, i) => {
    const b = BLOCKS[i];
    const mid = cin * b.expand;
    const blockInput = h;
    if (b.expand !== 1) h = convOp(`enc_b${i}_expand`, h, 1, cin, mid, 1, false, true);
    h = convOp(`enc_b${i}_dw`, h, 3, mid, mid, b.stride, true, true);
    h = convOp(`enc_b${i}_project`, h, 1, mid, b.out, 1, false, false);
    if (isResidual(i)) {
      const out = act(`enc_b${i}_add`, b.out);
      operators.push({ op: 'ADD', inputs: [h, blockInput], outputs: [out], activation: 'NONE' });
      h = out;
    }
  });
  h = convOp('enc_top', h, 1, BLOCKS[BLOCKS.length - 1].out, TOP_CHANNELS, 1, false, true);
  const classes = opts.classes ?? 10;
  const pooledSize = size;
  size = 1;
  const pooled = act('pool', TOP_CHANNELS);
  operators.push({
    op: 'AVERAGE_POOL_2D',
    inputs: [h],
    outputs: [pooled],
    padding: 'VALID',
    strides: [1, 1],
    filter: [pooledSize, pooledSize],
  });
  const logits = convOp('classifier', pooled, 1, TOP_CHANNELS, classes, 1, false, false);
  const spec: GraphSpec = { tensors, operators, inputs: [input], outputs: [logits] };
  return { bytes: buildTflite(spec), filters };
}
