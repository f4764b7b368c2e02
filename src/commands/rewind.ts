import { Admin, type Group } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import { AppError, afterOutcome, ConfigError, KafkaUnavailableError, oneLine } from "../errors.ts";
import { kafkaBaseOptions } from "../kafka/client-options.ts";
import { steered } from "../kafka/command-clients.ts";
import { explainKafkaFailure } from "../kafka/kafka-errors.ts";
import { partitionCounts, prefixed, SOURCE_TOPICS } from "../kafka/topics.ts";
import { parseIsoTime, parseOptions, UsageError } from "./args.ts";
import { formatTable } from "./text-table.ts";

// `analytics-service rewind --to earliest|<ISO time> [--dry-run]`: moves the group's committed
// offsets on the five source topics back, so the next start reads history again — to fill a
// column a migration added, or to rebuild after a fix. Safe because the sink is idempotent and
// never goes backwards: an event read again changes nothing unless a row lacks what it carries.
// Only an empty group's offsets can be set (a live member would overwrite them with its own
// commits, and the broker refuses them anyway), so the instances are stopped first.

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

/** The refusal for a group without a single committed offset: most likely a mistyped KAFKA_GROUP_ID. */
const neverCommitted = (config: Config) =>
  `rewind: group ${oneLine(config.kafkaGroupId)} has no committed offsets on the source topics, so nothing to read again: ` +
  `check KAFKA_GROUP_ID (a group that never committed starts at KAFKA_AUTO_OFFSET_RESET=${config.kafkaAutoOffsetReset})`;

/** Runs one admin request; a failure is one line naming what was being done and the likely cause. */
async function ask<T>(config: Config, doing: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new KafkaUnavailableError(`rewind: ${doing} failed: ${explainKafkaFailure(err, config)}`, err);
  }
}

async function describeGroup(admin: Admin, config: Config): Promise<Group | undefined> {
  const groups = await ask(config, `describing group ${config.kafkaGroupId}`, () =>
    admin.describeGroups({ groups: [config.kafkaGroupId] }),
  );
  return groups.get(config.kafkaGroupId);
}

/** Offsets ListOffsets gives for `timestamp` (-2 the log start, -1 the end, else a time), per topic and partition. */
async function listOffsets(admin: Admin, config: Config, counts: Map<string, number>, timestamp: bigint) {
  const topics = [...counts].map(([name, n]) => ({
    name,
    partitions: Array.from({ length: n }, (_, partitionIndex) => ({ partitionIndex, timestamp })),
  }));
  const answer = await ask(config, "listing offsets", () => admin.listOffsets({ topics }));
  const out = new Map<string, bigint>();
  for (const t of answer) for (const p of t.partitions) out.set(`${t.name}/${p.partitionIndex}`, p.offset);
  return out;
}

/**
 * The source topics that do not exist: `run` reads the others meanwhile (one not created yet holds
 * back none of them), so a rewind moves the others too. None at all is a mistyped prefix.
 */
export function missingTopics(config: Config, counts: ReadonlyMap<string, number>): string[] {
  const topics = prefixed(config.kafkaTopicPrefix, SOURCE_TOPICS);
  const missing = topics.filter((t) => !counts.has(t));
  if (missing.length === topics.length) {
    throw new ConfigError(
      `rewind: topics missing on ${config.kafkaBrokers.join(",")}: ${missing.join(", ")}; check KAFKA_TOPIC_PREFIX (now "${config.kafkaTopicPrefix}")`,
    );
  }
  return missing;
}

/** The note under the plan for source topics not found: nothing of theirs was committed or moved. */
export const notFound = (missing: readonly string[]) =>
  `source topic(s) ${missing.join(", ")} not found: nothing to rewind there; once created, the group starts them at KAFKA_AUTO_OFFSET_RESET`;

/** The facts of every partition of the source topics that exist, in topic and partition order, and the topics missing. */
export async function readFacts(
  admin: Admin,
  config: Config,
  to: RewindTarget,
): Promise<{ facts: PartitionFacts[]; missing: string[] }> {
  const topics = prefixed(config.kafkaTopicPrefix, SOURCE_TOPICS);
  const counts = await ask(config, "reading the topics", () => partitionCounts(admin, topics));
  const missing = missingTopics(config, counts);
  const starts = await listOffsets(admin, config, counts, -2n);
  const ends = await listOffsets(admin, config, counts, -1n);
  // Times before 1970 would be ListOffsets' special values (-1 latest, -2 earliest, ...).
  const atTime = to.kind === "time" ? await listOffsets(admin, config, counts, BigInt(Math.max(0, to.ms))) : null;
  const [group] = await ask(config, `reading the committed offsets of group ${config.kafkaGroupId}`, () =>
    admin.listConsumerGroupOffsets({
      groups: [
        {
          groupId: config.kafkaGroupId,
          topics: [...counts].map(([name, n]) => ({ name, partitionIndexes: [...Array(n).keys()] })),
        },
      ],
    }),
  );
  const committed = new Map<string, bigint>();
  for (const t of group?.topics ?? []) {
    for (const p of t.partitions)
      if (p.committedOffset >= 0n) committed.set(`${t.name}/${p.partitionIndex}`, p.committedOffset);
  }
  const facts = [...counts].flatMap(([topic, n]) =>
    Array.from({ length: n }, (_, partition) => {
      const key = `${topic}/${partition}`;
      const found = atTime?.get(key);
      return {
        topic,
        partition,
        committed: committed.get(key) ?? null,
        start: starts.get(key) ?? 0n,
        end: ends.get(key) ?? 0n,
        ...(atTime ? { atTime: found === undefined || found < 0n ? null : found } : {}),
      };
    }),
  );
  return { facts, missing };
}

export async function runRewind(
  config: Config,
  options: RewindOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const admin = steered(new Admin({ ...kafkaBaseOptions(config, "rewind"), retries: 2 }));
  const groupId = config.kafkaGroupId;
  try {
    const refusal = liveMembers(await describeGroup(admin, config), groupId);
    if (refusal !== null && !options.dryRun) throw new ConfigError(refusal);
    const { facts, missing } = await readFacts(admin, config, options.to);
    const uncommitted = facts.every((f) => f.committed === null) ? neverCommitted(config) : null;
    if (uncommitted !== null && !options.dryRun) throw new ConfigError(uncommitted);
    const plans = facts.map((f) => planPartition(f, options.to));
    out.write(formatPlan(plans));
    const moved = plans.filter(moves);
    if (!options.dryRun && moved.length > 0) {
      await setOffsets(admin, config, moved);
    }
    // A dry run of a group that never committed: "already there" would read as a group in place.
    const summary =
      uncommitted === null
        ? summarise(plans, groupId, options.dryRun)
        : `dry run: a rewind would be refused: ${uncommitted.replace(/^rewind: /, "")}`;
    out.write(`${summary}\n`);
    const absent = missing.length > 0 ? notFound(missing) : null;
    for (const note of [refusal, absent]) {
      if (note !== null) out.write(`note: ${note.replace(/^rewind: /, "")}\n`);
    }
    return 0;
  } finally {
    await afterOutcome("closing the Kafka admin client", admin.close());
  }
}

/** Commits the new offsets; a member that joined meanwhile makes the broker refuse, said as such. */
async function setOffsets(admin: Admin, config: Config, moved: readonly PartitionPlan[]): Promise<void> {
  const byTopic = new Map<string, { partition: number; offset: bigint }[]>();
  for (const p of moved) {
    const list = byTopic.get(p.topic) ?? [];
    if (p.after !== null) list.push({ partition: p.partition, offset: p.after });
    byTopic.set(p.topic, list);
  }
  const topics = [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets }));
  try {
    await admin.alterConsumerGroupOffsets({ groupId: config.kafkaGroupId, topics });
  } catch (err) {
    // Why the broker refused is looked up as a courtesy; when that fails too, its own failure is thrown.
    const refusal = liveMembers(await describeGroup(admin, config).catch(() => undefined), config.kafkaGroupId);
    if (refusal !== null) throw new ConfigError(refusal);
    throw new KafkaUnavailableError(
      `rewind: setting the offsets of group ${config.kafkaGroupId} failed: ${explainKafkaFailure(err, config)}`,
      err,
    );
  }
}
