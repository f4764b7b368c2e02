import assert from "node:assert/strict";
import { test } from "node:test";
import { MultipleErrors, NetworkError } from "@platformatic/kafka";
import { PLAINTEXT_KAFKA } from "../testing/config.ts";
import { explainRejoinFailure } from "./kafka-errors.ts";

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
