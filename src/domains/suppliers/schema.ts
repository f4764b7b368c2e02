import { compile, Maybe, type Static, Str, Text, Timestamp, Type } from "../../decode/schema-kit.ts";

const Address = Type.Object({
  street_address_1: Str(200),
  street_address_2: Maybe(Str(200)),
  city: Str(100),
  state: Str(100),
  zip_code: Str(20),
  country: Str(2, 2),
});

// docs/events.md#documents-and-tables Supplier. banking_info and password_hash are never read, so never stored.
export const SupplierDocument = Type.Object({
  contact_info: Type.Object({
    primary_email: Str(255),
    primary_phone: Str(50),
    contact_person_name: Maybe(Str(200)),
    contact_person_title: Maybe(Str(200)),
    contact_person_email: Maybe(Str(255)),
    contact_person_phone: Maybe(Str(50)),
  }),
  company_info: Type.Object({
    legal_name: Str(200, 2),
    dba_name: Maybe(Str(200)),
    business_address: Address,
  }),
  business_info: Type.Object({
    facebook_url: Maybe(Text()),
    instagram_handle: Maybe(Str(100)),
    twitter_handle: Maybe(Str(100)),
    linkedin_url: Maybe(Text()),
    timezone: Maybe(Str(50)),
    support_email: Maybe(Str(255)),
    support_phone: Maybe(Str(50)),
  }),
  created_at: Timestamp(),
  updated_at: Timestamp(),
});
export type SupplierDocument = Static<typeof SupplierDocument>;

export const supplierDocument = compile(SupplierDocument);
