import { allBut, defineTable } from "../../plan/ops.ts";

export const productsTable = defineTable(
  "products",
  "product_id",
  [
    "product_id",
    "supplier_id",
    "supplier_name",
    "name",
    "short_description",
    "category",
    "unit_type",
    "base_sku",
    "brand",
    "base_price_cents",
    "status",
    "view_count",
    "favorite_count",
    "purchase_count",
    "total_reviews",
    "published_at",
    "created_at",
    "updated_at",
    "event_id",
    "event_timestamp",
  ],
  { tombstones: true, exact: ["supplier_id"] },
);

export const variantsTable = defineTable(
  "product_variants",
  "product_id",
  [
    "product_id",
    "variant_key",
    "variant_id",
    "variant_name",
    "attributes_json",
    "price_cents",
    "cost_cents",
    "quantity",
    "width_cm",
    "height_cm",
    "depth_cm",
    "image_url",
  ],
  { rowId: "id", json: ["attributes_json"], exact: ["variant_key"] },
);

/** A variant row kept across product events is updated in place (its surrogate id stays). */
export const variantUpdateColumns = allBut(variantsTable.columns, ["product_id", "variant_key"]);

/** docs/events.md#what-each-event-does: every column but product_id, supplier_id, created_at replaced. */
export const productUpdateColumns = allBut(productsTable.columns, ["product_id", "supplier_id", "created_at"]);
