import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asDelete, assertBadField, asUpsert, handle } from "../../testing/domain-helpers.ts";
import { supplierRow } from "../../testing/fixture-rows.ts";
import { suppliers } from "./index.ts";
import { suppliersTable } from "./table.ts";

const SUPPLIER_ID = "65a1f0c2e4b0a1b2c3d4e5f7";
const OTHER_ID = "0123456789abcdef01234567";

/** docs/events.md#what-each-event-does: every column but supplier_id, created_at replaced. */
const UPDATE_COLUMNS = [
  "email",
  "primary_phone",
  "contact_person_name",
  "contact_person_title",
  "contact_person_email",
  "contact_person_phone",
  "legal_name",
  "dba_name",
  "street_address_1",
  "street_address_2",
  "city",
  "state",
  "zip_code",
  "country",
  "support_email",
  "support_phone",
  "facebook_url",
  "instagram_handle",
  "twitter_handle",
  "linkedin_url",
  "timezone",
  "updated_at",
  "event_id",
  "event_timestamp",
];

describe("supplier.created / supplier.updated", () => {
  test("supplier.created flattens to exactly the docs/events.md#documents-and-tables row", () => {
    const { op, unknownEnums } = handle(suppliers, "supplier.created");
    assert.deepEqual(op, {
      kind: "upsert",
      table: suppliersTable,
      id: SUPPLIER_ID,
      ts: "2026-02-11 09:40:00.600000",
      eventId: "3f1c2b7e-0000-4000-8000-000000000003",
      update: UPDATE_COLUMNS,
      row: supplierRow,
    });
    assert.deepEqual(unknownEnums, []);
  });

  test("the row has every column of the table, in the table's order", () => {
    const op = asUpsert(handle(suppliers, "supplier.created").op);
    assert.deepEqual(Object.keys(op.row), [...suppliersTable.columns]);
  });

  test("supplier.updated: dba_name removed, new updated_at and envelope", () => {
    const op = asUpsert(handle(suppliers, "supplier.updated").op);
    assert.equal(op.ts, "2026-02-12 08:00:00.000100");
    assert.equal(op.row.dba_name, null);
    assert.equal(op.row.updated_at, "2026-02-12 08:00:00.000000");
    assert.equal(op.row.event_id, "3f1c2b7e-0000-4000-8000-000000000004");
    assert.deepEqual(op.update, UPDATE_COLUMNS);
  });

  test("every optional field absent becomes NULL", () => {
    const op = asUpsert(
      handle(suppliers, "supplier.created", {
        "contact_info.contact_person_name": undefined,
        "contact_info.contact_person_title": undefined,
        "contact_info.contact_person_email": undefined,
        "company_info.dba_name": undefined,
        "business_info.instagram_handle": undefined,
        "business_info.linkedin_url": undefined,
        "business_info.timezone": undefined,
        "business_info.support_email": undefined,
      }).op,
    );
    for (const column of [
      "contact_person_name",
      "contact_person_title",
      "contact_person_email",
      "dba_name",
      "instagram_handle",
      "linkedin_url",
      "timezone",
      "support_email",
    ]) {
      assert.equal(op.row[column], null, column);
    }
  });

  test("banking_info and password_hash never reach the row, nor any other part of the op", () => {
    const op = asUpsert(handle(suppliers, "supplier.created").op);
    assert.ok(!Object.keys(op.row).some((c) => c.includes("bank") || c.includes("password") || c.includes("account")));
    const text = JSON.stringify(op);
    for (const secret of ["Example Bank", "4821", "$2b$12$"]) assert.ok(!text.includes(secret), secret);
  });

  test("fields the service does not read are ignored", () => {
    const plain = handle(suppliers, "supplier.created").op;
    const extra = handle(suppliers, "supplier.created", {
      tier: "platinum",
      "company_info.vat_number": "IL123",
      "company_info.business_address.geo": { lat: 32.8, lon: 35 },
      "business_info.tiktok_handle": "cedar",
    }).op;
    assert.deepEqual(extra, plain);
  });
});

describe("bad supplier documents are BadEventErrors naming the field", () => {
  const created = (data: Record<string, unknown>) => () => handle(suppliers, "supplier.created", data);

  test("legal_name shorter than 2 or longer than 200 characters", () => {
    assertBadField(created({ "company_info.legal_name": "C" }), "data.company_info.legal_name");
    assertBadField(created({ "company_info.legal_name": "L".repeat(201) }), "data.company_info.legal_name");
  });

  test("country must be exactly 2 characters", () => {
    assertBadField(
      created({ "company_info.business_address.country": "ISR" }),
      "data.company_info.business_address.country",
    );
    assertBadField(
      created({ "company_info.business_address.country": "I" }),
      "data.company_info.business_address.country",
    );
  });

  test("zip_code longer than its column", () => {
    assertBadField(
      created({ "company_info.business_address.zip_code": "9".repeat(21) }),
      "data.company_info.business_address.zip_code",
    );
  });

  test("wrong type", () => {
    assertBadField(created({ "contact_info.primary_phone": 972504101187 }), "data.contact_info.primary_phone");
  });

  test("a required object missing", () => {
    assertBadField(created({ business_info: undefined }), "data.business_info", /is required/);
  });

  test("unparseable updated_at", () => {
    assertBadField(created({ updated_at: "2026-02-11T25:00:00+00:00" }), "data.updated_at");
  });

  test("the error text never carries banking details", () => {
    assert.throws(created({ "company_info.legal_name": "" }), (err: Error) => !/4821|Example Bank/.test(err.message));
  });
});

describe("supplier.deleted", () => {
  test("hard delete of the supplier named in data", () => {
    const { op } = handle(suppliers, "supplier.deleted");
    assert.deepEqual(op, {
      kind: "delete",
      table: suppliersTable,
      id: SUPPLIER_ID,
      ts: "2026-02-16 09:30:00.000000",
      eventId: "3f1c2b7e-0000-4000-8000-000000000019",
    });
    assert.equal(suppliersTable.tombstones, true);
  });

  test("supplier_id in data must be entity_id (an event may not delete another entity); without it entity_id is the id", () => {
    assertBadField(
      () => handle(suppliers, "supplier.deleted", { supplier_id: OTHER_ID }),
      "data.supplier_id",
      /is not the event's entity_id/,
    );
    const same = handle(suppliers, "supplier.deleted", { supplier_id: OTHER_ID }, { entity_id: OTHER_ID }).op;
    assert.equal(asDelete(same).id, OTHER_ID);
    const fallback = handle(suppliers, "supplier.deleted", { supplier_id: undefined }, { entity_id: OTHER_ID }).op;
    assert.equal(asDelete(fallback).id, OTHER_ID);
  });

  test("a malformed supplier_id is a bad field", () => {
    assertBadField(() => handle(suppliers, "supplier.deleted", { supplier_id: 7 }), "data.supplier_id");
  });
});
