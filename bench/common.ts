/** Shared pieces of the benchmarks: finding the PyTorch peer, tables, result files. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');

/**
 * A Python interpreter that can import torch: $GAPSEG_PYTHON, then Debian's /usr/bin/python3
 * (python3-torch installs there), then python3 on the PATH. Null when none can.
 */
export function findTorchPython(): { python: string; version: string } | null {
  const candidates = [process.env.GAPSEG_PYTHON, '/usr/bin/python3', 'python3'].filter((x): x is string => Boolean(x));
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return null;
}

export const TORCH_HINT =
  'PyTorch not found: install the peer with `sudo apt-get install python3-torch` (Debian), or set GAPSEG_PYTHON to a python with torch and numpy.';

/** Format rows as an aligned text table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) =>
    r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(3);
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Write a JSON result file atomically: under bench/results/, or at an absolute path. */
export function writeResult(name: string, data: unknown): string {
  // An absolute --results path is taken as given; a bare name lands in bench/results.
  const file = path.resolve(RESULTS_DIR, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n');
  fs.renameSync(tmp, file);
  return file;
}

/** Basic facts about the machine, recorded with every result. */
export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return { node: process.version, cpus: cpus.length, cpuModel: cpus[0]?.model ?? null, date: new Date().toISOString() };
}

/** The value after `--name` on the command line, else `def`. */
export function argString(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

/** The number after `--name` on the command line, else `def`. */
export function argNumber(name: string, def: number): number {
  return Number(argString(name, String(def)));
}
