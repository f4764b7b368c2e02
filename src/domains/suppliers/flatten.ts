import type { ParsedEvent } from "../../decode/envelope.ts";
import { datetime } from "../../decode/schema-kit.ts";
import type { UpsertOp } from "../../plan/ops.ts";
import { versionColumns } from "../common.ts";
import { supplierDocument } from "./schema.ts";
import { suppliersTable, supplierUpdateColumns } from "./table.ts";

export function flattenSupplier(e: ParsedEvent): UpsertOp {
  const d = supplierDocument.parse(e.data, "data");
  const contact = d.contact_info;
  const address = d.company_info.business_address;
  const business = d.business_info;
  return {
    kind: "upsert",
    table: suppliersTable,
    id: e.entityId,
    ts: e.ts,
    eventId: e.eventId,
    update: supplierUpdateColumns,
    row: {
      supplier_id: e.entityId,
      email: contact.primary_email,
      primary_phone: contact.primary_phone,
      contact_person_name: contact.contact_person_name ?? null,
      contact_person_title: contact.contact_person_title ?? null,
      contact_person_email: contact.contact_person_email ?? null,
      contact_person_phone: contact.contact_person_phone ?? null,
      legal_name: d.company_info.legal_name,
      dba_name: d.company_info.dba_name ?? null,
      street_address_1: address.street_address_1,
      street_address_2: address.street_address_2 ?? null,
      city: address.city,
      state: address.state,
      zip_code: address.zip_code,
      country: address.country,
      support_email: business.support_email ?? null,
      support_phone: business.support_phone ?? null,
      facebook_url: business.facebook_url ?? null,
      instagram_handle: business.instagram_handle ?? null,
      twitter_handle: business.twitter_handle ?? null,
      linkedin_url: business.linkedin_url ?? null,
      timezone: business.timezone ?? null,
      created_at: datetime(d.created_at, "data.created_at"),
      updated_at: datetime(d.updated_at, "data.updated_at"),
      ...versionColumns(e),
    },
  };
}
