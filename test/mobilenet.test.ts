/**
 * The MobileNetV2 U-Net: TFLite weights read into the encoder (a synthetic float file here,
 * and the real ImageNet file where it is present: its classifier must name the reference
 * photos), the network's autodiff training step against a plain reference, the frozen encoder,
 * Adam's per-parameter counts, the fine-tuning schedule, and a run through the API with exact
 * resume, the layers format (as the browser loads it) and the checked ONNX export.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { engine, tmpDir } from './helpers.js';
import { noRealWeights, realWeights, syntheticMobileNetV2, weightsDir } from './mobilenetFixture.js';
import { readPhoto } from './photo.js';
import { readMobileNetV2, mobileNetV2Weights } from '../src/formats/tflite/mobilenetV2.js';
import { parseTflite } from '../src/formats/tflite/reader.js';
import { BLOCKS, TAP_BLOCKS, encoderForward, isResidual, tapChannels } from '../src/nets/mobilenetV2/encoder.js';
import { DEFAULT_MOBILE_UNET, decoderForward, type MobileUNet, type MobileUNetConfig } from '../src/nets/mobilenetV2/unet.js';
import { createNet, disposeNet, netForward, netLossAndGradients, netReceptiveRadius, type AnyNet } from '../src/nets/index.js';
import { lossTargets, maskedCrossEntropy } from '../src/losses/crossEntropy.js';
import { adamUpdate, createAdamState, disposeAdamState } from '../src/train/adam.js';
import { trainingPhases } from '../src/train/loop.js';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { loadModel } from '../src/formats/modelFolder.js';
import { exportOnnx } from '../src/formats/onnx/export.js';
import { writeSampleDataset } from '../src/data/sample.js';
import { VOID_INDEX } from '../src/data/classes.js';
import { makeRng } from '../src/util/random.js';
import { GapsegError } from '../src/util/errors.js';
import { train } from '../src/index.js';

before(engine);

const CFG: MobileUNetConfig = { ...DEFAULT_MOBILE_UNET, numClasses: 2, decoderWidths: [16, 16, 8, 8, 8] };

function synthFile(dir: string, opts: Parameters<typeof syntheticMobileNetV2>[0] = {}): string {
  const f = path.join(dir, `mnv2-${opts.seed ?? 1}-${opts.breakStride ?? 'ok'}.tflite`);
  fs.writeFileSync(f, syntheticMobileNetV2(opts).bytes);
  return f;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test("a TFLite MobileNetV2 becomes the encoder's tensors: filters in TF.js layouts, biases, its input normalisation", () => {
  const { bytes, filters } = syntheticMobileNetV2({ seed: 3 });
  const w = mobileNetV2Weights(parseTflite(bytes, 'synthetic.tflite'));
  assert.equal(w.encoder.size, 2 * (1 + 16 * 3 + 2 + 1), 'stem, 17 blocks (the first without expansion), top: a filter and a bias each');
  // A 1x1 conv OHWI [o,1,1,i] is HWIO [1,1,i,o]: value (o, i) moves to i * cout + o.
  const proj = filters.get('enc_b5_project')!;
  const [cout, , , cin] = proj.shape;
  const got = w.encoder.get('enc_b5_project/kernel')!;
  for (const [o, i] of [
    [0, 0],
    [3, 7],
    [cout - 1, cin - 1],
  ])
    assert.equal(got[i * cout + o], proj.ohwi[o * cin + i]);
  // A depthwise [1,3,3,c] filter is [3,3,c,1]: the same order.
  assert.deepEqual(w.encoder.get('enc_b2_dw/depthwise_kernel'), filters.get('enc_b2_dw')!.ohwi);
  assert.deepEqual(w.encoder.get('enc_top/bias'), filters.get('enc_top')!.bias);
  assert.equal(w.classifier?.classes, 10);
  assert.deepEqual(w.input, { mean: 0.5, std: 0.5 });
});

test('a file of another network is refused in one line naming the file and the operator', () => {
  const dir = tmpDir();
  const f = synthFile(dir, { breakStride: 4 });
  assert.throws(
    () => readMobileNetV2(f),
    (e: unknown) =>
      e instanceof GapsegError &&
      !e.message.includes('\n') &&
      e.message.startsWith(`${f}: not a MobileNetV2 1.0`) &&
      /operator 4 .*strides/.test(e.message),
  );
  const bad = path.join(dir, 'text.tflite');
  fs.writeFileSync(bad, 'not a model at all');
  assert.throws(
    () => readMobileNetV2(bad),
    (e: unknown) => e instanceof GapsegError && e.message.startsWith(`${bad}: not a TFLite model`),
  );
});

test('the encoder taps five maps at strides 2..32 with 96, 144, 192, 576 and 1280 channels', () => {
  const { encoder } = mobileNetV2Weights(parseTflite(syntheticMobileNetV2().bytes, 'synthetic.tflite'));
  const net = createNet(CFG, 1, encoder);
  const taps = encoderForward(net.params, tf.zeros([1, 256, 192, 3]) as tf.Tensor4D);
  assert.deepEqual(
    taps.map((t) => t.shape),
    [
      [1, 128, 96, 96],
      [1, 64, 48, 144],
      [1, 32, 24, 192],
      [1, 16, 12, 576],
      [1, 8, 6, 1280],
    ],
  );
  tf.dispose(taps);
  assert.deepEqual(tapChannels(), [96, 144, 192, 576, 1280]);
  disposeNet(net);
  assert.ok(netReceptiveRadius(CFG) > 200, 'the receptive radius covers the deep encoder');
});

test(
  'the real ImageNet MobileNetV2, read by gapseg, names the reference photos: "Egyptian cat" and "chickadee"',
  { skip: noRealWeights() },
  async () => {
    const w = readMobileNetV2(realWeights()!);
    assert.ok(w.classifier && w.classifier.classes === 1001, 'the file carries its 1001-class classifier');
    assert.ok(
      Math.abs(w.input.mean - 128 / 255) < 1e-9 && Math.abs(w.input.std - 128 / 255) < 1e-6,
      `input (x - 128) / 128: ${JSON.stringify(w.input)}`,
    );
    const labels = fs.readFileSync(path.join(weightsDir(), 'mobilenet_v2', 'imagenet_labels.txt'), 'utf8').split(/\r?\n/);
    const net = createNet({ ...CFG }, 1, w.encoder);
    const kernel = tf.tensor4d(w.classifier!.kernel, [1, 1, 1280, 1001]);
    const bias = tf.tensor1d(w.classifier!.bias);
    for (const [photo, label, atLeast] of [
      ['cat.bmp', 'Egyptian cat', 0.6],
      ['bird.bmp', 'chickadee', 0.9],
    ] as const) {
      const img = await readPhoto(path.join(weightsDir(), 'mobilenet_v2', photo), 224, { fit: 'fill', kernel: 'linear' });
      const probs = tf.tidy(() => {
        const x = tf.tensor4d(
          Float32Array.from(img.data, (v) => (v / 255 - w.input.mean) / w.input.std),
          [1, 224, 224, 3],
        );
        const top = encoderForward(net.params, x)[4];
        const pooled = tf.mean(top, [1, 2], true) as tf.Tensor4D;
        return tf.softmax(tf.reshape(tf.add(tf.conv2d(pooled, kernel, 1, 'valid'), bias), [1, 1001])).dataSync();
      });
      let best = 0;
      for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
      assert.equal(labels[best], label, `${photo}: top-1 ${labels[best]} (${probs[best].toFixed(3)})`);
      assert.ok(probs[best] >= atLeast, `${photo}: ${label} only ${probs[best]}`);
    }
    tf.dispose([kernel, bias]);
    disposeNet(net);
  },
);

/** A batch of 2 random 64x64 crops with 2 classes and some void. */
function batch(seed: number): { x: tf.Tensor4D; t: tf.Tensor4D; weightSum: number } {
  const rng = makeRng(seed);
  const n = 2 * 64 * 64;
  const targets = lossTargets(
    Uint8Array.from({ length: n }, () => (rng.next() < 0.2 ? VOID_INDEX : rng.next() < 0.5 ? 1 : 0)),
    2,
  );
  return {
    x: tf.tensor4d(
      Float32Array.from({ length: n * 3 }, () => rng.next() * 2 - 1),
      [2, 64, 64, 3],
    ),
    t: tf.tensor4d(targets.oneHot, [2, 64, 64, 2]),
    weightSum: targets.weightSum,
  };
}

/**
 * The encoder in plain tfjs ops (conv, add the bias, ReLU6), whose gradients are TF.js's own:
 * the independent reference of the fused layers and their hand-written gradients.
 */
function referenceEncoder(p: Record<string, tf.Tensor>, x: tf.Tensor4D): tf.Tensor4D[] {
  const conv = (h: tf.Tensor4D, name: string, stride: number, relu6: boolean) => {
    const y = tf.add(tf.conv2d(h, p[`${name}/kernel`] as tf.Tensor4D, stride, 'same'), p[`${name}/bias`]) as tf.Tensor4D;
    return relu6 ? tf.relu6(y) : y;
  };
  const taps: tf.Tensor4D[] = [];
  let h = conv(x, 'enc_stem', 2, true);
  BLOCKS.forEach((b, i) => {
    const input = h;
    if (b.expand !== 1) {
      h = conv(h, `enc_b${i}_expand`, 1, true);
      if (TAP_BLOCKS.includes(i)) taps.push(h);
    }
    h = tf.relu6(
      tf.add(tf.depthwiseConv2d(h, p[`enc_b${i}_dw/depthwise_kernel`] as tf.Tensor4D, b.stride, 'same'), p[`enc_b${i}_dw/bias`]),
    ) as tf.Tensor4D;
    h = conv(h, `enc_b${i}_project`, 1, false);
    if (isResidual(i)) h = tf.add(h, input) as tf.Tensor4D;
  });
  taps.push(conv(h, 'enc_top', 1, true));
  return taps;
}

/** The loss training runs, and a reference in plain tfjs ops differentiated by autodiff. */
const trainingLoss = (t: tf.Tensor, ws: number) => (logits: tf.Tensor4D) => maskedCrossEntropy(logits, t, ws);
const referenceLoss = (logits: tf.Tensor, t: tf.Tensor, ws: number) =>
  tf.mul(tf.sum(tf.mul(t, tf.logSoftmax(logits))), -1 / ws) as tf.Scalar;

test("the hand-written training pass's gradients equal autodiff of the network in plain ops and a plain loss, leaving no tensor behind; a frozen encoder gets none, and the decoder the same", () => {
  const { encoder } = mobileNetV2Weights(parseTflite(syntheticMobileNetV2({ seed: 5 }).bytes, 'synthetic.tflite'));
  const net = createNet(CFG, 2, encoder);
  const { x, t, weightSum } = batch(1);
  const before = tf.memory().numTensors;
  const ours = netLossAndGradients(net, x, trainingLoss(t, weightSum), true);
  const kept = 1 + Object.keys(ours.grads).length + 2 * ours.batchStats.size;
  assert.equal(tf.memory().numTensors - before, kept, 'only the gradients and batch statistics outlive the step');
  const ref = tf.variableGrads(
    () => referenceLoss(decoderForward(net as MobileUNet, referenceEncoder(net.params, x), true), t, weightSum),
    Object.values(net.params),
  );
  const oursLoss = ours.loss.dataSync()[0];
  assert.ok(Math.abs(oursLoss - ref.value.dataSync()[0]) < 1e-5 * Math.max(1, oursLoss));
  assert.deepEqual(Object.keys(ours.grads).sort(), Object.keys(net.params).sort());
  for (const [name, v] of Object.entries(net.params)) {
    const a = ours.grads[name].dataSync();
    const b = ref.grads[v.name].dataSync();
    const scale = Math.max(1e-6, maxAbsDiff(b, new Float32Array(b.length)));
    assert.ok(maxAbsDiff(a, b) <= 1e-4 * scale, `${name} differs by ${maxAbsDiff(a, b)} (scale ${scale})`);
  }
  const beforeFrozen = tf.memory().numTensors;
  const frozen = netLossAndGradients(net, x, trainingLoss(t, weightSum), false);
  assert.equal(
    tf.memory().numTensors - beforeFrozen,
    1 + Object.keys(frozen.grads).length + 2 * frozen.batchStats.size,
    'a frozen step leaves only its gradients and statistics',
  );
  assert.ok(
    Object.keys(frozen.grads).every((k) => !k.startsWith('enc_')),
    'no encoder gradient when frozen',
  );
  assert.ok(Object.keys(frozen.grads).length > 0);
  for (const [name, g] of Object.entries(frozen.grads)) {
    const a = g.dataSync();
    const b = ours.grads[name].dataSync();
    assert.ok(
      maxAbsDiff(a, b) <= 1e-4 * Math.max(1e-6, maxAbsDiff(b, new Float32Array(b.length))),
      `${name}: frozen and full decoder gradients differ`,
    );
  }
  for (const r of [ours, frozen]) {
    tf.dispose([...Object.values(r.grads), r.loss]);
    for (const s of r.batchStats.values()) tf.dispose([s.mean, s.variance]);
  }
  tf.dispose([x, t, ref.value, ...Object.values(ref.grads)]);
  disposeNet(net);
});

test('Adam: a parameter frozen for a while starts its bias correction when it first trains, as a fresh Adam would', () => {
  const a = tf.variable(tf.tensor1d([1, -2, 3]));
  const b = tf.variable(tf.tensor1d([0.5, 0.5]));
  const params = { a, b };
  const state = createAdamState(params);
  const h = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  const g = { a: tf.tensor1d([0.3, -0.1, 0.2]), b: tf.tensor1d([1, -1]) };
  for (let i = 0; i < 3; i++) adamUpdate(params, { b: g.b }, state, h);
  assert.deepEqual([...a.dataSync()], [1, -2, 3], 'a frozen parameter does not move');
  adamUpdate(params, g, state, h, (name) => (name === 'a' ? 0.5 : 1));
  // A fresh Adam's first step moves each value by lr * sign(g); here lr is scaled by 0.5.
  assert.ok(maxAbsDiff(a.dataSync(), [1 - 0.05, -2 + 0.05, 3 - 0.05]) < 1e-6, `first update after unfreezing: ${[...a.dataSync()]}`);
  assert.deepEqual(state.paramSteps, { a: 1 }, 'only the parameter whose count differs from the step is recorded');
  disposeAdamState(state);
  tf.dispose([a, b, g.a, g.b]);
});

test('fine-tuning schedule: frozen epochs on one one-cycle schedule, then everything at half the peak with the encoder divided', () => {
  const plan = trainingPhases({ lr: 0.01, epochs: 4, fineTune: { freezeEpochs: 1, encoderLrDiv: 10 } }, 5);
  for (let s = 0; s < 5; s++) assert.equal(plan(s).encoder.trainEncoder, false, `step ${s}`);
  for (let s = 5; s < 20; s++) assert.deepEqual(plan(s).encoder, { trainEncoder: true, encoderLrScale: 0.1 });
  const lrs = Array.from({ length: 20 }, (_, s) => plan(s).hyper.lr);
  assert.ok(
    Math.abs(Math.max(...lrs.slice(0, 5)) - 0.01) < 1e-9 && Math.abs(Math.max(...lrs.slice(5)) - 0.005) < 1e-9,
    `peaks ${Math.max(...lrs.slice(0, 5))}, ${Math.max(...lrs.slice(5))}`,
  );
  assert.ok(lrs[4] > lrs[0], 'the frozen phase warms up almost throughout');
  const plain = trainingPhases({ lr: 0.01, epochs: 2, fineTune: null }, 5);
  assert.deepEqual(plain(3).encoder, { trainEncoder: true, encoderLrScale: 1 });
});

test('a MobileNetV2 run through the API: resumes exactly across the unfreezing, the layers format gives the same logits, the ONNX export checks', async () => {
  const dir = tmpDir();
  const data = path.join(dir, 'data');
  await writeSampleDataset(data, { count: 10, size: 64, gap: 2, seed: 3, valid: 2, test: 0 });
  const weights = synthFile(dir, { seed: 7 });
  const opts = {
    encoder: 'mobilenet_v2' as const,
    encoderWeights: weights,
    crop: 64,
    batch: 4,
    epochs: 3,
    freezeEpochs: 1,
    lr: 3e-3,
    seed: 2,
    report: false,
  };
  const whole = await train(data, { ...opts, out: path.join(dir, 'whole') });
  assert.equal(whole.history.length, 3);
  await train(data, { ...opts, out: path.join(dir, 'parts'), stopAfterEpochs: 1 });
  const resumed = await train(data, { ...opts, out: path.join(dir, 'parts'), resume: true });
  assert.equal(resumed.history.length, 3);
  const a = readCheckpoint(path.join(dir, 'whole', 'checkpoint.bin'));
  const b = readCheckpoint(path.join(dir, 'parts', 'checkpoint.bin'));
  assert.deepEqual(b.state.adamParamSteps, a.state.adamParamSteps);
  assert.ok(
    Object.keys(a.state.adamParamSteps ?? {}).some((k) => k.startsWith('enc_')),
    "the encoder's Adam counts trail the step after a frozen epoch",
  );
  for (const [name, v] of a.values) assert.ok(maxAbsDiff(v, b.values.get(name)!) <= 1e-6, `${name} differs after resume`);

  // The layers format as the browser loads it computes the network's own logits.
  const { net, meta } = loadModel(whole.modelDir);
  assert.equal(meta.net.kind, 'mobilenet_v2_unet');
  const [weightSpecs, weightData] = weightsOf(whole.modelDir);
  const modelTopology = JSON.parse(fs.readFileSync(path.join(whole.modelDir, 'model.json'), 'utf8')).modelTopology;
  const layers = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology, weightSpecs, weightData }));
  const x = tf.randomNormal([1, 96, 64, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  const ours = netForward(net as AnyNet, x, false);
  const theirs = layers.predict(x) as tf.Tensor;
  assert.ok(
    maxAbsDiff(ours.dataSync(), theirs.dataSync()) < 1e-3,
    `layers model differs by ${maxAbsDiff(ours.dataSync(), theirs.dataSync())}`,
  );
  tf.dispose([x, ours, theirs]);
  layers.dispose();
  disposeNet(net);
  const exported = await exportOnnx(whole.modelDir, { threads: 2, version: 'test' });
  assert.ok(exported.maxDiff <= 1e-4 * Math.max(1, exported.maxLogit), `ONNX differs by ${exported.maxDiff}`);
});

/** The weight specs and bytes of a layers-format folder, for tf.io.fromMemory. */
function weightsOf(dir: string): [tf.io.WeightsManifestEntry[], ArrayBuffer] {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  const bin = fs.readFileSync(path.join(dir, 'weights.bin'));
  return [json.weightsManifest.flatMap((g) => g.weights), bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength)];
}
