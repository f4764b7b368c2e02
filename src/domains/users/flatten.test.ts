import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asPatch, assertBadField, asUpsert, handle } from "../../testing/domain-helpers.ts";
import { userRow } from "../../testing/fixture-rows.ts";
import { users } from "./index.ts";
import { usersTable } from "./table.ts";

const USER_ID = "65a1f0c2e4b0a1b2c3d4e5f6";
const OTHER_ID = "0123456789abcdef01234567";
const PASSWORD_HASH = "$2b$12$abcdefghijklmnopqrstuv.wxyzABCDEFGHIJKLMNOPQRSTUVWX12";

/** docs/events.md#what-each-event-does: every column but user_id, created_at is replaced. */
const UPDATE_COLUMNS = [
  "email",
  "phone",
  "display_name",
  "avatar",
  "bio",
  "version",
  "deleted_at",
  "updated_at",
  "event_id",
  "event_timestamp",
];

describe("user.created / user.updated", () => {
  test("user.created flattens to exactly the docs/events.md#documents-and-tables row", () => {
    const { op, unknownEnums } = handle(users, "user.created");
    assert.deepEqual(op, {
      kind: "upsert",
      table: usersTable,
      id: USER_ID,
      ts: "2026-02-11 09:38:25.124001",
      eventId: "3f1c2b7e-0000-4000-8000-000000000001",
      update: UPDATE_COLUMNS,
      row: userRow,
    });
    assert.deepEqual(unknownEnums, []);
  });

  test("the row has every column of the table, in the table's order", () => {
    const op = asUpsert(handle(users, "user.created").op);
    assert.deepEqual(Object.keys(op.row), [...usersTable.columns]);
    assert.equal(op.table, usersTable);
  });

  test("user.updated carries the new version, bio, updated_at and envelope", () => {
    const op = asUpsert(handle(users, "user.updated").op);
    assert.equal(op.ts, "2026-02-12 10:00:00.000450");
    assert.equal(op.row.version, 2);
    assert.equal(op.row.bio, "Ceramics and coffee.");
    assert.equal(op.row.created_at, "2026-02-11 09:38:25.123456");
    assert.equal(op.row.updated_at, "2026-02-12 10:00:00.000000");
    assert.equal(op.row.event_id, "3f1c2b7e-0000-4000-8000-000000000002");
    assert.equal(op.row.event_timestamp, "2026-02-12 10:00:00.000450");
    assert.deepEqual(op.update, UPDATE_COLUMNS);
  });

  test("optional fields absent or null become NULL; version absent becomes 1", () => {
    const op = asUpsert(
      handle(users, "user.created", {
        "contact_info.phone": undefined,
        "profile.avatar": null,
        "profile.bio": undefined,
        version: undefined,
        deleted_at: undefined,
      }).op,
    );
    assert.equal(op.row.phone, null);
    assert.equal(op.row.avatar, null);
    assert.equal(op.row.bio, null);
    assert.equal(op.row.version, 1);
    assert.equal(op.row.deleted_at, null);
  });

  test("deleted_at in the document is converted to DATETIME(6) UTC", () => {
    const op = asUpsert(handle(users, "user.updated", { deleted_at: "2026-02-12T12:00:00.5+02:00" }).op);
    assert.equal(op.row.deleted_at, "2026-02-12 10:00:00.500000");
  });

  test("password_hash never reaches the row, nor any other part of the op", () => {
    const op = asUpsert(handle(users, "user.created").op);
    assert.ok(!Object.keys(op.row).some((c) => c.includes("password")));
    assert.ok(!JSON.stringify(op).includes(PASSWORD_HASH));
  });

  test("fields the service does not read are ignored", () => {
    const plain = handle(users, "user.created").op;
    const extra = handle(users, "user.created", {
      loyalty_tier: "gold",
      "profile.pronouns": "she/her",
      "contact_info.fax": "+1-555-0100",
      "profile.date_of_birth": "1990-01-01",
    }).op;
    assert.deepEqual(extra, plain);
  });

  test("lengths are counted in characters, as the column counts them: 100 emoji fit display_name", () => {
    const op = asUpsert(handle(users, "user.created", { "profile.display_name": "🌿".repeat(100) }).op);
    assert.equal(op.row.display_name, "🌿".repeat(100));
  });
});

describe("bad user documents are BadEventErrors naming the field", () => {
  const created = (data: Record<string, unknown>) => () => handle(users, "user.created", data);

  test("display_name longer than 100 characters", () => {
    assertBadField(created({ "profile.display_name": "x".repeat(101) }), "data.profile.display_name", /100/);
  });

  test("display_name empty", () => {
    assertBadField(created({ "profile.display_name": "" }), "data.profile.display_name");
  });

  test("display_name of the wrong type", () => {
    assertBadField(created({ "profile.display_name": 42 }), "data.profile.display_name", /string/);
  });

  test("bio longer than 500 characters", () => {
    assertBadField(created({ "profile.bio": "b".repeat(501) }), "data.profile.bio");
  });

  test("email longer than its column", () => {
    assertBadField(
      created({ "contact_info.primary_email": `${"e".repeat(250)}@x.com` }),
      "data.contact_info.primary_email",
    );
  });

  test("phone longer than its column", () => {
    assertBadField(created({ "contact_info.phone": "1".repeat(51) }), "data.contact_info.phone");
  });

  test("non-integer version", () => {
    assertBadField(created({ version: 1.5 }), "data.version", /integer/);
  });

  test("version below 1 and beyond INT", () => {
    assertBadField(created({ version: 0 }), "data.version");
    assertBadField(created({ version: 2 ** 31 }), "data.version");
  });

  test("required email missing names it", () => {
    assertBadField(
      created({ "contact_info.primary_email": undefined }),
      "data.contact_info.primary_email",
      /is required/,
    );
  });

  test("unparseable created_at", () => {
    assertBadField(created({ created_at: "yesterday" }), "data.created_at");
  });

  test("impossible deleted_at", () => {
    assertBadField(created({ deleted_at: "2026-02-30T00:00:00+00:00" }), "data.deleted_at");
  });

  test("the error text never carries the password hash", () => {
    assert.throws(created({ version: "two" }), (err: Error) => !err.message.includes(PASSWORD_HASH));
  });
});

describe("user.deleted", () => {
  test("soft delete: a patch of deleted_at ← the event's timestamp plus the envelope columns", () => {
    const { op } = handle(users, "user.deleted");
    assert.deepEqual(op, {
      kind: "patch",
      table: usersTable,
      id: USER_ID,
      ts: "2026-02-16 09:00:00.250000",
      eventId: "3f1c2b7e-0000-4000-8000-000000000018",
      set: {
        deleted_at: "2026-02-16 09:00:00.250000",
        event_id: "3f1c2b7e-0000-4000-8000-000000000018",
        event_timestamp: "2026-02-16 09:00:00.250000",
      },
    });
  });

  test("user_id in data must name the event's own user: another user's is a bad field", () => {
    assertBadField(
      () => handle(users, "user.deleted", { user_id: OTHER_ID }),
      "data.user_id",
      /is not the event's entity_id/,
    );
    const op = asPatch(handle(users, "user.deleted", { user_id: OTHER_ID }, { entity_id: OTHER_ID }).op);
    assert.equal(op.id, OTHER_ID);
  });

  test("without user_id in data the envelope's entity_id is the id", () => {
    const absent = asPatch(handle(users, "user.deleted", { user_id: undefined }, { entity_id: OTHER_ID }).op);
    assert.equal(absent.id, OTHER_ID);
    const nulled = asPatch(handle(users, "user.deleted", { user_id: null }, { entity_id: OTHER_ID }).op);
    assert.equal(nulled.id, OTHER_ID);
  });

  test("a malformed user_id is a bad field", () => {
    assertBadField(() => handle(users, "user.deleted", { user_id: "not-an-object-id" }), "data.user_id");
  });
});
