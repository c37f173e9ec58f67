/**
 * The saved model is a real TensorFlow.js layers model: tfjs-layers loads model.json +
 * weights.bin and predicts the same logits as gapseg's own forward pass.
 */
import { disposeNet, netForward } from '../src/nets/index.js';
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { engine, tmpDir } from './helpers.js';
import { createUNet, DEFAULT_UNET } from '../src/nets/unet/unet.js';
import { loadModel, readModelMeta, saveModel } from '../src/formats/modelFolder.js';
import { parseClassesFlag } from '../src/data/classes.js';
import { makeRng } from '../src/util/random.js';

before(engine);

test('model.json + weights.bin load in tfjs-layers and predict like gapseg', async () => {
  const dir = path.join(tmpDir(), 'model');
  const net = createUNet({ ...DEFAULT_UNET, numClasses: 3, depth: 2, baseWidth: 4 }, 2);
  // Non-trivial batch-norm statistics, so that inference mode is really exercised.
  for (const [k, v] of Object.entries(net.stats)) {
    v.assign(tf.add(v, tf.mul(tf.randomUniform(v.shape, 0, 0.5, 'float32', 7), k.endsWith('mean') ? 1 : 2)));
  }
  const classes = parseClassesFlag('0=sky,1=cloud,2=sun');
  await saveModel(dir, net, { classes, input: { scale: 1, mean: [0.4, 0.5, 0.6], std: [0.2, 0.2, 0.2], tile: 256 }, info: {} });

  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const weights = new Uint8Array(fs.readFileSync(path.join(dir, 'weights.bin')));
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: weights.buffer }),
  );
  const rng = makeRng(1);
  const x = tf.tensor4d(
    Float32Array.from({ length: 2 * 16 * 12 * 3 }, () => rng.next() * 2 - 1),
    [2, 16, 12, 3],
  );
  const ours = netForward(net, x, false);
  const theirs = model.predict(x) as tf.Tensor;
  assert.deepEqual(theirs.shape, [2, 16, 12, 3]);
  const diff = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0];
  assert.ok(diff < 1e-4, `layers model differs by ${diff}`);

  const loaded = loadModel(dir);
  const again = netForward(loaded.net, x, false);
  assert.equal(tf.max(tf.abs(tf.sub(ours, again))).dataSync()[0], 0, 'reloaded weights are identical');
  assert.deepEqual(
    readModelMeta(dir).classes.classes.map((c) => c.name),
    ['sky', 'cloud', 'sun'],
  );
  tf.dispose([x, ours, theirs, again]);
  model.dispose();
  disposeNet(net);
  disposeNet(loaded.net);
});
