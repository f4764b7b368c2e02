import { Writable } from "node:stream";
import { pino } from "pino";
import { oneLine, terminalSafeJson } from "./errors.ts";
import { SECRET_EVENT_FIELDS } from "./secrets.ts";

export type Logger = pino.Logger;

// Secrets can only reach a log line through these keys; pino replaces them before writing.
const REDACT = [
  "password",
  "*.password",
  ...SECRET_EVENT_FIELDS.flatMap((field) => [field, `*.${field}`]),
  "mysqlPassword",
  "*.mysqlPassword",
  "kafkaSaslPassword",
  "*.kafkaSaslPassword",
  "mysqlMigratePassword",
  "*.mysqlMigratePassword",
];

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const SKIP = new Set(["level", "time", "msg", "service", "pid", "hostname"]);

/** A field as the terminal shows it: one line, but for a stack trace, one line per frame. */
const fieldText = (key: string, value: unknown) =>
  key === "stack" && typeof value === "string"
    ? value.split("\n").map(oneLine).join("\n")
    : oneLine(typeof value === "string" ? value : JSON.stringify(value));

/** One JSON log line as a person reads it: `10:30:40.518 INFO  message  key=value`. */
export function prettyLine(json: string): string {
  const entry = JSON.parse(json) as Record<string, unknown>;
  const time = typeof entry.time === "string" ? entry.time.slice(11, 23) : "";
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5);
  const extra = Object.entries(entry)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${fieldText(k, v)}`)
    .join(" ");
  // JSON escapes what would break a line; written out for a person, values from the data must not
  // clear the terminal or fake a line.
  return `${time} ${level} ${oneLine(String(entry.msg ?? ""))}${extra ? `  ${extra}` : ""}\n`;
}

function prettyTo(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) out.write(prettyLine(line));
      done();
    },
  });
}

/**
 * The JSON lines as written: pino, as JSON.stringify, escapes the C0 controls but leaves the C1
 * ones (U+009B is the 8-bit CSI) and the bidirectional controls as they are, and a log is read on
 * a terminal too (`kubectl logs`, `docker logs`). Text from the data (an unknown event type, an
 * enum value, on the per-event debug lines) would run there; escaped, each line parses the same.
 */
function jsonTo(out: NodeJS.WritableStream): pino.DestinationStream {
  return { write: (line: string) => out.write(terminalSafeJson(line)) };
}

/** JSON lines; on a terminal, readable lines instead (the same fields, already redacted). */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout): Logger {
  const tty = destination === process.stdout && process.stdout.isTTY;
  return pino(
    {
      level,
      base: { service: "mysql-analytics-service" },
      redact: { paths: REDACT, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    tty ? (prettyTo(destination) as pino.DestinationStream) : jsonTo(destination),
  );
}
