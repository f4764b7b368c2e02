import { isRetryable, messageOf } from "./errors.ts";
import type { Logger } from "./log.ts";

/**
 * Thrown before a transaction of a batch whose partitions this member no longer owns: their
 * events are the new owner's, which may have written later ones already, so writing these now
 * (a retry after an outage, the next half of a batch applied in halves) could put an
 * entity back (two events with one timestamp). The batch is dropped and read again, as one
 * dropped when it was sliced.
 */
export class PartitionMovedError extends Error {
  constructor() {
    super("partition moved to another member");
  }
}

/**
 * The group's lease ran out (a rebalance began, the coordinator went quiet) while a transaction
 * was open: it is rolled back and run again once the lease is confirmed, or dropped if it is not.
 */
export class MembershipUnconfirmedError extends PartitionMovedError {}

/** Thrown when shutdown interrupts a wait: the work in hand is abandoned, not failed. */
export class AbandonedError extends Error {
  constructor() {
    super("abandoned for shutdown");
  }
}

export interface OutageHooks {
  onChange?: (active: boolean) => void;
  onRetry?: () => void;
}

/** Causes of one outage logged at most: a cause that changes is told, a flapping one is not repeated. */
const CAUSES_LOGGED = 5;

/**
 * Knows whether a dependency is down, so an outage is logged once when it starts and once when
 * it ends, however many attempts and partitions wait on it, and again when its cause changes (a
 * broker down at first that then refuses the login), up to CAUSES_LOGGED causes.
 */
export class Outage {
  #since: number | null = null;
  readonly #causes = new Set<string>();
  /** Attempts left unanswered past their silence (`hold`): the outage lasts while one is. */
  readonly #held = new Set<object>();
  /**
   * Work succeeded (`recover`) while an attempt was held, and nothing failed since: the outage
   * ends when the last hold goes. A broker that stopped answering whose partitions moved to
   * another is asked nothing more; the fetches from the new leader, the only sign that Kafka
   * serves again, came while it was held, and on a quiet group no other comes after.
   */
  #recoveredWhileHeld = false;
  #log: Logger;
  #hooks: OutageHooks;
  readonly name: string;
  constructor(name: string, log: Logger, hooks: OutageHooks = {}) {
    this.name = name;
    this.#log = log;
    this.#hooks = hooks;
  }
  get active(): boolean {
    return this.#since !== null;
  }
  enter(err: unknown): void {
    this.#recoveredWhileHeld = false;
    this.#begin(err);
  }
  #begin(err: unknown): void {
    const cause = messageOf(err);
    if (this.#since !== null) {
      if (this.#causes.has(cause) || this.#causes.size >= CAUSES_LOGGED) return;
      this.#causes.add(cause);
      this.#log.warn({ dependency: this.name }, `${this.name} still unavailable, now: ${cause}`);
      return;
    }
    this.#since = Date.now();
    this.#causes.add(cause);
    this.#hooks.onChange?.(true);
    this.#log.warn({ dependency: this.name }, `${this.name} unavailable, pausing and retrying with backoff: ${cause}`);
  }
  /** Each attempt, at debug level only: the warning was logged once, when the outage began. */
  retrying(attempt: number, waitMs: number): void {
    this.#log.debug({ dependency: this.name, attempt, waitMs }, `${this.name} retry ${attempt} in ${waitMs} ms`);
    this.#hooks.onRetry?.();
  }
  /**
   * Enters the outage for an attempt that has had no answer for its silence (retrying's
   * `silence`), until `release(attempt)`: while one is held, `recover` ends nothing. Work that
   * succeeds meanwhile (a batch read from what the reader had buffered before a broker paused) is
   * no answer to the attempt that still hangs.
   */
  hold(attempt: object, err: unknown): void {
    // Something new hangs, after whatever succeeded while another was held.
    if (!this.#held.has(attempt)) this.#recoveredWhileHeld = false;
    this.#held.add(attempt);
    // Said again at each look while it hangs: the same failure, not a new one after a success.
    this.#begin(err);
  }
  /**
   * The held attempt was answered, or ended: the outage goes on until something recovers it, or
   * ends now if something did while it was held and nothing failed since.
   */
  release(attempt: object): void {
    if (!this.#held.delete(attempt) || this.#held.size > 0 || !this.#recoveredWhileHeld) return;
    this.recover();
  }
  /**
   * The dependency answered something, not the held attempts: while one is held, the outage ends
   * when the last hold goes (as after `recover`); otherwise nothing, as other failures it may have
   * are not known to be over.
   */
  heard(): void {
    if (this.#since !== null && this.#held.size > 0) this.#recoveredWhileHeld = true;
  }
  recover(): void {
    if (this.#since === null) return;
    if (this.#held.size > 0) {
      this.heard();
      return;
    }
    this.#recoveredWhileHeld = false;
    const seconds = ((Date.now() - this.#since) / 1000).toFixed(1);
    this.#since = null;
    this.#causes.clear();
    this.#hooks.onChange?.(false);
    this.#log.info(
      { dependency: this.name, seconds: Number(seconds) },
      `${this.name} is back after ${seconds} s, resuming`,
    );
  }
}

/**
 * Ends `outage` when `answers` says the dependency is back: for work that gave up waiting for
 * other reasons (a batch whose partitions moved away), which would otherwise leave the outage
 * standing until other work succeeds, for ever on a member left with nothing to do.
 */
export async function endIfAnswering(outage: Outage, answers: () => Promise<boolean>): Promise<void> {
  if (outage.active && (await answers())) outage.recover();
}

/** Full-jitter exponential backoff: a random wait in [0, min(cap, base·2^attempt)]. */
export function backoffMs(attempt: number, capMs: number, baseMs = 100, random = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30)));
}

export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new AbandonedError());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbandonedError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * An attempt that has had no answer for `afterMs`: a dependency that stops answering without
 * refusing (a paused broker, a network that drops packets) fails a request only after the
 * client's own timeouts and retries, minutes later; until then the outage is entered with `cause`.
 * An attempt of many requests says each answer (`answered`), which starts the silence again: a
 * long send whose requests are all answered is no outage.
 */
export interface Silence {
  afterMs: number;
  cause: () => unknown;
  /**
   * Asked when `afterMs` has passed: how much longer the silence must last to count, for a
   * dependency that said it would not read the attempt's next request for a while (a Kafka quota's
   * throttle, maybe another attempt's): the silence is counted from the end of that wait.
   */
  deferMs?: () => number;
}

/**
 * Runs `fn` until it succeeds; retryable failures wait (the outage is logged once). Others throw.
 * With `silence`, an attempt still unanswered after its time enters the outage while it goes on,
 * and holds it: nothing else ends it before the attempt is answered or ends.
 */
export async function retrying<T>(
  fn: (answered: () => void) => Promise<T>,
  outage: Outage,
  capMs: number,
  signal: AbortSignal,
  silence?: Silence,
): Promise<T> {
  let quiet: ReturnType<typeof setTimeout> | undefined;
  // A silence holds the outage (Outage.hold) until the attempt is answered or ends.
  const held = {};
  const hush = () => {
    clearTimeout(quiet);
    outage.release(held);
  };
  // The silence's end, put off for as long as the dependency said it would not read (deferMs).
  const expire = (s: Silence, ms: number) => {
    quiet = setTimeout(() => {
      const more = s.deferMs?.() ?? 0;
      if (more > 0) expire(s, more);
      else outage.hold(held, s.cause());
    }, ms);
    quiet.unref();
  };
  // Started again by each answer (cleared and set, which mock timers follow as they do not refresh()).
  const listen = () => {
    hush();
    if (silence) expire(silence, silence.afterMs);
  };
  for (let attempt = 0; ; attempt++) {
    listen();
    // An answer heard after the attempt ended starts no timer: nothing would clear it.
    let open = true;
    try {
      const result = await fn(() => open && listen());
      open = false;
      hush();
      outage.recover();
      return result;
    } catch (err) {
      open = false;
      if (!isRetryable(err)) {
        hush();
        throw err;
      }
      // Said before its hold goes: a failure, which a success while it hung must not outlast.
      outage.enter(err);
      hush();
      const wait = Math.max(50, backoffMs(attempt, capMs));
      outage.retrying(attempt + 1, wait);
      await abortableDelay(wait, signal);
    }
  }
}
