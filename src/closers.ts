import { messageOf } from "./errors.ts";
import type { Logger } from "./log.ts";

/** Connections the service holds, closed in the reverse order they were opened. */
export class Closers {
  readonly #closers: (() => Promise<unknown>)[] = [];
  readonly #log: Logger;
  constructor(log: Logger) {
    this.#log = log;
  }
  add(close: () => Promise<unknown>): void {
    this.#closers.push(close);
  }
  async closeAll(): Promise<void> {
    for (const close of this.#closers.reverse()) {
      try {
        await close();
      } catch (err) {
        this.#log.warn({ err: messageOf(err) }, "error while closing a connection");
      }
    }
  }
}
