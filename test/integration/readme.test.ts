import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import type { Pool } from "mysql2/promise";
import { listFooter } from "../../src/commands/dlq-list.ts";
import { type AnyVar, describeDefault, fileVariable } from "../../src/config/declare.ts";
import { readConfigBytes } from "../../src/config/files.ts";
import { serviceDeclaration } from "../../src/config/index.ts";
import type { DeadLetterEntry } from "../../src/dead-letter/letter.ts";
import { NewestLetters } from "../../src/dead-letter/newest-letters.ts";
import { BadEventReasons } from "../../src/errors.ts";
import { createLogger, prettyLine } from "../../src/log.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import { notReadyReasons } from "../../src/observability/readiness.ts";
import type { Op } from "../../src/plan/ops.ts";
import { plan, uniqueKey } from "../../src/plan/plan.ts";
import type { Outage } from "../../src/retry.ts";
import { decodeValue } from "../../src/testing/domain-helpers.ts";
import { loadFixtures } from "../../src/testing/fixtures.ts";
import { configTable, markedBlock, OPERATIONS_DOC } from "../../tools/docs/config-table.ts";
import { stackDeclaration } from "../../tools/stack/config.ts";
import { runCliSync } from "../support/helpers.ts";

// The README and docs/ are documentation users act on: their commands, configuration, metrics,
// codes and quoted lines must match the code.

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const OPERATIONS = readFileSync(OPERATIONS_DOC, "utf8");
const DOCS = new Map(
  [
    "README.md",
    ...readdirSync(new URL("../../docs/", import.meta.url)).flatMap((f) => (f.endsWith(".md") ? [`docs/${f}`] : [])),
  ].map((f) => [f, readFileSync(new URL(`../../${f}`, import.meta.url), "utf8")]),
);
/** The cells of the markdown table rows of `page` whose first cell is `` `name` ``, by that name. */
function tableRows(page: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of page.split("\n")) {
    const cells = /^\| `([^`]+)` \|(.*)\|$/.exec(line);
    if (cells)
      rows.set(
        cells[1] as string,
        (cells[2] as string).split(" | ").map((c) => c.trim()),
      );
  }
  return rows;
}

test("the README opens with exactly two commands: run the service, run the tests", () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(README)?.[1] ?? "";
  const commands = firstBlock.split("\n").filter((l) => l.trim() !== "");
  assert.equal(commands.length, 2);
  assert.match(commands[0] ?? "", /^npm ci && npm start\b/);
  assert.match(commands[1] ?? "", /^npm ci && npm test\b/);
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  assert.ok(pkg.scripts.start && pkg.scripts.test);
});

test("docs/operations.md holds the configuration table generated from the declarations", () => {
  const block = markedBlock(OPERATIONS);
  assert.ok(block !== null, "docs/operations.md has no <!-- config:start --> ... <!-- config:end --> block");
  assert.equal(block, configTable(), "the table differs from the code: run `npm run docs:config -- --write`");
});

test("the README's minimal configuration table names declared variables with their defaults", () => {
  const declared = new Map(Object.values(serviceDeclaration).map((v) => [v.env, v]));
  const rows = README.split("\n").flatMap((line) => {
    const m = /^\| `([A-Z0-9_]+)` \| `([^`]*)` \|/.exec(line);
    return m ? [{ env: m[1] as string, shown: m[2] as string }] : [];
  });
  assert.deepEqual(
    rows.map((r) => r.env),
    [
      "KAFKA_BOOTSTRAP_SERVERS",
      "KAFKA_CLIENT_ID",
      "KAFKA_GROUP_ID",
      "KAFKA_AUTO_OFFSET_RESET",
      "KAFKA_DLQ_TOPIC",
      "MYSQL_HOST",
      "MYSQL_PORT",
      "MYSQL_USER",
      "MYSQL_PASSWORD",
      "MYSQL_DATABASE",
    ],
  );
  for (const { env, shown } of rows) {
    const v = declared.get(env);
    assert.ok(v, `${env} is in the README but not declared in src/config/index.ts`);
    assert.equal(shown, describeDefault(v), `${env}: the README's default differs from the declaration`);
  }
});

// --help and the tables show a secret's default as (secret); the default itself, the platform
// contract's, must still be written down for whoever runs the service without setting it.
test("a secret's default that is not empty is said in the README and docs/operations.md", () => {
  const secrets = Object.values(serviceDeclaration).filter((v: AnyVar) => v.secret && v.default !== "");
  assert.ok(secrets.length > 0, "MYSQL_PASSWORD has a default");
  for (const v of secrets as AnyVar[]) {
    const readmeRow = README.split("\n").find((l) => l.startsWith(`| \`${v.env}\` |`)) ?? "";
    assert.ok(readmeRow.includes(`\`${v.default}\``), `the README's row of ${v.env} says its default`);
    assert.ok(OPERATIONS.includes(`\`${v.env}\`'s is \`${v.default}\``), `docs/operations.md says ${v.env}'s default`);
  }
});

/** GitHub's anchors for the headings of a markdown text: lower case, punctuation dropped, spaces as '-', repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line)?.[1];
    if (heading == null) continue;
    const slug = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(slug);
    seen.set(slug, (n ?? -1) + 1);
    out.add(n === undefined ? slug : `${slug}-${n + 1}`);
  }
  return out;
}

test("every relative link and anchor in the README and docs/ leads somewhere", () => {
  const root = new URL("../../", import.meta.url);
  const docs = [
    "README.md",
    ...readdirSync(new URL("docs/", root))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
  const broken: string[] = [];
  for (const file of docs) {
    const text = readFileSync(new URL(file, root), "utf8");
    for (const [, href = ""] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(href)) continue;
      const [path = "", anchor] = href.split("#");
      const target = path === "" ? new URL(file, root) : new URL(path, new URL(file, root));
      if (!existsSync(target)) broken.push(`${file}: ${href} (no such file)`);
      else if (anchor && target.pathname.endsWith(".md") && !anchors(readFileSync(target, "utf8")).has(anchor)) {
        broken.push(`${file}: ${href} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

test("the configuration table says what each variable accepts: ranges, values, a secret's file", () => {
  const rows = tableRows(markedBlock(OPERATIONS) ?? "");
  const wrong: string[] = [];
  const expect = (v: AnyVar, cell: string | undefined, wanted: string) => {
    if (!cell?.includes(wanted)) wrong.push(`${v.env}: "${cell}" lacks "${wanted}"`);
  };
  for (const v of [...Object.values(serviceDeclaration), ...Object.values(stackDeclaration)] as AnyVar[]) {
    const accepts = rows.get(v.env)?.[1];
    if (v.kind === "int") expect(v, accepts, `${v.min}–${v.max}`);
    if (v.kind === "enum") for (const value of v.values) expect(v, accepts, value);
    if (v.secret) expect(v, accepts, `\`${fileVariable(v)}\``);
  }
  assert.deepEqual(wrong, []);
});

test("every /readyz reason is listed in docs/operations.md", async () => {
  const waiting = { active: true } as unknown as Outage;
  const reasons = await notReadyReasons(
    { getConnection: () => Promise.reject(new Error("down")) },
    { database: waiting, kafka: waiting, group: waiting },
    null,
    { since: Date.now() },
  );
  assert.ok(reasons.length >= 6, `every reason is produced: ${reasons.join("; ")}`);
  assert.deepEqual(
    reasons.filter((r) => !OPERATIONS.includes(`\`${r}\``)),
    [],
  );
});

test("every analytics_* series is in the metrics table of docs/operations.md, with its labels", () => {
  const rows = tableRows(OPERATIONS);
  const metrics = new Metrics(createLogger("silent"), {} as Pool);
  const series = metrics.registry.getMetricsAsArray() as unknown as { name: string; labelNames: string[] }[];
  const wrong = series
    .filter((m) => m.name.startsWith("analytics_"))
    .flatMap((m) => {
      const labels = rows.get(m.name)?.[0];
      if (labels === undefined) return [`${m.name}: no row`];
      const shown = [...labels.matchAll(/`([^`]+)`/g)].map((l) => l[1]);
      return shown.join(",") === m.labelNames.join(",")
        ? []
        : [`${m.name}: labels ${shown} in the docs, ${m.labelNames}`];
    });
  assert.deepEqual(wrong, []);
});

test("every dead-letter code is in the codes table of docs/operations.md", () => {
  const rows = tableRows(OPERATIONS);
  assert.deepEqual(
    Object.values(BadEventReasons).filter((code) => !rows.has(code)),
    [],
  );
});

test("every npm script is named in the README or docs/", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  const text = [...DOCS.values()].join("\n");
  const named = (script: string) =>
    text.includes(`npm run ${script}`) || (["start", "test"].includes(script) && text.includes(`npm ${script}`));
  assert.deepEqual(
    Object.keys(pkg.scripts).filter((s) => !named(s)),
    [],
  );
});

// An operator greps the log for the line the docs show: it must be the one the service prints.
test("the docs quote a file the service can't read as the service says it", () => {
  const wrong: string[] = [];
  let checked = 0;
  for (const [file, text] of DOCS) {
    for (const m of text.matchAll(/`([A-Z][A-Z0-9_]+): can(?:not|'t) read ([^\s`:(]+)[^`]*`/g)) {
      const [quoted, variable = "", path = ""] = [m[0].slice(1, -1).replace(/\s+/g, " "), m[1], m[2]];
      if (existsSync(path)) continue;
      checked++;
      const said = (() => {
        try {
          readConfigBytes(variable, path);
          return "(read)";
        } catch (err) {
          return (err as Error).message;
        }
      })();
      if (quoted !== said) wrong.push(`${file}: ${quoted} (the service says: ${said})`);
    }
  }
  assert.ok(checked > 0, "the docs show no such line: the pattern no longer finds them");
  assert.deepEqual(wrong, []);
});

/** A letter of `code`, as `dlq list` counts it. */
const letterOf = (code: string, n: number): DeadLetterEntry => ({
  dlqPartition: 0,
  dlqOffset: BigInt(n),
  failedAt: "2026-03-01T10:00:00.000Z",
  sourceTopic: "user",
  sourcePartition: 0,
  sourceOffset: BigInt(n),
  sourceTimestamp: null,
  eventType: null,
  code,
  reason: "a reason",
  key: null,
  keyTruncated: false,
  value: null,
  valueBytes: 0,
  truncated: false,
  originalBytes: 0,
  originalHeaders: [],
});

// An operator reads the count of a dead-letter topic off the list's last line: the docs must say
// what it holds, and when it counts the letters by code, as the command makes it.
test("the docs and --help describe dlq list's last line as the command prints it", () => {
  const quoted = [...OPERATIONS.matchAll(/`([^`]*dead\s+letter\(s\)\s+in\s[^`]*)`/g)].map((m) =>
    (m[1] as string).replace(/\s+/g, " "),
  );
  const form = /^(\d+) dead letter\(s\) in (\S+?)(?:; listed: the newest (\d+) of \d+ \(([^)]*)\) \(--limit\))?$/;
  const checked = quoted.map((line) => {
    const m = form.exec(line);
    assert.ok(m, `docs/operations.md quotes a last line dlq list does not print: ${line}`);
    const [, total = "0", topic = "", limit, codes] = m;
    const counts =
      codes === undefined
        ? [["bad_field", Number(total)] as const]
        : codes.split(", ").map((c) => {
            const [code = "", n = "0"] = c.split(" ");
            return [code, Number(n)] as const;
          });
    const newest = new NewestLetters(limit === undefined ? Number(total) : Number(limit));
    let offset = 0;
    for (const [code, n] of counts) for (let i = 0; i < n; i++) newest.add(letterOf(code, offset++));
    assert.equal(listFooter(newest.total, topic, newest.summary()), `${line}\n`, "as the command prints it");
    return codes !== undefined;
  });
  assert.ok(checked.includes(false), "docs/operations.md quotes the last line of a list that holds every letter");
  assert.ok(checked.includes(true), "docs/operations.md quotes the last line of a list --limit cut short");
  const help = runCliSync(["--help"], {}).stdout.replace(/\s+/g, " ");
  assert.match(help, /the last line counts them, and all of them by code when --limit left some out/);
});

// A child table's rows count as the operation of its mode (src/write/store.ts): replace for a
// set the document replaces, upsert for children merged in. The docs say which table is which.
test("the metrics table says under which operation each child table's rows are counted", () => {
  const row = tableRows(OPERATIONS).get("analytics_rows_total")?.[1] ?? "";
  const said = (operation: string) => new RegExp(`\`${operation}\` \\(([^)]*)\\)`).exec(row)?.[1] ?? "";
  const children = new Map<string, string>();
  for (const e of loadFixtures()) {
    const { op } = decodeValue(Buffer.from(JSON.stringify(e.value)));
    if ("kind" in op && op.kind === "upsert" && op.children) children.set(op.children.table.name, op.children.mode);
  }
  assert.deepEqual([...children.values()].sort(), ["merge", "replace"], "the fixtures hold both modes");
  for (const [table, mode] of children) {
    const operation = mode === "replace" ? "replace" : "upsert";
    assert.ok(said(operation).includes(`\`${table}\``), `${table}'s rows count as ${operation}: "${row}"`);
  }
});

// docs/architecture.md gives each stage its folder and each file its job: a file it does not name
// is one a newcomer can't place. The domains' files, the generator's and the unit-test helpers
// are named by folder.
test("docs/architecture.md names every source file of the service", () => {
  const architecture = DOCS.get("docs/architecture.md") ?? "";
  const root = new URL("../../src/", import.meta.url);
  const byFolder = /^(domains\/[^/]+|generate|testing)\//;
  const unnamed = (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !byFolder.test(f))
    .filter((f) => !architecture.includes(f.split("/").at(-1) as string));
  assert.deepEqual(unnamed, []);
});

// KAFKA_CLIENT_ID is a prefix (src/kafka/client-options.ts): client-id quotas and the brokers' logs
// see `<id>-<role>`, never the variable's value alone, so the docs must name every role.
test("the docs name every client id the service's Kafka clients show the brokers", () => {
  const roles = new Set<string>();
  const walk = (dir: URL): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(new URL(`${entry.name}/`, dir));
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        const text = readFileSync(new URL(entry.name, dir), "utf8");
        for (const m of text.matchAll(/(?:kafkaBaseOptions|reliableProducer)\(config, "([a-z-]+)"\)/g))
          roles.add(m[1] as string);
      }
    }
  };
  walk(new URL("../../src/", import.meta.url));
  assert.ok(roles.has("consumer") && roles.has("dlq"), `roles found: ${[...roles].join(", ")}`);
  assert.match(
    serviceDeclaration.kafkaClientId.description,
    /^Prefix\b/,
    "KAFKA_CLIENT_ID's description says it is a prefix",
  );
  const section = OPERATIONS.slice(OPERATIONS.indexOf("**Client ids.**"));
  assert.ok(OPERATIONS.includes("**Client ids.**"), "docs/operations.md has a Client ids paragraph");
  for (const role of roles)
    assert.ok(section.includes(`-${role}\``), `docs/operations.md names the client id suffix -${role}`);
});

// On a terminal the log is not JSON (src/log.ts prettyLine): the docs say so, quoting the form.
test("docs/operations.md shows the log line a terminal gets, as src/log.ts writes it", () => {
  const json = JSON.stringify({ level: 30, time: "2026-02-11T10:30:40.518Z", msg: "message", key: "value" });
  const line = prettyLine(json).trimEnd();
  assert.ok(OPERATIONS.includes(`\`${line}\``), `docs/operations.md quotes a terminal's log line: ${line}`);
});

// An operator looks for the dead letters of an order whose number another order holds by the
// reason the docs quote: it must be the one the planner gives (it finds the holder before
// anything is written, so the server's duplicate-key error is not what the letter says).
test("docs/operations.md quotes the reason of an order number held by another order as the planner gives it", () => {
  const created = loadFixtures().find((e) => e.value.event_type === "order.created");
  assert.ok(created, "the fixtures hold an order.created");
  const op = decodeValue(Buffer.from(JSON.stringify(created.value))).op as Op;
  const number = (created.value.data as { order_number: string }).order_number;
  const holder = "65a1f0c2e4b0a1b2c3d4e500";
  const db = {
    rows: new Map(),
    tombstones: new Map(),
    owners: new Map([[uniqueKey("orders", "order_number", number), holder]]),
  };
  const [outcome] = plan([op], db).outcomes;
  assert.equal(outcome?.kind, "rejected");
  const reason = outcome?.kind === "rejected" ? outcome.error.message.replace(holder, "<holder>") : "";
  const section = OPERATIONS.slice(OPERATIONS.indexOf("### An order number held by another order"));
  assert.ok(section.includes(`\`${reason}\``), `docs/operations.md quotes the reason: ${reason}`);
});
