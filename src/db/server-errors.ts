// What a MySQL or MariaDB error says: its number and message, whether it is the event's data the
// server refuses (the event is dead-lettered) or the connection that is gone (the batch is tried
// again on another), and the server's complaint said without the value it quotes.

/** ER_NO_SUCH_TABLE: a table or view the statement names is not in the database. */
export const NO_SUCH_TABLE = 1146;
/** ER_BAD_FIELD_ERROR: the table has no column of the name a statement uses. */
export const BAD_FIELD = 1054;
/** ER_NO_REFERENCED_ROW_2: a foreign key added over child rows whose parent row is not there. */
export const NO_REFERENCED_ROW = 1452;

/** The MySQL error number the driver put on `err`, if it is one of the server's errors. */
export function errnoOf(err: unknown): number | undefined {
  const errno = (err as { errno?: unknown } | null | undefined)?.errno;
  return typeof errno === "number" ? errno : undefined;
}

/** The server's own message on `err` (without the driver's prefix when it kept one apart), else the error's. */
export function sqlMessageOf(err: unknown): string {
  const e = err as { sqlMessage?: unknown; message?: unknown } | null | undefined;
  return String(e?.sqlMessage ?? e?.message ?? "");
}

/** ER_NET_PACKET_TOO_LARGE. */
const PACKET_TOO_LARGE = 1153;

/**
 * MariaDB's engine error "Out of range value for column 'id'": the table's AUTO_INCREMENT ids are
 * used up. (1467, "failed to read auto-increment value", is not taken for it: InnoDB also gives it
 * for a wait on the AUTO-INC table lock that timed out, which a retry outlives.)
 */
const AUTO_INCREMENT_USED_UP = 167;

// Errors that say "this row can never be stored": the statement is wrong for this data, not for
// this moment. The one event that causes it goes to the dead-letter topic.
const BAD_DATA_ERRNOS = new Set([
  1048, // column cannot be null
  1062, // duplicate entry for a unique key
  1264, // out of range
  1265, // data truncated
  1292, // incorrect datetime value
  1366, // incorrect value for column
  1367, // illegal value
  1406, // data too long
  1451, // foreign key (parent row)
  1452, // foreign key (child row)
  1690, // value out of range in expression
  // A value of a shape no column takes (an array where a scalar goes) makes the statement itself
  // wrong; validation should have caught it, and if it did not, it is still that event's fault.
  1064, // syntax error near the value
  1136, // column count doesn't match value count
  1241, // operand should contain 1 column
  3140, // invalid JSON text (MySQL)
  // JSON MySQL can't store in its binary form: an object key over 65,535 bytes, a document too
  // large or too deep for it. MariaDB keeps JSON as text and takes them.
  3150, // JSON value too big (MySQL)
  3151, // JSON key too big (MySQL)
  3157, // JSON document too deep (MySQL)
  3819, // check constraint violated (MySQL)
  4025, // constraint failed (MariaDB JSON check)
  // A child table's AUTO_INCREMENT ids are used up: an insert that needs a new one is refused
  // until someone widens the column; an update of an existing row still works. (MySQL reports
  // the next insert as a duplicate of the largest id instead: 1062.)
  AUTO_INCREMENT_USED_UP,
  // The statement is larger than max_allowed_packet: sent again it is refused again. Statements
  // are cut to fit before they are sent (write/store.ts), so this means the server's limit went down
  // since it was read; applied in halves down to single events, each then fits or is dead-lettered. (The
  // server may also just close the connection: that is a lost connection, retried, and the
  // retry reads the limit again.)
  PACKET_TOO_LARGE,
  1162, // a result string longer than max_allowed_packet
  1301, // a function's result longer than max_allowed_packet
]);

export function isBadDataError(err: unknown): boolean {
  const errno = errnoOf(err);
  return errno !== undefined && BAD_DATA_ERRNOS.has(errno);
}

/**
 * Whether the connection that got `err` can't be used again: the client lost it (mysql2 marks
 * that fatal), or the server refused an oversized packet, after which it closes the connection.
 */
export function isConnectionGone(err: unknown): boolean {
  const e = err as { fatal?: boolean; errno?: number } | undefined;
  return e?.fatal === true || e?.errno === PACKET_TOO_LARGE;
}

/**
 * The column or key the server's message ends by naming, without its schema and table: MariaDB
 * writes ``column `db`.`t`.`c` ``, MySQL ``column 'c'`` and ``key 't.k'``, then at most "at row n".
 * Only the end counts: a value is quoted before it, and may itself hold "for key 'x'".
 */
const NAMED_AT_END =
  /(?:column ((?:`\w+`\.)*`\w+`|'[\w.]+'|[\w.]+)(?: cannot be null)?|for key '([\w.]+)')(?: at row \d+)?\.?$/i;
const lastName = (text: string) => {
  const m = NAMED_AT_END.exec(text);
  return (m?.[1] ?? m?.[2])?.replaceAll(/[`']/g, "").split(".").at(-1);
};

/**
 * The server's complaint without the offending value (it may be anything the event carried):
 * e.g. "MySQL error 1406 (ER_DATA_TOO_LONG) on column bio".
 */
export function describeBadData(err: unknown): string {
  const e = err as { errno?: number; code?: string };
  if (e.errno === AUTO_INCREMENT_USED_UP) {
    return `MySQL error ${e.errno}: a child table's AUTO_INCREMENT ids are used up (docs/operations.md#auto_increment-ids-used-up)`;
  }
  const text = sqlMessageOf(err);
  const column = lastName(text);
  return `MySQL error ${e.errno ?? "?"} (${e.code ?? "unknown"})${column ? ` on ${column}` : ""}`;
}
