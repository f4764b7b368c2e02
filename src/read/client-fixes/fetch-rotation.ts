import { firstBatchesHeldBackSoFar } from "./fetch-budget.ts";

// The broker lists a fetch response's partitions in the order of the consumer's fetch session
// (KIP-227), and moves those that returned records to its end. Two partitions flooded with
// compressed batches both return records at every fetch, so their order never changes, and the
// budget of fetch-budget.ts, spent by the first at every response, held back the second's first
// batch until the first's whole flood had been read. After a response in which a partition's first
// batch was held back, the partitions that got records there sit out the next fetch: the client's
// session forgets them and adds them back at its end, behind those that waited.

/** A fetch request's partitions, as the client's stream lists them (an entry per partition). */
export type FetchTopics = readonly { topicId: string; partitions: readonly { partition: number }[] }[];
/** What the rotation reads of a fetch response. */
export interface RotatedResponse {
  responses: readonly { topicId: string; partitions: readonly { partitionIndex: number; records?: unknown }[] }[];
}

const key = (topicId: string, partition: number) => `${topicId}:${partition}`;

/** Which partitions sit out a consumer's next fetch; one per consumer. */
export class FetchRotation {
  #sittingOut = new Set<string>();

  /**
   * The partitions to ask for: `topics` without those sitting out, or all of them if none would be
   * left. A partition sits out the next fetch that asks for it, not the next fetch: the message
   * stream sends one per broker, and another broker's, sent first when the stream resumes, took
   * every sit-out with it, so the partitions of the others never sat out.
   */
  request<T extends FetchTopics>(topics: T): T {
    if (this.#sittingOut.size === 0) return topics;
    const out = this.#sittingOut;
    const kept = topics
      .map((t) => ({ ...t, partitions: t.partitions.filter((p) => !out.has(key(t.topicId, p.partition))) }))
      .filter((t) => t.partitions.length > 0);
    for (const t of topics) for (const p of t.partitions) out.delete(key(t.topicId, p.partition));
    return kept.length > 0 ? (kept as unknown as T) : topics;
  }

  /** Called as a fetch is sent; the function it returns hears that fetch's response. */
  sent(): (response: RotatedResponse) => void {
    const heldBefore = firstBatchesHeldBackSoFar();
    return (response) => {
      // Another consumer's response parsed meanwhile counts too: its partitions wait one fetch more, no longer.
      if (firstBatchesHeldBackSoFar() === heldBefore) return;
      for (const t of response.responses) {
        for (const p of t.partitions) {
          if (Array.isArray(p.records) && p.records.length > 0) this.#sittingOut.add(key(t.topicId, p.partitionIndex));
        }
      }
    };
  }
}
