/**
 * Mapping a request path to a file under one folder, refusing everything that could reach
 * outside it: malformed or double percent-encoding, NUL bytes, `..` segments (encoded or
 * not), backslashes, and symlinks whose target lies outside the folder's real path.
 */
import fs from 'node:fs';
import path from 'node:path';

export type Resolved = { file: string; size: number } | { status: 400 | 403 | 404; reason: string };

/** Whether `p` is `root` or lies under it (both absolute and normalised). */
export function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function badSegments(p: string): boolean {
  return p.split('/').some((s) => s === '..' || s === '.');
}

/**
 * Resolve `encoded` (the still percent-encoded path after a route prefix, no query) to a
 * regular file under `rootReal` (the folder's realpath).
 */
export function resolveInside(rootReal: string, encoded: string): Resolved {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return { status: 400, reason: 'malformed percent-encoding' };
  }
  if (decoded.includes('\0')) return { status: 400, reason: 'NUL byte in path' };
  if (decoded.includes('\\')) return { status: 403, reason: 'backslash in path' };
  if (badSegments(decoded)) return { status: 403, reason: 'path leaves the folder (..)' };
  // A second decoding must not reveal separators or dot segments either (double encoding).
  let twice = decoded;
  try {
    twice = decodeURIComponent(decoded);
  } catch {
    // Not decodable twice: a literal '%' in a file name, harmless.
  }
  if (twice !== decoded && (badSegments(twice) || twice.includes('\\') || twice.includes('\0'))) {
    return { status: 403, reason: 'double-encoded path' };
  }
  const joined = path.join(rootReal, decoded);
  if (!isInside(rootReal, joined)) return { status: 403, reason: 'path leaves the folder' };
  let real: string;
  try {
    real = fs.realpathSync(joined);
  } catch {
    return { status: 404, reason: 'not found' };
  }
  if (!isInside(rootReal, real)) return { status: 403, reason: 'symlink to outside the folder' };
  let st: fs.Stats;
  try {
    st = fs.statSync(real);
  } catch {
    return { status: 404, reason: 'not found' };
  }
  if (!st.isFile()) return { status: 404, reason: 'not a file' };
  return { file: real, size: st.size };
}

/**
 * Make `dir` (under `rootReal`) ready to write a file into, or say why not: a broken symlink in
 * its place, a folder that cannot be made, or a real path outside the served folder.
 */
export function writableFolderInside(rootReal: string, dir: string): string | null {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st?.isSymbolicLink() && !fs.existsSync(dir)) return 'its folder is a broken symlink';
  try {
    fs.mkdirSync(dir, { recursive: true });
    return isInside(rootReal, fs.realpathSync(dir)) ? null : 'its folder leads outside the served folder';
  } catch (e) {
    return `its folder cannot be made (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}
