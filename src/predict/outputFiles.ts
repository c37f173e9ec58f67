/**
 * The files a prediction writes for one image, whether they are all there (for --resume),
 * and the writers: PNGs through writeFileAtomic, and .npy probability arrays streamed row by
 * row into a temporary file that is renamed into place once complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { encodePng, type RgbImage } from '../data/decode.js';
import { makeDir, tempPath, writeFileAtomic } from '../util/atomic.js';
import { settleAll } from '../util/settle.js';
import { writeError } from '../util/errors.js';
import { labelValues, overlayImage, type OutputClass } from './outputs.js';

export interface OutputSpec {
  outDir: string;
  classes: readonly OutputClass[];
  /** Classes whose probability PNGs are written. */
  probClasses: readonly number[];
  probBits: 8 | 16;
  /** Also write all class probabilities as <out>/npy/<name>.npy, float32 [H, W, K]. */
  npy: boolean;
  /** Also write the frontier polygons (frontier/<name>.svg and .geojson). */
  frontier?: boolean;
  /** Also write the uncertainty band (uncertainty/<name>.png) at this probability. */
  uncertainty?: number;
}

export interface OutputPaths {
  labels: string;
  overlay: string;
  probs: { cls: number; file: string }[];
  npy: string | null;
  /** frontier/<name>.svg and .geojson, when asked for. */
  frontier: string[];
  uncertainty: string | null;
}

/** Probability maps go to probs/ for the one map of a two-class model, else probs-<class>/. */
export function probSubdir(spec: Pick<OutputSpec, 'classes' | 'probClasses'>, k: number): string {
  return spec.probClasses.length === 1 && spec.classes.length === 2 ? 'probs' : `probs-${spec.classes[k].name}`;
}

/** Where the outputs of image `name` go. */
export function outputPaths(spec: OutputSpec, name: string): OutputPaths {
  const f = (sub: string, ext = 'png') => path.join(spec.outDir, sub, `${name}.${ext}`);
  return {
    labels: f('labels'),
    overlay: f('overlays'),
    probs: spec.probClasses.map((k) => ({ cls: k, file: f(probSubdir(spec, k)) })),
    npy: spec.npy ? f('npy', 'npy') : null,
    frontier: spec.frontier ? [f('frontier', 'svg'), f('frontier', 'geojson')] : [],
    uncertainty: spec.uncertainty !== undefined ? f('uncertainty') : null,
  };
}

/** Every path of an image's outputs. */
export function allPaths(p: OutputPaths): string[] {
  return [
    p.labels,
    p.overlay,
    ...p.probs.map((x) => x.file),
    ...(p.npy ? [p.npy] : []),
    ...p.frontier,
    ...(p.uncertainty ? [p.uncertainty] : []),
  ];
}

/**
 * Whether an image's outputs are complete: every expected file exists, is not empty, and is
 * not older than the image. Files are only ever renamed into place whole, so an interrupted
 * image lacks some of them and is done again.
 */
export function outputsComplete(p: OutputPaths, inputFile: string): boolean {
  let inputTime: number;
  try {
    inputTime = fs.statSync(inputFile).mtimeMs;
  } catch {
    return false;
  }
  return allPaths(p).every((f) => {
    const st = fs.statSync(f, { throwIfNoEntry: false });
    return st !== undefined && st.isFile() && st.size > 0 && st.mtimeMs >= inputTime;
  });
}

/** zlib level of prediction PNGs: most of level 6's compression for a third less CPU. */
export const PNG_LEVEL = 3;

/** The .npy header (format 1.0) of a little-endian float32 C-order array. */
export function npyHeader(shape: number[]): Uint8Array {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // Magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const text = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(Buffer.from(text, 'latin1'), 10);
  return out;
}

/** Writes a [H, W, K] float32 .npy row by row; the file appears whole on commit. Failures are WriteErrors. */
export class NpyWriter {
  private readonly tmp: string;
  private readonly fd: number;
  private rowsWritten = 0;
  /** Committed or aborted: nothing left to do (its descriptor is closed and may be reused). */
  private ended = false;

  constructor(
    private readonly file: string,
    private readonly height: number,
    private readonly width: number,
    private readonly k: number,
  ) {
    // Same temporary naming as writeFileAtomic, so stale temps are recognised alike.
    this.tmp = tempPath(file);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      this.fd = fs.openSync(this.tmp, 'w');
      fs.writeSync(this.fd, npyHeader([height, width, k]));
    } catch (e) {
      this.abort();
      throw writeError(file, e);
    }
  }

  /** Append image row y (W*K interleaved values); rows must come in order. */
  writeRow(y: number, row: Float32Array): void {
    if (y !== this.rowsWritten) throw new Error(`npy rows out of order: got ${y}, expected ${this.rowsWritten}`);
    try {
      fs.writeSync(this.fd, new Uint8Array(row.buffer, row.byteOffset, this.width * this.k * 4));
    } catch (e) {
      throw writeError(this.file, e);
    }
    this.rowsWritten++;
  }

  /** Flush, close and rename into place. */
  async commit(): Promise<void> {
    if (this.rowsWritten !== this.height) throw new Error(`npy has ${this.rowsWritten} of ${this.height} rows`);
    try {
      await new Promise<void>((res, rej) => fs.fsync(this.fd, (e) => (e ? rej(e) : res())));
      fs.closeSync(this.fd);
      this.ended = true;
      await fs.promises.rename(this.tmp, this.file);
    } catch (e) {
      this.abort();
      throw writeError(this.file, e);
    }
  }

  /** Drop the partial file (nothing once committed or aborted). */
  abort(): void {
    const wasOpen = !this.ended;
    this.ended = true;
    try {
      if (wasOpen && this.fd !== undefined) fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.tmp, { force: true });
  }
}

/** Encode and write one image's label, overlay and probability PNGs (concurrently). */
export async function writePngOutputs(
  paths: OutputPaths,
  image: RgbImage,
  classes: Uint8Array,
  outClasses: readonly OutputClass[],
  probMaps: Map<number, Uint8Array | Uint16Array>,
): Promise<void> {
  const { width: w, height: h } = image;
  const put = async (file: string, pixels: Uint8Array | Uint16Array, channels: 1 | 3) => {
    const bytes = await encodePng(pixels, w, h, channels, PNG_LEVEL);
    await makeDir(path.dirname(file));
    await writeFileAtomic(file, bytes);
  };
  await settleAll([
    put(paths.labels, labelValues(classes, outClasses), 1),
    put(paths.overlay, overlayImage(image, classes, outClasses), 3),
    ...paths.probs.map((p) => put(p.file, probMaps.get(p.cls)!, 1)),
  ]);
}
