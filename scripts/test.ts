// npm test: makes sure the local stack answers (starting what is missing), runs every test file
// on Node's runner, then stops what it started. Extra arguments go to `node --test`.
import { spawn } from "node:child_process";
import { loadConfig } from "../src/config/index.ts";
import { isExpected, messageOf } from "../src/errors.ts";
import { loadStackConfig } from "../tools/stack/config.ts";
import { databaseDown, databaseStatus } from "../tools/stack/database.ts";
import { stackUp } from "../tools/stack/index.ts";
import { kafkaDown, kafkaStatus } from "../tools/stack/kafka.ts";

const DEFAULT_FILES = ["src/**/*.test.ts", "tools/**/*.test.ts", "test/**/*.test.ts"];

/**
 * The whole suite reports coverage of the code it runs (Node's own), and fails below these
 * floors: the figures of the last full run (lines 97.2 %, branches 91.0 %, functions 95.4 %),
 * less a margin for branches that only some runs' timing takes.
 */
const COVERAGE = [
  "--experimental-test-coverage",
  "--test-coverage-lines=96",
  "--test-coverage-branches=89.5",
  "--test-coverage-functions=94",
  "--test-coverage-exclude=**/*.test.ts",
  "--test-coverage-exclude=test/**",
  "--test-coverage-exclude=src/testing/**",
];

async function main(args: string[]): Promise<number> {
  const stack = loadStackConfig();
  const kafkaBefore = (await kafkaStatus(stack)).state;
  const databaseBefore = (await databaseStatus(stack)).state;
  // The service account of docs/operations.md#configuration; tests make their own databases through the admin account.
  const report = await stackUp(stack, loadConfig({}));
  console.log(`${report.kafka}\n${report.database}`);
  try {
    const whole = !args.some((a) => !a.startsWith("-"));
    const files = whole ? [...COVERAGE, ...DEFAULT_FILES] : [];
    // Three files at a time on two cores: most integration files spend their time waiting (for a
    // silence, a timeout, a throttle), and two at a time left the suite near CI's 15 minutes.
    const child = spawn(process.execPath, ["--test", "--test-concurrency=3", ...args, ...files], { stdio: "inherit" });
    return await new Promise<number>((resolve) =>
      child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))),
    );
  } finally {
    if (kafkaBefore === "down") await kafkaDown(stack);
    if (databaseBefore === "down") await databaseDown(stack);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`test: ${isExpected(err) ? err.message : messageOf(err)}`);
    if (!isExpected(err)) console.error(err);
    process.exit(1);
  },
);
