/** The image files a prediction works on: files as given, folders expanded. */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError, fsProblem } from '../util/errors.js';
import { lostBytes, readProblem } from '../util/files.js';
import { baseName } from '../data/dataset.js';

/**
 * Image files named by the arguments: files as given, folders expanded (sorted, no dotfiles,
 * no sub-folders). Entries of a folder that cannot be read (broken symlinks, symlink loops,
 * names that are not UTF-8) are kept, so that prediction reports them like any unreadable image.
 */
export function expandInputs(inputs: string[]): string[] {
  const files: string[] = [];
  for (const p of inputs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      throw new GapsegError(`${p}: ${readProblem(p) ?? 'cannot read'}`);
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = fs.readdirSync(p);
      } catch (e) {
        throw new GapsegError(`${p}: cannot list folder (${fsProblem(e)})`);
      }
      for (const n of names.filter((x) => !x.startsWith('.')).sort()) {
        const f = path.join(p, n);
        let entry: fs.Stats | null = null;
        try {
          entry = fs.statSync(f);
        } catch {
          // Unreadable: kept, and reported when it is decoded.
        }
        if (!entry || entry.isFile()) files.push(f);
      }
    } else files.push(p);
  }
  if (files.length === 0) throw new GapsegError(`no image files in ${inputs.join(', ')}`);
  const seen = new Map<string, string>();
  for (const f of files) {
    // Names that lost bytes to UTF-8 decoding may collide, but fail on their own anyway.
    if (lostBytes(f)) continue;
    const b = baseName(f);
    const prev = seen.get(b);
    if (prev) throw new GapsegError(`${f}: has the same base name as ${prev}; their outputs would overwrite each other`);
    seen.set(b, f);
  }
  return files;
}
