import type { Consumer } from "@platformatic/kafka";
import { dropAbortedBatches, type FetchedResponse } from "./aborted-transactions.ts";
import { type CheckedBatch, checkRecordOffsets, installBatchFraming } from "./batch-framing.ts";
import { stampLogAppendTime } from "./log-append-time.ts";

// What the Kafka client leaves wrong in a fetch response, put right before its message stream
// reads it: the batches of aborted transactions it lets through, and the record times of
// LogAppendTime topics it does not apply, and records it read outside their batch's offsets. All
// go when the client does them itself. How it parses batches is put right too (batch-framing.ts).

/**
 * Makes `consumer` correct every fetch response, its message streams' included: they fetch
 * through the instance's public `fetch`. `onFetched` hears of each fetch that succeeded, empty or
 * not: the brokers answer again.
 */
export function correctingFetches<C extends Pick<Consumer, "fetch">>(consumer: C, onFetched = () => {}): C {
  installBatchFraming();
  const fetch = consumer.fetch.bind(consumer) as (
    options: unknown,
    callback: (error: Error | null, response: FetchedResponse) => void,
  ) => unknown;
  function correct(response: FetchedResponse): FetchedResponse {
    for (const topic of response.responses) {
      for (const partition of topic.partitions) {
        for (const batch of partition.records ?? []) checkRecordOffsets(batch as unknown as CheckedBatch);
        dropAbortedBatches(partition);
        stampLogAppendTime(partition);
      }
    }
    onFetched();
    return response;
  }
  const corrected = (options: unknown, callback?: (error: Error | null, response: FetchedResponse) => void) => {
    if (callback === undefined) {
      return new Promise((resolve, reject) =>
        fetch(options, (error, response) => (error ? reject(error) : resolve(correct(response)))),
      );
    }
    return fetch(options, (error, response) => callback(error, error ? response : correct(response)));
  };
  consumer.fetch = corrected as C["fetch"];
  return consumer;
}
