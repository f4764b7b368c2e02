import type { Logger } from "../log.ts";

// Leaving the group is the last thing the consumer says at shutdown, and a broker answers the
// requests of one connection in order: a LeaveGroup sent while the member's JoinGroup waits on the
// coordinator (a rebalance held by a member that does not join again, up to its rebalance timeout;
// or a member the group dropped while a broker was paused, joining again as the shutdown begins)
// is answered only after it. Waiting for it held the shutdown until SHUTDOWN_TIMEOUT_MS forced
// exit 1, its batches committed long before. Past LEAVE_GROUP_MS the consumer is left to the
// process's exit: the group hands its partitions on once the session timeout has passed, as it
// does for a member that stopped.

/** How long the consumer's close (its LeaveGroup) may take at shutdown. */
export const LEAVE_GROUP_MS = 5000;

/** Closes `consumer`, leaving its group, or gives up after `withinMs` with one line. */
export async function closeConsumer(
  consumer: { close(): Promise<void> },
  sessionTimeoutMs: number,
  log: Logger,
  withinMs = LEAVE_GROUP_MS,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), withinMs);
  });
  try {
    if ((await Promise.race([consumer.close(), late])) !== "late") return;
  } finally {
    clearTimeout(timer);
  }
  log.warn(
    { withinMs },
    `leaving the consumer group got no answer within ${withinMs / 1000} s (a rejoin under way holds the request at the coordinator): stopping without it; the group hands this member's partitions on after KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs / 1000} s)`,
  );
}
