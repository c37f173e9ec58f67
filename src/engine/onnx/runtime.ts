/**
 * Whether ONNX Runtime can run here. onnxruntime-node is an optional dependency: its install
 * step downloads CUDA provider files from outside the npm registry, and where that fails
 * (offline, behind a registry mirror) npm leaves the package out rather than failing the whole
 * install of gapseg. Everything but ONNX works without it; what needs it says how to get it.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { GapsegError } from '../../util/errors.js';

const require = createRequire(import.meta.url);

/** The execution providers gapseg can ask ONNX Runtime for. */
export type OnnxDevice = 'cpu' | 'cuda';

/**
 * The one-line hint for installing ONNX Runtime's CPU build without internet access: the
 * environment variable its install script reads (an npm flag of that name makes npm warn).
 */
export const ONNX_RUNTIME_HINT =
  'install its CPU build with: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node (its default install also downloads CUDA files from outside the npm registry)';

let found: { version: string } | { missing: string } | null = null;

/** The installed onnxruntime-node's version, or why it is not there. */
export function onnxRuntime(): { version: string } | { missing: string } {
  if (found) return found;
  try {
    const pkg = require.resolve('onnxruntime-node/package.json');
    const { version } = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string };
    found = { version };
  } catch {
    found = { missing: 'ONNX Runtime (the optional package onnxruntime-node) is not installed' };
  }
  return found;
}

/** Refuse, with a user error naming what needed it and how to install it, when ONNX Runtime is missing. */
export function requireOnnxRuntime(what: string): string {
  const r = onnxRuntime();
  if ('missing' in r) throw new GapsegError(`${what} needs ONNX Runtime: ${r.missing}; ${ONNX_RUNTIME_HINT}`);
  return r.version;
}
