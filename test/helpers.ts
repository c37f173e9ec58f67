/** Shared helpers for the tests: engine start, temporary folders, small data sets, CLI runs. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from '../src/engine/simd/index.js';
import { engineOptionsFromEnv, initEngine } from '../src/engine/engine.js';
import { encodePng } from '../src/data/decode.js';
import { GapsegError } from '../src/util/errors.js';

// Tests never reach the internet: every test process gets an empty cache of its own, and the
// weights' download location is a port where nothing listens (tests that download serve them
// from 127.0.0.1 and set their own).
process.env.GAPSEG_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'gapseg-test-cache-'));
process.env.GAPSEG_WEIGHTS_URL = 'http://127.0.0.1:9/tests-download-nothing/mobilenet_v2_1.0_224_quant.tflite';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The smallest U-Net a test trains: 32-pixel crops, depth 2, width 4, one thread. */
export const TINY_NET = ['--crop', '32', '--depth', '2', '--width', '4', '--threads', '1'];
/** The command as package.json's "bin" names it: what npx and an install link run. */
export const CLI = path.join(
  ROOT,
  (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: { gapseg: string } }).bin.gapseg,
);

/**
 * Start the wasm engine once per test process: 2 threads, or GAPSEG_THREADS (1 runs the
 * single-threaded tfjs binary and gapseg's kernels on its plain, unshared memory).
 */
export async function engine(): Promise<void> {
  await initEngine({ ...engineOptionsFromEnv(), threads: Number(process.env.GAPSEG_THREADS) > 0 ? Number(process.env.GAPSEG_THREADS) : 2 });
  // Kernels share their work only with helper threads that have started; wait for them, so
  // that every test runs the threaded paths whatever the machine's load.
  const team = simdKernels(tf.backend())?.team;
  if (team && !team.awaitHelpers(60_000)) throw new Error("the SIMD kernels' helper threads did not start");
}

/** A fresh temporary folder, removed when the process exits. */
export function tmpDir(prefix = 'gapseg-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Write a grey (1 channel) or RGB (3 channels) PNG. */
export async function writePng(
  file: string,
  pixels: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, await encodePng(pixels, width, height, channels));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI in a child process. */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; uid?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      // Another user (root's tests run a command as nobody, to whom a file of mode 000 is unreadable).
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * The one error line of a command that failed on a user mistake: stderr holds exactly one
 * line starting "gapseg: ", the last, and before it at most the informational lines every
 * command may print once its work begins (the compute path, notes, warnings).
 */
export function errorLine(stderr: string, detail: string): string {
  const lines = stderr.split('\n').filter((l) => l.length > 0);
  const errors = lines.filter((l) => l.startsWith('gapseg: '));
  assert.equal(errors.length, 1, `one error line expected\n${detail}`);
  assert.equal(lines[lines.length - 1], errors[0], `the error is the last line\n${detail}`);
  for (const l of lines.slice(0, -1)) assert.match(l, /^(engine|note|warning): /, `only informational lines before the error\n${detail}`);
  return errors[0];
}

/** Check that `e` is a user error (GapsegError) with a one-line message matching every pattern. */
function checkUserError(e: unknown, patterns: (RegExp | string)[]): true {
  assert.ok(e instanceof GapsegError, `expected a GapsegError, got ${String(e)}`);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(e.message.includes(p), `"${e.message}" should contain "${p}"`);
    else assert.match(e.message, p);
  }
  assert.ok(!e.message.includes('\n'), 'one-line message');
  return true;
}

/** Assert that f throws a user error whose one-line message matches every pattern. */
export function throwsUser(f: () => unknown, ...patterns: (RegExp | string)[]): void {
  assert.throws(f, (e: unknown) => checkUserError(e, patterns));
}

/** Assert that p rejects with a user error whose one-line message matches every pattern. */
export async function rejectsUser(p: Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => checkUserError(e, patterns));
}
