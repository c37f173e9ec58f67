/** Progress and log callbacks of the API, turned into what the core takes. */
import type { ProgressFactory } from '../util/progress.js';

/** One step of long work: `done` of `total` units of `task` ("loading", "epoch 2/20", "predict", "eval"). */
export interface ProgressEvent {
  task: string;
  done: number;
  total: number;
  unit: string;
  /** Trailing status (e.g. the loss of the last step). */
  status?: string;
  /** True on the last event of the task. */
  finished: boolean;
}

/** The core's progress as callbacks (or none). */
export function progressCallbacks(onProgress?: (e: ProgressEvent) => void): ProgressFactory | undefined {
  if (!onProgress) return undefined;
  return (task, total, unit) => {
    let done = 0;
    let status: string | undefined;
    return {
      tick(n = 1, s) {
        done += n;
        if (s !== undefined) status = s;
        onProgress({ task, done, total, unit, status, finished: false });
      },
      done(s) {
        if (s !== undefined) status = s;
        onProgress({ task, done, total, unit, status, finished: true });
      },
    };
  };
}
