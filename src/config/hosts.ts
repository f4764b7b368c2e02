import { ConfigError } from "../errors.ts";

// The host settings' shapes, checked at start: a broker list of host:port, and hosts given alone.
// Given otherwise (a URL, a port, an IPv6 address in brackets), each went on to a line about a
// host that can't be resolved or is no address of this machine, which names neither the cause
// nor the fix.

/** KAFKA_BOOTSTRAP_SERVERS: each entry host:port, an IPv6 address in brackets. */
export function checkBrokers(brokers: readonly string[]): void {
  // A password holding a comma splits a URL in two (`sasl://svc:pa,ss@kafka:9093`): the entry
  // before the one with the `@` holds the user name and the password's first part.
  const credentials = brokers.some((b) => b.includes("@"));
  for (const broker of brokers) {
    // No `@` or `/`: no host name holds one, and what precedes an `@` is a credential.
    const port = /^(?:[^\s:[\]@/]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/.exec(broker)?.[1];
    if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
      const shown = credentials && !broker.includes("@") ? `${schemeOf(broker)}…` : hidingCredentials(broker);
      throw new ConfigError(
        `KAFKA_BOOTSTRAP_SERVERS: "${shown}" is not host:port. Kafka brokers, comma-separated host:port.`,
      );
    }
  }
}

/** A URL's scheme with its `://` (`sasl://`), or "". */
const schemeOf = (value: string) => /^[a-z][\w+.-]*:\/\//i.exec(value)?.[0] ?? "";

/**
 * A host setting that takes the host alone, its port in `portVariable`: a name or an address, an
 * IPv6 one without brackets (`::1`, which has two colons or more: one colon is a port).
 */
export function checkHostAlone(variable: string, host: string, portVariable: string, also = ""): void {
  const port = /^([^:[\]]+):(\d*)$/.exec(host);
  if (port !== null) {
    throw new ConfigError(
      `${variable}: "${host}" holds a port; give the host alone (${port[1]}) and the port in ${portVariable}.`,
    );
  }
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::\d*)?$/.exec(host);
  if (bracketed !== null) {
    throw new ConfigError(
      `${variable}: "${host}" is an address in brackets; give it without them (${bracketed[1]}), its port in ${portVariable}.`,
    );
  }
  if (/[/@\s[\]]/.test(host)) {
    throw new ConfigError(
      `${variable}: "${hidingCredentials(host)}" is not a host name or address; give the host alone (its port in ${portVariable}${also}).`,
    );
  }
}

/**
 * A host setting given as a URL (`mysql://svc:pw@db:3306`) may carry a password: a line that
 * quotes it shows what precedes an `@` as `…`.
 */
function hidingCredentials(value: string): string {
  const at = value.lastIndexOf("@");
  if (at < 0) return value;
  return `${schemeOf(value)}…${value.slice(at)}`;
}
