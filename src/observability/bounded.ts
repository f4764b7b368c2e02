import type { Logger } from "../log.ts";

// Whatever the input, what the service keeps about the values it has seen, the metric series it
// exports and the lines it logs stay bounded: a flood of distinct values folds into `other`, and
// a flood of warnings into one line counting what was left out.

/** Label for values past a field's budget. */
export const OTHER = "other";

/** Maps values from the data to metric labels: each field's first `perField` distinct values, then `other`. */
export class BoundedLabels {
  readonly #perField: number;
  readonly #seen = new Map<string, Set<string>>();
  /** Fields that have had a value past their budget. */
  readonly #full = new Set<string>();

  constructor(perField: number) {
    this.#perField = perField;
  }

  /** The label for `value`, and whether it is the first time it got one (then it is worth a warning). */
  label(field: string, value: string): { label: string; first: boolean } {
    let seen = this.#seen.get(field);
    if (seen === undefined) {
      seen = new Set();
      this.#seen.set(field, seen);
    }
    if (seen.has(value)) return { label: value, first: false };
    if (seen.size < this.#perField) {
      seen.add(value);
      return { label: value, first: true };
    }
    // Past the budget: the value is not remembered, and `other` is new only once per field.
    const first = !this.#full.has(field);
    this.#full.add(field);
    return { label: OTHER, first };
  }
}

/**
 * Warnings at most `perWindow` per window of `windowMs`; the rest are counted, and the count is
 * logged with the next warning after the window (or by `flush`).
 */
export class RateLimitedWarnings {
  readonly #log: Logger;
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #inWindow = 0;
  #suppressed = 0;
  /** Logs the count when the window ends: a flood followed by quiet would otherwise never be summed up. */
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(log: Logger, opts: { perWindow: number; windowMs: number; now?: () => number }) {
    this.#log = log;
    this.#perWindow = opts.perWindow;
    this.#windowMs = opts.windowMs;
    // Monotonic, as the timer that sums a window up: a wall clock set back would stretch a window.
    this.#now = opts.now ?? (() => performance.now());
  }

  warn(fields: Record<string, unknown>, message: string): void {
    const now = this.#now();
    // A clock that went back (an injected wall clock) ends the window too: otherwise the window
    // would last as long as the clock was set back, every warning left out meanwhile.
    if (now - this.#windowStart >= this.#windowMs || now < this.#windowStart) {
      this.flush();
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.#perWindow) {
      this.#suppressed++;
      if (this.#flushTimer === undefined) {
        const left = Math.min(this.#windowMs, Math.max(0, this.#windowStart + this.#windowMs - now));
        this.#flushTimer = setTimeout(() => {
          this.#flushTimer = undefined;
          this.flush();
        }, left);
        this.#flushTimer.unref();
      }
      return;
    }
    this.#inWindow++;
    this.#log.warn(fields, message);
  }

  /** Logs how many warnings were left out since the last such line, if any. */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#suppressed === 0) return;
    this.#log.warn(
      { suppressed: this.#suppressed },
      `${this.#suppressed} more warnings like the above were left out (at most ${this.#perWindow} per ${this.#windowMs / 1000} s)`,
    );
    this.#suppressed = 0;
  }
}
