import type { GroupEvents } from "../read/membership-lease.ts";
import { MembershipLease } from "../read/membership-lease.ts";
import { type Assignment, OwnedPartitions } from "../read/owned-partitions.ts";

/** The consumer as membership follows it: its group events and its current assignments. */
export interface GroupMember extends GroupEvents {
  readonly assignments: readonly Assignment[] | null | undefined;
}

/**
 * This member's hold on its partitions: which it owns and since which list (its tenure,
 * read/owned-partitions.ts), and whether the group still counts it in (read/membership-lease.ts).
 * Every list of assignments is seen, so that a partition taken away and handed back between two
 * questions is known to have been another member's meanwhile. Dropped by the group, the member
 * has no tenure left: whatever it is handed next is handed anew, and `onLapse` says why.
 */
export class Membership {
  readonly #owned: OwnedPartitions;
  readonly lease: MembershipLease;
  readonly #consumer: GroupMember;
  readonly #observe = () => this.#owned.observe();

  constructor(consumer: GroupMember, sessionTimeoutMs: number, onLapse: (why: string) => void) {
    this.#consumer = consumer;
    this.#owned = new OwnedPartitions(() => consumer.assignments);
    this.lease = new MembershipLease(consumer, sessionTimeoutMs, (why) => {
      this.#owned.endTenures();
      onLapse(why);
    });
    consumer.on("consumer:group:join", this.#observe);
    consumer.on("consumer:group:leave", this.#observe);
  }

  owns(key: string): boolean {
    return this.#owned.owns(key);
  }

  since(key: string): number | undefined {
    return this.#owned.since(key);
  }

  close(): void {
    this.lease.close();
    this.#consumer.off("consumer:group:join", this.#observe);
    this.#consumer.off("consumer:group:leave", this.#observe);
  }
}
