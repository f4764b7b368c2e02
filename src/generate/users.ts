import {
  admit,
  clone,
  docTime,
  type Entity,
  type Generated,
  loose,
  objectId,
  type State,
  send,
  type UserDoc,
} from "./state.ts";
import { BIOS, email, personName, phone, withEmoji } from "./text.ts";

// Users: sign-up (user.created) and profile or contact changes (user.updated), each a full
// document with the secrets the sink must never store (password_hash).

export function createUser(s: State): Generated {
  const { rnd } = s;
  const id = objectId(s);
  const name = personName(rnd);
  const doc: UserDoc = {
    id,
    password_hash: `$2b$12$${rnd.hex(53)}`,
    contact_info: loose({
      primary_email: email(rnd, name),
      additional_emails: [],
      phone: rnd.chance(0.7) ? phone(rnd) : null,
    }),
    profile: loose({
      display_name: withEmoji(rnd, name),
      avatar: rnd.chance(0.5)
        ? "https://cdn.example.com/avatars/default.jpg"
        : `https://cdn.example.com/a/${rnd.hex(12)}.jpg`,
      bio: rnd.chance(0.6) ? rnd.pick(BIOS) : null,
      date_of_birth: rnd.chance(0.5) ? `19${rnd.int(60, 99)}-0${rnd.int(1, 9)}-1${rnd.int(0, 9)}` : null,
    }),
    deleted_at: null,
    version: 1,
    created_at: docTime(s),
    updated_at: docTime(s),
  };
  return send(s, admit(s, "user", id, doc), "user.created", doc, true);
}

/** One change of profile or contact, and the version the platform bumps with it. */
export function updateUser(s: State, e: Entity<UserDoc>): Generated {
  const { rnd } = s;
  const d = clone(e.doc);
  const change = rnd.int(0, 4);
  if (change === 0) d.profile.bio = rnd.chance(0.8) ? rnd.pick(BIOS) : null;
  else if (change === 1) d.profile.display_name = withEmoji(rnd, personName(rnd));
  else if (change === 2) d.contact_info.phone = rnd.chance(0.8) ? phone(rnd) : null;
  else if (change === 3) d.profile.avatar = `https://cdn.example.com/a/${rnd.hex(12)}.jpg`;
  else d.contact_info.primary_email = email(rnd, d.profile.display_name);
  d.version = (d.version ?? 1) + 1;
  d.updated_at = docTime(s);
  return send(s, e, "user.updated", d, true);
}
