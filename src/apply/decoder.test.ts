import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { getHeapStatistics } from "node:v8";
import { Worker } from "node:worker_threads";
import { fixture, loadFixtures } from "../../test/fixtures.ts";
import { BadEventError } from "../errors.ts";
import { type Decoded, decode } from "./decode.ts";
import {
  DECODE_SEMI_SPACE_MB,
  DecoderFailedError,
  fromWire,
  inlineDecoder,
  keepSpare,
  PART_BYTES,
  pack,
  semiSpaceFlag,
  startDecodeThread,
  toWire,
  unpack,
  type WireDecoded,
  workerDecoder,
} from "./decoder.ts";

const MAX = 1 << 20;

/** One value of each kind the pipeline meets: every fixture, a bad field, bad JSON, an unknown type, a tombstone, an empty value. */
function values(): (Buffer | null)[] {
  const bad = fixture("user.created");
  (bad.value.data as { profile: { display_name: string } }).profile.display_name = "x".repeat(101);
  const unknown = fixture("user.created");
  unknown.value.event_type = "user.teleported";
  return [
    ...loadFixtures().map((e) => Buffer.from(JSON.stringify(e.value))),
    Buffer.from(JSON.stringify(bad.value)),
    Buffer.from("{not json"),
    Buffer.from(JSON.stringify(unknown.value)),
    null,
    Buffer.alloc(0),
  ];
}

// A rejected event's error is compared by class, reason and message: the worker rebuilds it.
function comparable(d: Decoded) {
  if (d.op.kind !== "rejected") return d;
  const { error } = d.op;
  assert.ok(error instanceof BadEventError);
  return { ...d, op: { kind: "rejected", reason: error.reason, message: error.message } };
}

describe("decoder", () => {
  test("pack and unpack keep every value, empty and null ones included", () => {
    const input = [Buffer.from("abc"), null, Buffer.alloc(0), undefined, Buffer.from("é\u0000z")];
    const out = unpack(pack(input));
    assert.deepEqual(
      out.map((b) => (b === null ? null : b.toString())),
      ["abc", null, "", null, "é\u0000z"],
    );
  });

  test("pack writes into a spare buffer large enough and takes it; else a new one, dropping a spare too small", () => {
    const small = new ArrayBuffer(4);
    const large = new ArrayBuffer(64);
    const spares = [small, large];
    const packed = pack([Buffer.from("abcdef"), null, Buffer.from("gh")], spares);
    assert.equal(packed.bytes.buffer, large);
    assert.equal(packed.bytes.byteLength, 8);
    assert.deepEqual(spares, [small]);
    assert.deepEqual(
      unpack(packed).map((b) => b?.toString() ?? null),
      ["abcdef", null, "gh"],
    );
    // None fits: a new buffer, and the spare too small is dropped (the new one comes back instead).
    const fresh = pack([Buffer.from("abcdef")], spares);
    assert.ok(fresh.bytes.buffer !== small && fresh.bytes.buffer.byteLength >= 6);
    assert.deepEqual(spares, []);
  });

  test("spares are bounded in number and size", () => {
    const spares: ArrayBuffer[] = [];
    keepSpare(spares, new ArrayBuffer((8 << 20) + 1));
    assert.equal(spares.length, 0);
    for (let i = 0; i < 6; i++) keepSpare(spares, new ArrayBuffer(8 << 20));
    assert.equal(spares.length, 4);
  });

  test("the decode thread answers in parts of about PART_BYTES of input, the last with the batch's buffer", async () => {
    const worker = new Worker(new URL("./decode-worker.ts", import.meta.url), { workerData: { maxBytes: MAX } });
    try {
      const input = Array.from({ length: 20 }, values).flat();
      const inputBytes = input.reduce((n, v) => n + (v?.length ?? 0), 0);
      assert.ok(inputBytes > 2 * PART_BYTES, `${inputBytes} bytes of input`);
      const packed = pack(input);
      const size = packed.bytes.buffer.byteLength;
      const parts: { id: number; part: WireDecoded[]; buffer?: ArrayBuffer }[] = [];
      const done = new Promise<void>((resolve) =>
        worker.on("message", (m) => {
          parts.push(m);
          if (m.buffer) resolve();
        }),
      );
      worker.postMessage({ id: 7, packed }, [packed.bytes.buffer]);
      await done;
      assert.ok(parts.length >= 3, `${parts.length} parts`);
      assert.ok(parts.every((p) => p.id === 7));
      assert.equal(parts.at(-1)?.buffer?.byteLength, size);
      assert.deepEqual(
        parts.flatMap((p) => p.part).map((w) => comparable(fromWire(w))),
        input.map((v) => comparable(decode(v, MAX))),
      );
    } finally {
      await worker.terminate();
    }
  });

  test("the process's --max-semi-space-size is read from NODE_OPTIONS and the command line, the latter winning", () => {
    assert.equal(semiSpaceFlag([], ""), 0);
    assert.equal(semiSpaceFlag(["--max-old-space-size=256"], "--max-semi-space-size=16"), 16);
    assert.equal(semiSpaceFlag(["--max_semi_space_size=8"], "--max-semi-space-size=16 --v8-pool-size=1"), 8);
  });

  test("the decode thread gets a young generation of its own; threads started after it get the process's", async () => {
    const heapLimit = (worker: Worker) =>
      new Promise<number>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      }).finally(() => worker.terminate());
    const stand = new URL("../../test/workers/heap-limit-worker.ts", import.meta.url);
    // Two started together both get it (the flag stays set until the last is up).
    const [decodeThread, second] = await Promise.all([
      heapLimit(startDecodeThread(stand, {})),
      heapLimit(startDecodeThread(stand, {})),
    ]);
    assert.equal(second, decodeThread);
    const after = await heapLimit(new Worker(stand));
    const own = getHeapStatistics().heap_size_limit;
    assert.equal(after, own);
    // V8's young generation is three semi-spaces.
    assert.ok(decodeThread < own, `decode thread ${decodeThread} bytes, process ${own}`);
    assert.ok(own - decodeThread >= 3 * (semiSpaceFlag() - DECODE_SEMI_SPACE_MB) * 2 ** 20);
  });

  test("toWire is structured-clone safe and fromWire restores table specs and errors", () => {
    for (const value of values()) {
      const direct = decode(value, MAX);
      const travelled = fromWire(structuredClone(toWire(decode(value, MAX))));
      assert.deepEqual(comparable(travelled), comparable(direct));
      if ("table" in direct.op && "table" in travelled.op) assert.equal(travelled.op.table, direct.op.table);
    }
  });

  describe("on a worker thread", () => {
    const worker = workerDecoder(MAX);
    after(() => worker.close());

    test("decodes exactly as inline decoding does, in order", async () => {
      const input = values();
      const [viaWorker, inline] = await Promise.all([worker.decode(input), inlineDecoder(MAX).decode(input)]);
      assert.equal(viaWorker.length, input.length);
      assert.deepEqual(viaWorker.map(comparable), inline.map(comparable));
    });

    test("a batch answered in many parts is whole and in order", async () => {
      const input = Array.from({ length: 20 }, values).flat();
      assert.deepEqual(
        (await worker.decode(input)).map(comparable),
        input.map((v) => comparable(decode(v, MAX))),
      );
    });

    test("answers concurrent batches each with its own result", async () => {
      const input = values();
      const results = await Promise.all([worker.decode(input.slice(0, 3)), worker.decode(input.slice(3))]);
      assert.deepEqual(
        results.flat().map(comparable),
        input.map((v) => comparable(decode(v, MAX))),
      );
    });
  });

  test("a worker that dies fails its batch and every later one with DecoderFailedError", async () => {
    const dying = workerDecoder(MAX, new URL("../../test/workers/crashing-decode-worker.ts", import.meta.url));
    try {
      await assert.rejects(dying.decode(values()), (err: unknown) => {
        assert.ok(err instanceof DecoderFailedError);
        assert.match(err.message, /the decode worker failed: a bug in the decoder/);
        return true;
      });
      await assert.rejects(dying.decode(values()), DecoderFailedError);
    } finally {
      await dying.close();
    }
  });

  test("a closed decoder refuses work", async () => {
    const closed = workerDecoder(MAX);
    await closed.close();
    await assert.rejects(closed.decode(values()), /the decoder is closed/);
  });
});
