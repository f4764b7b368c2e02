import {
  compile,
  Defaulted,
  Int,
  Maybe,
  Num,
  ObjectId,
  type Static,
  Str,
  StringMap,
  Text,
  Timestamp,
  Type,
} from "../../decode/schema-kit.ts";

export const CATEGORIES = [
  "electronics",
  "fashion",
  "beauty",
  "home_garden",
  "sports_outdoors",
  "food_beverage",
  "health_wellness",
  "toys_games",
  "books_media",
  "automotive",
  "other",
] as const;
export const UNIT_TYPES = [
  "piece",
  "pair",
  "set",
  "box",
  "pack",
  "bundle",
  "kg",
  "gram",
  "liter",
  "ml",
  "meter",
  "other",
] as const;
export const PRODUCT_STATUSES = ["draft", "active", "out_of_stock", "discontinued", "deleted"] as const;

export const Variant = Type.Object({
  variant_id: Str(100),
  variant_name: Str(200),
  attributes: Type.Array(Type.Object({ attribute_name: Type.String(), attribute_value: Type.String() })),
  price_cents: Int(),
  cost_cents: Maybe(Int()),
  quantity: Defaulted(Int()),
  package_dimensions: Type.Object({ width_cm: Num(), height_cm: Num(), depth_cm: Num() }),
  image_url: Maybe(Text()),
});

// docs/events.md#documents-and-tables Product. Enumerations are plain strings here: a value added upstream later is
// applied as is when it fits the column, and counted (see flatten.ts).
export const ProductDocument = Type.Object({
  supplier_id: ObjectId(),
  supplier_info: Type.Object({ name: Maybe(Str(200)) }),
  name: Str(200, 1),
  short_description: Maybe(Str(500)),
  category: Str(50),
  unit_type: Str(20),
  metadata: Type.Object({ base_sku: Str(100), brand: Maybe(Str(100)) }),
  base_price_cents: Int(0),
  stats: Defaulted(
    Type.Object({
      view_count: Defaulted(Int()),
      favorite_count: Defaulted(Int()),
      purchase_count: Defaulted(Int()),
      total_reviews: Defaulted(Int()),
    }),
  ),
  status: Str(20),
  published_at: Maybe(Timestamp()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
  // Key limits here would be counted and then ignored (TypeBox does not apply them to record
  // keys): the flatten step checks variant_key's 1–200 characters.
  variants: StringMap(Variant),
});
export type ProductDocument = Static<typeof ProductDocument>;

export const productDocument = compile(ProductDocument);
