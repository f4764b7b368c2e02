import type { Consumer } from "@platformatic/kafka";
import { type OutOfRange, outOfRange } from "../out-of-range.ts";
import { dropAbortedBatches, type FetchedResponse } from "./aborted-transactions.ts";
import { installBatchFraming } from "./batch-framing.ts";
import { type CheckedBatch, checkRecordOffsets } from "./batch-markers.ts";
import { FetchRotation, type FetchTopics, type RotatedResponse } from "./fetch-rotation.ts";
import { stampLogAppendTime } from "./log-append-time.ts";

// What the Kafka client leaves wrong in a fetch response, put right before its message stream
// reads it: the batches of aborted transactions it lets through, and the record times of
// LogAppendTime topics it does not apply, and records it read outside their batch's offsets. All
// go when the client does them itself. How it parses batches is put right too (batch-framing.ts).

/**
 * Makes `consumer` correct every fetch response, its message streams' included: they fetch
 * through the instance's public `fetch`. `onFetched` hears of each fetch that succeeded, empty or
 * not (the brokers answer again), with its corrected response; `onOutOfRange` of the partitions a failed fetch asked for past their log, all at once.
 */
export function correctingFetches<C extends Pick<Consumer, "fetch" | "currentMetadata">>(
  consumer: C,
  onFetched: (response: FetchedResponse) => void = () => {},
  onOutOfRange: (found: OutOfRange[]) => void = () => {},
): C {
  installBatchFraming();
  const fetch = consumer.fetch.bind(consumer) as (
    options: unknown,
    callback: (error: Error | null, response: FetchedResponse) => void,
  ) => unknown;
  const topicOf = (id: string) => {
    for (const [name, t] of consumer.currentMetadata?.topics ?? []) if (t.id === id) return name;
    return undefined;
  };
  function correct(response: FetchedResponse): FetchedResponse {
    for (const topic of response.responses) {
      for (const partition of topic.partitions) {
        for (const batch of partition.records ?? []) checkRecordOffsets(batch as unknown as CheckedBatch);
        dropAbortedBatches(partition);
        stampLogAppendTime(partition);
      }
    }
    onFetched(response);
    return response;
  }
  const rotation = new FetchRotation();
  const corrected = (options: unknown, callback?: (error: Error | null, response: FetchedResponse) => void) => {
    if (callback === undefined) {
      return new Promise((resolve, reject) =>
        corrected(options, (error, response) => (error ? reject(error) : resolve(response))),
      );
    }
    const asked = options as { topics?: FetchTopics };
    const request = asked.topics ? { ...asked, topics: rotation.request(asked.topics) } : options;
    const answered = rotation.sent();
    return fetch(request, (error, response) => {
      if (error) {
        const found = outOfRange(request, error, topicOf);
        if (found.length > 0) onOutOfRange(found);
      } else answered(response as unknown as RotatedResponse);
      callback(error, error ? response : correct(response));
    });
  };
  consumer.fetch = corrected as C["fetch"];
  return consumer;
}
