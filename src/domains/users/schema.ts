import { compile, Defaulted, Int, Maybe, type Static, Str, Text, Timestamp, Type } from "../../decode/schema-kit.ts";

// docs/events.md#documents-and-tables User: only the fields that are read. password_hash is never read, so never stored.
export const UserDocument = Type.Object({
  contact_info: Type.Object({
    primary_email: Str(255),
    phone: Maybe(Str(50)),
  }),
  profile: Type.Object({
    display_name: Str(100, 1),
    avatar: Maybe(Text()),
    bio: Maybe(Str(500)),
  }),
  version: Defaulted(Int(1)),
  deleted_at: Maybe(Timestamp()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
});
export type UserDocument = Static<typeof UserDocument>;

export const userDocument = compile(UserDocument);
