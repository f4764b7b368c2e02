import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { asPatch, assertBadField, asUpsert, handle } from "../../testing/domain-helpers.ts";
import { postRow } from "../../testing/fixture-rows.ts";
import { posts } from "./index.ts";
import { postsTable } from "./table.ts";

const POST_ID = "65a1f0c2e4b0a1b2c3d4e5fa";
const OTHER_ID = "0123456789abcdef01234567";

/** docs/events.md#what-each-event-does: every column but post_id, author_user_id, author_type, created_at replaced. */
const UPDATE_COLUMNS = [
  "post_type",
  "author_display_name",
  "author_avatar",
  "text_content",
  "media_json",
  "link_url",
  "link_title",
  "link_description",
  "link_image",
  "link_site_name",
  "view_count",
  "like_count",
  "comment_count",
  "share_count",
  "save_count",
  "engagement_rate",
  "last_comment_at",
  "deleted_at",
  "published_at",
  "updated_at",
  "event_id",
  "event_timestamp",
];

const MEDIA_JSON =
  '[{"media_type":"image","media_url":"https://cdn.example.com/p/1.jpg","thumbnail_url":null,' +
  '"width":1080,"height":1350,"duration_seconds":null,"size_bytes":284113}]';

describe("post.created / post.updated / post.published", () => {
  test("post.created flattens to exactly the docs/events.md#documents-and-tables row", () => {
    const { op, unknownEnums } = handle(posts, "post.created");
    assert.deepEqual(op, {
      kind: "upsert",
      table: postsTable,
      id: POST_ID,
      ts: "2026-02-11 12:00:00.000300",
      eventId: "3f1c2b7e-0000-4000-8000-000000000014",
      update: UPDATE_COLUMNS,
      row: { ...postRow, media_json: MEDIA_JSON },
    });
    assert.deepEqual(unknownEnums, []);
  });

  test("the row has every column of the table, in the table's order", () => {
    const op = asUpsert(handle(posts, "post.created").op);
    assert.deepEqual(Object.keys(op.row), [...postsTable.columns]);
  });

  test("post.updated: link preview, stats and last_comment_at", () => {
    const op = asUpsert(handle(posts, "post.updated").op);
    assert.deepEqual(
      {
        text_content: op.row.text_content,
        link_url: op.row.link_url,
        link_title: op.row.link_title,
        link_description: op.row.link_description,
        link_image: op.row.link_image,
        link_site_name: op.row.link_site_name,
        like_count: op.row.like_count,
        engagement_rate: op.row.engagement_rate,
        last_comment_at: op.row.last_comment_at,
        published_at: op.row.published_at,
      },
      {
        text_content: "New glaze test, round two",
        link_url: "https://blog.example.com/glaze",
        link_title: "Glaze notes",
        link_description: null,
        link_image: null,
        link_site_name: "Example Blog",
        like_count: 12,
        engagement_rate: 3.75,
        last_comment_at: "2026-02-11 13:01:02.345678",
        published_at: "2026-02-11 12:05:00.000000",
      },
    );
  });

  test("post.published is an upsert with published_at set", () => {
    const op = asUpsert(handle(posts, "post.published").op);
    assert.equal(op.table, postsTable);
    assert.equal(op.row.published_at, "2026-02-11 12:05:00.000000");
    assert.deepEqual(op.update, UPDATE_COLUMNS);
  });

  test("media_json is the media array as JSON, NULL when it is empty", () => {
    const op = asUpsert(handle(posts, "post.created").op);
    assert.deepEqual(JSON.parse(String(op.row.media_json)), postRow.media_json);
    assert.equal(asUpsert(handle(posts, "post.created", { media: [] }).op).row.media_json, null);
  });

  test("a media item carrying a password_hash or banking_info, at any depth, is stored without them", () => {
    const media = [
      {
        media_type: "image",
        media_url: "https://cdn.example.com/p.jpg",
        password_hash: "$2b$12$SECRET",
        uploaded_by: { user_id: OTHER_ID, banking_info: { account_number_last4: "9876" } },
      },
    ];
    const text = String(asUpsert(handle(posts, "post.created", { media }).op).row.media_json);
    assert.doesNotMatch(text, /SECRET|9876/);
    assert.deepEqual(JSON.parse(text), [
      { media_type: "image", media_url: "https://cdn.example.com/p.jpg", uploaded_by: { user_id: OTHER_ID } },
    ]);
  });

  test("every link_* column is NULL without a preview, absent or null", () => {
    for (const preview of [undefined, null]) {
      const row = asUpsert(handle(posts, "post.updated", { link_preview: preview }).op).row;
      assert.deepEqual(
        [row.link_url, row.link_title, row.link_description, row.link_image, row.link_site_name],
        [null, null, null, null, null],
      );
    }
  });

  test("stats absent → every count and engagement_rate 0", () => {
    const row = asUpsert(handle(posts, "post.updated", { stats: undefined }).op).row;
    assert.deepEqual(
      [
        row.view_count,
        row.like_count,
        row.comment_count,
        row.share_count,
        row.save_count,
        row.engagement_rate,
        row.last_comment_at,
      ],
      [0, 0, 0, 0, 0, 0, null],
    );
  });

  test("author avatar absent → NULL", () => {
    assert.equal(asUpsert(handle(posts, "post.created", { "author.avatar": undefined }).op).row.author_avatar, null);
  });

  test("unknown post_type and author_type are applied as they are and recorded", () => {
    const { op, unknownEnums } = handle(posts, "post.created", { post_type: "story", "author.author_type": "brand" });
    const row = asUpsert(op).row;
    assert.deepEqual([row.post_type, row.author_type], ["story", "brand"]);
    assert.deepEqual(unknownEnums, [
      { field: "posts.post_type", value: "story" },
      { field: "posts.author_type", value: "brand" },
    ]);
  });

  test("fields the service does not read are ignored", () => {
    const plain = handle(posts, "post.created").op;
    const extra = handle(posts, "post.created", {
      hashtags: ["glaze"],
      "author.follower_count": 10,
      "stats.impressions": 99,
    }).op;
    assert.deepEqual(extra, plain);
  });
});

describe("bad post documents are BadEventErrors naming the field", () => {
  const created = (data: Record<string, unknown>) => () => handle(posts, "post.created", data);

  test("text_content longer than 5000 characters", () => {
    assertBadField(created({ text_content: "t".repeat(5001) }), "data.text_content");
  });

  test("link title longer than 200 characters", () => {
    assertBadField(
      created({ link_preview: { url: "https://x.example", title: "T".repeat(201) } }),
      "data.link_preview.title",
    );
  });

  test("a count that is not an integer", () => {
    assertBadField(created({ "stats.like_count": 1.5 }), "data.stats.like_count", /integer/);
  });

  test("engagement_rate that is not a number", () => {
    assertBadField(created({ "stats.engagement_rate": "high" }), "data.stats.engagement_rate");
  });

  test("media that is not an array", () => {
    assertBadField(created({ media: { media_type: "image" } }), "data.media");
  });

  test("a malformed author user_id", () => {
    assertBadField(created({ "author.user_id": "noa" }), "data.author.user_id");
  });

  test("unparseable last_comment_at", () => {
    assertBadField(created({ "stats.last_comment_at": "a while ago" }), "data.stats.last_comment_at");
  });
});

describe("post.deleted", () => {
  test("soft delete: a patch of deleted_at ← the event's timestamp plus the envelope columns", () => {
    const { op } = handle(posts, "post.deleted");
    assert.deepEqual(op, {
      kind: "patch",
      table: postsTable,
      id: POST_ID,
      ts: "2026-02-11 14:00:00.000300",
      eventId: "3f1c2b7e-0000-4000-8000-000000000017",
      set: {
        deleted_at: "2026-02-11 14:00:00.000300",
        event_id: "3f1c2b7e-0000-4000-8000-000000000017",
        event_timestamp: "2026-02-11 14:00:00.000300",
      },
    });
  });

  test("without post_id in data the envelope's entity_id is the id", () => {
    const op = asPatch(handle(posts, "post.deleted", { post_id: undefined }, { entity_id: OTHER_ID }).op);
    assert.equal(op.id, OTHER_ID);
  });
});
