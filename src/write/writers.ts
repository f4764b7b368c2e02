import type { Op } from "./ops.ts";
import type { Outcome } from "./plan.ts";

// Tables defined with `oneWriter` are written by one transaction at a time in this process: a
// transaction that writes one waits, before it begins, until the one before it has committed or
// rolled back. It holds no lock while it waits, so no wait here can close a circle with a wait
// inside the database. Several such tables are taken in name order.

/** The `oneWriter` tables the ops among `items` write, in name order. */
export function oneWriterTables(items: Iterable<Op | Outcome>): string[] {
  const names = new Set<string>();
  for (const item of items) if ("table" in item && item.table.oneWriter) names.add(item.table.name);
  return [...names].sort();
}

/** The `oneWriter` table a group of items waits for first, if any: groups with the same one belong together. */
export const writerLane = (items: Iterable<Op | Outcome>): string | undefined => oneWriterTables(items)[0];

/** One holder at a time per name, in the order they asked. */
export class Writers {
  readonly #tails = new Map<string, Promise<void>>();

  /** Waits until this caller holds every name; the function returned lets them go. */
  async acquire(names: readonly string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const name of names) releases.push(await this.#one(name));
    return () => {
      for (const release of releases.reverse()) release();
    };
  }

  async #one(name: string): Promise<() => void> {
    const before = this.#tails.get(name);
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = before === undefined ? mine : before.then(() => mine);
    this.#tails.set(name, tail);
    if (before !== undefined) await before;
    return () => {
      release();
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    };
  }
}
