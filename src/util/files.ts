/**
 * Why a path cannot be read, in words a user can act on: missing, a broken symlink, a symlink
 * loop, a folder where a file is expected, no permission to read, or a name that is not valid UTF-8 (Node.js sees such
 * names with U+FFFD in place of the bad bytes and cannot open them by that name).
 */
import fs from 'node:fs';
import { GapsegError, fsProblem } from './errors.js';

/** Whether a name read from the file system lost bytes that were not valid UTF-8. */
export function lostBytes(name: string): boolean {
  return name.includes('\uFFFD');
}

/** The problem with reading `file` as a regular file, or null when there is none. */
export function readProblem(file: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      if (fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) return 'broken symlink (its target does not exist)';
      if (lostBytes(file)) return 'file name is not valid UTF-8, which gapseg cannot open; rename the file';
      return 'file not found';
    }
    return fsProblem(e);
  }
  if (st.isDirectory()) return 'is a folder, not a file';
  if (!st.isFile()) return 'not a regular file';
  // Found out here, not by a decoder that would call an unreadable file a bad format.
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    return fsProblem(e);
  }
  return null;
}

/**
 * Read a small text file (class lists, split lists, JSON) as UTF-8, without a byte-order mark.
 * Unreadable files, UTF-16 and bytes that are not UTF-8 are user errors naming the file.
 */
export function readTextFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new GapsegError(`${file}: cannot read (${fsProblem(e)})`);
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new GapsegError(`${file}: is UTF-16 text; save it as UTF-8`);
  }
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start));
  } catch {
    throw new GapsegError(`${file}: not UTF-8 text (a binary file, or another encoding?); save it as UTF-8`);
  }
}
