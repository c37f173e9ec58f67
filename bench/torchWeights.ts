/**
 * gapseg's weights for the PyTorch peers (the U-Net's under bench/torch_unet_model.py's names,
 * other networks' under gapseg's own), so that both engines can be checked to compute the same
 * network.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TensorSpec } from '../src/nets/index.js';
import type { UNetConfig } from '../src/nets/unet/unet.js';
import { convKernelToOnnx, upKernelToOnnx } from '../src/formats/onnx/unetGraph.js';

/** A float32 file of tensors and its index: name, shape and byte offset of each. */
export interface TensorFile {
  weights: string;
  tensors: { name: string; shape: number[]; offset: number }[];
}

/** Write gapseg's tensors under PyTorch state_dict names of the reference UNet; returns the file and its index. */
export async function writeTorchWeights(dir: string, cfg: UNetConfig, values: Map<string, Float32Array>): Promise<TensorFile> {
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  const w = Array.from({ length: cfg.depth + 1 }, (_, i) => cfg.baseWidth * 2 ** i);
  const v = (n: string) => values.get(n)!;
  const block = (gname: string, tname: string, cin: number, cout: number) => {
    for (const [n, conv, bn] of [
      [1, 0, 1],
      [2, 3, 4],
    ] as const) {
      const ci = n === 1 ? cin : cout;
      tensors.push({
        name: `${tname}.${conv}.weight`,
        shape: [cout, ci, 3, 3],
        data: convKernelToOnnx(v(`${gname}_conv${n}/kernel`), 3, 3, ci, cout),
      });
      tensors.push({ name: `${tname}.${bn}.weight`, shape: [cout], data: v(`${gname}_bn${n}/gamma`) });
      tensors.push({ name: `${tname}.${bn}.bias`, shape: [cout], data: v(`${gname}_bn${n}/beta`) });
      tensors.push({ name: `${tname}.${bn}.running_mean`, shape: [cout], data: v(`${gname}_bn${n}/moving_mean`) });
      tensors.push({ name: `${tname}.${bn}.running_var`, shape: [cout], data: v(`${gname}_bn${n}/moving_variance`) });
    }
  };
  let cin = cfg.inChannels;
  for (let i = 0; i < cfg.depth; i++) {
    block(`enc${i}`, `enc.${i}`, cin, w[i]);
    cin = w[i];
  }
  block('mid', 'mid', cin, w[cfg.depth]);
  for (let i = cfg.depth - 1; i >= 0; i--) {
    const j = cfg.depth - 1 - i;
    tensors.push({ name: `up.${j}.weight`, shape: [w[i + 1], w[i], 2, 2], data: upKernelToOnnx(v(`dec${i}_up/kernel`), w[i + 1], w[i]) });
    tensors.push({ name: `up.${j}.bias`, shape: [w[i]], data: v(`dec${i}_up/bias`) });
    block(`dec${i}`, `dec.${j}`, 2 * w[i], w[i]);
  }
  tensors.push({
    name: 'head.weight',
    shape: [cfg.numClasses, w[0], 1, 1],
    data: convKernelToOnnx(v('head/kernel'), 1, 1, w[0], cfg.numClasses),
  });
  tensors.push({ name: 'head.bias', shape: [cfg.numClasses], data: v('head/bias') });
  return writeTensorFile(path.join(dir, 'torch-weights.bin'), tensors);
}

/**
 * gapseg's tensors under their own names and in its own (TensorFlow) layout, for a PyTorch twin
 * that reads them by name (bench/torch_mobilenet_unet.py); returns the file and its index.
 */
export function writeGapsegTensors(dir: string, specs: TensorSpec[], values: Map<string, Float32Array>): TensorFile {
  return writeTensorFile(
    path.join(dir, 'gapseg-tensors.bin'),
    specs.map((s) => ({ name: s.name, shape: s.shape, data: values.get(s.name)! })),
  );
}

/** One float32 file of the tensors, back to back, and its index (name, shape, byte offset). */
function writeTensorFile(file: string, tensors: { name: string; shape: number[]; data: Float32Array }[]): TensorFile {
  const fd = fs.openSync(file, 'w');
  let offset = 0;
  const index = tensors.map((t) => {
    fs.writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    const e = { name: t.name, shape: t.shape, offset };
    offset += t.data.byteLength;
    return e;
  });
  fs.closeSync(fd);
  return { weights: file, tensors: index };
}
