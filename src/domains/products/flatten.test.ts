import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asDelete, assertBadField, asUpsert, handle } from "../../testing/domain-helpers.ts";
import { productRow, variantRows } from "../../testing/fixture-rows.ts";
import { fixture } from "../../testing/fixtures.ts";
import { products } from "./index.ts";
import { productsTable, variantsTable, variantUpdateColumns } from "./table.ts";

const PRODUCT_ID = "65a1f0c2e4b0a1b2c3d4e5f8";
const OTHER_ID = "0123456789abcdef01234567";

/** docs/events.md#what-each-event-does: every column but product_id, supplier_id, created_at replaced. */
const UPDATE_COLUMNS = [
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
  "updated_at",
  "event_id",
  "event_timestamp",
];

// The fixture's variants as MySQL returns them, with attributes_json as the text flatten hands over.
const [LARGE_BLUE_ROW, SMALL_WHITE_ROW] = variantRows;
const SMALL_WHITE = {
  ...SMALL_WHITE_ROW,
  attributes_json:
    '[{"attribute_name":"Size","attribute_value":"Small"},{"attribute_name":"Color","attribute_value":"White"}]',
};
const LARGE_BLUE = {
  ...LARGE_BLUE_ROW,
  attributes_json:
    '[{"attribute_name":"Size","attribute_value":"Large"},{"attribute_name":"Color","attribute_value":"Blue"}]',
};

const FULL_DOCUMENT_TYPES = [
  "product.created",
  "product.updated",
  "product.published",
  "product.discontinued",
  "product.out_of_stock",
  "product.restored",
];

describe("product full-document events", () => {
  test("product.created flattens to exactly the docs/events.md#documents-and-tables row plus one variant row per entry", () => {
    const { op, unknownEnums } = handle(products, "product.created");
    assert.deepEqual(op, {
      kind: "upsert",
      table: productsTable,
      id: PRODUCT_ID,
      ts: "2026-02-11 09:45:00.001000",
      eventId: "3f1c2b7e-0000-4000-8000-000000000005",
      update: UPDATE_COLUMNS,
      row: productRow,
      children: {
        table: variantsTable,
        rows: [SMALL_WHITE, LARGE_BLUE],
        mode: "replace",
        childKey: "variant_key",
        update: variantUpdateColumns,
      },
    });
    assert.deepEqual(unknownEnums, []);
  });

  test("rows have every column of their table, in the table's order", () => {
    const op = asUpsert(handle(products, "product.created").op);
    assert.deepEqual(Object.keys(op.row), [...productsTable.columns]);
    for (const row of op.children?.rows ?? []) assert.deepEqual(Object.keys(row), [...variantsTable.columns]);
  });

  test("each of the six full-document types is an upsert of products with replace-mode variants", () => {
    for (const type of FULL_DOCUMENT_TYPES) {
      const op = asUpsert(handle(products, type).op);
      assert.equal(op.table, productsTable, type);
      assert.equal(op.id, PRODUCT_ID, type);
      assert.deepEqual(op.update, UPDATE_COLUMNS, type);
      assert.equal(op.children?.mode, "replace", type);
      assert.equal(op.children?.table, variantsTable, type);
    }
  });

  test("product.published carries status and published_at", () => {
    const op = asUpsert(handle(products, "product.published").op);
    assert.equal(op.row.status, "active");
    assert.equal(op.row.published_at, "2026-02-11 10:00:00.000000");
    assert.equal(op.ts, "2026-02-11 10:00:00.001000");
  });

  test("an empty variants object gives no variant rows (the product's variants are all removed)", () => {
    const op = asUpsert(handle(products, "product.restored").op);
    assert.deepEqual(op.children?.rows, []);
    assert.equal(op.children?.mode, "replace");
    assert.equal(op.row.status, "draft");
  });

  test("stats absent → every count 0; stats partial → the rest 0", () => {
    const absent = asUpsert(handle(products, "product.created", { stats: undefined }).op);
    assert.deepEqual(
      [absent.row.view_count, absent.row.favorite_count, absent.row.purchase_count, absent.row.total_reviews],
      [0, 0, 0, 0],
    );
    const partial = asUpsert(handle(products, "product.created", { stats: { view_count: 7, total_reviews: 2 } }).op);
    assert.deepEqual(
      [partial.row.view_count, partial.row.favorite_count, partial.row.purchase_count, partial.row.total_reviews],
      [7, 0, 0, 2],
    );
  });

  test("optional fields absent become NULL; variant quantity absent becomes 0", () => {
    const op = asUpsert(
      handle(products, "product.created", {
        "supplier_info.name": undefined,
        short_description: null,
        "metadata.brand": undefined,
        "variants.small-white.quantity": undefined,
        "variants.small-white.cost_cents": undefined,
        "variants.small-white.image_url": undefined,
      }).op,
    );
    assert.equal(op.row.supplier_name, null);
    assert.equal(op.row.short_description, null);
    assert.equal(op.row.brand, null);
    const small = op.children?.rows.find((r) => r.variant_key === "small-white");
    assert.equal(small?.quantity, 0);
    assert.equal(small?.cost_cents, null);
    assert.equal(small?.image_url, null);
  });

  test("unknown enum values are applied as they are and recorded per field", () => {
    const { op, unknownEnums } = handle(products, "product.created", {
      category: "pets",
      unit_type: "dozen",
      status: "archived",
    });
    const row = asUpsert(op).row;
    assert.deepEqual([row.category, row.unit_type, row.status], ["pets", "dozen", "archived"]);
    assert.deepEqual(unknownEnums, [
      { field: "products.category", value: "pets" },
      { field: "products.unit_type", value: "dozen" },
      { field: "products.status", value: "archived" },
    ]);
  });

  test("every enum value of docs/events.md#documents-and-tables is known", () => {
    const { unknownEnums } = handle(products, "product.out_of_stock", { category: "other", unit_type: "ml" });
    assert.deepEqual(unknownEnums, []);
  });

  test("fields the service does not read are ignored", () => {
    const plain = handle(products, "product.created").op;
    const extra = handle(products, "product.created", {
      ratings_histogram: [1, 2, 3],
      "metadata.tags": ["mug"],
      "variants.small-white.barcode": "7290000000000",
      "supplier_info.country": "IL",
    }).op;
    assert.deepEqual(extra, plain);
  });
});

describe("bad product documents are BadEventErrors naming the field", () => {
  const created = (data: Record<string, unknown>) => () => handle(products, "product.created", data);

  test("name empty or longer than 200 characters", () => {
    assertBadField(created({ name: "" }), "data.name");
    assertBadField(created({ name: "n".repeat(201) }), "data.name");
  });

  test("an unknown category too long for its column is rejected, not applied", () => {
    assertBadField(created({ category: "c".repeat(51) }), "data.category");
  });

  test("negative or non-integer base_price_cents", () => {
    assertBadField(created({ base_price_cents: -1 }), "data.base_price_cents");
    assertBadField(created({ base_price_cents: 24.99 }), "data.base_price_cents", /integer/);
  });

  test("a stat that is not an integer", () => {
    assertBadField(created({ "stats.view_count": "many" }), "data.stats.view_count");
  });

  test("a variant field names the variant's key in the path", () => {
    assertBadField(created({ "variants.small-white.price_cents": 2 ** 31 }), "data.variants.small-white.price_cents");
    assertBadField(
      created({ "variants.large-blue.package_dimensions.width_cm": "11" }),
      "data.variants.large-blue.package_dimensions.width_cm",
    );
    assertBadField(
      created({ "variants.large-blue.variant_id": "v".repeat(101) }),
      "data.variants.large-blue.variant_id",
    );
  });

  test("a variant key that reads as a path into a prototype names the field, and throws nothing else", () => {
    const doc = fixture("product.created").value.data as { variants: Record<string, Record<string, unknown>> };
    const variant = { ...doc.variants["large-blue"], variant_name: "x".repeat(201) };
    for (const key of ["constructor/caller", "toString/arguments"]) {
      assertBadField(
        created({ variants: { [key]: variant } }),
        `data.variants.${key.replace("/", ".")}.variant_name`,
        /must not have more than 200 characters$/,
      );
    }
  });

  test("a malformed supplier_id", () => {
    assertBadField(created({ supplier_id: "cedar" }), "data.supplier_id");
  });

  test("unparseable published_at", () => {
    assertBadField(created({ published_at: "soon" }), "data.published_at");
  });
});

describe("product.deleted", () => {
  test("hard delete of the product named in data", () => {
    const { op } = handle(products, "product.deleted");
    assert.deepEqual(op, {
      kind: "delete",
      table: productsTable,
      id: PRODUCT_ID,
      ts: "2026-02-14 10:00:00.001000",
      eventId: "3f1c2b7e-0000-4000-8000-000000000010",
    });
    assert.equal(productsTable.tombstones, true);
  });

  test("without product_id in data the envelope's entity_id is the id", () => {
    const op = handle(products, "product.deleted", { product_id: undefined }, { entity_id: OTHER_ID }).op;
    assert.equal(asDelete(op).id, OTHER_ID);
  });
});

describe("variant keys", () => {
  // TypeBox does not enforce length limits on record keys; the flatten step does.
  const variant = (fixture("product.created").value.data as { variants: Record<string, unknown> }).variants[
    "small-white"
  ];
  test("a key longer than variant_key's 200 characters is a bad field, not a database error", () => {
    assertBadField(
      () => handle(products, "product.created", { variants: { ["k".repeat(201)]: variant } }),
      "data.variants",
    );
  });
  test("an empty key is a bad field", () => {
    assertBadField(() => handle(products, "product.created", { variants: { "": variant } }), "data.variants");
  });
  test("a repeated variant_id is named before a bad key, and a bad key before a bad value of an earlier variant", () => {
    let nested: unknown = [];
    for (let i = 0; i < 40; i++) nested = [nested];
    const tooDeep = {
      ...(variant as object),
      variant_id: "deep",
      attributes: [{ attribute_name: "a", attribute_value: "b", x: nested }],
    };
    const flatten = (variants: Record<string, unknown>) => handle(products, "product.created", { variants });
    assertBadField(() => flatten({ first: tooDeep }), "data.variants.first.attributes", /nested deeper/);
    assertBadField(() => flatten({ first: tooDeep, "": variant }), "data.variants", /empty or longer than 200/);
    assertBadField(
      () => flatten({ first: tooDeep, "": variant, again: variant }),
      "data.variants.again.variant_id",
      /repeats/,
    );
  });
  test("a key of exactly 200 characters (an emoji counts as one) is accepted", () => {
    const key = "🌿".repeat(200);
    const op = asUpsert(handle(products, "product.created", { variants: { [key]: variant } }).op);
    assert.equal(op.children?.rows[0]?.variant_key, key);
  });
});
