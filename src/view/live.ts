/**
 * Live training for the page: the server's side of the live worker (live/worker.ts), a child
 * process started on the first live request and restarted when the viewer's model changes.
 * Each request sends an image's labels (its pixels the first time) and waits for the worker's
 * prediction; a newer request for the same image makes an older waiting one answer
 * "superseded" at once, since the page only draws the latest.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LiveReply, LiveRequest } from '../live/messages.js';
import type { Device } from '../engine/device.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'live', 'worker.js');

export type LivePrediction = Extract<LiveReply, { type: 'prediction' }>;

export interface LiveSetup {
  numClasses: number;
  /** The viewer's model folder now (the live model starts from it where it is a MobileNetV2 U-Net). */
  model: () => string | null;
  /** The ImageNet MobileNetV2 weights file (fetched on first use), for a live model without one. */
  encoderWeights: () => Promise<string>;
  /** Where the worker computes. */
  device: Device;
  log: (line: string) => void;
}

interface Waiting {
  key: string;
  /** The worker asked: its exit fails only its own requests. */
  child: ChildProcess;
  resolve: (p: LivePrediction | null) => void;
  reject: (e: Error) => void;
}

/** An update: the image's labels (null: as last sent) and, the first time, its pixels. */
export interface LiveUpdate {
  key: string;
  width: number;
  height: number;
  rgb: () => Promise<Uint8Array>;
  labels: Uint8Array | null;
  trainMs: number;
}

export class LiveTraining {
  private child: ChildProcess | null = null;
  private started: Promise<string> | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private readonly sent = new Set<string>();
  private nextId = 1;

  constructor(private readonly setup: LiveSetup) {}

  /** The worker's model line once it is running (starting it if needed); rejects with why it cannot. */
  start(): Promise<string> {
    this.started ??= this.spawn();
    return this.started;
  }

  private async spawn(): Promise<string> {
    const model = this.setup.model();
    // The weights are only needed where no model can start the live one; fetching them may fail offline.
    const encoderWeights = await this.setup.encoderWeights().catch((e: unknown) => {
      if (model) return null;
      throw e;
    });
    const child = fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    const ready = new Promise<string>((resolve, reject) => {
      child.on('message', (r: LiveReply) => {
        if (r.type === 'ready') resolve(r.line);
        else if (r.type === 'error' && r.id === null) reject(new Error(r.message));
        else this.answer(r);
      });
      child.on('exit', (code) => {
        const why = new Error(`the live worker stopped (exit code ${code})`);
        reject(why);
        for (const [id, w] of this.waiting)
          if (w.child === child) {
            this.waiting.delete(id);
            w.reject(why);
          }
        if (this.child === child) {
          this.child = null;
          this.started = null;
          this.sent.clear();
        }
      });
    });
    child.send({
      type: 'start',
      model,
      encoderWeights,
      numClasses: this.setup.numClasses,
      device: this.setup.device,
    } satisfies LiveRequest);
    const line = await ready;
    this.setup.log(`viewer: ${line}`);
    return line;
  }

  private answer(r: LiveReply): void {
    if (r.type === 'ready' || r.id === null) return;
    const w = this.waiting.get(r.id);
    if (!w) return;
    this.waiting.delete(r.id);
    if (r.type === 'error') w.reject(new Error(r.message));
    else w.resolve(r);
  }

  /** Train on the update, then predict its image; null when a newer update of the same image came first. */
  async update(u: LiveUpdate): Promise<LivePrediction | null> {
    await this.start();
    const child = this.child;
    if (!child) throw new Error('the live worker stopped');
    const rgb = this.sent.has(u.key) ? null : await u.rgb();
    this.sent.add(u.key);
    for (const [id, w] of this.waiting)
      if (w.key === u.key) {
        this.waiting.delete(id);
        w.resolve(null);
      }
    const id = this.nextId++;
    const done = new Promise<LivePrediction | null>((resolve, reject) => this.waiting.set(id, { key: u.key, child, resolve, reject }));
    child.send({
      type: 'update',
      id,
      key: u.key,
      width: u.width,
      height: u.height,
      rgb,
      labels: u.labels,
      trainMs: u.trainMs,
    } satisfies LiveRequest);
    return done;
  }

  /** Start afresh from the viewer's model now (after a training round wrote a new one). */
  restart(): void {
    this.close();
  }

  close(): void {
    const child = this.child;
    this.child = null;
    this.started = null;
    this.sent.clear();
    child?.kill();
  }
}
