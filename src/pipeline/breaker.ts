import { AppError, ErrorCodes } from "../errors.ts";

// An event whose handling throws something unforeseen (a bug, not bad input) is dead-lettered
// like any bad event, so one crafted message can't stop the service. But a bug that hits every
// event would then quietly dead-letter the whole stream: when such failures stop being isolated
// (more than `max` within `windowMs`), the breaker stops the service with one line instead.

export class UnexpectedErrorsError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.BAD_EVENT, message);
  }
}

export class UnexpectedErrorBreaker {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Times of the failures inside the window, oldest first; never more than max + 1. */
  readonly #times: number[] = [];

  constructor(max: number, windowMs = 60_000, now: () => number = Date.now) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Records one failure; throws UnexpectedErrorsError when the window now holds more than `max`. */
  record(what: string): void {
    const now = this.#now();
    this.#times.push(now);
    while ((this.#times[0] as number) <= now - this.#windowMs) this.#times.shift();
    if (this.#times.length <= this.#max) return;
    throw new UnexpectedErrorsError(
      `stopping: ${this.#times.length} events failed with unexpected errors within ${this.#windowMs / 1000} s ` +
        `(the last: ${what}). That is a bug, not bad input: the events are in the dead-letter topic with code ` +
        "unexpected_error; report it, and replay them with `analytics-service dlq replay --reason unexpected_error` once fixed " +
        "(MAX_UNEXPECTED_ERRORS sets how many are tolerated)",
    );
  }
}
