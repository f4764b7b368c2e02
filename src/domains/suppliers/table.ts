import { allBut, defineTable } from "../../plan/ops.ts";

export const suppliersTable = defineTable(
  "suppliers",
  "supplier_id",
  [
    "supplier_id",
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
    "created_at",
    "updated_at",
    "event_id",
    "event_timestamp",
  ],
  { tombstones: true },
);

/** docs/events.md#what-each-event-does: every column but supplier_id, created_at replaced. */
export const supplierUpdateColumns = allBut(suppliersTable.columns, ["supplier_id", "created_at"]);
