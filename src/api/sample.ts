/** The built-in sample data set (what `gapseg demo` trains on), for trying gapseg and for tests. */
import fs from 'node:fs';
import { writeSampleDataset } from '../data/sample.js';

export interface SampleOptions {
  /** Training images (default 96); 12 validation and 12 test images are added. */
  images?: number;
  /** Side of the square images, pixels (default 128). */
  size?: number;
  /** Width of the unlabelled gap on each side of the boundary, pixels (default 3). */
  gap?: number;
  seed?: number;
}

/**
 * Write smoke-like blobs with gap labels to `dir` (replacing what is there): images/, labels/
 * (0 = background, 255 = smoke, 128 = void), truth/ (the full masks), split lists, gapseg.json.
 */
export async function makeSample(dir: string, options: SampleOptions = {}): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true });
  await writeSampleDataset(dir, {
    count: (options.images ?? 96) + 24,
    size: options.size ?? 128,
    gap: options.gap ?? 3,
    seed: options.seed ?? 7,
    valid: 12,
    test: 12,
  });
}
