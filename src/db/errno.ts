/** The MySQL error number the driver put on `err`, if it is one of the server's errors. */
export function errnoOf(err: unknown): number | undefined {
  const errno = (err as { errno?: unknown } | null | undefined)?.errno;
  return typeof errno === "number" ? errno : undefined;
}
