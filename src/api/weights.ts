/**
 * Where a pretrained encoder's weights come from: the file the user names; else gapseg's cache
 * folder (the platform's user cache directory, or GAPSEG_CACHE_DIR); else a download from the
 * weights' public, pinned location into that cache, checked by its SHA-256. Without the file and
 * without network access, one line says which file to get and where to put it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GapsegError, fsProblem } from '../util/errors.js';
import { makeDir, writeFileAtomic } from '../util/atomic.js';
import type { ProgressFactory } from '../util/progress.js';

/** The ImageNet MobileNetV2 gapseg starts from: google-coral/test_data, Apache-2.0, pinned to a commit. */
export const MOBILENET_V2_WEIGHTS = {
  file: 'mobilenet_v2_1.0_224_quant.tflite',
  sha256: '7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776',
  bytes: 3610798,
  url: 'https://github.com/google-coral/test_data/raw/104342d2d3480b3e66203073dac24f4e2dbb4c41/mobilenet_v2_1.0_224_quant.tflite',
};

/** gapseg's cache folder: GAPSEG_CACHE_DIR, else the platform's user cache directory. */
export function cacheDir(): string {
  if (process.env.GAPSEG_CACHE_DIR) return path.resolve(process.env.GAPSEG_CACHE_DIR);
  if (process.platform === 'win32')
    return path.join(process.env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'gapseg', 'Cache');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', 'gapseg');
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'gapseg');
}

function sha256(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Download the weights into the cache with progress; throws (a network or checksum problem) on failure. */
async function download(url: string, target: string, progress: ProgressFactory | undefined): Promise<void> {
  const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(120_000) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length')) || MOBILENET_V2_WEIGHTS.bytes;
  const bar = progress?.('download', Math.round(total / 1024), 'KiB');
  const chunks: Uint8Array[] = [];
  let got = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    got += chunk.length;
    bar?.tick(Math.round(got / 1024) - Math.round((got - chunk.length) / 1024));
  }
  bar?.done();
  const bytes = Buffer.concat(chunks);
  const sum = sha256(bytes);
  if (sum !== MOBILENET_V2_WEIGHTS.sha256)
    throw new Error(`the file downloaded has SHA-256 ${sum}, expected ${MOBILENET_V2_WEIGHTS.sha256}`);
  await makeDir(path.dirname(target));
  await writeFileAtomic(target, bytes);
}

/**
 * The MobileNetV2 weights file to train from: `given` (checked to exist), else the cached copy,
 * else downloaded into the cache (GAPSEG_WEIGHTS_URL overrides the location, e.g. a mirror).
 */
export async function mobileNetV2WeightsFile(
  given: string | undefined,
  log: (line: string) => void,
  progress?: ProgressFactory,
): Promise<string> {
  if (given) {
    const st = fs.statSync(given, { throwIfNoEntry: false });
    if (!st) throw new GapsegError(`${given}: encoder weights not found (--encoder-weights names the MobileNetV2 .tflite file)`);
    if (!st.isFile()) throw new GapsegError(`${given}: not a file (--encoder-weights names the MobileNetV2 .tflite file)`);
    return path.resolve(given);
  }
  const dir = cacheDir();
  const cached = path.join(dir, MOBILENET_V2_WEIGHTS.file);
  if (fs.existsSync(cached)) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(cached);
    } catch (e) {
      throw new GapsegError(`${cached}: cannot read (${fsProblem(e)})`);
    }
    if (sha256(bytes) === MOBILENET_V2_WEIGHTS.sha256) return cached;
    log(`note: ${cached} is not the expected file (its SHA-256 differs); downloading it again`);
  }
  const url = process.env.GAPSEG_WEIGHTS_URL || MOBILENET_V2_WEIGHTS.url;
  log(`note: downloading the ImageNet MobileNetV2 weights (${(MOBILENET_V2_WEIGHTS.bytes / 1e6).toFixed(1)} MB) from ${url} into ${dir}`);
  try {
    await download(url, cached, progress);
  } catch (e) {
    const why = (e as Error).cause
      ? `${(e as Error).message}: ${((e as Error).cause as Error).message ?? (e as Error).cause}`
      : (e as Error).message;
    throw new GapsegError(
      `the MobileNetV2 weights could not be downloaded from ${url} (${why}); get ${MOBILENET_V2_WEIGHTS.file} (SHA-256 ${MOBILENET_V2_WEIGHTS.sha256}) and put it in ${dir}, or pass --encoder-weights <file>, or train a U-Net from scratch with --encoder unet`,
    );
  }
  return cached;
}
