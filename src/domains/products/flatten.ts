import type { ParsedEvent } from "../../decode/envelope.ts";
import { charCount, datetime, jsonText, maybeDatetime } from "../../decode/schema-kit.ts";
import { BadEventError, BadEventReasons } from "../../errors.ts";
import type { Row, UpsertOp } from "../../plan/ops.ts";
import { versionColumns } from "../common.ts";
import { checkEnum, type FlattenLimits, rejectDuplicate, type UnknownEnumValue } from "../domain.ts";
import { CATEGORIES, PRODUCT_STATUSES, productDocument, UNIT_TYPES } from "./schema.ts";
import { productsTable, productUpdateColumns, variantsTable, variantUpdateColumns } from "./table.ts";

// TypeBox drops length limits on record keys, so the variant key (variant_key VARCHAR(200)) is checked here.
function checkVariantKey(key: string): void {
  const length = charCount(key);
  if (length === 0 || length > 200) {
    throw new BadEventError(
      BadEventReasons.BAD_FIELD,
      "data.variants has a key that is empty or longer than 200 characters",
    );
  }
}

/** Product plus exactly its variants (an empty `variants` object removes them all). */
export function flattenProduct(e: ParsedEvent, unknownEnums: UnknownEnumValue[], limits: FlattenLimits): UpsertOp {
  const d = productDocument.parse(e.data, "data");
  const stats = d.stats ?? {};
  const entries = Object.entries(d.variants);
  rejectDuplicate(
    entries.map(([, v]) => v.variant_id),
    (i) => `data.variants.${entries[i]?.[0]}.variant_id`,
  );
  // Every key is checked before any variant is flattened: a bad key is named before a bad value.
  for (const [key] of entries) checkVariantKey(key);
  const variants: Row[] = entries.map(([key, v]) => ({
    product_id: e.entityId,
    variant_key: key,
    variant_id: v.variant_id,
    variant_name: v.variant_name,
    attributes_json: jsonText(v.attributes, `data.variants.${key}.attributes`, limits.maxJsonDepth, e.numberSources),
    price_cents: v.price_cents,
    cost_cents: v.cost_cents ?? null,
    quantity: v.quantity ?? 0,
    width_cm: v.package_dimensions.width_cm,
    height_cm: v.package_dimensions.height_cm,
    depth_cm: v.package_dimensions.depth_cm,
    image_url: v.image_url ?? null,
  }));
  return {
    kind: "upsert",
    table: productsTable,
    id: e.entityId,
    ts: e.ts,
    eventId: e.eventId,
    update: productUpdateColumns,
    row: {
      product_id: e.entityId,
      supplier_id: d.supplier_id,
      supplier_name: d.supplier_info.name ?? null,
      name: d.name,
      short_description: d.short_description ?? null,
      category: checkEnum(d.category, CATEGORIES, "products.category", unknownEnums),
      unit_type: checkEnum(d.unit_type, UNIT_TYPES, "products.unit_type", unknownEnums),
      base_sku: d.metadata.base_sku,
      brand: d.metadata.brand ?? null,
      base_price_cents: d.base_price_cents,
      status: checkEnum(d.status, PRODUCT_STATUSES, "products.status", unknownEnums),
      view_count: stats.view_count ?? 0,
      favorite_count: stats.favorite_count ?? 0,
      purchase_count: stats.purchase_count ?? 0,
      total_reviews: stats.total_reviews ?? 0,
      published_at: maybeDatetime(d.published_at, "data.published_at"),
      created_at: datetime(d.created_at, "data.created_at"),
      updated_at: datetime(d.updated_at, "data.updated_at"),
      ...versionColumns(e),
    },
    children: {
      table: variantsTable,
      rows: variants,
      mode: "replace",
      childKey: "variant_key",
      update: variantUpdateColumns,
    },
  };
}
