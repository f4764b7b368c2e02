import { isUtf8 } from "node:buffer";
import type { Config } from "../config/index.ts";
import type { DeadLetterEntry } from "../dead-letter/letter.ts";
import { LIST_BYTES, readDeadLetters } from "../dead-letter/newest-letters.ts";
import { utf8Boundary } from "../dead-letter/utf8-cut.ts";
import { terminalSafeJson } from "../errors.ts";
import { parseOptions, UsageError } from "./args.ts";
import { tableLines } from "./text-table.ts";

// `analytics-service dlq list`: what is in the dead-letter topic, as a table or JSON.

export const sourceOf = (e: DeadLetterEntry) =>
  e.sourceTopic === null ? null : `${e.sourceTopic}/${e.sourcePartition ?? "?"}@${e.sourceOffset ?? "?"}`;

/**
 * A letter's key as JSON shows it: as text when its bytes are UTF-8 (those of a character a cut
 * split excepted), else base64, as Kafka Connect's JSON shows bytes. Shown as text with U+FFFD
 * for what is not UTF-8, two different keys could print alike, and none could be had back.
 */
export function keyJson(e: Pick<DeadLetterEntry, "key" | "keyTruncated">) {
  if (e.key === null) return { key: null, key_encoding: null, key_truncated: false };
  // A cut key may end in the first bytes of a character: that is the cut, not binary data.
  const text = e.keyTruncated ? e.key.subarray(0, utf8Boundary(e.key, e.key.length)) : e.key;
  return isUtf8(text)
    ? { key: text.toString(), key_encoding: "utf8", key_truncated: e.keyTruncated }
    : { key: e.key.toString("base64"), key_encoding: "base64", key_truncated: e.keyTruncated };
}

/** The JSON form of `dlq list --json`: headers decoded, the value left out (it may hold secrets). */
export function letterJson(e: DeadLetterEntry) {
  return {
    failed_at: e.failedAt,
    source_topic: e.sourceTopic,
    source_partition: e.sourcePartition,
    source_offset: e.sourceOffset,
    event_type: e.eventType,
    code: e.code,
    reason: e.reason,
    ...keyJson(e),
    value_bytes: e.valueBytes,
    /** The value is only the first value_bytes of original_bytes (null: a legacy letter that did not say). */
    truncated: e.truncated,
    original_bytes: e.originalBytes,
    dlq_partition: e.dlqPartition,
    dlq_offset: e.dlqOffset,
  };
}

/**
 * `dlq list --json`'s text: offsets written as the exact integers they are. A letter may claim any
 * int64 as its source offset; as a JavaScript number, one past 2^53 would print as another.
 */
export function lettersJson(letters: readonly DeadLetterEntry[]): string {
  return [...lettersJsonParts(letters)].join("");
}

/**
 * lettersJson's text a letter at a time (the same text, indented as JSON.stringify indents an
 * array), so a long list is never held as text whole: escaped, a letter's capped texts take up
 * to six times their bytes.
 */
export function* lettersJsonParts(letters: readonly DeadLetterEntry[]): Generator<string> {
  if (letters.length === 0) {
    yield "[]";
    return;
  }
  const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  const exact = (_: string, v: unknown) => (typeof v === "bigint" ? rawJSON(String(v)) : v);
  yield "[\n";
  for (const [i, e] of letters.entries()) {
    const json = terminalSafeJson(JSON.stringify(letterJson(e), exact, 2)).replace(/\n/g, "\n  ");
    yield `  ${json}${i < letters.length - 1 ? ",\n" : "\n"}`;
  }
  yield "]";
}

export function formatLetters(letters: readonly DeadLetterEntry[]): string {
  return [...letterLines(letters)].join("");
}

/** formatLetters' lines, one at a time. */
export function letterLines(letters: readonly DeadLetterEntry[]): Generator<string> {
  return tableLines(
    [
      { key: "time" },
      { key: "source" },
      { key: "event_type", title: "event type" },
      { key: "code" },
      { key: "copy" },
      { key: "reason" },
    ],
    letters.map((e) => ({
      time: e.failedAt,
      source: sourceOf(e),
      event_type: e.eventType,
      code: e.code,
      // Whether the letter holds the whole value (it can be replayed) or only its first bytes.
      copy: e.truncated ? "truncated" : "whole",
      reason: e.reason,
    })),
  );
}

export interface ListOptions {
  json: boolean;
  /** The newest this many letters are listed; all are counted. */
  limit: number;
}

export const DEFAULT_LIST_LIMIT = 1000;
const MAX_LIST_LIMIT = 100_000;

export function listOptions(args: readonly string[]): ListOptions {
  const raw = parseOptions("dlq list", args, { json: "boolean", limit: "string" });
  const limit = raw.limit === undefined ? DEFAULT_LIST_LIMIT : Number(raw.limit);
  // Digits only: Number() would also take "1e3", " 5" or "0x10".
  if (!/^\d+$/.test(raw.limit ?? "1") || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new UsageError(`dlq list: --limit "${raw.limit}" is not a whole number from 1 to ${MAX_LIST_LIMIT}`);
  }
  return { json: raw.json === true, limit };
}

/**
 * The table's last line: how many letters the topic holds and, when `--limit` left some out, how
 * many of each code (`shown`, NewestLetters.summary()).
 */
export const listFooter = (total: number, topic: string, shown: string, cutForMemory = false) =>
  `${total} dead letter(s) in ${topic}${shown === "" ? "" : `; listed: ${shown} (${listedBecause(cutForMemory)})`}\n`;

/** Why a list holds fewer letters than the topic: --limit, and when they fill it, what a list keeps (LIST_BYTES). */
const listedBecause = (cutForMemory: boolean) =>
  cutForMemory ? `--limit, and the ${LIST_BYTES / 1024 / 1024} MiB of texts and keys a list keeps` : "--limit";

export async function runDlqList(
  config: Config,
  options: ListOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const newest = await readDeadLetters(config, options.limit);
  const letters = newest.letters();
  const shown = newest.summary();
  const cutForMemory = newest.cutForMemory;
  if (options.json) {
    for (const part of lettersJsonParts(letters)) out.write(part);
    out.write("\n");
    // The array stays what it was (letters); that it is not all of them goes beside it.
    if (shown !== "") err.write(`analytics-service: dlq list: listed ${shown} (${listedBecause(cutForMemory)})\n`);
  } else {
    for (const line of letterLines(letters)) out.write(line);
    out.write(listFooter(newest.total, config.kafkaDlqTopic, shown, cutForMemory));
  }
  return 0;
}
