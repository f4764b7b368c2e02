import type { ParsedEvent } from "../../decode/envelope.ts";
import { datetime, jsonText, maybeDatetime } from "../../decode/schema-kit.ts";
import type { UpsertOp } from "../../plan/ops.ts";
import { versionColumns } from "../common.ts";
import { checkEnum, type FlattenLimits, type UnknownEnumValue } from "../domain.ts";
import { AUTHOR_TYPES, POST_TYPES, postDocument } from "./schema.ts";
import { postsTable, postUpdateColumns } from "./table.ts";

export function flattenPost(e: ParsedEvent, unknownEnums: UnknownEnumValue[], limits: FlattenLimits): UpsertOp {
  const d = postDocument.parse(e.data, "data");
  const stats = d.stats ?? {};
  const link = d.link_preview ?? null;
  return {
    kind: "upsert",
    table: postsTable,
    id: e.entityId,
    ts: e.ts,
    eventId: e.eventId,
    update: postUpdateColumns,
    row: {
      post_id: e.entityId,
      post_type: checkEnum(d.post_type, POST_TYPES, "posts.post_type", unknownEnums),
      author_user_id: d.author.user_id,
      author_display_name: d.author.display_name,
      author_avatar: d.author.avatar ?? null,
      author_type: checkEnum(d.author.author_type, AUTHOR_TYPES, "posts.author_type", unknownEnums),
      text_content: d.text_content,
      media_json: d.media.length > 0 ? jsonText(d.media, "data.media", limits.maxJsonDepth, e.numberSources) : null,
      link_url: link?.url ?? null,
      link_title: link?.title ?? null,
      link_description: link?.description ?? null,
      link_image: link?.image ?? null,
      link_site_name: link?.site_name ?? null,
      view_count: stats.view_count ?? 0,
      like_count: stats.like_count ?? 0,
      comment_count: stats.comment_count ?? 0,
      share_count: stats.share_count ?? 0,
      save_count: stats.save_count ?? 0,
      engagement_rate: stats.engagement_rate ?? 0,
      last_comment_at: maybeDatetime(stats.last_comment_at, "data.stats.last_comment_at"),
      deleted_at: maybeDatetime(d.deleted_at, "data.deleted_at"),
      published_at: maybeDatetime(d.published_at, "data.published_at"),
      created_at: datetime(d.created_at, "data.created_at"),
      updated_at: datetime(d.updated_at, "data.updated_at"),
      ...versionColumns(e),
    },
  };
}
