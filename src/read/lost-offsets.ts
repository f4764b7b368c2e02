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
// came while it was stopped were never read, and nothing said so. One line says it now.

/** The tables an applied event leaves a row in: every domain's entity table, and the tombstones. */
export const WRITTEN: readonly string[] = [...ENTITY_TABLES.map((t) => t.name), TOMBSTONES_TABLE];

/**
 * Warns, once at start under `latest`, when the group has no committed offset on any partition of
 * the source topics (`partitions`, by topic) while the database holds rows. Asked through the
 * group's own consumer, before it joins. Advisory: a failure to ask is one warning line, and the
 * start goes on.
 */
export async function warnLostOffsets(
  config: Config,
  pool: Pool,
  partitions: ReadonlyMap<string, number>,
  consumer: Pick<Consumer, "listCommittedOffsets">,
  log: Logger,
): Promise<void> {
  if (config.kafkaAutoOffsetReset !== "latest" || partitions.size === 0) return;
  try {
    const offsets = await consumer.listCommittedOffsets({
      topics: [...partitions].map(([topic, n]) => ({ topic, partitions: [...Array(n).keys()] })),
    });
    if ([...offsets.values()].some((committed) => committed.some((offset) => offset >= 0n))) return;
    const exists = WRITTEN.map((t) => `EXISTS(SELECT 1 FROM \`${t}\`)`).join(" OR ");
    const [rows] = await pool.query<RowDataPacket[]>(`SELECT ${exists} AS written`);
    if (Number(rows[0]?.written) !== 1) return;
    log.warn(
      { group: config.kafkaGroupId },
      `KAFKA_GROUP_ID ${oneLine(config.kafkaGroupId)} has no committed offsets on the source topics, but the database holds rows this service wrote: its offsets were deleted or expired (the broker's offsets.retention.minutes, 7 days by default, counts from when the group was left empty), or KAFKA_GROUP_ID changed; under KAFKA_AUTO_OFFSET_RESET=latest the events that came since it last read are skipped: to read them, stop the instances and run analytics-service rewind --to <when they stopped>`,
    );
  } catch (err) {
    log.warn(
      { err: messageOf(err) },
      "could not tell whether the group lost its committed offsets (KAFKA_AUTO_OFFSET_RESET=latest skips what came while it had none)",
    );
  }
}
