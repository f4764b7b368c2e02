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
