import assert from "node:assert/strict";
import { serviceDeclaration } from "../config/index.ts";
import { type Decoded, type DecodeLimits, decode } from "../decode/decode.ts";
import { type ParsedEvent, parseEnvelope } from "../decode/envelope.ts";
import type { Domain, FlattenLimits, UnknownEnumValue } from "../domains/domain.ts";
import { ROUTES } from "../domains/registry.ts";
import { BadEventError } from "../errors.ts";
import type { DeleteOp, Op, PatchOp, UpsertOp } from "../plan/ops.ts";
import { fixture } from "./fixtures.ts";

// Shared by the domains' unit tests: a fixture event, edited, through the real envelope parser
// and the domain's real handler. No services needed.

type Json = Record<string, unknown>;
/** The configuration's default limits, with a 1 MiB message limit and no topic prefix. */
export const LIMITS: DecodeLimits & FlattenLimits = {
  maxMessageBytes: 1 << 20,
  maxClockSkewMs: serviceDeclaration.maxClockSkewMs.default,
  maxJsonDepth: serviceDeclaration.maxJsonDepth.default,
  topicPrefix: "",
};

/**
 * Decodes `value` as a record of the topic its event type belongs on, keyed by its entity_id and
 * written now, as the upstream would publish it (or "user" when the value names no known type).
 */
export function decodeValue(value: Buffer, limits: DecodeLimits = LIMITS): Decoded {
  let envelope: { event_type?: unknown; entity_id?: unknown } = {};
  try {
    envelope = JSON.parse(value.toString()) ?? {};
  } catch {
    // not JSON: decode says so
  }
  const topic = ROUTES.get(String(envelope.event_type))?.topic ?? "user";
  const key = typeof envelope.entity_id === "string" ? Buffer.from(envelope.entity_id) : null;
  return decode({ topic, key, value, timestamp: BigInt(Date.now()) }, limits);
}

/** Dotted path inside `data` (or inside the envelope) → new value; `undefined` removes the field. */
export type Edits = Record<string, unknown>;

function setPath(root: Json, path: string, value: unknown): void {
  const parts = path.split(".");
  const last = parts.pop() as string;
  let node = root;
  for (const p of parts) {
    const next = node[p];
    assert.ok(next !== null && typeof next === "object", `no object at ${p} of ${path}`);
    node = next as Json;
  }
  // JSON.stringify leaves out undefined values: the field is then absent from the message.
  node[last] = value;
}

/** The fixture of `type` with `data` and envelope edits, parsed as a consumed message would be. */
export function parsedFixture(type: string, data: Edits = {}, envelope: Edits = {}): ParsedEvent {
  const value = fixture(type).value as unknown as Json;
  for (const [path, v] of Object.entries(data)) setPath(value.data as Json, path, v);
  for (const [path, v] of Object.entries(envelope)) setPath(value, path, v);
  return parseEnvelope(Buffer.from(JSON.stringify(value)), 1 << 20);
}

/** Runs the domain's handler for `type` on the edited fixture. */
export function handle(
  domain: Domain,
  type: string,
  data: Edits = {},
  envelope: Edits = {},
): { op: Op; unknownEnums: UnknownEnumValue[] } {
  const handler = domain.events[type];
  assert.ok(handler, `the ${domain.topic} domain has no handler for ${type}`);
  const unknownEnums: UnknownEnumValue[] = [];
  const op = handler(parsedFixture(type, data, envelope), unknownEnums, LIMITS);
  return { op, unknownEnums };
}

export function asUpsert(op: Op): UpsertOp {
  assert.equal(op.kind, "upsert");
  return op as UpsertOp;
}

export function asPatch(op: Op): PatchOp {
  assert.equal(op.kind, "patch");
  return op as PatchOp;
}

export function asDelete(op: Op): DeleteOp {
  assert.equal(op.kind, "delete");
  return op as DeleteOp;
}

/** `fn` throws a bad_field BadEventError whose message starts with `path` (and matches `problem`). */
export function assertBadField(fn: () => unknown, path: string, problem?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadEventError, `expected a BadEventError, got ${String(err)}`);
    assert.equal(err.reason, "bad_field");
    assert.ok(err.message.startsWith(`${path} `), `"${err.message}" should start with "${path} "`);
    if (problem) assert.match(err.message, problem);
    return true;
  });
}
