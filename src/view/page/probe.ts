/**
 * What the tests and the browser console read of the page (window.gapseg): its state, the
 * painting latency, and the prediction on screen summarised.
 */
import { VOID } from '../../draw/layers.js';
import type { PageState } from './state.js';

export function exposeProbe(state: PageState): void {
  (window as unknown as Record<string, unknown>).gapseg = {
    state,
    /** Pointer move to frame shown while painting, in ms: median and 95th percentile of the last moves. */
    paintLatency() {
      const xs = [...state.paintLatency].sort((a, b) => a - b);
      return xs.length ? { moves: xs.length, median: xs[Math.floor(xs.length / 2)], p95: xs[Math.floor(xs.length * 0.95)] } : null;
    },
    lastPrediction() {
      const v = state.current;
      if (!v || !v.pred) return null;
      const counts = new Array(256).fill(0);
      for (const c of v.pred) counts[c]++;
      let probSum = 0;
      if (v.probs) for (const p of v.probs) probSum += p * p;
      return {
        name: v.name,
        probSum,
        width: v.width,
        height: v.height,
        numClasses: state.k,
        counts: counts.slice(0, state.k),
        voidCount: counts[VOID],
        other: v.pred.length - counts.slice(0, state.k).reduce((a: number, b: number) => a + b, 0),
        frontierLines: state.lastLines.length,
        classes: Array.from(v.pred),
      };
    },
  };
}
