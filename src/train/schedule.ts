/**
 * The one-cycle schedule (Smith & Topin 2018, as PyTorch's OneCycleLR with cosine
 * annealing): the learning rate warms up from max/div to max over the first `pctStart` of
 * the steps, then anneals to max/(div*finalDiv); Adam's beta1 moves the opposite way.
 */
export interface OneCycle {
  maxLr: number;
  totalSteps: number;
  pctStart: number;
  divFactor: number;
  finalDivFactor: number;
  baseBeta1: number;
  maxBeta1: number;
}

/** Defaults of PyTorch's OneCycleLR (pctStart: the share of warm-up, 0.3). */
export function oneCycle(maxLr: number, totalSteps: number, pctStart = 0.3): OneCycle {
  return { maxLr, totalSteps, pctStart, divFactor: 25, finalDivFactor: 1e4, baseBeta1: 0.85, maxBeta1: 0.95 };
}

function cosineAnneal(start: number, end: number, frac: number): number {
  return end + ((start - end) / 2) * (1 + Math.cos(Math.PI * frac));
}

/** Learning rate and beta1 at step `step` (0-based). */
export function scheduleAt(s: OneCycle, step: number): { lr: number; beta1: number } {
  const initial = s.maxLr / s.divFactor;
  const final = initial / s.finalDivFactor;
  const warm = Math.max(1, Math.round(s.pctStart * s.totalSteps) - 1);
  const last = Math.max(warm + 1, s.totalSteps - 1);
  if (step <= warm) {
    const f = step / warm;
    return { lr: cosineAnneal(initial, s.maxLr, f), beta1: cosineAnneal(s.maxBeta1, s.baseBeta1, f) };
  }
  const f = Math.min(1, (step - warm) / (last - warm));
  return { lr: cosineAnneal(s.maxLr, final, f), beta1: cosineAnneal(s.baseBeta1, s.maxBeta1, f) };
}
