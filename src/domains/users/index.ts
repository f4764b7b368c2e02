import { softDelete } from "../common.ts";
import type { Domain } from "../domain.ts";
import { flattenUser } from "./flatten.ts";
import { usersTable } from "./table.ts";

export const users: Domain = {
  topic: "user",
  tables: [usersTable],
  events: {
    "user.created": flattenUser,
    "user.updated": flattenUser,
    "user.deleted": softDelete(usersTable, "user_id"),
  },
};
