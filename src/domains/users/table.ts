import { allBut, defineTable } from "../../plan/ops.ts";

export const usersTable = defineTable("users", "user_id", [
  "user_id",
  "email",
  "phone",
  "display_name",
  "avatar",
  "bio",
  "version",
  "deleted_at",
  "created_at",
  "updated_at",
  "event_id",
  "event_timestamp",
]);

/** docs/events.md#what-each-event-does: on an existing row every column but user_id, created_at is replaced. */
export const userUpdateColumns = allBut(usersTable.columns, ["user_id", "created_at"]);
