/**
 * Helpers of the fault tests: the CLI as a child process that can be killed with SIGKILL at a
 * chosen moment, temporary-file listings, and the switch between the short loops run by
 * `npm test` and the long ones of `npm run test:faults` (GAPSEG_FAULTS=full).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, ROOT } from './helpers.js';

/** True under `npm run test:faults`: more runs, more kills, longer soaks. */
export const FULL = process.env.GAPSEG_FAULTS === 'full';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  exit: Promise<Exit>;
}

/** Start the built CLI. */
export function startCli(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: process.env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exit };
}

/** Temporary files (ours: `.<name>.tmp-...`) in a folder and its sub-folders. */
export function tempFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const f = path.join(d, e.name);
      if (/^\..+\.tmp-/.test(e.name)) out.push(f);
      else if (e.isDirectory()) walk(f);
    }
  };
  walk(dir);
  return out;
}

/**
 * SIGKILL `run` as soon as a temporary file whose name matches `pattern` appears in `dir`
 * (polled every millisecond; the write may still finish before the signal lands). Resolves
 * false when the process ends first.
 */
export function killOnTemp(run: Running, dir: string, pattern: RegExp): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const timer = setInterval(() => {
      if (done) return;
      let names: string[] = [];
      try {
        names = fs.readdirSync(dir);
      } catch {
        return;
      }
      if (names.some((n) => pattern.test(n))) {
        done = true;
        clearInterval(timer);
        run.child.kill('SIGKILL');
        resolve(true);
      }
    }, 1);
    void run.exit.then(() => {
      if (!done) {
        done = true;
        clearInterval(timer);
        resolve(false);
      }
    });
  });
}

/** SIGKILL `run` after `ms` milliseconds; resolves false when it ended before. */
export function killAfter(run: Running, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let ended = false;
    void run.exit.then(() => (ended = true));
    setTimeout(() => {
      if (ended) resolve(false);
      else resolve(run.child.kill('SIGKILL'));
    }, ms);
  });
}

/** Stderr lines that would betray a crash: stack frames or an internal error. */
export function crashLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\s+at |internal error/.test(l));
}
