import type { TestContext } from "node:test";
import { Connection, heartbeatV4, joinGroupV9, syncGroupV5 } from "@platformatic/kafka";
import { BROKER } from "./kafka.ts";

// A member of a consumer group joined by hand, with whatever subscription another program could
// send (the service's own clients always send a well-formed one), held in the state a test needs.

/** A consumer subscription (v0): topics, then the user data. */
export function subscription(topics: string[], userData: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0]), int32(topics.length)];
  for (const t of topics) parts.push(Buffer.from([0, Buffer.byteLength(t)]), Buffer.from(t));
  parts.push(int32(userData.length), userData);
  return Buffer.concat(parts);
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

type Api = { async: (...args: unknown[]) => Promise<{ generationId: number; memberId: string }> };
const join = joinGroupV9.api as unknown as Api;

/**
 * Joins `groupId` with `metadata` as its subscription; `stable` completes the rebalance (the member
 * leads and syncs, then only heartbeats: it never joins again, and holds a later rebalance up to
 * `rebalanceTimeoutMs`).
 */
export async function rawMember(
  t: TestContext,
  groupId: string,
  metadata: Buffer,
  stable = true,
  rebalanceTimeoutMs = 30000,
) {
  const [host, port] = BROKER.split(":") as [string, string];
  const connection = new Connection("tests-raw-member");
  await new Promise<void>((resolve, reject) =>
    connection.connect(host, Number(port), (e: unknown) => (e ? reject(e) : resolve())),
  );
  t.after(() => new Promise<void>((resolve) => connection.close(() => resolve())));
  const protocols = [{ name: "roundrobin", metadata }];
  const ask = (memberId: string) =>
    join.async(connection, groupId, 30000, rebalanceTimeoutMs, memberId, null, "consumer", protocols, null);
  const joining = ask("").catch((err: { response?: { memberId?: string } }) => ask(err.response?.memberId ?? ""));
  if (!stable) {
    joining.catch(() => {}); // left waiting: its connection closes at the test's end
    return { joining };
  }
  const joined = await joining;
  await (syncGroupV5.api as unknown as Api).async(
    connection,
    groupId,
    joined.generationId,
    joined.memberId,
    null,
    "consumer",
    "roundrobin",
    [{ memberId: joined.memberId, assignment: Buffer.alloc(0) }],
  );
  const beat = setInterval(
    () =>
      (heartbeatV4.api as unknown as (...a: unknown[]) => void)(
        connection,
        groupId,
        joined.generationId,
        joined.memberId,
        null,
        () => {},
      ),
    1000,
  );
  t.after(() => clearInterval(beat));
  return { joining };
}
