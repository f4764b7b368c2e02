import { Consumer, findErrorBy, GenericError } from "@platformatic/kafka";

// A member the group dropped (a pause past the session timeout: SIGSTOP, a paused VM) learns it
// from its next heartbeat's answer, UNKNOWN_MEMBER_ID: @platformatic/kafka 2.12.1 (pinned) then
// sets its member id to null and joins again. A commit it sends meanwhile carries that null as
// OffsetCommit's member id, a string the protocol does not allow to be null: the broker can't read
// the request and closes the connection ("non-nullable field memberId was serialized as null" in
// its log). The JoinGroup sent on that connection fails with "Connection closed", and each of the
// client's retries meets the commit's own retry on the next connection: six failed joins, then a
// line saying the brokers did not answer, while they did. The Java client fails a commit made out
// of the group without sending it; so does this one, where the client sends it (a commit asked
// for as a member may be sent, or retried, after the member id is gone), and at once: the
// committer tries again after its pause, with the offsets of the partitions still this member's.
//
// Nor is a commit the group refused for its membership (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// REBALANCE_IN_PROGRESS) sent again: the client would join the group and resend it as the new
// member, offsets marked by the old one, which may move back what another member committed while
// this one was dropped. It fails, as the Java client's CommitFailedException; the heartbeat joins.

/** What the client's private getApi looks like (it hands the API to call, by name). */
type GetApi = (name: string, callback: (error: Error | null, api?: unknown) => void) => void;
type Api = ((...args: unknown[]) => void) & Record<string, unknown>;

/** OffsetCommit's arguments: connection, group, generation or epoch, member id, ..., callback. */
const MEMBER_ID_ARG = 3;

/** A commit the client was about to send without a member id: the member is out of the group. */
export class NotInGroupError extends GenericError {
  /** `refused`: the group's answer to a commit it refused for the member's membership. */
  constructor(refused?: Error, apiId?: string) {
    super(
      "PLT_KFK_USER",
      refused
        ? `not committed: the group refused this member's commit (${apiId ?? refused.message}); it joins again`
        : "not committed: this member is out of the consumer group (dropped by it, or left) until it joins again",
      // Not the client's to retry, nor to join for: the committer retries with what it still owns once joined.
      refused ? { canRetry: false, cause: refused } : { canRetry: false },
    );
    this.name = "NotInGroupError";
  }
}

/** The client's getApi, found by its symbol's description: a new client version without it fails the start. */
export function getApiSymbol(): symbol {
  const base = Object.getPrototypeOf(Consumer.prototype) as object;
  const symbol = Object.getOwnPropertySymbols(base).find((s) => s.description === "plt.kafka.base.getApi");
  if (symbol === undefined) {
    throw new Error("@platformatic/kafka has no getApi any more: read/client-fixes/member-commit.ts needs a look");
  }
  return symbol;
}

/** Makes `consumer` fail, unsent, a commit whose member id is null, and not resend one the group refused for its membership (NotInGroupError). */
export function committingAsMember<C extends Consumer<Buffer, Buffer, Buffer, Buffer>>(consumer: C): C {
  const kGetApi = getApiSymbol();
  const getApi = (consumer as unknown as Record<symbol, GetApi>)[kGetApi] as GetApi;
  Object.defineProperty(consumer, kGetApi, {
    value(this: C, name: string, callback: (error: Error | null, api?: unknown) => void) {
      getApi.call(this, name, (error, api) => {
        if (error || name !== "OffsetCommit") return callback(error, api);
        const send = api as Api;
        const checked = (...args: unknown[]) => {
          const done = args.at(-1);
          if (typeof done !== "function") return send(...args);
          if (args[MEMBER_ID_ARG] === null || args[MEMBER_ID_ARG] === undefined) return done(new NotInGroupError());
          // The cause is not searched for needsRejoin: the client neither joins nor resends for it.
          send(...args.slice(0, -1), (error: Error | null, response: unknown) => {
            const refused = findErrorBy(error, "needsRejoin", true) as (Error & { apiId?: string }) | null;
            done(refused ? new NotInGroupError(error as Error, refused.apiId) : error, response);
          });
        };
        // Its version and key, which the client reads; not its promise form, which would skip the check.
        callback(null, Object.assign(checked, { key: send.key, version: send.version }));
      });
    },
  });
  return consumer;
}
