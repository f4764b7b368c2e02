import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { describeDefault } from "../../src/config/declare.ts";
import { serviceDeclaration } from "../../src/config/index.ts";
import { configTable, markedBlock, OPERATIONS_DOC } from "../../tools/docs/config-table.ts";

// The README and docs/operations.md are documentation users act on: their commands and
// configuration tables must match the code.

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

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
  const block = markedBlock(readFileSync(OPERATIONS_DOC, "utf8"));
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
