import assert from "node:assert/strict";
import { test } from "node:test";
import { type CpuProfile, summarize } from "./profile-summary.ts";

// The benchmark's profile summary charges each sample to the innermost part of the pipeline on
// its stack; a wrong rule would misstate where the time goes in docs/performance.md.

const SRC = "file:///app/src";
const MODULES = "file:///app/node_modules";

function profile(): CpuProfile {
  const frame = (functionName: string, url = "") => ({ functionName, url });
  const nodes = [
    { id: 1, callFrame: frame("(root)"), children: [2, 3, 4, 5, 8, 11] },
    { id: 2, callFrame: frame("(garbage collector)") },
    { id: 3, callFrame: frame("(idle)") },
    // JSON.parse, native, under the envelope parser: decoding.
    { id: 4, callFrame: frame("#start", `${SRC}/pipeline.ts`), children: [6] },
    { id: 6, callFrame: frame("parseEnvelope", `${SRC}/decode/envelope.ts`), children: [7] },
    { id: 7, callFrame: frame("parse") },
    // mysql2 escaping called by the service's statement code: sending.
    { id: 5, callFrame: frame("executePlan", `${SRC}/write/store.ts`), children: [9] },
    { id: 9, callFrame: frame("query", `${MODULES}/mysql2/lib/base/connection.js`), children: [10] },
    { id: 10, callFrame: frame("escapeString", `${MODULES}/mysql2/node_modules/sqlstring/lib/SqlString.js`) },
    // mysql2 off a socket read: reading results.
    { id: 8, callFrame: frame("onread", "node:internal/stream_base_commons"), children: [12] },
    { id: 12, callFrame: frame("handlePacket", `${MODULES}/mysql2/lib/base/connection.js`) },
    { id: 11, callFrame: frame("processTimers", "node:internal/timers"), children: [13] },
    // A name that is also an Object.prototype member is a plain frame.
    { id: 13, callFrame: frame("toString") },
  ];
  // Samples on 2, 3, 7, 10, 12 for 10, 20, 30, 40, 50 µs; on 11 and 13, 30 each.
  return { nodes, samples: [2, 3, 7, 10, 12, 11, 13], timeDeltas: [10, 20, 30, 40, 50, 30, 30] };
}

test("each sample goes to the innermost pipeline part on its stack; mysql2 splits by caller", () => {
  const { total, parts } = summarize(profile());
  assert.equal(total, 210);
  assert.deepEqual(
    new Map(parts),
    new Map([
      ["garbage collection", 10],
      ["idle", 20],
      ["decoding: JSON, validation, flattening", 30],
      ["mysql2: sending statements (escaping, packets, socket writes)", 40],
      ["mysql2: reading results", 50],
      ["other: Node.js internals, timers, sockets", 60],
    ]),
  );
  // Largest first.
  assert.deepEqual(
    parts.map(([, us]) => us),
    [60, 50, 40, 30, 20, 10],
  );
});
