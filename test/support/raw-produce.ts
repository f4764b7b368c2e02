import { connect } from "node:net";
import { BROKER } from "./kafka.ts";

// A Produce request (v7) carrying record batches exactly as given, for batches no client library
// would write but the broker accepts (src/testing/record-batches.ts).

const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const str = (s: string) => Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]);

/**
 * Errors every Kafka client retries: the partition's leadership is not settled yet (a topic just
 * created, on a broker that does not know it leads it), as the protocol says to retry them.
 */
const RETRIABLE = new Set([3, 5, 6]); // UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER

/** Sends `batches` to one partition's leader (the local single broker); resolves with the base offset. */
export async function produceRaw(topic: string, partition: number, batches: Buffer): Promise<bigint> {
  for (let attempt = 1; ; attempt++) {
    const answer = await produceOnce(topic, partition, batches);
    if (typeof answer === "bigint") return answer;
    if (!RETRIABLE.has(answer) || attempt === 50) {
      throw new Error(`the broker refused the batch: error code ${answer}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One Produce request: the base offset, or the error code the broker answered. */
function produceOnce(topic: string, partition: number, batches: Buffer): Promise<bigint | number> {
  const body = Buffer.concat([
    int16(0), // Produce
    int16(7),
    int32(1), // correlation id
    str("tests-raw"),
    int16(-1), // no transactional id
    int16(-1), // acks: all
    int32(10_000),
    int32(1),
    str(topic),
    int32(1),
    int32(partition),
    int32(batches.length),
    batches,
  ]);
  const [host, port] = BROKER.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host, () => socket.write(Buffer.concat([int32(body.length), body])));
    let got = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 4 || got.length < 4 + got.readInt32BE(0)) return;
      socket.end();
      // size, correlation id, topics (1), name, partitions (1), index, error code, base offset
      let at = 12;
      at += 2 + got.readInt16BE(at) + 4 + 4;
      const error = got.readInt16BE(at);
      resolve(error === 0 ? got.readBigInt64BE(at + 2) : error);
    });
    socket.on("error", reject);
  });
}
