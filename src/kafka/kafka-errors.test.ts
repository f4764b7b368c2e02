import assert from "node:assert/strict";
import { test } from "node:test";
import { AuthenticationError, MultipleErrors, NetworkError, ResponseError } from "@platformatic/kafka";
import { PLAINTEXT_KAFKA } from "../testing/config.ts";
import { explainKafkaFailure, explainRejoinFailure } from "./kafka-errors.ts";

const config = PLAINTEXT_KAFKA;

/** What the client's rejoin reports after six attempts, each failing with `each`. */
const sixTimes = (each: () => Error) =>
  new MultipleErrors(
    "joinGroup failed 6 times.",
    Array.from({ length: 6 }, () => each()),
  );

test("a rejoin whose connections a broker closed does not send the operator to start Kafka", () => {
  const line = explainRejoinFailure(
    sixTimes(() => new NetworkError("Connection closed")),
    config,
  );
  assert.doesNotMatch(line, /no answer|start Kafka|KAFKA_SSL|KAFKA_SASL/);
  assert.match(line, /^a broker of 127\.0\.0\.1:9092 closed a connection it had accepted/);
});

test("a rejoin that found no broker listening still says so", () => {
  const refused = () =>
    new NetworkError("Connection to 127.0.0.1:9092 failed.", {
      cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
    });
  const closedThenRefused = new MultipleErrors("joinGroup failed 2 times.", [
    new NetworkError("Connection closed"),
    refused(),
  ]);
  assert.equal(
    explainRejoinFailure(closedThenRefused, config),
    "nothing is listening at 127.0.0.1:9092; start Kafka or set KAFKA_BOOTSTRAP_SERVERS",
  );
});

test("a SASL mechanism the listener does not take is named, with the ones the brokers offer", () => {
  // The tree the client reports, as met against a SASL_SSL listener with only SCRAM-SHA-512 enabled.
  const refusal = new ResponseError(17, 1, { "/": [33, null] }, { errorCode: 33, mechanisms: ["SCRAM-SHA-512"] });
  const err = new MultipleErrors("Listing topics failed.", [
    new MultipleErrors("Cannot connect to any broker.", [
      new NetworkError("Connection to 127.0.0.1:9093 failed.", {
        cause: new AuthenticationError("Cannot find a suitable SASL mechanism.", { cause: refusal }),
      }),
    ]),
  ]);
  const sasl = { ...config, kafkaSsl: true, kafkaSaslMechanism: "PLAIN", kafkaSaslUsername: "analytics" } as const;
  assert.equal(
    explainKafkaFailure(err, sasl),
    "the brokers 127.0.0.1:9092 do not take SASL PLAIN on this listener; they offer SCRAM-SHA-512: set KAFKA_SASL_MECHANISM to one the brokers offer (the service speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512) (now KAFKA_SSL=true, KAFKA_SASL_MECHANISM=PLAIN)",
  );
});
