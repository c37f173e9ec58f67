/**
 * settleAll: a failure leaves nothing running unwatched, and the error reported is the first
 * in the caller's order, whatever the timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settleAll } from '../src/util/settle.js';

const after = <T>(ms: number, f: () => T): Promise<T> =>
  new Promise((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(f());
      } catch (e) {
        reject(e);
      }
    }, ms),
  );

test('settleAll waits for the other promises to end before throwing, and throws the first in array order', async () => {
  const events: string[] = [];
  const failing = Promise.reject(new Error('disk full'));
  const slow = after(50, () => void events.push('slow write ended'));
  const later = after(20, () => {
    events.push('second failure');
    throw new Error('second');
  });
  await assert.rejects(
    settleAll([failing, slow, undefined, later]).finally(() => events.push('settled')),
    /disk full/,
  );
  assert.deepEqual(events, ['second failure', 'slow write ended', 'settled']);
});

test('settleAll reports the first failure in order, not in time, and returns the values in order', async () => {
  const image = after(30, () => {
    throw new Error('image too large');
  });
  const label = Promise.reject(new Error('label too large'));
  await assert.rejects(settleAll([image, label]), /image too large/);
  assert.deepEqual(await settleAll([after(10, () => 'a'), Promise.resolve(2), undefined]), ['a', 2, undefined]);
});
