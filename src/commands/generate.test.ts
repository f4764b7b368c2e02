import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateStream, MAX_STEP_MICROS } from "../generate/stream.ts";
import { UsageError } from "./args.ts";
import { generateOptions, latestStartMicros, progressLine } from "./generate.ts";

const NOW = Date.parse("2026-12-05T07:30:00.000Z");

/** The message of the UsageError `f` throws. */
function usageError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  assert.fail("no UsageError");
}

/** Microseconds since the epoch of an event timestamp as the generator writes it (UTC, +00:00 or Z). */
const micros = (ts: string) =>
  BigInt(Date.parse(`${ts.slice(0, 19)}Z`)) * 1000n + BigInt(/\.(\d{6})/.exec(ts)?.[1] ?? "0");
const stamps = (startMicros: bigint, events: number) =>
  generateStream({ seed: 3, events, poisonRate: 0, startMicros }).map((g) =>
    g.event ? micros(g.event.value.timestamp) : undefined,
  );

describe("generate options", () => {
  test("defaults, values, and one clear line for a bad one", () => {
    assert.deepEqual(generateOptions([]), {
      events: 10000,
      rate: 0,
      seed: 1,
      poisonRate: 0,
      intoNonemptyTopics: false,
    });
    assert.deepEqual(
      generateOptions(["--events", "500", "--rate=100", "--seed", "7", "--poison", "0.01", "--into-nonempty-topics"]),
      { events: 500, rate: 100, seed: 7, poisonRate: 0.01, intoNonemptyTopics: true },
    );
    const bad: [string[], string][] = [
      [["--events", "0"], 'generate: --events must be a whole number from 1 to 1,000,000,000, got "0"'],
      [["--events", "0.5"], 'generate: --events must be a whole number from 1 to 1,000,000,000, got "0.5"'],
      [["--events", "0x10"], 'generate: --events must be a whole number from 1 to 1,000,000,000, got "0x10"'],
      [["--events", " 7"], 'generate: --events must be a whole number from 1 to 1,000,000,000, got " 7"'],
      [["--seed", "1.9"], 'generate: --seed must be a whole number from 0 to 4,294,967,295, got "1.9"'],
      // Seeds are 32-bit: 2^32 + 1 would make the stream of seed 1.
      [["--seed", "4294967297"], 'generate: --seed must be a whole number from 0 to 4,294,967,295, got "4294967297"'],
      [
        ["--rate", "0.0000001"],
        'generate: --rate must be 0 (as fast as the broker takes them) or at least 0.001 events/s, got "0.0000001"',
      ],
      [["--rate", "-1"], 'generate: --rate must be a non-negative number, got "-1"'],
      [["--poison", "2"], 'generate: --poison is a fraction between 0 and 1, got "2"'],
      [["--events", "many"], 'generate: --events must be a whole number from 1 to 1,000,000,000, got "many"'],
      [["--size", "3"], "generate: unknown option --size; try --help"],
      [["--seed", "1", "--seed=2"], "generate: --seed given twice; try --help"],
      [["--into-nonempty-topics=yes"], "generate: --into-nonempty-topics takes no value; try --help"],
      [["--events", "--rate", "3"], "generate: --events needs a value; try --help"],
      [["--start="], "generate: --start needs a value; try --help"],
      [["-e", "3"], 'generate: unexpected argument "-e"; try --help'],
      [["--events", "3", "4"], 'generate: unexpected argument "4"; try --help'],
      // Past a billion the default start falls before the year 1000, and the clock off the calendar.
      [
        ["--events", "1000000001"],
        'generate: --events must be a whole number from 1 to 1,000,000,000, got "1000000001"',
      ],
      [["--events", "1e20"], 'generate: --events must be a whole number from 1 to 1,000,000,000, got "1e20"'],
    ];
    assert.equal(generateOptions(["--events", "1e9"]).events, 1_000_000_000);
    assert.equal(generateOptions(["--seed", "4294967295", "--rate", "0.001"]).seed, 4_294_967_295);
    for (const [args, message] of bad)
      assert.equal(
        usageError(() => generateOptions(args)),
        message,
        args.join(" "),
      );
  });
});

describe("--start", () => {
  test("an ISO time, with or without an offset, keeps its milliseconds", () => {
    const at = (start: string) => generateOptions(["--start", start], NOW).startMicros;
    assert.equal(at("2026-03-01T00:00:00Z"), BigInt(Date.UTC(2026, 2, 1)) * 1000n);
    assert.equal(at("2026-03-01"), BigInt(Date.UTC(2026, 2, 1)) * 1000n, "a date is its midnight UTC");
    assert.equal(at("2026-03-01T02:00:00.123+02:00"), BigInt(Date.UTC(2026, 2, 1, 0, 0, 0, 123)) * 1000n);
  });

  test("not an ISO time", () => {
    for (const text of ["yesterday", "1741000000", "2026-02-30", "2026-03-01T25:00", "03/01/2026"]) {
      assert.equal(
        usageError(() => generateOptions(["--start", text], NOW)),
        `generate: --start must be an ISO-8601 time such as 2026-03-01T00:00:00Z (UTC when it has no offset), got "${text}"`,
      );
    }
  });

  test("from year 1000 on, the earliest a DATETIME holds", () => {
    assert.equal(generateOptions(["--start", "1000-01-01T00:00:00Z"], NOW).startMicros, -30610224000000000n);
    for (const text of ["0999-12-31T23:59:59.999Z", "1000-01-01T00:30:00+01:00", "0050-06-01", "0000-01-01"]) {
      assert.match(
        usageError(() => generateOptions(["--start", text], NOW)),
        /--start must be at or after 1000-01-01/,
      );
    }
  });

  test("no later than the latest start for the run: at it passes, a millisecond later and far ahead fail", () => {
    for (const rate of [0, 100, 1000]) {
      const args = ["--events", "2000", "--rate", String(rate)];
      const latest = new Date(Number(latestStartMicros(2000, rate, NOW) / 1000n)).toISOString();
      assert.equal(generateOptions([...args, "--start", latest], NOW).startMicros, latestStartMicros(2000, rate, NOW));
      const later = new Date(Date.parse(latest) + 1).toISOString();
      for (const text of [later, "2027-01-01", "9999-12-31T23:59:59Z"]) {
        const message = usageError(() => generateOptions([...args, "--start", text], NOW));
        assert.match(message, /would stamp events later than they are produced/);
        assert.ok(message.endsWith(`start at or before ${latest}`), message);
      }
    }
    assert.match(
      usageError(() => generateOptions(["--start", "10000-01-01"], NOW)),
      /--start must be an ISO-8601 time/,
      "five-digit years are not ISO-8601 here",
    );
  });
});

describe("the default start: the stream ends about now, never later", () => {
  test("as fast as possible, the whole stream is stamped by now, ending within its worst-case span of now", () => {
    const events = 10000;
    const start = latestStartMicros(events, 0, NOW);
    assert.equal(start % 1000n, 0n, "whole milliseconds, so --start repeats it");
    const all = stamps(start, events).filter((x) => x !== undefined);
    const last = all.reduce((a, b) => (a > b ? a : b));
    const now = BigInt(NOW) * 1000n;
    assert.ok(last <= now, "not ahead of now");
    assert.ok(now - last < BigInt(events * MAX_STEP_MICROS) / 2n, `ends ${(now - last) / 1000n} ms before now`);
    assert.ok(now - last > 0n);
  });

  test("paced by --rate, each message is stamped no later than it is produced, and the last near the end", () => {
    const events = 3000;
    for (const rate of [20, 150, 200, 250, 1000, 20000]) {
      const start = latestStartMicros(events, rate, NOW);
      const intervalMicros = 1e6 / rate;
      const chunk = Math.max(1, Math.min(500, Math.floor(rate / 20)));
      const produced = (n: number) => NOW * 1000 + Math.floor(n / chunk) * chunk * intervalMicros;
      const all = stamps(start, events);
      all.forEach((stamp, n) => {
        if (stamp !== undefined) assert.ok(Number(stamp) <= produced(n), `rate ${rate}: message ${n} ahead`);
      });
      // Faster than 200/s the simulated clock (≤ 5 ms a message) can outrun the wall clock: the
      // last message binds, and the stream ends within its worst-case span of the end of production.
      // Slower, the first one binds: the stream starts now, and its clock falls behind the wall's.
      const end = Number(all.findLast((x) => x !== undefined));
      if (rate > 200) assert.ok(produced(events - 1) - end <= events * MAX_STEP_MICROS, `rate ${rate}`);
      else {
        // Less a chunk (≤ 1/20 s), which goes out when its first message is due.
        assert.ok(Number(start) >= NOW * 1000 - chunk * intervalMicros - MAX_STEP_MICROS, `rate ${rate}: starts now`);
      }
    }
  });
});

test("the progress line shows count, percentage, rate and ETA", () => {
  assert.equal(progressLine(2500, 10000, 0.5, 8), "2,500 / 10,000   25% ▕██      ▏ 5,000 ev/s  ETA 2 s");
  assert.equal(progressLine(10000, 10000, 2, 4), "10,000 / 10,000  100% ▕████▏ 5,000 ev/s  ETA 0 s");
});
