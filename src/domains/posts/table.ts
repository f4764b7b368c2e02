import { allBut, defineTable } from "../../plan/ops.ts";

export const postsTable = defineTable(
  "posts",
  "post_id",
  [
    "post_id",
    "post_type",
    "author_user_id",
    "author_display_name",
    "author_avatar",
    "author_type",
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
    "created_at",
    "updated_at",
    "event_id",
    "event_timestamp",
  ],
  { json: ["media_json"], exact: ["author_user_id"] },
);

/** docs/events.md#what-each-event-does: every column but post_id, author_user_id, author_type, created_at replaced. */
export const postUpdateColumns = allBut(postsTable.columns, ["post_id", "author_user_id", "author_type", "created_at"]);
