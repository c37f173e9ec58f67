/** The image files a prediction works on: files as given, folders expanded. */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { baseName } from '../data/dataset.js';

/** Image files named by the arguments: files as given, folders expanded (sorted, no dotfiles). */
export function expandInputs(inputs: string[]): string[] {
  const files: string[] = [];
  for (const p of inputs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      throw new GapsegError(`${p}: not found`);
    }
    if (st.isDirectory()) {
      const names = fs.readdirSync(p).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) {
        const f = path.join(p, n);
        if (fs.statSync(f, { throwIfNoEntry: false })?.isFile()) files.push(f);
      }
    } else files.push(p);
  }
  if (files.length === 0) throw new GapsegError(`no image files in ${inputs.join(', ')}`);
  const seen = new Map<string, string>();
  for (const f of files) {
    const b = baseName(f);
    const prev = seen.get(b);
    if (prev) throw new GapsegError(`${f}: has the same base name as ${prev}; their outputs would overwrite each other`);
    seen.set(b, f);
  }
  return files;
}
