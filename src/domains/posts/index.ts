import { softDelete } from "../common.ts";
import type { Domain } from "../domain.ts";
import { flattenPost } from "./flatten.ts";
import { postsTable } from "./table.ts";

export const posts: Domain = {
  topic: "post",
  tables: [postsTable],
  events: {
    "post.created": flattenPost,
    "post.updated": flattenPost,
    "post.published": flattenPost,
    "post.deleted": softDelete(postsTable, "post_id"),
  },
};
