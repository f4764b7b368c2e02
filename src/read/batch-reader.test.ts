import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { BatchReader, type NextOptions, partitionKey, StreamClosedError } from "./batch-reader.ts";

// The reader on a real object stream (the client's message stream is one): what goes into which
// batch, in which order, and when the stream is paused.

interface M {
  topic: string;
  partition: number;
  n: number;
}

const m = (partition: number, n: number): M => ({ topic: "t", partition, n });
const ids = (batch: M[]) => batch.map((x) => `${x.partition}:${x.n}`);
const none = () => 0;
const LONG = 60_000; // a linger that never ends within a test: batches return on size, fullness or failure
/** A call of `next` for at most `max` messages, lingering LONG, of any partition, unless `over` says otherwise. */
const opts = (max: number, over: Partial<NextOptions> = {}): NextOptions => ({
  max,
  lingerMs: LONG,
  signal: new AbortController().signal,
  claims: none,
  ...over,
});

function reader(highWater = 100) {
  const stream = new PassThrough({ objectMode: true, highWaterMark: 1000 });
  return { stream, reader: new BatchReader<M>(stream, highWater) };
}

describe("BatchReader", () => {
  test("a partition holding max messages is taken at once, in its order, before the others", async () => {
    const { stream, reader: r } = reader();
    for (const x of [m(0, 1), m(1, 1), m(1, 2), m(0, 2), m(1, 3)]) stream.write(x);
    const batch = await r.next(opts(3));
    assert.deepEqual(ids(batch), ["1:1", "1:2", "1:3"]);
    assert.equal(r.size, 2);
  });

  test("says whether the stream is paused: full by count or by bytes, until taken down to half", async () => {
    const signal = new AbortController().signal;
    const { stream, reader: r } = reader(4);
    for (const x of [m(0, 1), m(1, 1), m(1, 2)]) stream.write(x);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.paused, false, "below the high water");
    stream.write(m(0, 2));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.paused, true, "at the high water");
    assert.deepEqual(ids(await r.next(opts(1, { signal }))), ["0:1"]);
    assert.equal(r.paused, true, "three of four left: more than half");
    assert.equal((await r.next(opts(1, { signal }))).length, 1);
    assert.equal(r.paused, false, "two of four left: half");
    // By bytes: two messages of 60 bytes fill a buffer of 100.
    const bytes = new PassThrough({ objectMode: true, highWaterMark: 1000 });
    const sized = new BatchReader<M>(bytes, 100, 100, () => 60);
    bytes.write(m(0, 1));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sized.paused, false);
    bytes.write(m(0, 2));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sized.paused, true);
    assert.equal((await sized.next(opts(10, { signal }))).length, 2);
    assert.equal(sized.paused, false);
  });

  test("a partition with a batch in hand waits while another partition has messages", async () => {
    const { stream, reader: r } = reader();
    for (const x of [m(0, 1), m(0, 2), m(0, 3), m(1, 1), m(1, 2)]) stream.write(x);
    const claimed = new Set([partitionKey("t", 0)]);
    const claims = (key: string) => (claimed.has(key) ? 1 : 0);
    // Partition 0 is the fullest, but a batch of it is in hand.
    assert.deepEqual(ids(await r.next(opts(2, { claims }))), ["1:1", "1:2"]);
    // With nothing else buffered, the claimed partition's next messages are handed out (to be written after its batch).
    assert.deepEqual(ids(await r.next(opts(2, { claims }))), ["0:1", "0:2"]);
  });

  test("after the linger, every due partition is taken, oldest first, up to max", async () => {
    const { stream, reader: r } = reader();
    stream.write(m(0, 1));
    stream.write(m(1, 1));
    stream.write(m(1, 2));
    const started = Date.now();
    const batch = await r.next(opts(10, { lingerMs: 30 }));
    assert.ok(Date.now() - started >= 25, "returned before the linger ended");
    assert.deepEqual(ids(batch), ["0:1", "1:1", "1:2"]);
    assert.equal(r.size, 0);
  });

  test("a partition taken in part keeps the rest in order for the next batch", async () => {
    const { stream, reader: r } = reader();
    for (let n = 1; n <= 5; n++) stream.write(m(0, n));
    assert.deepEqual(ids(await r.next(opts(2))), ["0:1", "0:2"]);
    assert.deepEqual(ids(await r.next(opts(2))), ["0:3", "0:4"]);
    assert.equal(r.size, 1);
  });

  test("the stream is paused at highWater messages and resumed once half are taken", async () => {
    const { stream, reader: r } = reader(4);
    for (let n = 1; n <= 4; n++) stream.write(m(n % 2, n));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stream.isPaused(), true);
    // A full buffer hands over what it holds without waiting for max or the linger.
    const batch = await r.next(opts(10));
    assert.equal(batch.length, 4);
    assert.equal(stream.isPaused(), false);
  });

  test("what the stream pushes after it was paused (the rest of a fetch response) is taken in at once, and no more", async () => {
    const { stream, reader: r } = reader(4);
    // A response's messages, pushed in one turn: the flooded partition first, another's last.
    for (let n = 1; n <= 9; n++) stream.write(m(0, n));
    stream.write(m(1, 1));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stream.isPaused(), true);
    assert.equal(r.size, 10, "the whole response is in the reader, the other partition's message with it");
    // A partition with a batch in hand waits: the other partition's message is taken at once.
    const claims = (key: string) => (key === partitionKey("t", 0) ? 1 : 0);
    assert.deepEqual(ids(await r.next(opts(10, { claims }))), ["1:1"]);
    // Pushed after the response was taken in: it waits in the stream while the reader is full.
    stream.write(m(2, 1));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.size, 9);
  });

  test("a failed stream fails the next call at once, whatever it still buffers", async () => {
    const { stream, reader: r } = reader();
    stream.write(m(0, 1));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.size, 1);
    stream.destroy(new Error("connection reset"));
    await new Promise((resolve) => setImmediate(resolve));
    // The buffered message is read again from the committed offsets, on a new stream.
    await assert.rejects(r.next(opts(10)), /connection reset/);
  });

  test("a stream that ends without an error fails the reader with StreamClosedError", async () => {
    const { stream, reader: r } = reader();
    stream.end();
    await assert.rejects(r.next(opts(10)), StreamClosedError);
  });

  test("interrupt and the signal end a waiting call with no messages", async () => {
    const { reader: r } = reader();
    const waiting = r.next(opts(10));
    r.interrupt();
    assert.deepEqual(await waiting, []);
    const controller = new AbortController();
    const aborted = r.next(opts(10, { signal: controller.signal }));
    controller.abort();
    assert.deepEqual(await aborted, []);
  });

  test("poke makes a waiting call look again at the claims", { timeout: 10_000 }, async () => {
    const { stream, reader: r } = reader();
    for (const x of [m(0, 1), m(0, 2), m(1, 1)]) stream.write(x);
    let claimed = 1;
    // Partition 0 is claimed; partition 1 alone is a candidate and holds less than max: the call
    // waits (the linger is a minute) until the claim is released and it is told to look again.
    const waiting = r.next(opts(2, { claims: (key) => (key === partitionKey("t", 0) ? claimed : 0) }));
    await new Promise((resolve) => setImmediate(resolve));
    claimed = 0;
    r.poke();
    assert.deepEqual(ids(await waiting), ["0:1", "0:2"]);
  });

  describe("in bytes", () => {
    interface Sized extends M {
      bytes: number;
    }
    const sized = (partition: number, n: number, bytes: number): Sized => ({ topic: "t", partition, n, bytes });
    const bytesOf = (x: Sized) => x.bytes;
    function sizedReader(highWater: number, highWaterBytes: number) {
      const stream = new PassThrough({ objectMode: true, highWaterMark: 1000 });
      return { stream, reader: new BatchReader<Sized>(stream, highWater, highWaterBytes, bytesOf) };
    }

    test("a batch holds at most maxBytes, each partition in order; one larger message goes alone", async () => {
      const { stream, reader: r } = sizedReader(100, Number.POSITIVE_INFINITY);
      for (const x of [sized(0, 1, 400), sized(0, 2, 400), sized(0, 3, 400), sized(1, 1, 100), sized(2, 1, 5000)])
        stream.write(x);
      const signal = new AbortController().signal;
      // Partitions past the 1,000 bytes of a batch are taken at once, as far as they fit: partition
      // 0's third message does not, a smaller one of another partition still does.
      assert.deepEqual(ids(await r.next(opts(10, { signal, maxBytes: 1000 }))), ["0:1", "0:2", "1:1"]);
      assert.deepEqual(ids(await r.next(opts(10, { signal, maxBytes: 1000 }))), ["0:3"]);
      assert.deepEqual(ids(await r.next(opts(10, { signal, maxBytes: 1000 }))), ["2:1"]);
      assert.equal(r.size, 0);
    });

    test("the stream pauses when the buffer holds highWaterBytes, and flows again at half", async () => {
      const { stream, reader: r } = sizedReader(100, 1000);
      for (const x of [sized(0, 1, 600), sized(1, 1, 300)]) stream.write(x);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(stream.isPaused(), false, "900 bytes: under the high water");
      stream.write(sized(2, 1, 200));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(stream.isPaused(), true, "1,100 bytes buffered: paused");
      const signal = new AbortController().signal;
      assert.deepEqual(ids(await r.next(opts(10, { signal, maxBytes: 600 }))), ["0:1"]);
      assert.equal(stream.isPaused(), false, "500 bytes left: flowing");
    });
  });
});
