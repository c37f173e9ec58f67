/**
 * A MobileNetV2 U-Net as an ONNX graph, NCHW, with the U-Net graph's input and output names.
 * Depthwise convolutions are Conv with group = channels; ReLU6 is Clip(0, 6); TensorFlow's
 * 'same' padding of a stride-2 3x3 convolution on an even side is explicit (nothing before, one
 * row and column after), so the graph holds for any input whose sides are multiples of 32.
 * The decoder's batch norm is folded into its convolutions, as in the U-Net's graph.
 */
import { BLOCKS, STEM_CHANNELS, TAP_BLOCKS, TOP_CHANNELS, blockInputs, isResidual, tapChannels } from '../../nets/mobilenetV2/encoder.js';
import type { MobileUNetConfig } from '../../nets/mobilenetV2/unet.js';
import { type OnnxAttr, type OnnxModel, type OnnxNode, type OnnxTensor } from './model.js';
import {
  ONNX_INPUT,
  ONNX_OUTPUT,
  convKernelToOnnx,
  foldBatchNorm,
  segmentationModel,
  upKernelToOnnx,
  type UNetOnnxOptions,
} from './unetGraph.js';

function need(values: Map<string, Float32Array>, name: string): Float32Array {
  const v = values.get(name);
  if (!v) throw new Error(`missing weight ${name}`);
  return v;
}

/** Build the ONNX model of a MobileNetV2 U-Net from its config and named values. */
export function mobileUNetToOnnx(cfg: MobileUNetConfig, values: Map<string, Float32Array>, opts: UNetOnnxOptions): OnnxModel {
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [
    { name: 'relu6.min', dims: [], data: new Float32Array([0]) },
    { name: 'relu6.max', dims: [], data: new Float32Array([6]) },
  ];
  const ints = (name: string, value: number[]) => ({ name, type: 'ints' as const, value });
  const samePads = (k: number, stride: number) => (k === 1 ? [0, 0, 0, 0] : stride === 1 ? [1, 1, 1, 1] : [0, 0, 1, 1]);
  const clip = (x: string): string => {
    nodes.push({ op: 'Clip', name: `${x}_relu6`, inputs: [x, 'relu6.min', 'relu6.max'], outputs: [`${x}_relu6`] });
    return `${x}_relu6`;
  };
  /** A convolution with bias of Keras kernel `kernel` [k, k, cin, cout/group...]; optional scale folds batch norm. */
  const conv = (
    x: string,
    name: string,
    w: Float32Array,
    bias: Float32Array,
    k: number,
    cin: number,
    cout: number,
    stride: number,
    group = 1,
  ): string => {
    const data = group === 1 ? convKernelToOnnx(w, k, k, cin, cout) : depthwiseToOnnx(w, k, cout);
    inits.push({ name: `${name}.weight`, dims: [cout, cin / group, k, k], data }, { name: `${name}.bias`, dims: [cout], data: bias });
    const attrs: OnnxAttr[] = [ints('kernel_shape', [k, k]), ints('pads', samePads(k, stride)), ints('strides', [stride, stride])];
    if (group !== 1) attrs.push({ name: 'group', type: 'int', value: group });
    nodes.push({ op: 'Conv', name, inputs: [x, `${name}.weight`, `${name}.bias`], outputs: [name], attrs });
    return name;
  };
  const encConv = (x: string, name: string, k: number, cin: number, cout: number, stride: number) =>
    conv(x, name, need(values, `${name}/kernel`), need(values, `${name}/bias`), k, cin, cout, stride);

  const taps: string[] = [];
  let h = clip(encConv(ONNX_INPUT, 'enc_stem', 3, cfg.inChannels, STEM_CHANNELS, 2));
  blockInputs().forEach((cin, i) => {
    const b = BLOCKS[i];
    const input = h;
    const mid = cin * b.expand;
    if (b.expand !== 1) {
      h = clip(encConv(h, `enc_b${i}_expand`, 1, cin, mid, 1));
      if (TAP_BLOCKS.includes(i)) taps.push(h);
    }
    h = clip(
      conv(h, `enc_b${i}_dw`, need(values, `enc_b${i}_dw/depthwise_kernel`), need(values, `enc_b${i}_dw/bias`), 3, mid, mid, b.stride, mid),
    );
    h = encConv(h, `enc_b${i}_project`, 1, mid, b.out, 1);
    if (isResidual(i)) {
      nodes.push({ op: 'Add', name: `enc_b${i}_add`, inputs: [h, input], outputs: [`enc_b${i}_add`] });
      h = `enc_b${i}_add`;
    }
  });
  taps.push(clip(encConv(h, 'enc_top', 1, BLOCKS[BLOCKS.length - 1].out, TOP_CHANNELS, 1)));

  const convBnRelu = (x: string, name: string, n: number, cin: number, cout: number): string => {
    const bn = `${name}_bn${n}`;
    const { scale, shift } = foldBatchNorm(
      need(values, `${bn}/gamma`),
      need(values, `${bn}/beta`),
      need(values, `${bn}/moving_mean`),
      need(values, `${bn}/moving_variance`),
      cfg.bnEpsilon,
    );
    const w = `${name}_conv${n}`;
    inits.push(
      { name: `${w}.weight`, dims: [cout, cin, 3, 3], data: convKernelToOnnx(need(values, `${w}/kernel`), 3, 3, cin, cout, scale) },
      { name: `${w}.bias`, dims: [cout], data: shift },
    );
    nodes.push({
      op: 'Conv',
      name: w,
      inputs: [x, `${w}.weight`, `${w}.bias`],
      outputs: [w],
      attrs: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [1, 1])],
    });
    nodes.push({ op: 'Relu', name: `${name}_relu${n}`, inputs: [w], outputs: [`${name}_relu${n}`] });
    return `${name}_relu${n}`;
  };
  const tapC = tapChannels();
  h = taps[4];
  let cin = tapC[4];
  cfg.decoderWidths.forEach((w, j) => {
    const up = `dec${j}_up`;
    inits.push(
      { name: `${up}.weight`, dims: [cin, w, 2, 2], data: upKernelToOnnx(need(values, `${up}/kernel`), cin, w) },
      { name: `${up}.bias`, dims: [w], data: need(values, `${up}/bias`) },
    );
    nodes.push({
      op: 'ConvTranspose',
      name: up,
      inputs: [h, `${up}.weight`, `${up}.bias`],
      outputs: [up],
      attrs: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])],
    });
    let x = up;
    if (j < 4) {
      nodes.push({
        op: 'Concat',
        name: `dec${j}_concat`,
        inputs: [up, taps[3 - j]],
        outputs: [`dec${j}_concat`],
        attrs: [{ name: 'axis', type: 'int', value: 1 }],
      });
      x = `dec${j}_concat`;
    }
    h = convBnRelu(convBnRelu(x, `dec${j}`, 1, w + (j < 4 ? tapC[3 - j] : 0), w), `dec${j}`, 2, w, w);
    cin = w;
  });
  const k = cfg.numClasses;
  inits.push(
    { name: 'head.weight', dims: [k, cin, 1, 1], data: convKernelToOnnx(need(values, 'head/kernel'), 1, 1, cin, k) },
    { name: 'head.bias', dims: [k], data: need(values, 'head/bias') },
  );
  nodes.push({
    op: 'Conv',
    name: 'head',
    inputs: [h, 'head.weight', 'head.bias'],
    outputs: [ONNX_OUTPUT],
    attrs: [ints('kernel_shape', [1, 1])],
  });
  return segmentationModel('gapseg_mobilenet_v2_unet', nodes, inits, cfg.inChannels, k, opts);
}

/** TF.js depthwise kernel [k, k, c, 1] to ONNX grouped Conv weight [c, 1, k, k]. */
function depthwiseToOnnx(w: Float32Array, k: number, c: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < k; y++)
    for (let x = 0; x < k; x++) for (let ch = 0; ch < c; ch++) out[(ch * k + y) * k + x] = w[(y * k + x) * c + ch];
  return out;
}
