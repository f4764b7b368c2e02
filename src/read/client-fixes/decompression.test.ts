import assert from "node:assert/strict";
import { test } from "node:test";
import { boundedDecompressors, readLz4Frame, whyNotDecompressed } from "./decompression.ts";

// A batch's reason is said as it is when the checks here refused it, and cut short in brackets
// when a decoder did: told by the error's class, not by how its message begins.

test("a refusal of the checks here is the reason as it is", () => {
  const lz4 = boundedDecompressors({}, 1024)[3] as (data: Buffer) => Buffer;
  const caught = (() => {
    try {
      lz4(Buffer.from("not a frame at all"));
    } catch (err) {
      return err;
    }
  })();
  assert.equal(whyNotDecompressed("LZ4", caught, 1024), "LZ4 data is not an LZ4 frame");
  assert.throws(() => readLz4Frame(Buffer.from("not a frame at all")), /not an LZ4 frame/);
});

test("a decoder's own error is put in brackets, cut short, even when it begins with the codec's name", () => {
  const decoder = new Error(`zstd: unexpected byte 0x41 in ${"A".repeat(200)}`);
  const why = whyNotDecompressed("zstd", decoder, 1024);
  assert.equal(why, `zstd data does not decompress (${decoder.message.slice(0, 80)})`);
});
