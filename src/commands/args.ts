import { AppError, ErrorCodes } from "../errors.ts";

// Options of the operator commands (`report`, `dlq list`, `dlq replay`): a small strict parser,
// so a typo is one clear line and exit status 2 rather than a silently ignored flag.

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
 * Parses `--flag`, `--name value` and `--name=value` against `spec`. Unknown options, positional
 * arguments, a missing value, a value given to a flag and an option given twice are UsageErrors
 * naming the command.
 */
export function parseOptions<S extends OptionSpec>(
  command: string,
  args: readonly string[],
  spec: S,
): ParsedOptions<S> {
  const out: Record<string, string | boolean> = {};
  const fail = (why: string): never => {
    throw new UsageError(`${command}: ${why}; try --help`);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith("--") || arg === "--") fail(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) fail(`unknown option --${name}`);
    if (Object.hasOwn(out, name)) fail(`--${name} given twice`);
    if (type === "boolean") {
      if (eq !== -1) fail(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = args[i + 1];
      if (value === undefined || value.startsWith("--")) fail(`--${name} needs a value`);
      i++;
    }
    if (value === "") fail(`--${name} needs a value`);
    out[name] = value as string;
  }
  return out as ParsedOptions<S>;
}

/**
 * An ISO-8601 date or date-time (`2026-02-11`, `2026-02-11T09:38`, `2026-02-11T09:38:25.123456+02:00`,
 * `...Z`); without an offset it is UTC. Returns the instant in milliseconds, or undefined when the
 * text is not such a time or names a day that does not exist.
 */
export function parseIsoTime(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(
    text.trim(),
  );
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", fraction = "", offset = "Z"] = m;
  const ms = fraction.padEnd(3, "0").slice(0, 3);
  const normalised = offset.toUpperCase() === "Z" ? "Z" : offset.replace(/^([+-]\d{2}):?(\d{2})$/, "$1:$2");
  const when = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}${normalised}`);
  if (Number.isNaN(when)) return undefined;
  // Date.parse rolls 2026-02-30 over into March: reject days and times that don't exist.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(s)
  ) {
    return undefined;
  }
  return when;
}
