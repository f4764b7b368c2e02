/**
 * Event fields whose values never reach a table, a log line, a metric or a dead letter's reason
 * (docs/events.md): JSON columns drop them wherever they are put (decode/schema-kit.ts), and the
 * logger redacts them (log.ts).
 */
export const SECRET_EVENT_FIELDS: readonly string[] = ["password_hash", "banking_info"];

/**
 * A dot path (`data.variants.password_hash.price_cents`) up to its first segment named like a
 * secret field, or null when it has none. A reason that would name a path through such a key (a
 * map entry so named) names only the part before it, and quotes nothing found under it.
 */
export function pathBeforeSecret(path: string): string | null {
  const segments = path.split(".");
  const at = segments.findIndex((segment) => SECRET_EVENT_FIELDS.includes(segment));
  return at < 0 ? null : segments.slice(0, at).join(".");
}
