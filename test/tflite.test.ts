/**
 * The TFLite reader: synthetic float32, uint8 and int8 (per-channel) graphs give back the float
 * filters and biases they mean, in TF.js layouts; bad files are refused in one line naming the
 * file (also the real MobileNetV2 file cut short, where $GAPSEG_WEIGHTS_DIR or ../shared/weights
 * holds it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers.js';
import { GapsegError } from '../src/util/errors.js';
import { parseTflite, readTflite } from '../src/formats/tflite/reader.js';
import { floatConvs } from '../src/formats/tflite/dequantize.js';
import { noRealWeights, realWeights } from './mobilenetFixture.js';
import { buildTflite, bytesOf, type GraphSpec, type TensorSpec } from './tfliteBuild.js';

/** Deterministic values in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

type Kind = 'float32' | 'uint8' | 'int8';

/**
 * input [1,8,8,3] -> conv 3x3 stride 2 SAME ReLU6 (4 ch) -> depthwise 3x3 -> add (ReLU) ->
 * avg pool 4x4 -> reshape [1,4] -> softmax; weights in `kind`, int8 filters per channel.
 * Returns the file and the float weights the file means, in TFLite layouts.
 */
function tinyGraph(kind: Kind): { spec: GraphSpec; conv: number[]; convBias: number[]; dw: number[]; dwBias: number[] } {
  const r = rng(kind.length * 7 + 1);
  const conv = Array.from({ length: 4 * 3 * 3 * 3 }, () => r() - 0.5);
  const convBias = Array.from({ length: 4 }, () => r() - 0.5);
  const dw = Array.from({ length: 3 * 3 * 4 }, () => 2 * r() - 1);
  const dwBias = Array.from({ length: 4 }, () => r() - 0.5);
  const inScale = 1 / 128;
  const act = (name: string, shape: number[]): TensorSpec => ({
    name,
    shape,
    type: kind === 'float32' ? 'float32' : kind,
    quant: kind === 'float32' ? undefined : { scale: [6 / 255], zeroPoint: [kind === 'int8' ? -128 : 0] },
  });
  let weights: TensorSpec[];
  if (kind === 'float32') {
    weights = [
      { name: 'conv/weights', shape: [4, 3, 3, 3], type: 'float32', data: bytesOf(Float32Array.from(conv)) },
      { name: 'conv/bias', shape: [4], type: 'float32', data: bytesOf(Float32Array.from(convBias)) },
      { name: 'dw/weights', shape: [1, 3, 3, 4], type: 'float32', data: bytesOf(Float32Array.from(dw)) },
      { name: 'dw/bias', shape: [4], type: 'float32', data: bytesOf(Float32Array.from(dwBias)) },
    ];
  } else if (kind === 'uint8') {
    // Per tensor, asymmetric: q = round(w / s) + z; the file then means s * (q - z).
    const quantize = (w: number[], s: number, z: number): Uint8Array =>
      Uint8Array.from(w, (v) => Math.max(0, Math.min(255, Math.round(v / s) + z)));
    const cq = quantize(conv, 0.004, 130);
    const dq = quantize(dw, 0.008, 120);
    conv.splice(0, conv.length, ...Array.from(cq, (q) => 0.004 * (q - 130)));
    dw.splice(0, dw.length, ...Array.from(dq, (q) => 0.008 * (q - 120)));
    const cb = Int32Array.from(convBias, (v) => Math.round(v / (inScale * 0.004)));
    const db = Int32Array.from(dwBias, (v) => Math.round(v / ((6 / 255) * 0.008)));
    convBias.splice(0, 4, ...Array.from(cb, (q) => q * inScale * 0.004));
    dwBias.splice(0, 4, ...Array.from(db, (q) => q * (6 / 255) * 0.008));
    weights = [
      { name: 'conv/weights', shape: [4, 3, 3, 3], type: 'uint8', quant: { scale: [0.004], zeroPoint: [130] }, data: cq },
      { name: 'conv/bias', shape: [4], type: 'int32', quant: { scale: [inScale * 0.004], zeroPoint: [0] }, data: bytesOf(cb) },
      { name: 'dw/weights', shape: [1, 3, 3, 4], type: 'uint8', quant: { scale: [0.008], zeroPoint: [120] }, data: dq },
      { name: 'dw/bias', shape: [4], type: 'int32', quant: { scale: [(6 / 255) * 0.008], zeroPoint: [0] }, data: bytesOf(db) },
    ];
  } else {
    // Per channel, symmetric: conv along dimension 0 (O of OHWI), depthwise along 3 (C*M).
    const cs = [0.002, 0.003, 0.004, 0.005];
    const ds = [0.005, 0.006, 0.007, 0.008];
    const cq = Int8Array.from(conv, (v, i) => Math.max(-127, Math.min(127, Math.round(v / cs[Math.floor(i / 27)]))));
    const dq = Int8Array.from(dw, (v, i) => Math.max(-127, Math.min(127, Math.round(v / ds[i % 4]))));
    conv.splice(0, conv.length, ...Array.from(cq, (q, i) => cs[Math.floor(i / 27)] * q));
    dw.splice(0, dw.length, ...Array.from(dq, (q, i) => ds[i % 4] * q));
    const cb = Int32Array.from(convBias, (v, c) => Math.round(v / (inScale * cs[c])));
    const db = Int32Array.from(dwBias, (v, c) => Math.round(v / ((6 / 255) * ds[c])));
    convBias.splice(0, 4, ...Array.from(cb, (q, c) => q * inScale * cs[c]));
    dwBias.splice(0, 4, ...Array.from(db, (q, c) => q * (6 / 255) * ds[c]));
    weights = [
      {
        name: 'conv/weights',
        shape: [4, 3, 3, 3],
        type: 'int8',
        quant: { scale: cs, zeroPoint: [0, 0, 0, 0], dimension: 0 },
        data: bytesOf(cq),
      },
      {
        name: 'conv/bias',
        shape: [4],
        type: 'int32',
        quant: { scale: cs.map((s) => inScale * s), zeroPoint: [0, 0, 0, 0] },
        data: bytesOf(cb),
      },
      {
        name: 'dw/weights',
        shape: [1, 3, 3, 4],
        type: 'int8',
        quant: { scale: ds, zeroPoint: [0, 0, 0, 0], dimension: 3 },
        data: bytesOf(dq),
      },
      {
        name: 'dw/bias',
        shape: [4],
        type: 'int32',
        quant: { scale: ds.map((s) => (6 / 255) * s), zeroPoint: [0, 0, 0, 0] },
        data: bytesOf(db),
      },
    ];
  }
  const input: TensorSpec = {
    ...act('input', [1, 8, 8, 3]),
    quant: kind === 'float32' ? undefined : { scale: [inScale], zeroPoint: [kind === 'int8' ? 0 : 128] },
  };
  const spec: GraphSpec = {
    tensors: [
      input,
      weights[0],
      weights[1],
      act('conv/Relu6', [1, 4, 4, 4]),
      weights[2],
      weights[3],
      act('dw/BiasAdd', [1, 4, 4, 4]),
      act('add/Relu', [1, 4, 4, 4]),
      act('pool', [1, 1, 1, 4]),
      { name: 'shape', shape: [2], type: 'int32', data: bytesOf(Int32Array.from([1, 4])) },
      act('logits', [1, 4]),
      { ...act('probs', [1, 4]), quant: kind === 'float32' ? undefined : { scale: [1 / 256], zeroPoint: [kind === 'int8' ? -128 : 0] } },
    ],
    operators: [
      { op: 'CONV_2D', inputs: [0, 1, 2], outputs: [3], padding: 'SAME', strides: [2, 2], activation: 'RELU6' },
      {
        op: 'DEPTHWISE_CONV_2D',
        inputs: [3, 4, 5],
        outputs: [6],
        padding: 'SAME',
        strides: [1, 1],
        depthMultiplier: 1,
        activation: 'NONE',
      },
      { op: 'ADD', inputs: [3, 6], outputs: [7], activation: 'RELU' },
      { op: 'AVERAGE_POOL_2D', inputs: [7], outputs: [8], padding: 'VALID', strides: [1, 1], filter: [4, 4] },
      { op: 'RESHAPE', inputs: [8, 9], outputs: [10] },
      { op: 'SOFTMAX', inputs: [10], outputs: [11], beta: 1 },
    ],
    inputs: [0],
    outputs: [11],
  };
  return { spec, conv, convBias, dw, dwBias };
}

/** One-line GapsegError that names the file. */
function assertFileError(fn: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GapsegError, `not a GapsegError: ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `more than one line: ${e.message}`);
    assert.ok(e.message.startsWith(`${file}: `), `does not start with the file: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

for (const kind of ['float32', 'uint8', 'int8'] as const) {
  test(`a ${kind} graph reads back the float filters and biases it means, in TF.js layouts`, () => {
    const g = tinyGraph(kind);
    const model = parseTflite(buildTflite(g.spec), `tiny-${kind}.tflite`);
    assert.equal(model.operators.map((o) => o.op).join(' '), 'CONV_2D DEPTHWISE_CONV_2D ADD AVERAGE_POOL_2D RESHAPE SOFTMAX');
    assert.deepEqual(model.operators[0].options, {
      kind: 'conv',
      padding: 'SAME',
      strides: [2, 2],
      dilations: [1, 1],
      activation: 'RELU6',
    });
    assert.equal(model.tensors[1].type, kind);
    if (kind === 'int8') assert.equal(model.tensors[4].quantization?.dimension, 3);
    const convs = floatConvs(model);
    const conv = convs.get(0)!;
    const dw = convs.get(1)!;
    assert.deepEqual(conv.filter.shape, [3, 3, 3, 4]);
    assert.deepEqual(dw.filter.shape, [3, 3, 4, 1]);
    const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
      assert.equal(a.length, b.length, what);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-6, `${kind} ${what}[${i}]: ${a[i]} vs ${b[i]}`);
    };
    // OHWI [o, y, x, i] -> HWIO [y, x, i, o].
    const hwio = new Float32Array(4 * 27);
    for (let o = 0; o < 4; o++)
      for (let y = 0; y < 3; y++)
        for (let x = 0; x < 3; x++) for (let i = 0; i < 3; i++) hwio[((y * 3 + x) * 3 + i) * 4 + o] = g.conv[((o * 3 + y) * 3 + x) * 3 + i];
    close(conv.filter.values, hwio, 'conv filter');
    close(conv.bias.values, g.convBias, 'conv bias');
    close(dw.filter.values, g.dw, 'depthwise filter');
    close(dw.bias.values, g.dwBias, 'depthwise bias');
  });
}

test('bad files are refused with one line naming the file', () => {
  const dir = tmpDir('gapseg-tflite-');
  const good = buildTflite(tinyGraph('uint8').spec);
  const write = (name: string, bytes: Uint8Array | string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, bytes);
    return f;
  };
  const missing = path.join(dir, 'missing.tflite');
  assertFileError(() => readTflite(missing), missing, /cannot read TFLite model \(ENOENT: not found\)/);
  const text = write('notes.tflite', 'this is a text file, not a model\n');
  assertFileError(() => readTflite(text), text, /not a TFLite model \(file identifier " is " at bytes 4-7, expected "TFL3"\)/);
  const tiny = write('tiny.tflite', new Uint8Array([1, 2, 3]));
  assertFileError(() => readTflite(tiny), tiny, /not a TFLite model \(3 bytes, too short/);
  const wrongId = good.slice();
  wrongId.set([0x54, 0x46, 0x4c, 0x32], 4);
  const wrong = write('wrong-id.tflite', wrongId);
  assertFileError(() => readTflite(wrong), wrong, /file identifier "TFL2".*expected "TFL3"/);
  for (const keep of [0.3, 0.6, 0.9, 0.99]) {
    const cut = write(`cut-${keep}.tflite`, good.subarray(0, Math.floor(good.length * keep)));
    assertFileError(() => readTflite(cut), cut, /truncated or corrupt TFLite model/);
  }
});

test('the real model: a truncated flatbuffer is refused in one line', { skip: noRealWeights() }, () => {
  const bytes = fs.readFileSync(realWeights()!);
  // The flatbuffer ends ~22 KB before the file does: a ZIP of the label file (TFLite
  // metadata's associated files) follows it, which the model does not need.
  for (const keep of [0.001, 0.1, 0.5, 0.9, 0.99]) {
    const name = `mobilenet cut to ${keep}`;
    assertFileError(
      () => parseTflite(new Uint8Array(bytes.subarray(0, Math.floor(bytes.length * keep))), name),
      name,
      /truncated or corrupt/,
    );
  }
});
