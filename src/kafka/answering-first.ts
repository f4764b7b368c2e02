import { type Broker, ConnectionPool } from "@platformatic/kafka";

// What any broker can answer (the API versions, metadata, FindCoordinator, the lag's offsets) a
// client asks of the first address in KAFKA_BOOTSTRAP_SERVERS, then of the brokers it learnt of,
// that takes a connection: a hung broker's kernel still takes them, and the request then waits
// the client's 30 s request timeout. The client's retries move on only now and then (a metadata
// request retried by the admin's own retry starts again at the first address), so with a hung
// broker listed first the service did not start, and a running service's lag and partition watch,
// whose admin does not retry, asked it for ever. Such requests now go to the brokers not said
// silent first (kafka/broker-silence.ts); the silent ones are still tried, last.

/**
 * Has `client` (an Admin, Producer or Consumer of @platformatic/kafka) ask, of the brokers it may
 * ask anything, those `isSilent` does not name (by host:port) first. Requests to a given broker
 * (a partition's leader, the group's coordinator) are untouched: only that broker can answer them.
 */
export function askAnsweringFirst(client: object, isSilent: (address: string) => boolean): void {
  const pool = connectionPoolOf(client);
  type GetFirstAvailable = (brokers: Broker[], callback?: unknown) => unknown;
  const getFirstAvailable = pool.getFirstAvailable as GetFirstAvailable;
  const steered: GetFirstAvailable = (brokers, callback) =>
    getFirstAvailable.call(pool, answeringFirst(brokers, isSilent), callback);
  pool.getFirstAvailable = steered as typeof pool.getFirstAvailable;
}

/** `brokers` in their order, those said silent moved to the end. */
export function answeringFirst<B extends Broker>(brokers: readonly B[], isSilent: (address: string) => boolean): B[] {
  const answering: B[] = [];
  const silent: B[] = [];
  for (const broker of brokers) (isSilent(`${broker.host}:${broker.port}`) ? silent : answering).push(broker);
  return [...answering, ...silent];
}

/** The client's connection pool, found by its symbol's description: a client version without it fails the start. */
export function connectionPoolOf(client: object): ConnectionPool {
  const symbol = Object.getOwnPropertySymbols(client).find((s) => s.description === "plt.kafka.base.connections");
  const pool = symbol === undefined ? undefined : (client as Record<symbol, unknown>)[symbol];
  if (!(pool instanceof ConnectionPool)) {
    throw new Error(
      "@platformatic/kafka's client has no connection pool where kafka/answering-first.ts looks: it needs a look",
    );
  }
  return pool;
}
