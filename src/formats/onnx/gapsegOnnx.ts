/**
 * gapseg's own ONNX files: the metadata an export writes (class description, input recipe,
 * the hash of the weights it came from), reading a file's summary, and whether a model
 * folder's model.onnx is still its current export.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../../util/errors.js';
import type { InputRecipe } from '../modelFolder.js';
import { readOnnxSummary, type OnnxSummary } from './model.js';

/** Tensor layouts of network inputs and outputs. */
export type Layout = 'nchw' | 'nhwc';

/** Metadata keys gapseg writes into its ONNX files. */
export const META = {
  classes: 'gapseg.json',
  input: 'gapseg.input',
  weights: 'gapseg.weights_sha256',
} as const;

/** The input recipe stored in a gapseg ONNX file. */
export interface OnnxInputMeta extends InputRecipe {
  layout: Layout;
  scores: 'logits';
  multiple: number;
  /** Receptive radius in input pixels (absent in exports from before there were two networks: a U-Net's from `multiple`). */
  radius?: number;
}

/** Read an ONNX file's description, as a user error when it is not one. */
export function readOnnxFile(file: string): { bytes: Uint8Array; summary: OnnxSummary } {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new GapsegError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return { bytes, summary: readOnnxSummary(bytes) };
  } catch (e) {
    throw new GapsegError(`${file}: not an ONNX model (${(e as Error).message})`);
  }
}

/** File name of the ONNX export inside a model folder. */
export const ONNX_FILE = 'model.onnx';

/** SHA-256 of a file, hex. */
export function fileSha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Whether a model folder's model.onnx was exported from the weights now in the folder (a
 * training run that saves a better model replaces the folder, and with it any old export;
 * the hash guards against a model.onnx copied in by hand).
 */
export function onnxIsCurrent(dir: string): { ok: boolean; why?: string } {
  const onnx = path.join(dir, ONNX_FILE);
  if (!fs.existsSync(onnx)) return { ok: false, why: 'no model.onnx' };
  const { summary } = readOnnxFile(onnx);
  const recorded = summary.metadata[META.weights];
  const actual = fileSha256(path.join(dir, 'weights.bin'));
  if (recorded !== actual)
    return { ok: false, why: `${onnx} was exported from other weights than ${path.join(dir, 'weights.bin')}; run gapseg export again` };
  return { ok: true };
}
