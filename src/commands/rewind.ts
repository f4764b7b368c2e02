import { Admin, type Group } from "@platformatic/kafka";
import type { Config } from "../config/index.ts";
import { AppError, afterOutcome, ConfigError, KafkaUnavailableError, oneLine } from "../errors.ts";
import { kafkaBaseOptions } from "../kafka/client-options.ts";
import { steered } from "../kafka/command-clients.ts";
import { brokerErrors, explainKafkaFailure } from "../kafka/kafka-errors.ts";
import { partitionCounts, prefixed, SOURCE_TOPICS } from "../kafka/topics.ts";
import {
  formatPlan,
  liveMembers,
  moves,
  type PartitionFacts,
  type PartitionPlan,
  partitionsOf,
  planPartition,
  type RewindOptions,
  type RewindTarget,
  summarise,
} from "./rewind-plan.ts";

// `analytics-service rewind --to earliest|<ISO time> [--dry-run]`: moves the group's committed
// offsets on the five source topics back, so the next start reads history again — to fill a
// column a migration added, or to rebuild after a fix. Safe because the sink is idempotent and
// never goes backwards: an event read again changes nothing unless a row lacks what it carries.
// Only an empty group's offsets can be set (a live member would overwrite them with its own
// commits, and the broker refuses them anyway), so the instances are stopped first.

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
    // The broker answers per partition: one it refused (its topic deleted meanwhile, a right
    // missing) leaves the others moved. Said "failed" alone, with "no answer from the brokers", the
    // rewind read as not done while most of it was.
    const refused = brokerErrors(err);
    const why = refused.length > 0 ? `the broker refused ${refused.join(", ")}` : explainKafkaFailure(err, config);
    const done = refused.length > 0 ? await movedSoFar(admin, config, moved).catch(() => null) : null;
    if (done !== null && done.size > 0) {
      const left = moved.filter((p) => !done.has(`${p.topic}/${p.partition}`));
      throw new KafkaUnavailableError(
        `rewind: only ${done.size} of ${moved.length} partition(s) of group ${oneLine(config.kafkaGroupId)} moved; ${partitionsOf(left)} did not (${why}): put that right (a topic deleted meanwhile is not read; a right missing), then run rewind again, which moves only what is not there yet`,
        err,
      );
    }
    throw new KafkaUnavailableError(`rewind: setting the offsets of group ${config.kafkaGroupId} failed: ${why}`, err);
  }
}

/** The planned partitions whose committed offset is now where the plan put it, as "topic/partition". */
async function movedSoFar(admin: Admin, config: Config, moved: readonly PartitionPlan[]): Promise<Set<string>> {
  const byTopic = new Map<string, number[]>();
  for (const p of moved) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
  const [group] = await admin.listConsumerGroupOffsets({
    groups: [
      {
        groupId: config.kafkaGroupId,
        topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
      },
    ],
  });
  const now = new Map<string, bigint>();
  for (const t of group?.topics ?? []) {
    for (const p of t.partitions) now.set(`${t.name}/${p.partitionIndex}`, p.committedOffset);
  }
  const key = (p: PartitionPlan) => `${p.topic}/${p.partition}`;
  return new Set(moved.filter((p) => p.after !== null && now.get(key(p)) === p.after).map(key));
}
