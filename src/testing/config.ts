import assert from "node:assert/strict";
import { loadConfig } from "../config/index.ts";
import { ConfigError } from "../errors.ts";

/** `loadConfig(env)` throws a one-line ConfigError starting with `variable:`. */
export function assertConfigError(env: NodeJS.ProcessEnv, variable: string, detail?: RegExp): ConfigError {
  let caught: unknown;
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      caught = err;
      return true;
    },
  );
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, "CONFIG");
  assert.equal(caught.expected, true);
  assert.ok(caught.message.startsWith(`${variable}: `), `"${caught.message}" should start with "${variable}: "`);
  assert.ok(!caught.message.includes("\n"), "one line");
  if (detail) assert.match(caught.message, detail);
  return caught;
}

/** What the Kafka failure lines read of the configuration: one plaintext broker on loopback. */
export const PLAINTEXT_KAFKA = {
  kafkaBrokers: ["127.0.0.1:9092"],
  kafkaSsl: false,
  kafkaSslCa: "",
  kafkaSslCert: "",
  kafkaSaslMechanism: "none",
  kafkaSaslUsername: "",
} as const;
