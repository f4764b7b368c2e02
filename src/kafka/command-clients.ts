import { createLogger } from "../log.ts";
import { Outage } from "../retry.ts";
import { BrokerSilence } from "./broker-silence.ts";

// The commands (rewind, dlq list, dlq replay) have the service's addresses and its clients'
// habit of sending what any broker can answer to the first one listed: with a hung broker there,
// `rewind` failed after its retries, every one of them sent to that broker. Their clients are
// timed and steered as the service's are (kafka/answering-first.ts); a command has no outage to
// say, so the broker watch's lines go nowhere: its failures say what went wrong.

let silence: BrokerSilence | undefined;

/** `client`, a command's, asking brokers not said silent first. */
export function steered<C extends { instanceId: number }>(client: C): C {
  silence ??= new BrokerSilence(new Outage("Kafka", createLogger("silent")));
  silence.watch(client);
  return client;
}
