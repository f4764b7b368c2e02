import { parseOptions, UsageError } from "./commands/args.ts";
import { listOptions, runDlqList } from "./commands/dlq-list.ts";
import { replayOptions, runDlqReplay } from "./commands/dlq-replay.ts";
import { generateOptions, runGenerate } from "./commands/generate.ts";
import { runMigrate } from "./commands/migrate.ts";
import { repairOptions, runRepair } from "./commands/repair.ts";
import { reportOptions, runReport } from "./commands/report.ts";
import { runRewind } from "./commands/rewind.ts";
import { rewindOptions } from "./commands/rewind-plan.ts";
import { runService } from "./commands/run.ts";
import { helpLines, misspelled } from "./config/declare.ts";
import { loadConfig, serviceDeclaration } from "./config/index.ts";
import { isExpected, messageOf, oneLine } from "./errors.ts";

// analytics-service [run|migrate|generate|report|dlq list|dlq replay|repair|rewind] [--help]. Expected failures (bad
// config, unreachable or refusing services) print one line and exit 1; a bad command line prints
// one line and exits 2; anything else is a bug and prints its stack.

const USAGE = `usage: analytics-service [command] [options]

commands:
  run       consume the five topics into MySQL (the default)
  migrate   apply pending schema migrations and exit
  generate [--events N] [--rate R] [--seed S] [--poison F] [--start ISO-time]
           [--into-nonempty-topics]
            write a realistic seeded event stream (all five domains, updates, deletes,
            restores, cancels, duplicates) into the topics: N events (10000), R per second
            (0 = as fast as possible), a fraction F of them poison (0) to exercise the
            dead-letter topic; stamped to end by now unless --start is given (the first line
            printed is the --seed and --start that repeat the run); the topics must exist.
            Every record carries the header analytics.generated: true. Topics holding a
            record generate did not write (a platform's real topics) are refused, nothing
            written, unless --into-nonempty-topics
  report [--json]
            the data team's standing questions (sign-ups, orders by country, top suppliers,
            posts, ...) from the report_* views, as tables or one JSON object
  dlq list [--json] [--limit N]
            the newest N letters (1000 unless given, at most 100000) in the dead-letter topic
            (KAFKA_DLQ_TOPIC): when, source topic/partition@offset, event type, error code and
            reason; the last line counts them, and all of them by code when --limit left
            some out
  dlq replay [--since ISO-time] [--reason code] [--restamp] [--dry-run]
            re-publish the chosen letters' original key, value and headers to their source
            topic and partition, once the cause is fixed; --since keeps letters that failed at
            or after the time (UTC when it has no offset), --reason keeps one error code
            (not_json, not_object, bad_envelope, bad_field, too_large, rejected_by_database,
            clock_skew, wrong_topic, unreadable_batch, concurrent_change, unexpected_error),
            --restamp gives them the replay's record time instead of their own (a producer
            that stamped 0), --dry-run only lists them. Safe to repeat: the sink is idempotent and never goes
            backwards, so an event it already applied changes nothing. Letters whose copy of
            the value was cut to fit (header dlq.value.truncated) are skipped.
  repair <table> <id> [--dry-run] [--force]
            unfreeze one entity that an event stamped far in the future left behind (before
            MAX_CLOCK_SKEW_MS turned such events away): clears its row's event_timestamp (a
            row without one is older than any event) and deletes its tombstone, so the next
            event of the entity applies and a replay of its history rebuilds it; table is one
            of users, suppliers, products, orders, posts and id its 24-hex-digit entity_id;
            --dry-run prints the row's event_timestamp and the tombstone's time and changes
            nothing; an entity nothing freezes (no time ahead of now by more than
            MAX_CLOCK_SKEW_MS) is refused unless --force
  rewind --to earliest|<ISO time> [--dry-run]
            move the consumer group's (KAFKA_GROUP_ID) committed offsets on the five source
            topics back, to the log start or, per partition, to the first record at or after
            the time (UTC when it has no offset), so the next start replays history (e.g. to fill a
            column a migration added); a partition not yet read that far stays. Refused while
            the group has live members: stop the service instances first. --dry-run prints
            each partition's committed offset before and after and changes nothing
  help      show this text

With neither KAFKA_BOOTSTRAP_SERVERS nor MYSQL_HOST set, \`run\` first starts the local
development stack (npm run stack:up) and uses it.

configuration (environment variables, with defaults):
${helpLines(serviceDeclaration).join("\n")}
`;

/**
 * Set by `run`: once the service has stopped (or failed), every connection closed or given up on,
 * the process ends, rather than wait on what the Kafka client may still hold: a rejoin that fails
 * after the consumer closed arms a timer of the rebalance timeout (102 s), and a consumer whose
 * LeaveGroup got no answer keeps its connection (read/leave-group.ts); either held the process
 * until SHUTDOWN_TIMEOUT_MS forced exit 1.
 */
let exitOnceDone = false;

/** The commands `main` knows. */
const COMMANDS = new Set(["run", "migrate", "generate", "report", "dlq", "repair", "rewind", "help"]);

async function main(argv: string[]): Promise<number> {
  const command = argv.find((a) => !a.startsWith("-")) ?? "run";
  // Before the help: `bogus --help` printing it and exiting 0 hid the typo from a script.
  if (!COMMANDS.has(command)) {
    process.stderr.write(`analytics-service: ${oneLine(`unknown command "${command}"; try --help`)}\n`);
    return 2;
  }
  if (argv.includes("--help") || argv.includes("-h") || command === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const at = argv.indexOf(command);
  const rest = argv.filter((_, i) => i !== at);
  process.stdout.on("error", onOutputError(command, CHANGING.has(command === "dlq" ? `dlq ${rest[0]}` : command)));
  // A misspelled variable leaves its default in force: said before anything connects.
  for (const { name, meant, noFileForm } of misspelled(serviceDeclaration, process.env)) {
    process.stderr.write(
      noFileForm
        ? `analytics-service: warning: ${oneLine(name)} is not a variable of the service, so it is ignored: only the passwords may come from a file (MYSQL_PASSWORD_FILE, ...); set ${meant}${/_SSL_(CA|CERT|KEY)$/.test(meant) ? " to the file's path" : " itself"}\n`
        : `analytics-service: warning: ${oneLine(name)} is not a variable of the service, so it is ignored; did you mean ${meant}?\n`,
    );
  }
  switch (command) {
    // Neither takes an option: one given (`migrate --dry-run`) is refused, not silently run.
    case "run":
      parseOptions("run", rest, {});
      exitOnceDone = true;
      return runService(loadConfig());
    case "migrate":
      parseOptions("migrate", rest, {});
      return runMigrate(loadConfig());
    case "generate":
      return runGenerate(loadConfig(), generateOptions(rest));
    case "report": {
      const options = reportOptions(rest);
      return runReport(loadConfig(), options);
    }
    case "dlq": {
      const [sub, ...args] = rest;
      if (sub === "list") {
        const options = listOptions(args);
        return runDlqList(loadConfig(), options);
      }
      if (sub === "replay") {
        const options = replayOptions(args);
        return runDlqReplay(loadConfig(), options);
      }
      throw new UsageError(
        sub === undefined ? "dlq: say list or replay; try --help" : `dlq: unknown subcommand "${sub}"; try --help`,
      );
    }
    case "repair": {
      const options = repairOptions(rest);
      return runRepair(loadConfig(), options);
    }
    case "rewind": {
      const options = rewindOptions(rest);
      return runRewind(loadConfig(), options);
    }
    default:
      throw new Error(`command "${command}" is listed but not handled`);
  }
}

/**
 * The commands that change something (topics, offsets, rows, the schema): the output is a report
 * of the work, and a reader that goes away must not cut the work short. `rewind | true` exited 0
 * with no offset moved, and `generate … | head -1` (its first line repeats the run) stopped at the
 * first progress line, both silently.
 */
const CHANGING = new Set(["generate", "rewind", "repair", "migrate", "dlq replay"]);

/**
 * `dlq list | head`: the reader went away, which ends a command that only reads quietly, as it
 * would any Unix tool; a command that changes something finishes its work, the rest of its output
 * dropped. For `run`, whose log is its output, or any other failure, one line, and exit status 1
 * (once the work is done, for a command that changes something).
 */
function onOutputError(command: string, changing: boolean) {
  return (err: NodeJS.ErrnoException) => {
    const quiet = err.code === "EPIPE" && command !== "run";
    if (!quiet) process.stderr.write(`analytics-service: writing to standard output failed: ${err.message}\n`);
    if (changing) {
      // The stream is destroyed: what the command writes from now on goes nowhere, without error.
      // The error may come before the command returns or after (its last line failed, reported on
      // a later tick than the work's end): the status set here stands unless the command fails.
      if (!quiet && !process.exitCode) process.exitCode = 1;
      return;
    }
    process.exit(quiet ? 0 : 1);
  };
}

main(process.argv.slice(2))
  .then(
    (code) => {
      // A failed output (onOutputError) is not undone by the command's own 0.
      if (code !== 0 || !process.exitCode) process.exitCode = code;
    },
    (err: unknown) => {
      // A message may quote what the user typed or set, line breaks and terminal escapes included.
      if (err instanceof UsageError) {
        process.stderr.write(`analytics-service: ${oneLine(err.message)}\n`);
        process.exitCode = 2;
        return;
      }
      if (isExpected(err)) {
        process.stderr.write(`analytics-service: ${oneLine(err.message)}\n`);
      } else {
        process.stderr.write(`analytics-service: unexpected error: ${messageOf(err)}\n`);
        console.error(err);
      }
      process.exitCode = 1;
    },
  )
  .finally(() => {
    // Once what was written has reached standard output (a pipe is written asynchronously on macOS).
    if (exitOnceDone) process.stdout.write("", () => process.exit());
  });
