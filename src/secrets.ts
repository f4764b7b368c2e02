/**
 * Event fields whose values never reach a table, a log line, a metric or a dead letter's reason
 * (docs/events.md): JSON columns drop them wherever they are put (decode/schema-kit.ts), and the
 * logger redacts them (log.ts).
 */
export const SECRET_EVENT_FIELDS: readonly string[] = ["password_hash", "banking_info"];
