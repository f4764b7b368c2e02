import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { getOrCreate } from "../collections.ts";
import { KafkaUnavailableError } from "../errors.ts";
import type { Outage } from "../retry.ts";
import { askAnsweringFirst } from "./answering-first.ts";

// A broker that stops answering without closing its connections (SIGSTOP, a hung JVM, a network
// that drops packets) fails nothing for a long time: each request waits for the client's request
// timeout (30 s), then is retried on a new connection, which the kernel of the silent host still
// accepts, six times. A fetch, a commit or a heartbeat to it simply waited, with no line, /readyz
// ready and no outage counted, while the partitions it leads stood still: minutes for a stream
// to fail, and for ever on a member whose stream was paused. As the dead-letter send does
// (DLQ_SILENCE_MS), every request the service's clients send is timed on its connection, and one
// left unanswered for SILENCE_MS is said as the outage it is, naming the broker; the outage lasts
// until that broker answers again.
//
// A JoinGroup and a SyncGroup wait by design for the group's other members (up to the rebalance
// timeout): they are not timed, nor is what is sent after them on their connection, which a
// broker reads only once it has answered the one before (a commit, the lag's offsets, behind a
// JoinGroup that a slow member holds). Every other request is answered at once or within its
// own wait (fetches 200 ms, produce acknowledgements 5 s).
//
// A client over its quota (producer_byte_rate, consumer_byte_rate, request_percentage) is answered
// at once, with throttle_time_ms, and the broker then reads nothing more on that connection for
// that long (KIP-219); this client sends on regardless, so its next request waits out the throttle
// (up to 10 s for fetches, 20 s and more for a flood of dead letters under a producer quota). A
// request on a throttled connection is timed from the end of the throttle.
//
// A silent broker is let go once nothing has asked it anything for SILENCE_MS: its partitions
// moved to another. A connection to it that the clients still try to open counts as asking: a
// network that drops packets answers no SYN, each attempt waits out the connect timeout and no
// request is ever sent, which looked like nobody asking while the broker still led its partitions.

/** How long a request goes unanswered before its broker is said to be silent. */
export const SILENCE_MS = 10_000;

/** How often the requests in flight are looked at. */
const TICK_MS = 1000;

/** The client's tracing channel of each request on a connection (docs/diagnostic.md of @platformatic/kafka). */
const REQUESTS = "tracing:plt:kafka:connections:api";

/** JoinGroup and SyncGroup: their answers wait for the other members. */
const GROUP_WAITS = new Set([11, 14]);

/** A connection of @platformatic/kafka, as much of it as is read here. */
interface Connection {
  ownerId: number;
  host: string | undefined;
  port: number | undefined;
  status: string;
  /** Its socket; destroyed when an attempt to connect timed out (the status stays "connecting"). */
  socket?: { destroyed: boolean } | null;
  once(event: "close" | "connect" | "closing" | "error", listener: () => void): unknown;
}

/** The client's tracing channel of each attempt to open a connection. */
const CONNECTS = "tracing:plt:kafka:connections:connects";

interface ConnectAttempt {
  connection?: Connection;
  /** Where to: the connection itself knows only once it is under way. */
  host?: string;
  port?: number;
}

interface Request {
  connection?: Connection;
  apiKey?: number;
  /** The response, once answered. */
  result?: { throttleTimeMs?: number };
}

/** A connection's status in which the client sends a request (it fails the request in any other). */
const SENDING = new Set(["connected", "authenticating", "reauthenticating"]);

interface Broker {
  /** The requests in flight to it: when each was sent. */
  pending: Map<Request, number>;
  /** Since when no request has been in flight, once it was said silent. */
  idleSince: number | null;
  /** It was said silent and has not answered since. */
  silent: boolean;
  /** The connections to it being opened. */
  connecting: Set<Connection>;
  /** Its last connection to open timed out (no answer to the SYN, or to its SASL authentication): asked last until one opens. */
  unreached: boolean;
}

export class BrokerSilence {
  readonly #outage: Outage;
  readonly #afterMs: number;
  readonly #now: () => number;
  /** The clients watched, by instance id (a connection's ownerId). */
  readonly #clients = new Set<number>();
  readonly #brokers = new Map<string, Broker>();
  readonly #seen = new WeakSet<Connection>();
  /** The JoinGroup and SyncGroup requests in flight, per connection: what follows them waits on the group. */
  readonly #groupWaits = new Map<Connection, Set<Request>>();
  /** Until when the broker reads nothing on a connection: the throttle its last answer said (KIP-219). */
  readonly #throttled = new Map<Connection, number>();
  readonly #timer: NodeJS.Timeout;
  readonly #tickMs: number;
  /** When the requests were last looked at. */
  #checked: number;
  readonly #onStart = (message: unknown) => this.#sent(message as Request);
  readonly #onAnswer = (message: unknown) => this.#answered(message as Request);
  readonly #onConnect = (message: unknown) => this.#connecting(message as ConnectAttempt);

  constructor(outage: Outage, afterMs = SILENCE_MS, now: () => number = () => performance.now(), tickMs = TICK_MS) {
    this.#outage = outage;
    this.#afterMs = afterMs;
    this.#now = now;
    this.#tickMs = tickMs;
    this.#checked = now();
    subscribe(`${REQUESTS}:start`, this.#onStart);
    subscribe(`${REQUESTS}:asyncStart`, this.#onAnswer);
    subscribe(`${CONNECTS}:start`, this.#onConnect);
    this.#timer = setInterval(() => this.check(), tickMs);
    this.#timer.unref();
  }

  /**
   * Times the requests of `client` (a Consumer, Producer or Admin of @platformatic/kafka), and has
   * it ask what any broker can answer of those not said silent, nor whose last connection timed
   * out, first (kafka/answering-first.ts).
   */
  watch(client: { instanceId: number }): void {
    this.#clients.add(client.instanceId);
    askAnsweringFirst(client, (address) => {
      const broker = this.#brokers.get(address);
      if (broker === undefined) return false;
      stillConnecting(broker); // brings `unreached` up to date
      return broker.silent || broker.unreached;
    });
  }

  /** Says each broker silent past its time, and frees those nobody waits on any more. */
  check(): void {
    const now = this.#now();
    // Time this process did not run (stopped, a VM paused, a loop held) is no silence of the
    // brokers': their answers wait, unread, in its sockets.
    const stalled = now - this.#checked - this.#tickMs;
    this.#checked = now;
    for (const [address, broker] of this.#brokers) {
      if (stalled > 0) {
        // Not before its own time: a throttle's end, still to come, stays where it is.
        for (const [r, sent] of broker.pending) broker.pending.set(r, Math.max(sent, Math.min(now, sent + stalled)));
        if (broker.idleSince !== null) broker.idleSince = Math.min(now, broker.idleSince + stalled);
      }
      const connecting = stillConnecting(broker);
      let oldest = Number.POSITIVE_INFINITY;
      for (const [r, sent] of broker.pending) {
        if (!this.#groupWaits.has(r.connection as Connection)) oldest = Math.min(oldest, sent);
      }
      if (now - oldest >= this.#afterMs) {
        broker.silent = true;
        broker.idleSince = null;
        this.#outage.hold(broker, silentBroker(address, this.#afterMs));
      } else if (broker.silent && broker.pending.size === 0 && !connecting) {
        // Nothing asked of it for as long: removed from the cluster, or the clients gave up on
        // it and their failures say so. Not an answer: the outage goes on until something
        // succeeds, or ends now if something did meanwhile (partitions read from their new leader).
        broker.idleSince ??= now;
        if (now - broker.idleSince >= this.#afterMs) this.#outage.release(broker);
      } else broker.idleSince = null;
    }
  }

  /**
   * In how many ms the latest throttle of `client`'s open connections (a quota's) ends: negative
   * once it has ended, that long ago; -Infinity when none was throttled.
   */
  throttleEndsInMs(client: { instanceId: number }): number {
    let end = Number.NEGATIVE_INFINITY;
    for (const [c, until] of this.#throttled) if (c.ownerId === client.instanceId) end = Math.max(end, until);
    return end - this.#now();
  }

  close(): void {
    clearInterval(this.#timer);
    unsubscribe(`${REQUESTS}:start`, this.#onStart);
    unsubscribe(`${REQUESTS}:asyncStart`, this.#onAnswer);
    unsubscribe(`${CONNECTS}:start`, this.#onConnect);
    // The holds stay: at shutdown, a broker that never answered is not back.
  }

  /** An attempt to open a connection: the broker is asked, until the attempt ends. */
  #connecting({ connection, host, port }: ConnectAttempt) {
    if (!connection || !this.#clients.has(connection.ownerId) || host === undefined || port === undefined) return;
    const broker = this.#brokerAt(`${host}:${port}`);
    broker.connecting.add(connection);
    // Under SASL the socket opens before the broker has said anything: a broker whose kernel takes
    // the connection and that never answers its authentication is cut off by the connect timeout,
    // which closes the connection unopened and with no error (a refused login has one).
    let ended = false;
    const end = () => {
      ended = true;
    };
    connection.once("connect", end);
    connection.once("error", end);
    connection.once("closing", end); // closed by its client
    connection.once("close", () => {
      if (!ended) broker.unreached = true;
    });
  }

  #sent(request: Request) {
    const { connection, apiKey } = request;
    if (!connection || !this.#clients.has(connection.ownerId)) return;
    // The client fails at once, unsent, a request on a connection that is not up.
    if (!SENDING.has(connection.status)) return;
    const broker = this.#broker(connection);
    if (!broker) return;
    this.#follow(connection, broker);
    if (GROUP_WAITS.has(apiKey ?? -1)) getOrCreate(this.#groupWaits, connection, () => new Set()).add(request);
    else broker.pending.set(request, this.#from(connection, this.#now()));
  }

  /** When a request sent or read at `now` on `connection` starts to wait on its broker: once its throttle ends. */
  #from(connection: Connection, now: number): number {
    return Math.max(now, this.#throttled.get(connection) ?? now);
  }

  /** Once per connection: a request that timed out closes it, failing every other one in flight on it. */
  #follow(connection: Connection, broker: Broker) {
    if (this.#seen.has(connection)) return;
    this.#seen.add(connection);
    connection.once("close", () => {
      this.#groupWaits.delete(connection);
      this.#throttled.delete(connection);
      for (const r of broker.pending.keys()) if (r.connection === connection) broker.pending.delete(r);
    });
  }

  #answered(request: Request) {
    const { connection } = request;
    if (!connection || !this.#clients.has(connection.ownerId)) return;
    const broker = this.#broker(connection);
    if (!broker) return;
    const throttleMs = request.result?.throttleTimeMs ?? 0;
    if (throttleMs > 0) {
      // What was sent after it on the connection is read once the throttle ends.
      const end = this.#now() + throttleMs;
      this.#throttled.set(connection, end);
      for (const [r, sent] of broker.pending)
        if (r.connection === connection) broker.pending.set(r, Math.max(sent, end));
    }
    const waits = this.#groupWaits.get(connection);
    if (waits?.delete(request)) {
      if (waits.size > 0) return;
      // What was sent after it on the connection is read by the broker from now on.
      this.#groupWaits.delete(connection);
      const now = this.#now();
      for (const r of broker.pending.keys())
        if (r.connection === connection) broker.pending.set(r, this.#from(connection, now));
    }
    if (!broker.pending.delete(request) || !broker.silent) return;
    // It answers again: what it still has in hand starts a silence of its own from now.
    const now = this.#now();
    for (const r of broker.pending.keys()) broker.pending.set(r, this.#from(r.connection as Connection, now));
    broker.silent = false;
    broker.idleSince = null;
    this.#outage.release(broker);
    this.#outage.recover();
  }

  #broker(connection: Connection): Broker | undefined {
    if (connection.host === undefined || connection.port === undefined) return undefined;
    return this.#brokerAt(`${connection.host}:${connection.port}`);
  }

  #brokerAt(address: string): Broker {
    let broker = this.#brokers.get(address);
    if (!broker) {
      broker = { pending: new Map(), idleSince: null, silent: false, connecting: new Set(), unreached: false };
      this.#brokers.set(address, broker);
    }
    return broker;
  }
}

/**
 * Whether a connection to `broker` is still being opened; those that opened or failed are
 * forgotten (one that timed out keeps its status, its socket destroyed), and say whether the
 * broker was reached. A refused one says nothing: the client moves on at once.
 */
function stillConnecting(broker: Broker): boolean {
  for (const c of broker.connecting) {
    const timedOut = c.status === "connecting" && c.socket?.destroyed === true;
    // Authenticating (SASL) is still being opened: the broker has yet to answer.
    if ((c.status === "connecting" && !timedOut) || c.status === "authenticating") continue;
    broker.connecting.delete(c);
    if (timedOut) broker.unreached = true;
    else if (SENDING.has(c.status)) broker.unreached = false;
  }
  return broker.connecting.size > 0;
}

/** The outage's cause: the broker that does not answer. */
export function silentBroker(address: string, afterMs = SILENCE_MS): KafkaUnavailableError {
  return new KafkaUnavailableError(
    `no answer from broker ${address} for ${afterMs / 1000} s (paused, hung or cut off by the network; its connections stay open): what it leads and coordinates waits for it`,
  );
}
