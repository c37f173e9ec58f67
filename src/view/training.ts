/**
 * Training started from the viewer page: `gapseg train` in a child process (the same command a
 * user runs), on the served data set's labelled images, continuing from the current model when
 * there is one. One training at a time; it belongs to the server, not to the page, so closing or
 * reloading the page neither stops nor loses it, and a page that opens later reads its state.
 * Each round writes a run folder of its own, view-run-<n> in the served folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { packageCommand } from '../util/packageInfo.js';
import fs from 'node:fs';
import path from 'node:path';
import type { EpochRecord } from '../train/loop.js';
import type { TrainingStatus } from './wire.js';

export interface TrainingSetup {
  /** The served folder (real path): run folders go here. */
  root: string;
  /** The data set folder to train on. */
  dataset: string;
  /** Extra `gapseg train` arguments given to the viewer on its command line (never from the page). */
  extraArgs: string[];
  /** The model folder to continue from, at the time a round starts. */
  currentModel: () => string | null;
  /** Called with the new run folder when a round has finished and written its model. */
  onModel: (runDir: string) => void;
  log: (line: string) => void;
}

const RUN_NAME = /^view-run-(\d+)$/;

/** The view-run-<n> folders of a folder, newest (highest n) first. */
export function viewRuns(root: string): string[] {
  return fs
    .readdirSync(root)
    .map((n) => [n, RUN_NAME.exec(n)] as const)
    .filter((e): e is readonly [string, RegExpExecArray] => e[1] !== null)
    .sort((a, b) => Number(b[1][1]) - Number(a[1][1]))
    .map(([n]) => path.join(root, n));
}

/** The viewer's one training. */
export class PageTraining {
  private child: ChildProcess | null = null;
  private status: TrainingStatus = { state: 'idle', round: 0, run: null, epochs: 0, history: [], elapsed: 0, eta: null, lines: [] };
  private started = 0;
  private cancelled = false;

  constructor(private readonly setup: TrainingSetup) {}

  /** Start a round of `epochs` epochs; why it cannot start (409: one is running, 400: bad epochs), or null. */
  start(epochs: number): { status: 400 | 409; reason: string } | null {
    if (this.child) return { status: 409, reason: 'a training is already running; cancel it or wait for it to finish' };
    if (!(Number.isInteger(epochs) && epochs >= 1 && epochs <= 1000))
      return { status: 400, reason: 'epochs must be an integer from 1 to 1000' };
    const { root, dataset, extraArgs } = this.setup;
    const last = viewRuns(root)[0];
    const run = path.join(root, `view-run-${last ? Number(RUN_NAME.exec(path.basename(last))![1]) + 1 : 1}`);
    const model = this.setup.currentModel();
    const args = [
      packageCommand(),
      'train',
      dataset,
      '--out',
      run,
      '--skip-unlabelled',
      '--epochs',
      String(epochs),
      ...(model ? ['--init-from', model] : []),
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.cancelled = false;
    this.started = Date.now();
    this.status = {
      state: 'running',
      round: this.status.round + 1,
      run: path.basename(run),
      epochs,
      history: [],
      elapsed: 0,
      eta: null,
      lines: [],
    };
    this.setup.log(`viewer: training ${path.basename(run)} (${epochs} epochs${model ? `, from ${model}` : ''})`);
    const take = (d: Buffer) => {
      for (const line of d.toString().split(/\r?\n|\r/)) if (line.trim()) this.status.lines.push(line);
      this.status.lines.splice(0, Math.max(0, this.status.lines.length - 40));
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.on('error', (e) => take(Buffer.from(`cannot start gapseg train: ${e.message}`)));
    child.on('close', (code) => {
      this.child = null;
      this.refresh();
      const ok = code === 0 && fs.existsSync(path.join(run, 'model', 'model.json'));
      this.status.state = this.cancelled ? 'cancelled' : ok ? 'done' : 'failed';
      this.status.eta = null;
      this.setup.log(`viewer: training ${path.basename(run)} ${this.status.state}`);
      if (ok && !this.cancelled) this.setup.onModel(run);
    });
    return null;
  }

  /** Stop the running round (its run folder stays, resumable). Whether one was running. */
  cancel(): boolean {
    if (!this.child) return false;
    this.cancelled = true;
    this.child.kill('SIGTERM');
    return true;
  }

  /** The state now: epochs done from the run's history.json, time and its estimate. */
  current(): TrainingStatus {
    this.refresh();
    return this.status;
  }

  private refresh(): void {
    const s = this.status;
    if (!s.run) return;
    if (this.child) s.elapsed = (Date.now() - this.started) / 1000;
    try {
      s.history = JSON.parse(fs.readFileSync(path.join(this.setup.root, s.run, 'history.json'), 'utf8')) as EpochRecord[];
    } catch {
      // Not written yet (before the first epoch ends), or being replaced: keep what was read.
    }
    const done = s.history.length;
    if (this.child && done > 0) s.eta = (s.elapsed / done) * (s.epochs - done);
  }

  /** Stop the child with the server. */
  close(): void {
    this.cancel();
  }
}
