import { formatBytes } from './units.js';

/** Where progress text goes: a terminal stream or anything with the same shape. */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A clock in milliseconds; injected so tests are deterministic. */
export type NowMs = () => number;

/** What a phase counts: bytes (the default), or steps of a job that cannot count bytes (packages installed). */
export type ProgressUnit = 'bytes' | 'steps';

/** Reports progress of one long job: `total` may be unknown (0) until known. */
export interface ProgressReporter {
  /** Starts a new phase (`downloading linux-image…`) with a known or unknown total, in bytes unless `unit` says. */
  phase(label: string, totalBytes?: number, unit?: ProgressUnit): void;
  /** Sets the bytes done in the current phase. */
  update(doneBytes: number, totalBytes?: number): void;
  /** A line of text that is not progress (kept above the bar). */
  note(text: string): void;
  /** Ends the current phase and leaves its final line on screen (the real figure: 100% only if complete). */
  done(summary?: string): void;
  /**
   * Ends the current phase early (an error, a cancel): leaves its line with the bytes really reached and
   * `reason`. Optional: reporters without it simply stop reporting.
   */
  fail?(reason?: string): void;
}

/** A reporter that says nothing (`--quiet`, or callers that do not care). */
export const silentProgress: ProgressReporter = {
  phase() {},
  update() {},
  note() {},
  done() {},
};

/**
 * A byte-accurate progress bar. On a terminal it redraws one line (`\r`) at most every `redrawMs`; elsewhere
 * (logs, pipes) it prints one line when a phase ends, so captured output stays readable.
 */
export class ProgressBar implements ProgressReporter {
  private label = '';
  private total = 0;
  private doneBytes = 0;
  private unit: ProgressUnit = 'bytes';
  private startedMs = 0;
  private lastDrawMs = -Infinity;
  private drawn = false;

  constructor(
    private readonly sink: TextSink,
    private readonly now: NowMs = () => Date.now(),
    private readonly redrawMs = 100,
  ) {}

  phase(label: string, totalBytes = 0, unit: ProgressUnit = 'bytes'): void {
    if (this.drawn) this.done();
    this.label = label;
    this.total = totalBytes;
    this.unit = unit;
    this.doneBytes = 0;
    this.startedMs = this.now();
    this.lastDrawMs = -Infinity;
    this.draw(false);
  }

  update(doneBytes: number, totalBytes?: number): void {
    this.doneBytes = doneBytes;
    if (totalBytes !== undefined) this.total = totalBytes;
    this.draw(false);
  }

  note(text: string): void {
    if (this.drawn && this.sink.isTTY) this.sink.write('\r\x1b[K');
    this.sink.write(`${text}\n`);
    if (this.drawn && this.sink.isTTY) this.draw(true);
  }

  done(summary?: string): void {
    if (!this.label) return;
    // No rounding up: a phase cut short shows the bytes it reached, never a 100% it did not.
    this.finish(summary ?? this.render(false));
  }

  fail(reason = 'stopped'): void {
    if (!this.label) return;
    this.finish(`${this.render(false)} (${reason})`);
  }

  private finish(text: string): void {
    if (this.sink.isTTY) this.sink.write(`\r\x1b[K${text}\n`);
    else this.sink.write(`${text}\n`);
    this.label = '';
    this.drawn = false;
  }

  /** The current line: label, bar, bytes, percent and rate (steps: `done/total`, no rate). */
  render(withBar = true): string {
    if (this.unit === 'steps') {
      if (this.total <= 0) return `${this.label} ${this.doneBytes}`;
      const frac = Math.min(this.doneBytes / this.total, 1);
      const width = 24;
      const fill = Math.round(frac * width);
      const bar = withBar ? ` [${'#'.repeat(fill)}${'.'.repeat(width - fill)}]` : '';
      return `${this.label}${bar} ${`${(frac * 100).toFixed(0)}%`.padStart(4)} ${this.doneBytes}/${this.total}`;
    }
    const elapsedS = Math.max((this.now() - this.startedMs) / 1000, 1e-3);
    const rate = `${formatBytes(Math.round(this.doneBytes / elapsedS))}/s`;
    if (this.total > 0) {
      const frac = Math.min(this.doneBytes / this.total, 1);
      const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
      const width = 24;
      const fill = Math.round(frac * width);
      const bar = withBar ? ` [${'#'.repeat(fill)}${'.'.repeat(width - fill)}]` : '';
      return `${this.label}${bar} ${pct} ${formatBytes(this.doneBytes)} / ${formatBytes(this.total)} ${rate}`;
    }
    return `${this.label} ${formatBytes(this.doneBytes)} ${rate}`;
  }

  private draw(force: boolean): void {
    if (!this.sink.isTTY) return;
    const t = this.now();
    if (!force && t - this.lastDrawMs < this.redrawMs) return;
    this.lastDrawMs = t;
    let line = this.render(true);
    const cols = this.sink.columns ?? 80;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.sink.write(`\r\x1b[K${line}`);
    this.drawn = true;
  }
}
