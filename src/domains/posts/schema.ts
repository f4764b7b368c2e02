import {
  compile,
  Defaulted,
  Int,
  Maybe,
  Num,
  ObjectId,
  type Static,
  Str,
  Text,
  Timestamp,
  Type,
} from "../../decode/schema-kit.ts";

export const POST_TYPES = ["text", "image", "video", "link", "poll"] as const;
export const AUTHOR_TYPES = ["user", "leader"] as const;

export const Media = Type.Object({
  media_type: Type.String(),
  media_url: Type.String(),
  thumbnail_url: Maybe(Type.String()),
  width: Maybe(Num()),
  height: Maybe(Num()),
  duration_seconds: Maybe(Num()),
  size_bytes: Maybe(Num()),
});

// docs/events.md#documents-and-tables Post.
export const PostDocument = Type.Object({
  post_type: Str(20),
  author: Type.Object({
    user_id: ObjectId(),
    display_name: Str(200),
    avatar: Maybe(Text()),
    author_type: Str(20),
  }),
  text_content: Str(5000),
  media: Type.Array(Media),
  link_preview: Maybe(
    Type.Object({
      url: Text(),
      title: Str(200),
      description: Maybe(Str(500)),
      image: Maybe(Text()),
      site_name: Maybe(Str(200)),
    }),
  ),
  stats: Defaulted(
    Type.Object({
      view_count: Defaulted(Int()),
      like_count: Defaulted(Int()),
      comment_count: Defaulted(Int()),
      share_count: Defaulted(Int()),
      save_count: Defaulted(Int()),
      engagement_rate: Defaulted(Num()),
      last_comment_at: Maybe(Timestamp()),
    }),
  ),
  deleted_at: Maybe(Timestamp()),
  published_at: Maybe(Timestamp()),
  created_at: Timestamp(),
  updated_at: Timestamp(),
});
export type PostDocument = Static<typeof PostDocument>;
export const postDocument = compile(PostDocument);
