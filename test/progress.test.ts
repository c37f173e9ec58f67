/** Progress on the command line: a bar with rate and ETA on a TTY, plain lines otherwise, and no rate from under a second of work. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_RATE_SECONDS, startProgress } from '../src/cli/progress.js';

/** A stream that records what is written, as a TTY or not. */
function stream(tty: boolean): { out: string[]; s: NodeJS.WriteStream } {
  const out: string[] = [];
  const s = { isTTY: tty, columns: 100, write: (t: string) => (out.push(t), true) } as unknown as NodeJS.WriteStream;
  return { out, s };
}

test('a rate measured over less than a second is not shown, on a TTY or not; after a second it is, with an ETA', async () => {
  for (const tty of [true, false]) {
    const { out, s } = stream(tty);
    const p = startProgress({ label: 'epoch 1/2', total: 100, unit: 'img', stream: s, plainEverySeconds: 0 });
    p.tick(40);
    p.done();
    const quick = out.join('');
    assert.match(quick, /- img\/s/, `${tty ? 'TTY' : 'plain'}: no rate yet`);
    assert.doesNotMatch(quick, /\d img\/s/, `${tty ? 'TTY' : 'plain'}: ${quick}`);
  }
  const { out, s } = stream(false);
  const p = startProgress({ label: 'loading', total: 10, unit: 'img', stream: s, plainEverySeconds: 0 });
  await new Promise((r) => setTimeout(r, MIN_RATE_SECONDS * 1000 + 50));
  p.tick(5);
  assert.match(out.join(''), /loading 5\/10 \(50%\) \d+\.\d+ img\/s ETA \d+s/);
  p.done();
});
