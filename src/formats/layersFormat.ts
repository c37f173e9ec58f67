/**
 * The TensorFlow.js layers format (model.json + weights.bin), so a gapseg model also loads
 * in a browser with `tf.loadLayersModel`. The topology is produced by tfjs-layers itself
 * from the same network config, so it is what the browser expects; weights are copied by name.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { levelWidths, type UNetConfig } from '../nets/unet/unet.js';
import { netKind, netSpecs, type NetConfig } from '../nets/index.js';
import { BLOCKS, STEM_CHANNELS, TAP_BLOCKS, TOP_CHANNELS, isResidual } from '../nets/mobilenetV2/encoder.js';
import type { MobileUNetConfig } from '../nets/mobilenetV2/unet.js';

/** Build the tfjs-layers functional model equivalent to `unetForward` in inference mode. */
export function layersUNet(cfg: UNetConfig): tfl.LayersModel {
  const w = levelWidths(cfg);
  const input = tfl.input({ shape: [null, null, cfg.inChannels], name: 'image' });
  const convBnRelu = (x: tfl.SymbolicTensor, name: string, n: number, width: number) => {
    const c = tfl.layers.conv2d({ filters: width, kernelSize: 3, padding: 'same', useBias: false, name: `${name}_conv${n}` }).apply(x);
    const b = tfl.layers
      .batchNormalization({ axis: -1, epsilon: cfg.bnEpsilon, momentum: cfg.bnMomentum, name: `${name}_bn${n}` })
      .apply(c);
    return tfl.layers.activation({ activation: 'relu', name: `${name}_relu${n}` }).apply(b) as tfl.SymbolicTensor;
  };
  let h: tfl.SymbolicTensor = input;
  const skips: tfl.SymbolicTensor[] = [];
  for (let i = 0; i < cfg.depth; i++) {
    h = convBnRelu(h, `enc${i}`, 1, w[i]);
    h = convBnRelu(h, `enc${i}`, 2, w[i]);
    skips.push(h);
    h = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: `enc${i}_pool` }).apply(h) as tfl.SymbolicTensor;
  }
  h = convBnRelu(h, 'mid', 1, w[cfg.depth]);
  h = convBnRelu(h, 'mid', 2, w[cfg.depth]);
  for (let i = cfg.depth - 1; i >= 0; i--) {
    const up = tfl.layers
      .conv2dTranspose({ filters: w[i], kernelSize: 2, strides: 2, padding: 'same', name: `dec${i}_up` })
      .apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.concatenate({ axis: -1, name: `dec${i}_concat` }).apply([up, skips[i]]) as tfl.SymbolicTensor;
    h = convBnRelu(h, `dec${i}`, 1, w[i]);
    h = convBnRelu(h, `dec${i}`, 2, w[i]);
  }
  const logits = tfl.layers.conv2d({ filters: cfg.numClasses, kernelSize: 1, name: 'head' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: logits, name: 'gapseg_unet' });
}

/** Build the tfjs-layers functional model of a MobileNetV2 U-Net in inference mode (same names as its tensors). */
export function layersMobileUNet(cfg: MobileUNetConfig): tfl.LayersModel {
  const input = tfl.input({ shape: [null, null, cfg.inChannels], name: 'image' });
  const relu6 = (x: tfl.SymbolicTensor, name: string) =>
    tfl.layers.reLU({ maxValue: 6, name: `${name}_relu6` }).apply(x) as tfl.SymbolicTensor;
  const conv = (x: tfl.SymbolicTensor, name: string, filters: number, k: number, stride: number, act: boolean) => {
    const y = tfl.layers.conv2d({ filters, kernelSize: k, strides: stride, padding: 'same', name }).apply(x) as tfl.SymbolicTensor;
    return act ? relu6(y, name) : y;
  };
  const taps: tfl.SymbolicTensor[] = [];
  let h = conv(input, 'enc_stem', STEM_CHANNELS, 3, 2, true);
  let cin = STEM_CHANNELS;
  BLOCKS.forEach((b, i) => {
    const blockInput = h;
    if (b.expand !== 1) {
      h = conv(h, `enc_b${i}_expand`, cin * b.expand, 1, 1, true);
      if (TAP_BLOCKS.includes(i)) taps.push(h);
    }
    h = relu6(
      tfl.layers
        .depthwiseConv2d({ kernelSize: 3, strides: b.stride, padding: 'same', name: `enc_b${i}_dw` })
        .apply(h) as tfl.SymbolicTensor,
      `enc_b${i}_dw`,
    );
    h = conv(h, `enc_b${i}_project`, b.out, 1, 1, false);
    if (isResidual(i)) h = tfl.layers.add({ name: `enc_b${i}_add` }).apply([h, blockInput]) as tfl.SymbolicTensor;
    cin = b.out;
  });
  taps.push(conv(h, 'enc_top', TOP_CHANNELS, 1, 1, true));
  const convBnRelu = (x: tfl.SymbolicTensor, name: string, n: number, width: number) => {
    const c = tfl.layers.conv2d({ filters: width, kernelSize: 3, padding: 'same', useBias: false, name: `${name}_conv${n}` }).apply(x);
    const b = tfl.layers
      .batchNormalization({ axis: -1, epsilon: cfg.bnEpsilon, momentum: cfg.bnMomentum, name: `${name}_bn${n}` })
      .apply(c);
    return tfl.layers.activation({ activation: 'relu', name: `${name}_relu${n}` }).apply(b) as tfl.SymbolicTensor;
  };
  h = taps[4];
  cfg.decoderWidths.forEach((w, j) => {
    let x = tfl.layers
      .conv2dTranspose({ filters: w, kernelSize: 2, strides: 2, padding: 'same', name: `dec${j}_up` })
      .apply(h) as tfl.SymbolicTensor;
    if (j < 4) x = tfl.layers.concatenate({ axis: -1, name: `dec${j}_concat` }).apply([x, taps[3 - j]]) as tfl.SymbolicTensor;
    h = convBnRelu(convBnRelu(x, `dec${j}`, 1, w), `dec${j}`, 2, w);
  });
  const logits = tfl.layers.conv2d({ filters: cfg.numClasses, kernelSize: 1, name: 'head' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: logits, name: 'gapseg_mobilenet_v2_unet' });
}

/** The tfjs-layers model of a network. */
export function layersModelOf(cfg: NetConfig): tfl.LayersModel {
  return netKind(cfg) === 'unet' ? layersUNet(cfg as UNetConfig) : layersMobileUNet(cfg as MobileUNetConfig);
}

/** The two files of the layers format, ready to write. */
export interface LayersFiles {
  modelJson: string;
  weightsBin: Uint8Array;
}

/** Serialise named U-Net values to model.json + weights.bin (weights file name fixed). */
export async function toLayersFiles(cfg: NetConfig, values: Map<string, Float32Array>, metadata: object): Promise<LayersFiles> {
  const model = layersModelOf(cfg);
  try {
    const weights = model.weights.map((wt) => {
      const v = values.get(wt.originalName);
      if (!v) throw new Error(`no value for layers weight ${wt.originalName}`);
      return tf.tensor(v, wt.shape as number[]);
    });
    model.setWeights(weights);
    tf.dispose(weights);
    let files: LayersFiles | null = null;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const data = artifacts.weightData as ArrayBuffer;
        const json = {
          format: 'layers-model',
          generatedBy: 'gapseg',
          convertedBy: null,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
          userDefinedMetadata: { gapseg: metadata },
        };
        files = { modelJson: JSON.stringify(json), weightsBin: new Uint8Array(data) };
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
      }),
    );
    if (!files) throw new Error('layers model save produced nothing');
    return files;
  } finally {
    model.dispose();
  }
}

/** Read named float32 values back from layers-format files written by toLayersFiles. */
export function fromLayersFiles(modelJson: string, weightsBin: Uint8Array, file: string): Map<string, Float32Array> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(modelJson);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const json = parsed as { weightsManifest?: { weights: { name: string; shape: number[]; dtype: string }[] }[] };
  const specs = (json.weightsManifest ?? []).flatMap((g) => g.weights);
  const out = new Map<string, Float32Array>();
  let offset = 0;
  const bytes = weightsBin.slice().buffer;
  for (const s of specs) {
    if (s.dtype !== 'float32') throw new Error(`${file}: weight ${s.name} has dtype ${s.dtype}; only float32 is supported`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (offset + 4 * n > bytes.byteLength) throw new Error(`${file}: weights file is shorter than the manifest says`);
    out.set(s.name, new Float32Array(bytes, offset, n));
    offset += 4 * n;
  }
  return out;
}

/** Check that loaded values cover a config's tensors with the right sizes. */
export function checkValues(cfg: NetConfig, values: Map<string, Float32Array>, file: string): void {
  for (const s of netSpecs(cfg)) {
    const v = values.get(s.name);
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!v) throw new Error(`${file}: weight ${s.name} is missing`);
    if (v.length !== n) throw new Error(`${file}: weight ${s.name} has ${v.length} values, expected ${n}`);
  }
}
