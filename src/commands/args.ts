import { parseArgs } from "node:util";
import { datetimeMs, toUtcDatetime6 } from "../decode/timestamp.ts";
import { AppError, ErrorCodes } from "../errors.ts";

// Options of the operator commands: strict, so a typo is one clear line and exit status 2 rather
// than a silently ignored flag.

/** A command line the command can't accept: reported as one line, exit status 2. */
export class UsageError extends AppError {
  constructor(message: string) {
    super(ErrorCodes.CONFIG, message);
  }
}

export type OptionSpec = Record<string, "boolean" | "string">;
export type ParsedOptions<S extends OptionSpec> = {
  [K in keyof S]?: S[K] extends "boolean" ? boolean : string;
};

/**
 * Parses `--flag`, `--name value` and `--name=value` against `spec`, with node:util parseArgs.
 * It runs loose and its tokens are checked here, for one-line errors naming the command (in
 * strict mode its messages run to several sentences, and it takes an option given twice
 * silently): unknown options, positional arguments, a missing value, a value given to a flag
 * and an option given twice are UsageErrors.
 */
export function parseOptions<S extends OptionSpec>(
  command: string,
  args: readonly string[],
  spec: S,
): ParsedOptions<S> {
  return parseCommandLine(command, args, spec, false).options;
}

/**
 * parseOptions for a command that also takes words (`repair <table> <id>`): with `takesWords`,
 * the positional arguments are returned in order (after `--` too) for the command to judge.
 */
export function parseCommandLine<S extends OptionSpec>(
  command: string,
  args: readonly string[],
  spec: S,
  takesWords: boolean,
): { options: ParsedOptions<S>; words: string[] } {
  const fail = (why: string): never => {
    throw new UsageError(`${command}: ${why}; try --help`);
  };
  const options = Object.fromEntries(Object.entries(spec).map(([name, type]) => [name, { type }]));
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const out: Record<string, string | boolean> = {};
  const words: string[] = [];
  for (const token of tokens) {
    if (token.kind !== "option") {
      if (!takesWords) fail(`unexpected argument "${args[token.index]}"`);
      if (token.kind === "positional") words.push(token.value);
      continue;
    }
    // A short option (-x) is not an option of these commands: where words are taken, the dash
    // says an option was meant; elsewhere it is one more argument the command takes none of.
    if (!token.rawName.startsWith("--")) {
      fail(takesWords ? `unknown option ${token.rawName}` : `unexpected argument "${args[token.index]}"`);
    }
    const name = token.name;
    // Named as written up to its "=" (parseArgs names `--=5` "=5").
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) fail(`unknown option --${/^--([^=]*)/.exec(args[token.index] ?? "")?.[1]}`);
    if (Object.hasOwn(out, name)) fail(`--${name} given twice`);
    if (type === "boolean") {
      if (token.value !== undefined) fail(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    // `--since --reason x`: parseArgs takes "--reason" as the value; the next option is meant.
    const value = token.value;
    if (value === undefined || value === "" || (!token.inlineValue && value.startsWith("--"))) {
      fail(`--${name} needs a value`);
    }
    out[name] = value as string;
  }
  return { options: out as ParsedOptions<S>, words };
}

/**
 * An ISO-8601 date or date-time (`2026-02-11`, `2026-02-11T09:38`, `2026-02-11T09:38:25.123456+02:00`,
 * `...Z`); without an offset it is UTC. Returns the instant in milliseconds, or undefined when the
 * text is not such a time, names a day that does not exist, or lies outside years 1000–9999. The
 * parts a command line may leave out are filled in, and the event timestamps' reader does the rest.
 */
export function parseIsoTime(text: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2})(:\d{2}(?:\.\d{1,9})?)?(.*))?$/.exec(text.trim());
  if (!m) return undefined;
  const [, date, hhmm = "00:00", seconds = ":00", zone = ""] = m;
  // ISO 8601 lets an offset be whole hours (`+02`); events always carry the minutes too.
  const offset = /^[+-]\d{2}$/.test(zone) ? `${zone}:00` : zone;
  const datetime = toUtcDatetime6(`${date}T${hhmm}${seconds}${offset}`);
  return datetime === null ? undefined : datetimeMs(datetime);
}
