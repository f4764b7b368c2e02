import { hardDelete } from "../common.ts";
import type { Domain } from "../domain.ts";
import { flattenSupplier } from "./flatten.ts";
import { suppliersTable } from "./table.ts";

export const suppliers: Domain = {
  topic: "supplier",
  tables: [suppliersTable],
  events: {
    "supplier.created": flattenSupplier,
    "supplier.updated": flattenSupplier,
    "supplier.deleted": hardDelete(suppliersTable, "supplier_id"),
  },
};
