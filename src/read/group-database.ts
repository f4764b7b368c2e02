import {
  Admin,
  type Connection,
  ConnectionPool,
  decodeConsumerProtocolSubscription,
  describeGroupsV5,
} from "@platformatic/kafka";
import type { Pool, RowDataPacket } from "mysql2/promise";
import type { Config } from "../config/index.ts";
import { GroupConflictError, KafkaUnavailableError, messageOf, oneLine } from "../errors.ts";
import { kafkaBaseOptions } from "../kafka/client-options.ts";
import type { Logger } from "../log.ts";
import { abortableDelay, type Outage, retrying } from "../retry.ts";

// Instances started with one KAFKA_GROUP_ID share its partitions, as a connector's tasks do: each
// reads part of every topic. Started with different databases, each database would get part of
// the events, and nothing would say so. Each instance names its database in its group membership
// (the subscription's user data): the id migration 005 gave the database, which is the same
// through any host name or cluster node, and where it was reached, for the line. Before it joins,
// an instance that finds a member writing to another database waits until that member has left.
// Members without this data (an older release, another program) are not judged.

/** Which database an instance writes to. */
export interface GroupDatabase {
  /** service_database.database_id. */
  id: string;
  /** `database at host:port`, as configured: for the line only. */
  name: string;
}

/** The database's id (migration 005) and where this instance reaches it. */
export async function readGroupDatabase(
  pool: Pool,
  at: { host: string; port: number; database: string },
): Promise<GroupDatabase> {
  const read = async () =>
    (await pool.query<RowDataPacket[]>("SELECT database_id FROM service_database WHERE id = 1"))[0][0]?.database_id;
  let id = await read();
  if (typeof id !== "string") {
    // Deleted, or left out of a restore: migrate would not put it back (005 is recorded), and
    // waiting never ends. A new id is made, as 005 makes it; an instance still running with the
    // old one counts as another database until it restarts.
    await pool.query("INSERT IGNORE INTO service_database (id, database_id) VALUES (1, UUID())");
    id = await read();
  }
  if (typeof id !== "string") throw new Error("service_database holds no row after one was inserted");
  return { id, name: `${at.database} at ${at.host}:${at.port}` };
}

/** The user data of this instance's membership. */
export const membershipData = (db: GroupDatabase): Buffer =>
  Buffer.from(JSON.stringify({ analyticsDatabase: db.id, name: db.name }));

/** What another member's user data says of its database; undefined when it says nothing this service wrote. */
export function memberDatabase(data: Buffer | string | null | undefined): GroupDatabase | undefined {
  if (!data || data.length === 0 || data.length > 4096) return undefined;
  try {
    const parsed = JSON.parse(typeof data === "string" ? data : data.toString("utf8")) as {
      analyticsDatabase?: unknown;
      name?: unknown;
    };
    if (typeof parsed.analyticsDatabase !== "string") return undefined;
    // Another program may have written it: said as one line, and short, where it is logged.
    const said = (text: string) => oneLine(text.slice(0, 300));
    return { id: said(parsed.analyticsDatabase), name: typeof parsed.name === "string" ? said(parsed.name) : "?" };
  } catch {
    return undefined; // another program's data: not ours to judge
  }
}

/** The first member (by its subscription's user data) that writes to a database other than `ours`. */
export function otherDatabase(
  members: Iterable<Buffer | string | null | undefined>,
  ours: GroupDatabase,
): GroupDatabase | undefined {
  for (const data of members) {
    const theirs = memberDatabase(data);
    if (theirs && theirs.id !== ours.id) return theirs;
  }
  return undefined;
}

/** Since when the check has found the group rebalancing (for /readyz); null while it is not. */
export interface GroupSettlingState {
  since: number | null;
}

/**
 * Waits while the group has a member writing to another database, the conflict logged as
 * `outages.group`; Kafka not answering the check is `outages.kafka`'s, so that /readyz and the
 * outage series name the right cause.
 */
export async function waitForGroupDatabase(
  config: Config,
  ours: GroupDatabase,
  outages: { group: Outage; kafka: Outage },
  log: Logger,
  signal: AbortSignal,
  watch: (client: Admin) => void,
  settling: GroupSettlingState = { since: null },
): Promise<void> {
  const admin = new Admin({ ...kafkaBaseOptions(config, "admin"), retries: 2 });
  watch(admin);
  const pool = new ConnectionPool(`${config.kafkaClientId}-admin`, kafkaBaseOptions(config, "admin"));
  let warned = false;
  try {
    for (;;) {
      try {
        const check = () => checkGroupDatabase(admin, config.kafkaGroupId, ours, pool);
        await waitOutConflicts(check, outages, config.retryMaxBackoffMs, signal);
        return;
      } catch (err) {
        // A rebalance is routine (another instance starting or stopping): waited out without a warning.
        if (!(err instanceof GroupSettling)) throw err;
        log.debug({ group: config.kafkaGroupId }, err.message);
        // Unless it lasts: a member that heartbeats but does not join again (a consumer busy between
        // two polls) holds the group for up to its rebalance timeout, minutes, and the start said nothing.
        settling.since ??= Date.now();
        if (!warned && Date.now() - settling.since >= SETTLING_NOTICE_MS) {
          warned = true;
          log.warn(
            { group: config.kafkaGroupId },
            `KAFKA_GROUP_ID ${config.kafkaGroupId} has been rebalancing for ${SETTLING_NOTICE_MS / 1000} s: a member that does not join again holds it up to its rebalance timeout; this instance joins once it settles`,
          );
        }
        await abortableDelay(SETTLING_POLL_MS, signal);
      }
    }
  } finally {
    settling.since = null;
    await admin.close().catch((err: unknown) => log.debug({ err: messageOf(err) }, "closing the admin client"));
    await pool
      .close()
      .catch((err: unknown) => log.debug({ err: messageOf(err) }, "closing the group check's connections"));
  }
}

/**
 * Runs `check` until it passes: Kafka not answering is waited out as `outages.kafka`, a member
 * writing elsewhere as `outages.group`; anything else (GroupSettling) is thrown.
 */
export function waitOutConflicts(
  check: () => Promise<void>,
  outages: { group: Outage; kafka: Outage },
  capMs: number,
  signal: AbortSignal,
): Promise<void> {
  // The inner loop waits out Kafka; a conflict passes through it to the outer one, which waits it out.
  const carried = () =>
    check().catch((err: unknown) => {
      throw err instanceof GroupConflictError ? new Conflict(err) : err;
    });
  const unwrap = (err: unknown) => Promise.reject(err instanceof Conflict ? err.conflict : err);
  return retrying(() => retrying(carried, outages.kafka, capMs, signal).catch(unwrap), outages.group, capMs, signal);
}

/** A conflict carried through the loop that waits out Kafka (not retryable there). */
class Conflict extends Error {
  readonly conflict: GroupConflictError;
  constructor(conflict: GroupConflictError) {
    super(conflict.message);
    this.conflict = conflict;
  }
}

/** The group is rebalancing: the check is made again once it has settled. Not an AppError: no outage. */
export class GroupSettling extends Error {}
const SETTLING_POLL_MS = 500;
/** A rebalance longer than this is said once, at warn level. */
const SETTLING_NOTICE_MS = 15_000;

/** The states of a classic group in which DescribeGroups lists its members without their data. */
const REBALANCING: ReadonlySet<string> = new Set(["PreparingRebalance", "CompletingRebalance"]);

/** Throws GroupConflictError (retryable: the other member may leave) while the group has a member writing elsewhere. */
export async function checkGroupDatabase(
  admin: Admin,
  groupId: string,
  ours: GroupDatabase,
  pool: ConnectionPool,
): Promise<void> {
  const { state, members } = await describeMembers(admin, pool, groupId).catch((err: unknown) => {
    throw KafkaUnavailableError.of(err);
  });
  // Mid-rebalance the broker lists the members without their subscriptions: one writing to another
  // database looked like one that says nothing, and a waiting instance slipped in when the group
  // rebalanced (another instance joining, one leaving). Its data is listed again once it settles.
  if (REBALANCING.has(state)) {
    throw new GroupSettling(
      `KAFKA_GROUP_ID ${groupId} is rebalancing: its members' databases are known once it settles`,
    );
  }
  const other = otherDatabase(members, ours);
  if (other === undefined) return;
  throw new GroupConflictError(
    `a member of KAFKA_GROUP_ID ${groupId} writes to another database (${other.name}; this one: ${ours.name}): ` +
      "the members of a group share its partitions, so each database would get part of the events. " +
      "Give this instance its own KAFKA_GROUP_ID, or the others' database; it waits until that member has left",
  );
}

/**
 * The group's state and each member's subscription user data (undefined when it does not read). Not
 * Admin.describeGroups: it decodes every member's subscription and assignment in a callback of its
 * own, and another program's member whose subscription was a single byte threw out of it, past
 * any catch, and stopped the service at every start.
 */
async function describeMembers(admin: Admin, pool: ConnectionPool, groupId: string) {
  const [coordinator] = await admin.findCoordinator({ keyType: 0, keys: [groupId] });
  if (coordinator === undefined) throw new Error(`no coordinator found for the group ${groupId}`);
  const connection: Connection = await pool.get(coordinator);
  const { groups } = await describeGroupsV5.api.async(connection, [groupId], false);
  const group = groups[0];
  return {
    state: group?.groupState ?? "",
    members: (group?.members ?? []).map((member) => userDataOf(member.memberMetadata)),
  };
}

/** The user data of a member's subscription; undefined when it has none or does not read. */
function userDataOf(subscription: Buffer | null): Buffer | string | null | undefined {
  if (!subscription || subscription.length === 0) return undefined;
  try {
    return decodeConsumerProtocolSubscription(subscription).userData;
  } catch {
    return undefined; // another program's subscription: not ours to judge
  }
}
