/**
 * Writing files so that a crash (kill -9, power cut of the process) never leaves a truncated
 * or half-written file under its real name: data goes to a temporary file beside the target,
 * is flushed, then renamed over it. Temporary names say which process made them
 * (`.<name>.tmp-<host>-<pid>-<n>`), so a later run can remove those of dead processes without
 * touching the ones another live process (a parallel shard) is still writing.
 * Every failure is a WriteError naming the file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WriteError, writeError } from './errors.js';

let counter = 0;

/** A short tag of this machine, so that temporary files of other machines (shared folders) are told apart. */
const HOST = crypto.createHash('sha1').update(os.hostname()).digest('hex').slice(0, 8);

/** Temporary files this old are abandoned whatever made them (nothing writes one for a day). */
const STALE_MS = 24 * 3600 * 1000;

const TEMP_NAME = /^\..+\.tmp-(?:([0-9a-f]{8})-)?(\d+)-(\w+)$/;

/** A fresh temporary path beside `target`, in the form removeStaleTemps recognises. */
export function tempPath(target: string): string {
  counter += 1;
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${HOST}-${process.pid}-${counter}`);
}

/**
 * Write a file so that readers only ever see the old content or the complete new one:
 * write a temporary file beside it, fsync it, then rename over the target.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPath(target);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(tmp, 'w');
  } catch (e) {
    throw writeError(target, e);
  }
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw writeError(target, e);
  }
  try {
    await fh.close();
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw writeError(target, e);
  }
}

/** Create a folder (and its parents) for outputs, as a WriteError naming it when that fails. */
export async function makeDir(dir: string): Promise<void> {
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new WriteError(dir, 'a file is in the way of this folder');
    throw writeError(dir, e);
  }
}

/**
 * Put back a directory that replaceDirAtomic moved aside, if the process died between its
 * two renames (then only `target.old` holds a complete copy).
 */
export async function recoverDir(target: string): Promise<void> {
  const old = `${target}.old`;
  if (!fs.existsSync(target) && fs.existsSync(old)) {
    try {
      await fs.promises.rename(old, target);
    } catch (e) {
      throw writeError(target, e);
    }
  }
}

/**
 * Replace a whole directory atomically: the caller fills a fresh staging directory,
 * then it is renamed into place. The old directory, if any, is moved aside first and removed
 * after, so at every instant either the old or the new complete directory exists under a
 * known name (`target` or `target.old`; recoverDir puts the latter back).
 */
export async function replaceDirAtomic(target: string, fill: (staging: string) => Promise<void>): Promise<void> {
  await recoverDir(target);
  const staging = tempPath(target);
  await makeDir(staging);
  try {
    await fill(staging);
  } catch (e) {
    await fs.promises.rm(staging, { recursive: true, force: true });
    throw writeError(target, e);
  }
  const old = `${target}.old`;
  try {
    await fs.promises.rm(old, { recursive: true, force: true });
    if (fs.existsSync(target)) await fs.promises.rename(target, old);
    await fs.promises.rename(staging, target);
  } catch (e) {
    await fs.promises.rm(staging, { recursive: true, force: true });
    await recoverDir(target);
    throw writeError(target, e);
  }
  await fs.promises.rm(old, { recursive: true, force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a temporary file (by its name and age) belongs to a write that will never finish. */
export function isStaleTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  const m = TEMP_NAME.exec(name);
  if (!m) return false;
  if (now - mtimeMs > STALE_MS) return true;
  const [, host, pid] = m;
  if (host !== HOST) return false;
  return Number(pid) !== process.pid && !processAlive(Number(pid));
}

/**
 * Remove temporary files left in a directory by interrupted writes: those of dead processes
 * of this machine, and any older than a day. Returns how many were removed.
 */
export async function removeStaleTemps(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const n of names) {
    if (!TEMP_NAME.test(n)) continue;
    const f = path.join(dir, n);
    const st = await fs.promises.lstat(f).catch(() => null);
    if (!st || !isStaleTemp(n, st.mtimeMs)) continue;
    await fs.promises.rm(f, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** Free bytes below which an output folder is refused before any work starts. */
export const MIN_FREE_BYTES = 1024 * 1024;

/**
 * Check, before work starts, that files can be created in `dir` (which may not exist yet: then
 * its nearest existing ancestor is checked, and nothing is created) and that its disk has at
 * least `minFree` bytes free. Throws a WriteError naming the folder.
 */
export function checkWritableDir(dir: string, minFree = MIN_FREE_BYTES): void {
  let probeDir = path.resolve(dir);
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(probeDir, { throwIfNoEntry: false });
    } catch (e) {
      throw writeError(dir, e);
    }
    if (st) {
      if (!st.isDirectory()) {
        throw new WriteError(dir, probeDir === path.resolve(dir) ? 'it is a file, not a folder' : `${probeDir} is a file, not a folder`);
      }
      break;
    }
    const up = path.dirname(probeDir);
    if (up === probeDir) break;
    probeDir = up;
  }
  const probe = tempPath(path.join(probeDir, 'gapseg-write-check'));
  try {
    fs.writeFileSync(probe, 'x');
  } catch (e) {
    throw writeError(dir, e);
  } finally {
    fs.rmSync(probe, { force: true });
  }
  const fsInfo = fs.statfsSync(probeDir);
  const free = fsInfo.bavail * fsInfo.bsize;
  if (free < minFree) throw new WriteError(dir, `ENOSPC: only ${Math.floor(free / 1024)} KiB free on its disk`);
}
