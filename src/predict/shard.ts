/**
 * Splitting an input list across n machines (Slurm job arrays, Kubernetes indexed Jobs):
 * copy i of n predicts the images whose base name hashes to i. The split depends only on
 * each name, not on the order or the completeness of any listing, so n copies cover every
 * image exactly once even if they list the folder at different moments, and a rerun over a
 * grown folder gives each old image the same shard (so --resume finds its outputs).
 */
import { GapsegError } from '../util/errors.js';
import { baseName } from '../data/dataset.js';
import { stringHash } from '../util/random.js';

export interface Shard {
  index: number;
  count: number;
}

/** Parse "i/n" with 0 <= i < n (SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX count from 0). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new GapsegError(`--shard expects i/n (e.g. 0/4), got "${text}"`, 2);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new GapsegError(`--shard ${text}: n must be at least 1`, 2);
  if (index >= count) throw new GapsegError(`--shard ${text}: i counts from 0 and must be below n (0..${count - 1})`, 2);
  return { index, count };
}

/** The shard an image belongs to, by its base name. */
export function shardOf(file: string, count: number): number {
  return stringHash(baseName(file)) % count;
}

/** The files of one shard, in their given order. */
export function selectShard(files: string[], shard: Shard): string[] {
  return files.filter((f) => shardOf(f, shard.count) === shard.index);
}
