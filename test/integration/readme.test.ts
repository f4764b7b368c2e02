import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { serviceDeclaration } from "../../src/config/index.ts";
import { stackDeclaration } from "../../tools/stack/config.ts";

// The README is documentation users act on: its commands and configuration table must match the code.

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

test("every configuration variable is documented with its description", () => {
  for (const v of [...Object.values(serviceDeclaration), ...Object.values(stackDeclaration)]) {
    const row = README.split("\n").find((l) => l.startsWith(`| \`${v.env}\` |`));
    assert.ok(row, `${v.env} is missing from the README`);
    assert.ok(row.includes(v.description), `${v.env}: the README's description differs from the declaration`);
  }
});
