/**
 * Predicting a list of images as a pipeline, so that decoding and PNG encoding (sharp, on
 * libuv threads) overlap with the network (a worker thread for ONNX Runtime):
 *
 *   decode ahead (bounded) -> windows of one or more images, batched -> network
 *     -> blend rows -> classes/probabilities -> encode + write (bounded)
 *
 * The next batch is handed to the network before the last one's results are used, so the
 * network never waits for the main thread. Every queue is bounded by a count and the decode
 * queue also by pixels, so memory stays bounded however many and however large the images.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readImage, type DecodeLimits, type RgbImage } from '../data/decode.js';
import { baseName } from '../data/dataset.js';
import { resizeImage } from '../data/resize.js';
import { GapsegError, ModelError, WriteError } from '../util/errors.js';
import { removeStaleTemps } from '../util/atomic.js';
import { settleAll } from '../util/settle.js';
import { noProgress, type ProgressFactory } from '../util/progress.js';
import { writeFrontierOutputs } from './frontierOutputs.js';
import type { DenseCrfParams } from '../crf/denseCrf.js';
import { refinePrediction, type Prediction } from './pipeline.js';
import { allowedClasses } from './forbid.js';
import type { Predictor } from './model.js';
import { NpyWriter, outputPaths, outputsComplete, writePngOutputs, type OutputPaths, type OutputSpec } from './outputFiles.js';
import { fillWindow, imageGeometry, type Geometry } from './plan.js';
import { ResultRows, WindowBlender } from './rows.js';

export interface StreamOptions {
  outDir: string;
  /** Class indices never predicted. */
  forbidden: number[];
  /** Classes with probability PNGs (default: class 1 of a two-class model). */
  probClasses?: number[];
  probBits?: 8 | 16;
  npy?: boolean;
  /** Also write frontier contours (SVG, GeoJSON); keeps the image's full probability map. */
  frontier?: boolean;
  /** Also write the band of pixels whose top probability is below this. */
  uncertainty?: number;
  /** Refine every prediction with the dense CRF; every output then comes from its probabilities. */
  refine?: DenseCrfParams | null;
  /** Skip images whose outputs are complete. */
  resume?: boolean;
  /** Stop at the first unreadable image instead of skipping it. */
  strict?: boolean;
  /** Progress over the images (no display by default). */
  progress?: ProgressFactory;
  log?: (line: string) => void;
  limits?: DecodeLimits;
  /** Decoded images waiting for the network, at most (default 3 batches). */
  lookahead?: number;
  /** Pixels of images held (decoded, in the network or being written), at most, beyond the one in hand. */
  maxPixelsHeld?: number;
}

export interface StreamResult {
  predicted: number;
  skipped: number;
  failed: { file: string; error: string }[];
}

/** A network call holds at most `batch` windows of this side's worth of pixels. */
const BATCH_SIDE = 256;

interface Decoded {
  file: string;
  image?: RgbImage;
  error?: unknown;
}

/** Decodes files ahead of use, in order, within a count and a pixel budget. */
class Prefetcher {
  private readonly slots: (Promise<Decoded> | undefined)[] = [];
  private started = 0;
  private taken = 0;
  private decoding = 0;
  private held = 0;
  private wake: (() => void) | null = null;

  constructor(
    private readonly files: string[],
    private readonly lookahead: number,
    private readonly maxPixels: number,
    private readonly limits?: DecodeLimits,
  ) {}

  private pump(): void {
    while (
      this.started < this.files.length &&
      this.started - this.taken < this.lookahead &&
      this.decoding < 2 &&
      (this.held < this.maxPixels || (this.held === 0 && this.decoding === 0))
    ) {
      const file = this.files[this.started++];
      this.decoding++;
      this.slots.push(
        readImage(file, this.limits).then(
          (image) => {
            this.decoding--;
            this.held += image.width * image.height;
            this.pump();
            return { file, image };
          },
          (error: unknown) => {
            this.decoding--;
            this.pump();
            return { file, error };
          },
        ),
      );
      this.wake?.();
    }
  }

  /** The next decoded file in order, or null at the end. */
  async take(): Promise<Decoded | null> {
    if (this.taken >= this.files.length) return null;
    this.pump();
    while (this.slots.length <= this.taken) {
      // Waiting for held images to be released before this one may start.
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
    const item = await this.slots[this.taken]!;
    this.slots[this.taken] = undefined;
    this.taken++;
    this.pump();
    return item;
  }

  /** An image's memory is free again. */
  release(pixels: number): void {
    this.held -= pixels;
    this.pump();
  }
}

interface Job {
  file: string;
  name: string;
  image: RgbImage;
  /** RGB bytes at the network's scale (the image's own when no resize is needed). */
  netRgb: Uint8Array;
  geo: Geometry;
  blender: WindowBlender;
  result: ResultRows;
  npy: NpyWriter | null;
  /** HWC probabilities of the whole image, kept only for the frontier outputs. */
  probs: Float32Array | null;
  paths: OutputPaths;
  issued: number;
  windows: number;
}

interface Window {
  job: Job;
  index: number;
}

/** Remove temporary files that interrupted runs (of dead processes) left in an output folder. */
export async function removeOutputTemps(outDir: string): Promise<void> {
  let subdirs: string[] = [];
  try {
    subdirs = fs
      .readdirSync(outDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(outDir, d.name));
  } catch {
    return; // not there yet
  }
  for (const dir of [outDir, ...subdirs]) await removeStaleTemps(dir);
}

/** The probability PNGs' pixels of `classes` from HWC probabilities (8 or 16 bits). */
function probabilityMaps(
  probs: Float32Array,
  n: number,
  k: number,
  classes: readonly number[],
  bits: 8 | 16,
): Map<number, Uint8Array | Uint16Array> {
  const maps = new Map<number, Uint8Array | Uint16Array>();
  for (const c of classes) {
    const map = bits === 16 ? new Uint16Array(n) : new Uint8Array(n);
    const max = bits === 16 ? 65535 : 255;
    for (let i = 0; i < n; i++) map[i] = probs[i * k + c] * max + 0.5;
    maps.set(c, map);
  }
  return maps;
}

/** Predict every file and write its outputs under opts.outDir. */
export async function predictStream(files: string[], predictor: Predictor, opts: StreamOptions): Promise<StreamResult> {
  const log = opts.log ?? (() => undefined);
  const k = predictor.classes.length;
  const allowed = allowedClasses(k, opts.forbidden);
  const plan = predictor.plan;
  const spec: OutputSpec = {
    outDir: opts.outDir,
    classes: predictor.classes,
    probClasses: opts.probClasses ?? (k === 2 ? [1] : []),
    probBits: opts.probBits ?? 8,
    npy: opts.npy ?? false,
    frontier: opts.frontier ?? false,
    uncertainty: opts.uncertainty,
  };
  const refine = opts.refine ?? null;
  // Refinement needs the whole image's probabilities before any output can be written.
  const keepProbs = spec.frontier || spec.uncertainty !== undefined || refine !== null;
  const failed: StreamResult['failed'] = [];
  let todo = files;
  let skipped = 0;
  if (opts.resume) {
    todo = files.filter((f) => !outputsComplete(outputPaths(spec, baseName(f)), f));
    skipped = files.length - todo.length;
    if (skipped > 0) log(`resume: ${skipped} image(s) already have complete outputs; ${todo.length} to predict`);
  }
  const batch = Math.max(1, predictor.batch);
  const prefetch = new Prefetcher(todo, opts.lookahead ?? 3 * batch, opts.maxPixelsHeld ?? 64e6, opts.limits);
  const bar = (opts.progress ?? noProgress)('predict', todo.length, 'img');
  let predicted = 0;
  let announced = false;
  let fatal: unknown = null;
  const posts = new Set<Promise<void>>();

  // An unreadable image is skipped (unless strict); a failed write or a broken model stops
  // everything, since every image after it would fail too.
  const fail = (file: string, e: unknown) => {
    if (!(e instanceof GapsegError) || e instanceof WriteError || e instanceof ModelError || opts.strict) throw e;
    failed.push({ file, error: e.message });
    log(`error: ${e.message} (skipped)`);
    bar.tick();
  };

  // Every .npy being written, so that a run that stops removes each partial file, not only the current one.
  const npyWriters = new Set<NpyWriter>();
  const track = (w: NpyWriter) => (npyWriters.add(w), w);

  const nextJob = async (): Promise<Job | null> => {
    for (;;) {
      const item = await prefetch.take();
      if (!item) return null;
      if (item.error !== undefined || !item.image) {
        fail(item.file, item.error);
        continue;
      }
      const image = item.image;
      if (!announced) log(predictor.engineLine);
      announced = true;
      const geo = imageGeometry(image.width, image.height, plan);
      const same = geo.nw === image.width && geo.nh === image.height;
      const netRgb = same ? image.data : resizeImage(image.data, image.width, image.height, 3, geo.nw, geo.nh);
      const name = baseName(item.file);
      const paths = outputPaths(spec, name);
      const npy = paths.npy && !refine ? track(new NpyWriter(paths.npy, image.height, image.width, k)) : null;
      const probs = keepProbs ? new Float32Array(image.width * image.height * k) : null;
      const result = new ResultRows({
        width: image.width,
        height: image.height,
        nw: geo.nw,
        nh: geo.nh,
        numClasses: k,
        allowed,
        scores: predictor.scores,
        probClasses: refine ? [] : spec.probClasses,
        probBits: spec.probBits,
        probRows:
          npy || probs
            ? (y, row) => {
                npy?.writeRow(y, row);
                probs?.set(row, y * image.width * k);
              }
            : undefined,
      });
      return {
        file: item.file,
        name,
        image,
        netRgb,
        geo,
        blender: new WindowBlender(geo, k, result),
        result,
        npy,
        probs,
        paths,
        issued: 0,
        windows: geo.xs.length * geo.ys.length,
      };
    }
  };

  let current: Job | null = null;
  let exhausted = false;
  /**
   * Up to `batch` windows of equal size, from one or more images in order, and no more
   * pixels than `batch` windows of 256 x 256: ONNX Runtime's memory grows with the pixels of
   * a call (about 220 MB per million for the reference U-Net), so large tiles go fewer at a time.
   */
  const nextWindows = async (): Promise<Window[]> => {
    const out: Window[] = [];
    let limit = batch;
    while (out.length < limit && !exhausted) {
      if (!current || current.issued >= current.windows) {
        current = await nextJob();
        if (!current) {
          exhausted = true;
          break;
        }
      }
      const g = current.geo;
      if (out.length > 0 && (g.tw !== out[0].job.geo.tw || g.th !== out[0].job.geo.th)) break;
      limit = Math.max(1, Math.min(batch, Math.floor((batch * BATCH_SIDE * BATCH_SIDE) / (g.tw * g.th))));
      out.push({ job: current, index: current.issued++ });
    }
    return out;
  };

  const buildInput = (windows: Window[]): Float32Array => {
    const { tw, th } = windows[0].job.geo;
    const input = new Float32Array(windows.length * 3 * tw * th);
    windows.forEach((w, i) => {
      const g = w.job.geo;
      const x0 = g.xs[w.index % g.xs.length];
      const y0 = g.ys[Math.floor(w.index / g.xs.length)];
      fillWindow(w.job.netRgb, g.nw, g.nh, x0, y0, tw, th, plan, input, i * 3 * tw * th);
    });
    return input;
  };

  const finish = async (job: Job): Promise<void> => {
    let npy = job.npy;
    try {
      if (!job.result.complete) throw new Error(`${job.file}: rows missing after the last window`);
      const { width: w, height: h } = job.image;
      let pred: Prediction | null = job.probs
        ? { width: w, height: h, numClasses: k, probs: job.probs, classes: job.result.classes }
        : null;
      let probMaps = job.result.probMaps;
      if (refine && pred) {
        pred = refinePrediction(job.image, pred, allowed, refine, w / job.geo.nw);
        probMaps = probabilityMaps(pred.probs, w * h, k, spec.probClasses, spec.probBits);
        if (job.paths.npy) {
          npy = track(new NpyWriter(job.paths.npy, h, w, k));
          for (let y = 0; y < h; y++) npy.writeRow(y, pred.probs.subarray(y * w * k, (y + 1) * w * k));
        }
      }
      const frontierFiles =
        pred && (spec.frontier || spec.uncertainty !== undefined)
          ? writeFrontierOutputs({
              outDir: spec.outDir,
              name: job.name,
              imageFile: job.file,
              pred,
              classes: spec.classes,
              allowed,
              frontier: spec.frontier ?? false,
              uncertainty: spec.uncertainty,
            })
          : undefined;
      await settleAll([
        npy?.commit(),
        writePngOutputs(job.paths, job.image, pred?.classes ?? job.result.classes, spec.classes, probMaps),
        frontierFiles,
      ]);
      predicted++;
      bar.tick();
    } catch (e) {
      npy?.abort();
      try {
        fail(job.file, e);
      } catch (f) {
        fatal = fatal ?? f;
      }
    } finally {
      if (npy) npyWriters.delete(npy);
      prefetch.release(job.image.width * job.image.height);
    }
  };

  const consume = (windows: Window[], scores: Float32Array) => {
    const { tw, th } = windows[0].job.geo;
    const last = windows[windows.length - 1].job;
    // A large image takes many windows: show how far it is, or the bar seems stuck.
    if (last.windows > 8) bar.tick(0, `${last.name}: window ${windows[windows.length - 1].index + 1}/${last.windows}`);
    windows.forEach((w, i) => {
      w.job.blender.add(w.index, scores, i * k * tw * th);
      if (w.job.blender.complete) {
        const p = finish(w.job);
        posts.add(p);
        void p.then(() => posts.delete(p));
      }
    });
  };

  type Batch = { windows: Window[]; scores: Promise<Float32Array> };
  // Batches handed to the network ahead of use, so that it never waits for the main thread.
  const depth = Math.max(2, predictor.inflight ?? 2);
  try {
    const queue: Batch[] = [];
    for (;;) {
      while (queue.length < depth) {
        const windows = await nextWindows();
        if (windows.length === 0) break;
        const { tw, th } = windows[0].job.geo;
        const scores = predictor.net(buildInput(windows), windows.length, th, tw);
        // Awaited below; a failure before then must not count as unhandled.
        scores.catch(() => undefined);
        queue.push({ windows, scores });
      }
      const b = queue.shift();
      if (!b) break;
      consume(b.windows, await b.scores);
      if (fatal) throw fatal;
      // Bound the images being written: wait for the oldest when too many are pending.
      while (posts.size > 2 * batch) await Promise.race(posts);
    }
    await Promise.all(posts);
    if (fatal) throw fatal;
  } catch (e) {
    // Let the writes in flight end (each one whole, or removed) before giving up.
    await Promise.allSettled([...posts]);
    for (const w of npyWriters) w.abort();
    throw e;
  }
  bar.done();
  return { predicted, skipped, failed };
}
