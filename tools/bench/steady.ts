import { setTimeout as sleep } from "node:timers/promises";
import { emit } from "../../src/generate/emit.ts";
import { fixture } from "../../src/testing/fixtures.ts";
import { adminConnection, hexId } from "../../test/support/helpers.ts";
import { createDatabase, dropDatabase } from "./database.ts";
import { createTopics, deleteTopics, GroupOffsets, newProducer } from "./kafka.ts";
import { BROKER, log, options, prefix, stack, tag } from "./options.ts";
import { startService, stopService } from "./service.ts";

// A steady run: 1,000 users created and committed, then `user.updated` events at R per second in
// 20 ms ticks; one event per tick is sampled, from just before it is produced to the moment its
// row carries its event_id (polled every 2 ms). Reports freshness p50 and p99.

export async function steady(rate: number, durationS: number) {
  const svcDb = `bench_${tag}_svc`;
  await createTopics(BROKER, prefix, options.partitions);
  await createDatabase(stack, svcDb);
  const groupId = `bench-steady-${tag}`;
  const child = startService(svcDb, groupId, { KAFKA_AUTO_OFFSET_RESET: "earliest" });
  const offsets = new GroupOffsets(BROKER, prefix, options.partitions, groupId);
  const conn = await adminConnection(svcDb);
  const p = newProducer(BROKER);
  try {
    const doc = fixture("user.created").value.data as Record<string, unknown>;
    const ids = Array.from({ length: 1000 }, (_, i) => hexId(i, "ee"));
    const send = async (events: ReturnType<typeof emit>[]) =>
      p.send({
        messages: events.map((e) => ({
          topic: `${prefix}${e.topic}`,
          key: Buffer.from(e.key),
          value: Buffer.from(JSON.stringify(e.value)),
        })),
      });
    await send(ids.map((id) => emit("user.created", id, doc as never)));
    while (!(await offsets.read()).done) await sleep(100);
    log(`steady: ${rate} events/s for ${durationS} s`);
    const pending = new Map<string, number>();
    const latencies: number[] = [];
    let stop = false;
    const watcher = (async () => {
      while (!stop || pending.size > 0) {
        if (pending.size > 0) {
          const [rows] = await conn.query("SELECT event_id FROM users WHERE event_id IN (?)", [[...pending.keys()]]);
          const now = performance.now();
          for (const r of rows as { event_id: string }[]) {
            const t0 = pending.get(r.event_id);
            if (t0 !== undefined) latencies.push(now - t0);
            pending.delete(r.event_id);
          }
        }
        await sleep(2);
      }
    })();
    const tick = 20; // ms: rate/50 events per tick
    const started = performance.now();
    let produced = 0;
    while (performance.now() - started < durationS * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate) - produced;
      if (due > 0) {
        const events = Array.from({ length: due }, (_, i) =>
          emit("user.updated", ids[(produced + i) % ids.length] as string, { ...doc, version: 2 } as never),
        );
        const t0 = performance.now();
        await send(events);
        // One sampled event per batch: its latency runs from before the produce to the row.
        const sample = events[0];
        if (sample) pending.set(sample.value.event_id, t0);
        produced += due;
      }
      await sleep(tick);
    }
    stop = true;
    await watcher;
    latencies.sort((a, b) => a - b);
    const q = (p: number) =>
      Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1));
    return {
      rate,
      seconds: durationS,
      events: produced,
      samples: latencies.length,
      freshness_p50_ms: q(0.5),
      freshness_p99_ms: q(0.99),
    };
  } finally {
    await stopService(child);
    await offsets.close();
    await p.close();
    await conn.end();
    await dropDatabase(svcDb);
    await deleteTopics(BROKER, prefix);
  }
}
