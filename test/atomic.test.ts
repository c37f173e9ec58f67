/**
 * Temporary files: a run removes those of dead processes of this machine (a killed earlier run)
 * and abandoned ones (a day old), never those a live process is still writing (a parallel shard
 * writing into the same folder, here or on another machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { tmpDir } from './helpers.js';
import { checkWritableDir, removeStaleTemps, tempPath, writeFileAtomic } from '../src/util/atomic.js';
import { WriteError } from '../src/util/errors.js';

test('removeStaleTemps removes temps of dead processes and old ones, keeps those of live processes and other machines', async () => {
  const dir = tmpDir();
  const host = /\.tmp-([0-9a-f]{8})-\d+-\d+$/.exec(tempPath(path.join(dir, 'x')))![1];
  const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    const names = {
      own: `.a.png.tmp-${host}-${process.pid}-1`,
      live: `.b.png.tmp-${host}-${live.pid}-1`,
      dead: `.c.png.tmp-${host}-${dead}-7`,
      otherHost: `.d.png.tmp-0badc0de-${dead}-1`,
      otherHostOld: `.e.png.tmp-0badc0de-${dead}-2`,
      oldFormatOld: `.f.png.tmp-${dead}-3`,
      notATemp: 'g.png',
    };
    for (const n of Object.values(names)) fs.writeFileSync(path.join(dir, n), 'x');
    fs.mkdirSync(path.join(dir, `.model.tmp-${host}-${dead}-2`));
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    for (const n of [names.otherHostOld, names.oldFormatOld]) fs.utimesSync(path.join(dir, n), twoDaysAgo, twoDaysAgo);
    assert.equal(await removeStaleTemps(dir), 4);
    assert.deepEqual(fs.readdirSync(dir).sort(), [names.own, names.live, names.otherHost, names.notATemp].sort());
  } finally {
    live.kill();
  }
});

test('writeFileAtomic and checkWritableDir name the path in a WriteError', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  await assert.rejects(
    writeFileAtomic(path.join(file, 'inside.json'), '{}'),
    (e: unknown) => e instanceof WriteError && e.message.startsWith(`${path.join(file, 'inside.json')}: cannot write (ENOTDIR`),
  );
  assert.throws(
    () => checkWritableDir(file),
    (e: unknown) => e instanceof WriteError && e.message === `${file}: cannot write (it is a file, not a folder)`,
  );
  assert.throws(
    () => checkWritableDir(path.join(file, 'sub')),
    /a-file\/sub: cannot write \(ENOTDIR: part of the path is a file, not a folder\)/,
  );
  checkWritableDir(path.join(dir, 'not', 'yet'));
  assert.ok(!fs.existsSync(path.join(dir, 'not')), 'checking creates nothing');
  assert.deepEqual(fs.readdirSync(dir), ['a-file'], 'no probe file is left');
});
