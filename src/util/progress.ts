/**
 * Progress of long work as the core reports it: it starts a Progress per piece of work and
 * ticks it; what is shown (a bar, log lines, a program's callback) is the caller's choice.
 */
export interface Progress {
  /** Advance by n units and optionally update the trailing status text. */
  tick(n?: number, status?: string): void;
  /** The work is finished (optionally with a final status). */
  done(status?: string): void;
}

/** Starts the progress of one piece of work: its label ("loading", "epoch 3/20"), total and unit. */
export type ProgressFactory = (label: string, total: number, unit: string) => Progress;

/** Progress that shows nothing. */
export const noProgress: ProgressFactory = () => ({ tick: () => undefined, done: () => undefined });
