import assert from "node:assert/strict";
import { test } from "node:test";
import { productsTable } from "../domains/products/table.ts";
import { DOMAINS } from "../domains/registry.ts";
import { usersTable } from "../domains/users/table.ts";
import { UsageError } from "./args.ts";
import {
  describeRepair,
  hasGuard,
  isFrozen,
  notFrozen,
  nothingToRepair,
  REPAIRABLE_TABLES,
  readRepairState,
  removeGuards,
  repairOptions,
} from "./repair.ts";

const ID = "65a1f0c2e4b0a1b2c3d4e5f6";

test("repairOptions: <table> <id>, with --dry-run anywhere", () => {
  assert.deepEqual(repairOptions(["users", ID]), { table: usersTable, id: ID, dryRun: false, force: false });
  assert.deepEqual(repairOptions(["products", ID, "--dry-run"]), {
    table: productsTable,
    id: ID,
    dryRun: true,
    force: false,
  });
  assert.deepEqual(repairOptions(["--dry-run", "products", ID.toUpperCase()]).id, ID.toUpperCase());
  assert.equal(repairOptions(["users", ID, "--force"]).force, true);
});

test("REPAIRABLE_TABLES: each domain's entity table (the registry's), none of the child tables", () => {
  for (const domain of DOMAINS) {
    for (const table of domain.tables) {
      const child = table.rowId !== undefined;
      assert.equal(REPAIRABLE_TABLES.get(table.name), child ? undefined : table, `${domain.topic}: ${table.name}`);
    }
  }
  assert.deepEqual(
    [...REPAIRABLE_TABLES.keys()],
    DOMAINS.flatMap((d) => d.tables.filter((t) => t.rowId === undefined).map((t) => t.name)),
  );
  for (const name of ["users", "suppliers", "products", "orders", "posts"])
    assert.ok(REPAIRABLE_TABLES.has(name), name);
  assert.ok(!REPAIRABLE_TABLES.has("product_variants") && !REPAIRABLE_TABLES.has("order_items"));
});

test("repairOptions: each mistake is one UsageError line", () => {
  const cases: [string[], RegExp][] = [
    [[], /^repair: name the row: repair <table> <id> \[--dry-run\] \[--force\]$/],
    [["users"], /^repair: name the row: /],
    [
      ["users", ID, "extra"],
      /^repair: unexpected argument "extra"; usage: repair <table> <id> \[--dry-run\] \[--force\]$/,
    ],
    [
      ["user", ID],
      /^repair: unknown table "user" \(did you mean users\?\); one of users, suppliers, products, orders, posts(, |$)/,
    ],
    [["product_variants", ID], /^repair: unknown table "product_variants"; one of users, /],
    [["users", ID, "--force", "--force"], /^repair: --force given twice; try --help$/],
    [["--dry-run", "users", ID, "--dry-run"], /^repair: --dry-run given twice; try --help$/],
    [["entity_tombstones", ID], /^repair: unknown table "entity_tombstones"; /],
    [
      ["users", "65a1f0c2"],
      /^repair: "65a1f0c2" is not an id: user_id is 24 hexadecimal digits, as entity_id in the events$/,
    ],
    [["users", `${ID.slice(0, 23)}g`], /is not an id/],
    [["users", `${ID} `], /is not an id/],
    [["users", ID, "--dry-run=yes"], /^repair: --dry-run takes no value; try --help$/],
    [["users", ID, "--yes"], /^repair: unknown option --yes; try --help$/],
    [["users", ID, "-n"], /^repair: unknown option -n; try --help$/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => repairOptions(args),
      (err: unknown) => err instanceof UsageError && message.test(err.message) && !err.message.includes("\n"),
      args.join(" "),
    );
  }
});

const NOW = new Date("2026-03-01T00:00:00Z");
const frozen = { id: ID, eventTimestamp: "9999-12-31 23:59:59.000000" };
const stone = { deletedAt: "9999-12-31 23:59:59.000000", eventId: "e-1" };

test("describeRepair: the current event_timestamp and tombstone time, marked when in the future", () => {
  const dry = describeRepair(
    { table: productsTable, id: ID, dryRun: true, force: false },
    { row: frozen, tombstone: stone },
    NOW,
  );
  assert.deepEqual(dry, [
    `products ${ID}: would set event_timestamp 9999-12-31 23:59:59.000000 (in the future) to NULL; the row's columns stay`,
    `products ${ID}: would delete its tombstone of 9999-12-31 23:59:59.000000 (in the future), event e-1`,
    "dry run: nothing changed",
  ]);
  const done = describeRepair(
    { table: usersTable, id: ID, dryRun: false, force: false },
    { row: { id: ID, eventTimestamp: "2026-02-12 10:00:00.000450" }, tombstone: null },
    NOW,
  );
  assert.deepEqual(done, [
    `users ${ID}: set event_timestamp 2026-02-12 10:00:00.000450 to NULL; the row's columns stay`,
    "the next event of this entity applies, whatever its timestamp; replay its history to rebuild it now",
  ]);
});

test("describeRepair: a tombstone's event_id (the producer's text) is written escaped, on its one line", () => {
  // ESC [1A ESC [2K erases the line above; OSC 52 sets the terminal's clipboard; U+009B is the 8-bit CSI.
  const eventId = "\u001b[1A\u001b[2K\u001b]52;c;cm0gLXJmIH4=\u0007\u009b2J\n\u202e";
  const [line] = describeRepair(
    { table: productsTable, id: ID, dryRun: true, force: true },
    { row: null, tombstone: { deletedAt: "2026-02-16 09:30:00.000000", eventId } },
    NOW,
  );
  assert.equal(
    line,
    `products ${ID}: would delete its tombstone of 2026-02-16 09:30:00.000000, event ` +
      "\\u001b[1A\\u001b[2K\\u001b]52;c;cm0gLXJmIH4=\\u0007\\u009b2J\\u000a\\u202e",
  );
});

test("isFrozen: only a time further ahead of now than MAX_CLOCK_SKEW_MS freezes an entity", () => {
  const now = Date.parse("2026-03-01T00:00:00Z");
  const row = (eventTimestamp: string) => ({ row: { id: ID, eventTimestamp }, tombstone: null });
  assert.equal(isFrozen(row("9999-12-31 23:59:59.000000"), now, 300_000), true);
  assert.equal(isFrozen(row("2026-03-01 00:05:00.000001"), now, 300_000), true);
  assert.equal(isFrozen(row("2026-03-01 00:05:00.000000"), now, 300_000), false, "at the limit an event may be");
  assert.equal(isFrozen(row("2026-02-12 10:00:00.000450"), now, 300_000), false, "a real event's time");
  // MAX_CLOCK_SKEW_MS at its largest (1e15) reaches past year 9999: nothing a DATETIME holds is ahead.
  assert.equal(isFrozen(row("2026-02-12 10:00:00.000450"), now, 1e15), false);
  assert.equal(isFrozen(row("9999-12-31 23:59:59.999999"), now, 1e15), true);
  assert.equal(isFrozen({ row: null, tombstone: stone }, now, 300_000), true);
  assert.equal(
    isFrozen({ row: null, tombstone: { ...stone, deletedAt: "2026-02-01 00:00:00.000000" } }, now, 0),
    false,
  );
  assert.match(
    notFrozen({ table: usersTable, id: ID, dryRun: false, force: false }, row("2026-02-12 10:00:00.000450")),
    /^repair: users 65a1f0c2e4b0a1b2c3d4e5f6 is not frozen: .*--force does it anyway\)$/,
  );
});

test("nothing to repair: no row, or a row without a version, and no tombstone", () => {
  assert.equal(hasGuard({ row: null, tombstone: null }), false);
  assert.equal(hasGuard({ row: { id: ID, eventTimestamp: null }, tombstone: null }), false);
  assert.equal(hasGuard({ row: null, tombstone: stone }), true);
  assert.equal(
    nothingToRepair({ table: usersTable, id: ID, dryRun: false, force: false }, { row: null, tombstone: null }),
    `repair: users ${ID}: nothing to repair: no row and users have no tombstones`,
  );
  assert.equal(
    nothingToRepair(
      { table: productsTable, id: ID, dryRun: false, force: false },
      { row: { id: ID, eventTimestamp: null }, tombstone: null },
    ),
    `repair: products ${ID}: nothing to repair: its row has no event_timestamp (nothing holds events back) and no tombstone`,
  );
});

test("the statements: locking reads, then only what holds events back is changed", async () => {
  const statements: [string, unknown[] | undefined][] = [];
  const conn = {
    async query(sql: string, values?: unknown[]) {
      statements.push([sql, values]);
      if (sql.includes("FROM `products`")) return [[{ id: ID, ts: "9999-12-31 23:59:59.000000" }], []];
      return [[], []];
    },
  };
  // biome-ignore lint/suspicious/noExplicitAny: a recording double of the connection
  const state = await readRepairState(conn as any, productsTable, ID);
  assert.deepEqual(state, { row: frozen, tombstone: null });
  // biome-ignore lint/suspicious/noExplicitAny: as above
  await removeGuards(conn as any, productsTable, ID, state);
  assert.deepEqual(statements, [
    ["SELECT `product_id` AS id, event_timestamp AS ts FROM `products` WHERE `product_id` = ? FOR UPDATE", [ID]],
    [
      "SELECT deleted_event_timestamp AS ts, event_id FROM entity_tombstones WHERE entity_type = ? AND entity_id = ? FOR UPDATE",
      ["products", ID],
    ],
    ["UPDATE `products` SET event_timestamp = NULL WHERE `product_id` = ?", [ID]],
  ]);
});
