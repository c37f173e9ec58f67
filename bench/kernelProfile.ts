/** Where a piece of TensorFlow.js work spends its time, per kernel (bench:train's profile tables). */
import * as tf from '@tensorflow/tfjs-core';

export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

/** Kernel times of one run of fn (tf.profile times each kernel synchronously), slowest first, and the call count. */
export async function kernelProfile(fn: () => void | Promise<unknown>): Promise<{ byKernel: KernelTime[]; calls: number }> {
  const prof = await tf.profile(async () => {
    await fn();
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  // Scopes around kernels (ops with a custom gradient: 'x__op', 'unnamed scope') would count their kernels twice.
  const kernels = prof.kernels.filter((k) => !k.name.endsWith('__op') && k.name !== 'unnamed scope');
  for (const k of kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += k.kernelTimeMs as number;
    e.calls++;
    byKernel.set(k.name, e);
  }
  return { byKernel: [...byKernel.entries()].map(([kernel, e]) => ({ kernel, ...e })).sort((a, b) => b.ms - a.ms), calls: kernels.length };
}
