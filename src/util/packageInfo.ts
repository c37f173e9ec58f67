/**
 * Where gapseg's own files are. Compiled modules run from dist/ when installed and from
 * build/src/ in development, so paths are found from the package's root, not counted in
 * "../" from a module.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/** The folder holding gapseg's package.json. */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'gapseg') return (root = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`gapseg's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** gapseg's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The file of the `gapseg` command, as package.json's "bin" names it (what npx runs). */
export function packageCommand(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { bin: { gapseg: string } };
  return path.join(packageRoot(), pkg.bin.gapseg);
}
