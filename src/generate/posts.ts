import {
  admit,
  clone,
  docTime,
  type Entity,
  type Generated,
  objectId,
  type PostDoc,
  type State,
  send,
} from "./state.ts";
import { linkPreview, media, postText } from "./text.ts";
import { createUser } from "./users.ts";

// Posts: written by a user (post.created), published later or at once (post.published), then
// engagement, text, media and link changes (post.updated).

/** A post of a random user; with no user yet, the user comes first. */
export function createPost(s: State): Generated {
  const { rnd } = s;
  if (s.users.length === 0) return createUser(s);
  const u = rnd.pick(s.users);
  const id = objectId(s);
  const type = rnd.pick(["text", "text", "image", "image", "video", "link", "poll"]);
  const doc: PostDoc = {
    id,
    post_type: type,
    author: {
      user_id: u.id,
      display_name: u.doc.profile.display_name,
      avatar: u.doc.profile.avatar,
      author_type: rnd.chance(0.1) ? "leader" : "user",
    },
    text_content: postText(rnd),
    media: type === "image" || type === "video" ? media(rnd, type) : [],
    link_preview: type === "link" || rnd.chance(0.05) ? linkPreview(rnd) : null,
    stats: { view_count: 0, like_count: 0, comment_count: 0, share_count: 0, save_count: 0, engagement_rate: 0 },
    deleted_at: null,
    published_at: rnd.chance(0.5) ? docTime(s) : null,
    created_at: docTime(s),
    updated_at: docTime(s),
  };
  return send(s, admit(s, "post", id, doc), "post.created", doc, true);
}

/** An unpublished post may get published; otherwise engagement (most often), text, link, media or author label. */
export function changePost(s: State, e: Entity<PostDoc>): Generated {
  const { rnd } = s;
  const d = clone(e.doc);
  d.updated_at = docTime(s);
  if (d.published_at == null && rnd.chance(0.4)) {
    d.published_at = d.updated_at;
    return send(s, e, "post.published", d, true);
  }
  const change = rnd.int(0, 9);
  if (change <= 4) engage(s, d);
  else if (change <= 6) d.text_content = postText(rnd);
  else if (change === 7) d.link_preview = d.link_preview ? null : linkPreview(rnd);
  else if (change === 8) d.media = d.media.length > 0 ? d.media.slice(1) : media(rnd, "image");
  // Upstream may re-label the author; the sink keeps the author_type the post was created with.
  else d.author.author_type = d.author.author_type === "user" ? "leader" : "user";
  return send(s, e, "post.updated", d, true);
}

/** More views, likes, shares, saves and comments, and the engagement rate they make. */
function engage(s: State, d: PostDoc): void {
  const { rnd } = s;
  const st = d.stats ?? {};
  st.view_count = (st.view_count ?? 0) + rnd.int(1, 1000);
  st.like_count = (st.like_count ?? 0) + rnd.int(0, 50);
  st.share_count = (st.share_count ?? 0) + rnd.int(0, 3);
  st.save_count = (st.save_count ?? 0) + rnd.int(0, 3);
  const comments = rnd.int(0, 5);
  st.comment_count = (st.comment_count ?? 0) + comments;
  if (comments > 0) st.last_comment_at = d.updated_at;
  st.engagement_rate = Math.round(((st.like_count + st.comment_count) / st.view_count) * 1e6) / 1e4;
  d.stats = st;
}
