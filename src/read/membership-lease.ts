import { subscribe, unsubscribe } from "node:diagnostics_channel";

// Whether this member can still be sure it is one, asked right before each commit. A member that
// stops (SIGSTOP, a VM paused, a collection longer than the session timeout) goes on, when it
// wakes, from where it was: its assignments are the ones it had, and a transaction in flight
// reaches its commit before the first heartbeat tells it that the group dropped it and gave its
// partitions to another member, which may have written their later events meanwhile.
//
// The coordinator drops a member no sooner than a session timeout after it last heard from it,
// and it hears from it no sooner than the member sends. So while less than a session timeout has
// passed since the member sent a heartbeat (or the JoinGroup) the coordinator answered without an
// error, the member is in the group and its partitions are its own: nobody else can have written
// them. The lease ends a tenth of the session timeout early, for the two clocks' rates.
//
// A member the group dropped and that joined again is a new member (another member id, or a
// generation it skipped): what it read before may have been read and written since by another.
// So may a member the coordinator has not answered for a session timeout past its lease. `onLapse`
// says so, and the pipeline reads again from the committed offsets.
//
// A member in the group is not all: a rebalance hands its partitions to another member as soon as
// the leader's SyncGroup reaches the coordinator, while the member learns its own new assignment
// only from its own SyncGroup's answer (later if its loop is busy or its network slow; never, when
// that SyncGroup finds the group rebalancing again and it joins once more). Meanwhile the client
// still lists the partitions it had, and its last heartbeat may be recent. So from the start of a
// join to its end (`consumer:group:join`, with the new assignments in place) the lease does not
// hold; a join that failed leaves it so until the next one succeeds.

/**
 * Milliseconds that pass at least as fast as the monotonic clock and jump forward with the wall
 * clock when it moves ahead of it: a paused VM's monotonic clock may not count the pause, while
 * its wall clock is set right when it resumes. A wall clock set back changes nothing.
 */
export function pauseAwareClock(
  monotonic: () => number = () => performance.now(),
  wall: () => number = () => Date.now(),
): () => number {
  const skew = wall() - monotonic();
  let ahead = 0;
  return () => {
    const m = monotonic();
    ahead = Math.max(ahead, wall() - m - skew);
    return m + ahead;
  };
}

/** The consumer events the lease follows (@platformatic/kafka's Consumer emits them). */
export interface GroupEvents {
  on(event: string, listener: (payload?: JoinPayload) => void): unknown;
  off(event: string, listener: (payload?: JoinPayload) => void): unknown;
}

/** What the client says of a join (`consumer:group:join`). */
interface JoinPayload {
  memberId?: string | null;
  generationId?: number;
}

/** The client's tracing channel of group operations (docs/diagnostic.md of @platformatic/kafka). */
const GROUP_OPERATIONS = "tracing:plt:kafka:consumer:group";

type GroupOperation = { client?: unknown; operation?: string };

/** What is left of a session timeout for the lease. */
const LEASE_SHARE = 0.9;

interface Membership {
  memberId: string;
  generationId: number;
}

export class MembershipLease {
  readonly #consumer: GroupEvents;
  readonly #leaseMs: number;
  readonly #sessionTimeoutMs: number;
  readonly #now: () => number;
  readonly #onLapse: (why: string) => void;
  /** When the member sent the last request the coordinator accepted (the clock of `now`). */
  #confirmedAt = Number.NEGATIVE_INFINITY;
  #heartbeatSentAt: number | null = null;
  #joinSentAt: number | null = null;
  /** A join has begun and not succeeded: the partitions listed may be another member's already. */
  #joining = false;
  /** The last join failed: the client sends nothing more until the pipeline consumes again. */
  #outOfGroup = false;
  /** The membership of the last join; null before the first and after leaving the group. */
  #last: Membership | null = null;
  readonly #waiting = new Set<() => void>();
  /** The silence past the lease was said (onLapse) and no answer has come since. */
  #silenceSaid = false;
  readonly #listeners: [string, (payload?: JoinPayload) => void][];
  /** The tracing channel's events this lease subscribed to, and how it handles each. */
  readonly #channels: [string, (message: unknown) => void][];

  constructor(
    consumer: GroupEvents,
    sessionTimeoutMs: number,
    onLapse: (why: string) => void,
    now: () => number = pauseAwareClock(),
  ) {
    this.#consumer = consumer;
    this.#sessionTimeoutMs = sessionTimeoutMs;
    this.#leaseMs = sessionTimeoutMs * LEASE_SHARE;
    this.#onLapse = onLapse;
    this.#now = now;
    this.#listeners = [
      ["consumer:heartbeat:start", () => this.#heartbeatSent()],
      ["consumer:heartbeat:end", () => this.#answered(this.#takeHeartbeat())],
      ["consumer:heartbeat:error", () => this.#answered(this.#takeHeartbeat(), false)],
      ["consumer:heartbeat:cancel", () => this.#answered(this.#takeHeartbeat(), false)],
      ["consumer:group:join", (p) => this.#joined(p)],
      ["consumer:group:leave", () => this.#left()],
    ];
    for (const [event, listener] of this.#listeners) consumer.on(event, listener);
    const ours = (message: unknown) => {
      const op = message as GroupOperation;
      return op.client === consumer && op.operation === "joinGroup";
    };
    this.#channels = [
      [`${GROUP_OPERATIONS}:start`, (m) => ours(m) && this.#joinSent()],
      [`${GROUP_OPERATIONS}:error`, (m) => ours(m) && this.#joinFailed()],
    ];
    for (const [name, handler] of this.#channels) subscribe(name, handler);
  }

  /** Whether the coordinator answered this member within the lease, and it is not joining. */
  holds(): boolean {
    return !this.#joining && this.#now() - this.#confirmedAt < this.#leaseMs;
  }

  /**
   * Whether the lease holds; when it has run out, after the coordinator's next answer (a
   * heartbeat's, or a join's). False once a session timeout has passed without one, or on `signal`.
   */
  async confirm(signal?: AbortSignal): Promise<boolean> {
    if (this.holds()) return true;
    // No answer is coming: the pipeline joins again only once the batches in hand are done.
    if (signal?.aborted || this.#outOfGroup) return false;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        this.#unanswered();
      }, this.#sessionTimeoutMs);
      signal?.addEventListener("abort", done, { once: true });
      this.#waiting.add(done);
    });
    return !signal?.aborted && this.holds();
  }

  close(): void {
    for (const [event, listener] of this.#listeners) this.#consumer.off(event, listener);
    for (const [name, handler] of this.#channels) unsubscribe(name, handler);
    for (const done of [...this.#waiting]) done();
  }

  /** No answer for a session timeout past the lease: the group may have dropped the member. */
  #unanswered() {
    if (this.holds() || this.#silenceSaid) return;
    this.#silenceSaid = true;
    const seconds = Math.round((this.#now() - this.#confirmedAt) / 1000);
    const setting = `KAFKA_SESSION_TIMEOUT_MS=${this.#sessionTimeoutMs}`;
    this.#onLapse(
      this.#joining
        ? `the group's rebalance has lasted longer than its session timeout (${setting}): its partitions may be another member's by now`
        : Number.isFinite(seconds)
          ? `the group's coordinator has not answered this member for ${seconds} s (${setting}): the group may have dropped it`
          : "the group's coordinator has not answered this member yet: the group may have dropped it",
    );
  }

  #heartbeatSent() {
    this.#heartbeatSentAt ??= this.#now();
  }

  #joinSent() {
    this.#joining = true;
    this.#outOfGroup = false;
    this.#joinSentAt ??= this.#now();
  }

  /** Still joining as far as the lease is concerned; a commit waiting on it gives up now. */
  #joinFailed() {
    this.#joinSentAt = null;
    this.#outOfGroup = true;
    this.#answered(null, false);
  }

  #left() {
    this.#last = null;
  }

  #takeHeartbeat(): number | null {
    const sentAt = this.#heartbeatSentAt;
    this.#heartbeatSentAt = null;
    return sentAt;
  }

  #joined(p: JoinPayload | undefined) {
    const joinSentAt = this.#joinSentAt;
    this.#joinSentAt = null;
    this.#joining = false;
    // A heartbeat answered by a rejoin says nothing more of itself: its send time is not kept.
    this.#heartbeatSentAt = null;
    const now: Membership | null =
      typeof p?.memberId === "string" && typeof p.generationId === "number"
        ? { memberId: p.memberId, generationId: p.generationId }
        : null;
    const last = this.#last;
    this.#last = now;
    // A generation is one rebalance: a member in the group throughout has joined each of them (a
    // join that started none finds the generation it is in).
    const skipped = (a: Membership, b: Membership) =>
      b.generationId < a.generationId || b.generationId > a.generationId + 1;
    if (last !== null && now !== null && (now.memberId !== last.memberId || skipped(last, now))) {
      this.#onLapse(
        now.memberId !== last.memberId
          ? "the group dropped this member (it had not been heard from for the session timeout) and it joined again"
          : `this member missed a generation of the group (${last.generationId} to ${now.generationId})`,
      );
    }
    this.#answered(joinSentAt);
  }

  #answered(sentAt: number | null, accepted = true) {
    if (accepted && sentAt !== null) {
      this.#confirmedAt = Math.max(this.#confirmedAt, sentAt);
      this.#silenceSaid = false;
    }
    for (const done of [...this.#waiting]) done();
  }
}
