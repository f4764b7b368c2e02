import type { Consumer } from "@platformatic/kafka";
import type { Pool, RowDataPacket } from "mysql2/promise";
import type { Config } from "../config/index.ts";
import { ENTITY_TABLES } from "../domains/registry.ts";
import { messageOf, oneLine } from "../errors.ts";
import type { Logger } from "../log.ts";
import { TOMBSTONES_TABLE } from "../write/statements.ts";

// A group without a single committed offset starts at KAFKA_AUTO_OFFSET_RESET. Under `latest`
// that skips everything before the start: right for a new deployment, a silent loss for a
// database this service has written before, whose group lost its offsets (deleted with
// kafka-consumer-groups.sh, expired after the broker's offsets.retention.minutes, 7 days by
// default, of a group stopped that long) or whose KAFKA_GROUP_ID was changed. The events that
// came while it was stopped were never read, and nothing said so. One line says it now. The other
// way round too: a group that read before, over a database holding no row (a new one, or one
// restored from a backup taken before the first event), reads on from its offsets, and what it
// read before is in the database no more.

/** The tables an applied event leaves a row in: every domain's entity table, and the tombstones. */
export const WRITTEN: readonly string[] = [...ENTITY_TABLES.map((t) => t.name), TOMBSTONES_TABLE];

/**
 * Warns once at start, before the group joins, when its committed offsets and the database
 * disagree: under `latest`, the group has no committed offset on any partition of the source topics
 * (`partitions`, by topic) while the database holds rows; under `earliest`, it has read past the
 * log's start on some partition while the database holds no row at all (a new or emptied database
 * under a group that read before: MYSQL_DATABASE changed, the database dropped and migrated again,
 * or restored from a backup taken before the first event; the group reads on from its offsets, and
 * the events before them never reach it). Asked through the group's own consumer. Advisory: a
 * failure to ask is one warning line, and the start goes on.
 */
export async function warnLostOffsets(
  config: Config,
  pool: Pool,
  partitions: ReadonlyMap<string, number>,
  consumer: Pick<Consumer, "listCommittedOffsets" | "listOffsets">,
  log: Logger,
): Promise<void> {
  if (partitions.size === 0) return;
  try {
    const offsets = await consumer.listCommittedOffsets({
      topics: [...partitions].map(([topic, n]) => ({ topic, partitions: [...Array(n).keys()] })),
    });
    const group = oneLine(config.kafkaGroupId);
    if (config.kafkaAutoOffsetReset === "latest") {
      if ([...offsets.values()].some((committed) => committed.some((offset) => offset >= 0n))) return;
      if (!(await databaseWritten(pool))) return;
      log.warn(
        { group: config.kafkaGroupId },
        `KAFKA_GROUP_ID ${group} has no committed offsets on the source topics, but the database holds rows this service wrote: its offsets were deleted or expired (the broker's offsets.retention.minutes, 7 days by default, counts from when the group was left empty), or KAFKA_GROUP_ID changed; under KAFKA_AUTO_OFFSET_RESET=latest the events that came since it last read are skipped: to read them, stop the instances and run analytics-service rewind --to <when they stopped>`,
      );
      return;
    }
    if (!(await readPastLogStart(consumer, offsets)) || (await databaseWritten(pool))) return;
    log.warn(
      { group: config.kafkaGroupId },
      `KAFKA_GROUP_ID ${group} has read the source topics up to its committed offsets, but the database holds no row this service writes: a new or emptied database (MYSQL_DATABASE changed, dropped and migrated again, or restored from a backup older than the offsets) under a group that read before; the events before its offsets are not read again: to write them, stop the instances and run analytics-service rewind --to earliest (unless every event the group has read was dead-lettered or skipped, which leaves no row either: then nothing is missing)`,
    );
  } catch (err) {
    log.warn(
      { err: messageOf(err) },
      "could not tell whether the group's committed offsets match the database (a group without them under KAFKA_AUTO_OFFSET_RESET=latest skips what came meanwhile; a new database under a group that read before misses what it read)",
    );
  }
}

/** Whether any table an applied event leaves a row in holds one. */
async function databaseWritten(pool: Pick<Pool, "query">): Promise<boolean> {
  const exists = WRITTEN.map((t) => `EXISTS(SELECT 1 FROM \`${t}\`)`).join(" OR ");
  const [rows] = await pool.query<RowDataPacket[]>(`SELECT ${exists} AS written`);
  return Number(rows[0]?.written) === 1;
}

/** Whether the group committed, on some partition, an offset past the log's start: it has read events there. */
async function readPastLogStart(
  consumer: Pick<Consumer, "listOffsets">,
  committed: ReadonlyMap<string, bigint[]>,
): Promise<boolean> {
  const topics = [...committed].filter(([, list]) => list.some((offset) => offset > 0n)).map(([topic]) => topic);
  if (topics.length === 0) return false;
  const starts = await consumer.listOffsets({ topics, timestamp: -2n });
  return topics.some((topic) =>
    (committed.get(topic) ?? []).some((offset, partition) => offset > (starts.get(topic)?.[partition] ?? offset)),
  );
}
