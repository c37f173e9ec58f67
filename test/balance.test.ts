/** Class weights for rare classes (data/balance.ts): median frequency balancing, and the default of a run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addClassCounts, defaultClassWeights, emptyClassCounts, medianFrequencyWeights } from '../src/data/balance.js';
import { VOID_INDEX } from '../src/data/labelIndices.js';

const close = (a: number[], b: number[]) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-9, `${a} vs ${b}`));

test('median frequency weights: a class frequency is its pixels over those of the images it appears in; void counts nowhere', () => {
  const counts = emptyClassCounts(3);
  // Image 1: 6 pixels of class 0, 2 of class 1, 2 void. Image 2: 4 of class 0, 4 of class 2.
  addClassCounts(counts, Uint8Array.from([0, 0, 0, 0, 0, 0, 1, 1, VOID_INDEX, VOID_INDEX]));
  addClassCounts(counts, Uint8Array.from([0, 0, 0, 0, 2, 2, 2, 2]));
  assert.deepEqual(counts, { pixels: [10, 2, 4], imagePixels: [16, 8, 8] });
  // Frequencies 10/16, 2/8, 4/8; median 0.5.
  close(medianFrequencyWeights(counts), [0.5 / (10 / 16), 0.5 / (2 / 8), 1]);
  const unseen = emptyClassCounts(2);
  addClassCounts(unseen, Uint8Array.from([0, 0]));
  assert.deepEqual(medianFrequencyWeights(unseen), [1, 1], 'a class with no pixel weighs 1');
});

test('the default weights: none with two classes, the square roots of median frequency weights with three or more', () => {
  const labels = [Uint8Array.from([0, 0, 0, 0, 0, 0, 1, 1]), Uint8Array.from([0, 0, 0, 0, 2, 2, 2, 2])];
  assert.equal(defaultClassWeights([Uint8Array.from([0, 1, 1])], 2), null);
  const counts = emptyClassCounts(3);
  for (const l of labels) addClassCounts(counts, l);
  close(defaultClassWeights(labels, 3) as number[], medianFrequencyWeights(counts).map(Math.sqrt));
});
