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

/** What made killBeforeEnd fire. */
export type KillTrigger = 'time' | 'temp' | 'late';

/**
 * SIGKILL `run` at the first of: `ms` elapsed, a temporary file whose name matches `temp`
 * appearing in `dir`, or `late()` turning true (the run is close to its end). A timed kill
 * alone may come after the run has finished when the machine is busy (the run then ends whole
 * and the kill never lands), and a temporary file can come and go between two looks; `late`
 * makes every planned kill land while work is still left. Polled every millisecond. Resolves
 * what triggered the kill, or null when the process ended first.
 */
export function killBeforeEnd(
  run: Running,
  o: { ms?: number; dir?: string; temp?: RegExp; late: () => boolean },
): Promise<KillTrigger | null> {
  return new Promise((resolve) => {
    const started = Date.now();
    let done = false;
    const fire = (why: KillTrigger) => {
      done = true;
      clearInterval(timer);
      run.child.kill('SIGKILL');
      resolve(why);
    };
    const timer = setInterval(() => {
      if (done) return;
      if (o.temp && o.dir) {
        let names: string[] = [];
        try {
          names = fs.readdirSync(o.dir);
        } catch {
          // not created yet
        }
        if (names.some((n) => o.temp!.test(n))) return fire('temp');
      }
      if (o.ms !== undefined && Date.now() - started >= o.ms) return fire('time');
      if (o.late()) fire('late');
    }, 1);
    void run.exit.then(() => {
      if (!done) {
        done = true;
        clearInterval(timer);
        resolve(null);
      }
    });
  });
}

/** Stderr lines that would betray a crash: stack frames or an internal error. */
export function crashLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\s+at |internal error/.test(l));
}
