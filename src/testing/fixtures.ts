import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { EmittedEvent } from "../generate/emit.ts";

/** A copy of ../shared/fixtures (the repository must test on its own in CI): one real-shaped event of each of the 19 types, in upstream order. */
export const FIXTURES_FILE = fileURLToPath(new URL("./fixtures/lifecycle.ndjson", import.meta.url));

export function loadFixtures(): EmittedEvent[] {
  return readFileSync(FIXTURES_FILE, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as EmittedEvent);
}

export function fixture(type: string): EmittedEvent {
  const found = loadFixtures().find((e) => e.value.event_type === type);
  if (!found) throw new Error(`no fixture of type ${type}`);
  return structuredClone(found);
}
