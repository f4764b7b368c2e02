import type { ParsedEvent } from "../../decode/envelope.ts";
import { datetime, maybeDatetime } from "../../decode/schema-kit.ts";
import type { UpsertOp } from "../../plan/ops.ts";
import { versionColumns } from "../common.ts";
import { userDocument } from "./schema.ts";
import { usersTable, userUpdateColumns } from "./table.ts";

export function flattenUser(e: ParsedEvent): UpsertOp {
  const d = userDocument.parse(e.data, "data");
  return {
    kind: "upsert",
    table: usersTable,
    id: e.entityId,
    ts: e.ts,
    eventId: e.eventId,
    update: userUpdateColumns,
    row: {
      user_id: e.entityId,
      email: d.contact_info.primary_email,
      phone: d.contact_info.phone ?? null,
      display_name: d.profile.display_name,
      avatar: d.profile.avatar ?? null,
      bio: d.profile.bio ?? null,
      version: d.version ?? 1,
      deleted_at: maybeDatetime(d.deleted_at, "data.deleted_at"),
      created_at: datetime(d.created_at, "data.created_at"),
      updated_at: datetime(d.updated_at, "data.updated_at"),
      ...versionColumns(e),
    },
  };
}
