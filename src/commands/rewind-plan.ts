import type { Group } from "@platformatic/kafka";
import { oneLine } from "../errors.ts";
import { parseIsoTime, parseOptions, UsageError } from "./args.ts";
import { formatTable } from "./text-table.ts";

// What a rewind moves, and how it is said: the command line, each partition's plan from what the
// brokers say of it, the table and the lines printed. Pure; rewind.ts asks the brokers and sets
// the offsets.

export type RewindTarget = { kind: "earliest" } | { kind: "time"; ms: number; text: string };

export interface RewindOptions {
  to: RewindTarget;
  dryRun: boolean;
}

const EXAMPLE = "e.g. --to earliest, --to 2026-02-11 or --to 2026-02-11T09:30:00Z";

/** `rewind --to earliest|<ISO time> [--dry-run]`; a bad command line is a one-line UsageError. */
export function rewindOptions(args: readonly string[], now = Date.now()): RewindOptions {
  const raw = parseOptions("rewind", args, { to: "string", "dry-run": "boolean" });
  if (raw.to === undefined) throw new UsageError(`rewind: say where to: --to earliest or --to <ISO time> (${EXAMPLE})`);
  const dryRun = raw["dry-run"] === true;
  if (raw.to === "earliest") return { to: { kind: "earliest" }, dryRun };
  const ms = parseIsoTime(raw.to);
  if (ms === undefined) {
    throw new UsageError(
      `rewind: --to "${raw.to}" is neither earliest nor an ISO-8601 time (UTC when it has no offset; ${EXAMPLE})`,
    );
  }
  if (ms > now) {
    throw new UsageError(`rewind: --to "${raw.to}" is in the future: no record is that late (${EXAMPLE})`);
  }
  return { to: { kind: "time", ms, text: raw.to }, dryRun };
}

/** What the broker says about one partition of a source topic. */
export interface PartitionFacts {
  topic: string;
  partition: number;
  /** The group's committed offset, or null when it has none. */
  committed: bigint | null;
  /** The log start offset (the first record retention kept) and the end offset (the next to be written). */
  start: bigint;
  end: bigint;
  /** For a time: the first offset whose record time is at or after it; null when there is none (ListOffsets' -1). */
  atTime?: bigint | null;
}

export interface PartitionPlan {
  topic: string;
  partition: number;
  before: bigint | null;
  /** null: an empty partition the group never committed stays so (a commit would change nothing it reads). */
  after: bigint | null;
  end: bigint;
  /** Why `after` is not simply the target, when it is not. */
  note?: string;
}

/**
 * Where one partition goes. The target is the log start (earliest) or the first record at or
 * after the time (the end when there is none). A committed offset already before the target is
 * kept: a rewind reads again, it never skips what the group has not read yet. One below the log
 * start is not kept: those records are gone, and the consumer would be reset anyway. A partition
 * the group never committed is left alone: it starts where KAFKA_AUTO_OFFSET_RESET says, and a
 * time would make it skip what came before.
 */
export function planPartition(f: PartitionFacts, to: RewindTarget): PartitionPlan {
  const plan = { topic: f.topic, partition: f.partition, before: f.committed, end: f.end };
  if (f.committed === null) {
    return f.start === f.end ? { ...plan, after: null } : { ...plan, after: null, note: NEVER_COMMITTED };
  }
  let target = f.start;
  let note: string | undefined;
  if (to.kind === "time") {
    target = f.atTime ?? f.end;
    if (f.atTime == null && f.start < f.end) note = "no record at or after the time: the end";
    if (target < f.start) target = f.start;
  }
  if (f.committed !== null && f.committed < target && f.committed >= f.start) {
    return { ...plan, after: f.committed, note: "kept: not yet read up to the time" };
  }
  return note === undefined ? { ...plan, after: target } : { ...plan, after: target, note };
}

const NEVER_COMMITTED = "never committed: starts at KAFKA_AUTO_OFFSET_RESET";

export const moves = (p: PartitionPlan) => p.before !== p.after;

/** The plan as a table: per partition the committed offset before and after, and the end. */
export function formatPlan(plans: readonly PartitionPlan[]): string {
  return formatTable(
    ["topic", "partition", "before", "after", "end", "note"],
    plans.map((p) => ({ ...p, note: p.note ?? null })),
  );
}

/** The line under the table: how many partitions move, and how many records are read again. */
export function summarise(plans: readonly PartitionPlan[], groupId: string, dryRun: boolean): string {
  // Any string Kafka takes: said as one line that reads as written.
  const group = oneLine(groupId);
  const moved = plans.filter(moves);
  const again = moved.reduce(
    (n, p) => n + (p.before !== null && p.after !== null && p.before > p.after ? p.before - p.after : 0n),
    0n,
  );
  if (moved.length === 0) {
    return `group ${group}: all ${plans.length} partition(s) are already there; nothing changed`;
  }
  const what = `${moved.length} of ${plans.length} partition(s) of group ${group}, ${again} record(s) to read again`;
  return dryRun
    ? `dry run: would move ${what}; nothing changed`
    : `moved ${what}; start the service instances to replay them`;
}

/** The refusal while the group has members, or null when its offsets may be set. */
export function liveMembers(group: Pick<Group, "state" | "members"> | undefined, id: string): string | null {
  if (group === undefined) return null;
  const groupId = oneLine(id);
  const idle = group.state === "Empty" || group.state === "Dead";
  if (idle && group.members.size === 0) return null;
  return (
    `rewind: consumer group ${groupId} has ${group.members.size} live member(s) (state ${group.state}): ` +
    `stop every service instance with KAFKA_GROUP_ID=${groupId} (a killed one counts until KAFKA_SESSION_TIMEOUT_MS has passed), then run rewind again`
  );
}

/** Partitions named by topic, bounded whatever their number: "t.post 0, 1, 2; t.user 4". */
export function partitionsOf(plans: readonly PartitionPlan[]): string {
  const byTopic = new Map<string, number[]>();
  for (const p of plans) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
  return [...byTopic]
    .map(([topic, ps]) => `${topic} ${ps.length > 8 ? `${ps.length} partitions` : ps.join(", ")}`)
    .join("; ");
}
