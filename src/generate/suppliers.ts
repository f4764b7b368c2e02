import {
  admit,
  clone,
  docTime,
  type Entity,
  type Generated,
  loose,
  objectId,
  type State,
  type SupplierDoc,
  send,
} from "./state.ts";
import { address, banking, COMPANY, COMPANY_SUFFIX, personName, phone, TIMEZONES, TITLES } from "./text.ts";

// Suppliers: onboarding (supplier.created) and changes of contact, company or banking details
// (supplier.updated). Banking details are among what the sink must never store.

export function createSupplier(s: State): Generated {
  const { rnd } = s;
  const id = objectId(s);
  const legal = `${rnd.pick(COMPANY)} ${rnd.pick(COMPANY_SUFFIX)}`;
  const site = `${rnd.hex(6)}.example`;
  const maybe = <V>(p: number, v: () => V) => (rnd.chance(p) ? v() : null);
  const doc: SupplierDoc = {
    id,
    password_hash: `$2b$12$${rnd.hex(53)}`,
    contact_info: loose({
      primary_email: `ops@${site}`,
      additional_emails: [],
      primary_phone: phone(rnd),
      contact_person_name: maybe(0.8, () => personName(rnd)),
      contact_person_title: maybe(0.6, () => rnd.pick(TITLES)),
      contact_person_email: maybe(0.6, () => `contact@${site}`),
      contact_person_phone: maybe(0.3, () => phone(rnd)),
    }),
    company_info: loose({
      legal_name: legal,
      dba_name: maybe(0.5, () => legal.split(" ")[0] ?? legal),
      business_address: address(rnd),
      shipping_address: null,
    }),
    business_info: {
      facebook_url: maybe(0.3, () => `https://facebook.com/${rnd.hex(8)}`),
      instagram_handle: maybe(0.5, () => `shop_${rnd.hex(6)}`),
      twitter_handle: maybe(0.2, () => `@${rnd.hex(6)}`),
      linkedin_url: maybe(0.3, () => `https://www.linkedin.com/company/${rnd.hex(8)}`),
      timezone: maybe(0.8, () => rnd.pick(TIMEZONES)),
      support_email: maybe(0.6, () => `help@${site}`),
      support_phone: maybe(0.4, () => phone(rnd)),
    },
    banking_info: maybe(0.8, () => banking(rnd, legal)),
    product_ids: [],
    created_at: docTime(s),
    updated_at: docTime(s),
  };
  return send(s, admit(s, "supplier", id, doc), "supplier.created", doc, true);
}

export function updateSupplier(s: State, e: Entity<SupplierDoc>): Generated {
  const { rnd } = s;
  const d = clone(e.doc);
  const change = rnd.int(0, 4);
  if (change === 0) d.contact_info.contact_person_name = rnd.chance(0.8) ? personName(rnd) : null;
  else if (change === 1) d.company_info.dba_name = rnd.chance(0.5) ? rnd.pick(COMPANY) : null;
  else if (change === 2) d.business_info.support_phone = phone(rnd);
  else if (change === 3) d.banking_info = banking(rnd, d.company_info.legal_name);
  else d.company_info.business_address = address(rnd);
  d.updated_at = docTime(s);
  return send(s, e, "supplier.updated", d, true);
}
