import { hardDelete } from "../common.ts";
import type { Domain } from "../domain.ts";
import { flattenProduct } from "./flatten.ts";
import { productsTable, variantsTable } from "./table.ts";

export const products: Domain = {
  topic: "product",
  tables: [productsTable, variantsTable],
  events: {
    "product.created": flattenProduct,
    "product.updated": flattenProduct,
    "product.published": flattenProduct,
    "product.discontinued": flattenProduct,
    "product.out_of_stock": flattenProduct,
    "product.restored": flattenProduct,
    "product.deleted": hardDelete(productsTable, "product_id"),
  },
};
