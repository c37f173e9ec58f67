/** Starting the compute engine for the API: once per process, its warnings and its line logged. */
import { engineOptionsFromEnv, initEngine, newEngineWarnings, type EngineInfo } from '../engine/engine.js';
import type { Device } from '../engine/device.js';
import { GapsegError } from '../util/errors.js';

/** Refuse a thread count outside 1..8 (XNNPACK's pool has 8 workers at most). */
export function checkThreads(threads: number | undefined): void {
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 8)) {
    throw new GapsegError(`--threads must be an integer between 1 and 8, got ${threads}`, 2);
  }
}

/**
 * Start (or join) the TF.js engine and log its warnings (once a process). The line naming
 * the compute path comes later, from the work itself, once its input has been read: a
 * mistake in the input is then the only line a command prints.
 */
export async function startEngine(threads: number | undefined, log: (line: string) => void, device: Device = 'cpu'): Promise<EngineInfo> {
  checkThreads(threads);
  const info = await initEngine({ ...engineOptionsFromEnv(), ...(threads !== undefined ? { threads } : {}), device });
  for (const w of newEngineWarnings()) log(`warning: ${w}`);
  return info;
}
