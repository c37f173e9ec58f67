/**
 * Training checkpoints: one self-checking file with everything needed to continue exactly
 * (weights, batch-norm statistics, Adam moments and step, epoch, history, best score).
 *
 * Layout: "GAPSEGCK" | u32 header length | JSON header | f32 data. The header lists every
 * tensor's name, shape and offset and the CRC-32 of the data. Written to a temporary file and
 * renamed, so a crash leaves the previous checkpoint intact; read back with full checks.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../util/atomic.js';
import { GapsegError } from '../util/errors.js';
import type { AnyNet } from '../nets/index.js';
import type { AdamState } from './adam.js';

const MAGIC = 'GAPSEGCK';

export interface CheckpointState {
  /** Epochs completed. */
  epoch: number;
  adamStep: number;
  /** Adam's per-parameter counts where they differ from adamStep (absent in older checkpoints: none differ). */
  adamParamSteps?: Record<string, number>;
  /** Whatever the loop wants back on resume (history, best score...). */
  extra: Record<string, unknown>;
}

interface Header {
  version: 1;
  state: CheckpointState;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
  crc32: number;
  dataBytes: number;
}

/** Named tensors of a net and its optimiser, with prefixes so they never collide. */
function namedTensors(net: AnyNet, adam: AdamState): [string, tf.Tensor][] {
  const out: [string, tf.Tensor][] = [];
  for (const [k, v] of Object.entries(net.params)) out.push([`param:${k}`, v]);
  for (const [k, v] of Object.entries(net.stats)) out.push([`stat:${k}`, v]);
  for (const [k, v] of Object.entries(adam.m)) out.push([`adam_m:${k}`, v]);
  for (const [k, v] of Object.entries(adam.v)) out.push([`adam_v:${k}`, v]);
  return out;
}

/** The name of the first tensor of net or optimiser holding NaN or an infinity, or null if all are finite. */
export async function firstNonFinite(net: AnyNet, adam: AdamState): Promise<string | null> {
  for (const [name, t] of namedTensors(net, adam)) {
    const v = (await t.data()) as Float32Array;
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return name;
  }
  return null;
}

/** Write a checkpoint of net + optimiser atomically. */
export async function saveCheckpoint(file: string, net: AnyNet, adam: AdamState, state: CheckpointState): Promise<void> {
  const named = namedTensors(net, adam);
  const arrays = await Promise.all(named.map(([, t]) => t.data() as Promise<Float32Array>));
  // The loop stops a diverged run before this; a checkpoint that cannot be resumed is never written.
  arrays.forEach((v, i) => {
    for (let j = 0; j < v.length; j++) if (!Number.isFinite(v[j])) throw new Error(`saveCheckpoint: ${named[i][0]} is not finite`);
  });
  const total = arrays.reduce((a, x) => a + x.length, 0);
  const data = new Float32Array(total);
  const tensors: Header['tensors'] = [];
  let offset = 0;
  named.forEach(([name, t], i) => {
    data.set(arrays[i], offset);
    tensors.push({ name, shape: t.shape, offset, length: arrays[i].length });
    offset += arrays[i].length;
  });
  const dataBytes = new Uint8Array(data.buffer);
  const header: Header = { version: 1, state, tensors, crc32: zlib.crc32(dataBytes), dataBytes: dataBytes.length };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((MAGIC.length + 4 + headerBytes.length) % 4)) % 4;
  const out = Buffer.alloc(MAGIC.length + 4 + headerBytes.length + pad + dataBytes.length);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(headerBytes.length + pad, MAGIC.length);
  headerBytes.copy(out, MAGIC.length + 4);
  out.fill(0x20, MAGIC.length + 4 + headerBytes.length, MAGIC.length + 4 + headerBytes.length + pad);
  Buffer.from(dataBytes.buffer, dataBytes.byteOffset, dataBytes.length).copy(out, MAGIC.length + 4 + headerBytes.length + pad);
  await writeFileAtomic(file, out);
}

/** A checkpoint read back: its state and named values. */
export interface LoadedCheckpoint {
  state: CheckpointState;
  values: Map<string, Float32Array>;
}

const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/** Whether a parsed header has every field readCheckpoint relies on. */
function validHeader(h: unknown): h is Header {
  const x = h as Header | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    x.version === 1 &&
    count(x.dataBytes) &&
    x.dataBytes % 4 === 0 &&
    count(x.crc32) &&
    typeof x.state === 'object' &&
    x.state !== null &&
    typeof x.state.extra === 'object' &&
    Array.isArray(x.tensors) &&
    x.tensors.every((t) => t && typeof t.name === 'string' && Array.isArray(t.shape) && count(t.offset) && count(t.length))
  );
}

/** Read and verify a checkpoint; any damage is a user error naming the file. */
export function readCheckpoint(file: string): LoadedCheckpoint {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new GapsegError(`${file}: cannot read checkpoint (${(e as NodeJS.ErrnoException).code})`);
  }
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new GapsegError(`${file}: not a gapseg checkpoint`);
  }
  const headerLen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + headerLen;
  if (start > buf.length) throw new GapsegError(`${file}: checkpoint is truncated`);
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, start)) as Header;
  } catch {
    throw new GapsegError(`${file}: checkpoint header is damaged`);
  }
  if (!validHeader(header)) throw new GapsegError(`${file}: checkpoint header is damaged (fields missing or out of range)`);
  const data = new Uint8Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length));
  if (data.length !== header.dataBytes)
    throw new GapsegError(`${file}: checkpoint is truncated (${data.length} of ${header.dataBytes} data bytes)`);
  if (zlib.crc32(data) !== header.crc32) throw new GapsegError(`${file}: checkpoint data is damaged (CRC mismatch)`);
  const floatCount = data.length / 4;
  for (const t of header.tensors) {
    if (t.offset + t.length > floatCount) throw new GapsegError(`${file}: checkpoint tensor ${t.name} lies beyond the data`);
  }
  const floats = new Float32Array(data.buffer);
  const values = new Map<string, Float32Array>();
  for (const t of header.tensors) values.set(t.name, floats.subarray(t.offset, t.offset + t.length));
  return { state: header.state, values };
}

/** Split a checkpoint's values into net values and Adam moments. */
export function splitCheckpointValues(values: Map<string, Float32Array>): {
  net: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
} {
  const net = new Map<string, Float32Array>();
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [k, x] of values) {
    const [kind, name] = [k.slice(0, k.indexOf(':')), k.slice(k.indexOf(':') + 1)];
    if (kind === 'param' || kind === 'stat') net.set(name, x);
    else if (kind === 'adam_m') m.set(name, x);
    else if (kind === 'adam_v') v.set(name, x);
  }
  return { net, m, v };
}

/** Restore Adam state tensors from checkpoint moments. */
export function restoreAdam(
  net: AnyNet,
  m: Map<string, Float32Array>,
  v: Map<string, Float32Array>,
  step: number,
  paramSteps: Record<string, number> = {},
): AdamState {
  const mm: Record<string, tf.Variable> = {};
  const vv: Record<string, tf.Variable> = {};
  for (const [k, p] of Object.entries(net.params)) {
    const a = m.get(k);
    const b = v.get(k);
    if (!a || !b) throw new GapsegError(`checkpoint has no optimiser state for ${k}`);
    mm[k] = tf.variable(tf.tensor(a, p.shape), false);
    vv[k] = tf.variable(tf.tensor(b, p.shape), false);
  }
  return { step, paramSteps: { ...paramSteps }, m: mm, v: vv };
}
