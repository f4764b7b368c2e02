import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeCost } from "./decode-cost.ts";

// The measurement itself, on a small stream: it runs under the service's flags in a child process
// and reports CPU per event for both, decoding costing at least what its JSON.parse does.

test("decodeCost measures JSON.parse alone and the whole of decoding, per event of the stream", () => {
  const cost = decodeCost(2000, 1);
  // Kafka tombstones (null values) are not decoded.
  assert.ok(cost.events > 1900 && cost.events <= 2000, String(cost.events));
  assert.ok(cost.value_bytes_avg > 500 && cost.value_bytes_avg < 5000, String(cost.value_bytes_avg));
  assert.ok(cost.json_parse_cpu_us_per_event > 0);
  assert.ok(cost.decode_cpu_us_per_event > cost.json_parse_cpu_us_per_event, JSON.stringify(cost));
});
