import type { Admin } from "@platformatic/kafka";
import { KafkaUnavailableError, messageOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import { abortableDelay } from "../retry.ts";

/** The five source topics of SPEC §3; an event type is `<topic>.<action>`. */
export const SOURCE_TOPICS = ["user", "supplier", "product", "order", "post"] as const;
export type SourceTopic = (typeof SOURCE_TOPICS)[number];

export const DEFAULT_DLQ_TOPIC = "analytics-dlq";

/** Kafka topic names for `topics` under a deployment's prefix. */
export const prefixed = (prefix: string, topics: readonly string[]) => topics.map((t) => `${prefix}${t}`);

/**
 * Waits until every topic exists: a topic created after the service (by the upstream's first
 * event, or an operator) is normal, not fatal. Logs once what it waits for.
 */
export async function waitForTopics(
  admin: Admin,
  topics: readonly string[],
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  let reported = "";
  for (let attempt = 0; ; attempt++) {
    let missing: string[];
    try {
      const existing = new Set(await admin.listTopics());
      missing = topics.filter((t) => !existing.has(t));
    } catch (err) {
      throw new KafkaUnavailableError(`Kafka: ${messageOf(err)}`, err);
    }
    if (missing.length === 0) {
      if (reported) log.info({ topics }, "all topics exist now");
      return;
    }
    const now = missing.join(", ");
    if (now !== reported) {
      log.warn({ missing }, `waiting for topics to be created: ${now}`);
      reported = now;
    }
    await abortableDelay(Math.min(5000, 250 * 2 ** attempt), signal);
  }
}
