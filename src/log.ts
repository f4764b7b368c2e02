import { pino } from "pino";

export type Logger = pino.Logger;

// Secrets can only reach a log line through these keys; pino replaces them before writing.
const REDACT = [
  "password",
  "*.password",
  "password_hash",
  "*.password_hash",
  "banking_info",
  "*.banking_info",
  "mysqlPassword",
  "*.mysqlPassword",
  "kafkaSaslPassword",
  "*.kafkaSaslPassword",
];

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino(
    {
      level,
      base: { service: "mysql-analytics-service" },
      redact: { paths: REDACT, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as pino.DestinationStream,
  );
}
