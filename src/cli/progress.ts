/**
 * The command's progress display for long work: a redrawn bar with rate and ETA on a TTY,
 * plain periodic lines otherwise (logs, CI), so both humans and log files stay readable.
 */
import type { Progress } from '../util/progress.js';
import type { ProgressEvent } from '../api/progress.js';

export interface ProgressOptions {
  label: string;
  total: number;
  unit: string;
  stream?: NodeJS.WriteStream;
  /** Minimum seconds between plain-text lines when not on a TTY. */
  plainEverySeconds?: number;
  quiet?: boolean;
}

/** Seconds of work before a rate (and an ETA from it) is shown. */
export const MIN_RATE_SECONDS = 1;

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Start a progress display for `total` units of work. */
export function startProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const start = Date.now();
  let count = 0;
  let status = '';
  let lastPlain = 0;
  const every = (opts.plainEverySeconds ?? 10) * 1000;

  function line(final: boolean): string {
    const elapsed = (Date.now() - start) / 1000;
    // A rate over less than a second is noise (0.00/s, then thousands/s): none is shown until then.
    const rate = elapsed >= MIN_RATE_SECONDS ? count / elapsed : NaN;
    const eta = rate > 0 ? (opts.total - count) / rate : Infinity;
    const frac = opts.total > 0 ? Math.min(1, count / opts.total) : 1;
    const rateText = Number.isNaN(rate) ? `- ${opts.unit}/s` : `${rate.toFixed(rate < 10 ? 2 : 1)} ${opts.unit}/s`;
    const timeText = final ? `in ${formatSeconds(elapsed)}` : `ETA ${formatSeconds(eta)}`;
    if (tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      return `${opts.label} ${bar} ${count}/${opts.total} ${rateText} ${timeText} ${status}`;
    }
    return `${opts.label} ${count}/${opts.total} (${(frac * 100).toFixed(0)}%) ${rateText} ${timeText} ${status}`;
  }

  function draw(final: boolean): void {
    if (opts.quiet) return;
    if (tty) {
      const cols = stream.columns || 120;
      stream.write(
        `\r${line(final)
          .slice(0, cols - 1)
          .padEnd(cols - 1)}${final ? '\n' : ''}`,
      );
    } else {
      const now = Date.now();
      if (final || now - lastPlain >= every) {
        lastPlain = now;
        stream.write(`${line(final)}\n`);
      }
    }
  }

  if (tty) draw(false);
  else lastPlain = Date.now();
  return {
    tick(n = 1, s?: string) {
      count += n;
      if (s !== undefined) status = s;
      draw(false);
    },
    done(s?: string) {
      if (s !== undefined) status = s;
      draw(true);
    },
  };
}

/** Bars on stderr for the API's progress events, one per task (none with --quiet). */
export function progressBars(quiet: boolean): ((e: ProgressEvent) => void) | undefined {
  if (quiet) return undefined;
  const bars = new Map<string, { bar: Progress; done: number }>();
  return (e) => {
    let b = bars.get(e.task);
    if (!b) bars.set(e.task, (b = { bar: startProgress({ label: e.task, total: e.total, unit: e.unit }), done: 0 }));
    b.bar.tick(e.done - b.done, e.status);
    b.done = e.done;
    if (e.finished) {
      b.bar.done(e.status);
      bars.delete(e.task);
    }
  };
}
