// ISO-8601 → MySQL DATETIME(6) text in UTC, done on the digits: a JS Date keeps milliseconds
// only, and a round trip through it would lose or round the microseconds. Read character by
// character rather than by a regular expression: every event carries several timestamps, and the
// match's substrings were a large part of what decoding allocated (docs/decisions.md).

/** The number written in `width` ASCII digits at `at`, or -1 if any of them is not a digit. */
function digits(text: string, at: number, width: number): number {
  let n = 0;
  for (let i = at; i < at + width; i++) {
    const d = text.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (year: number, month: number) => (month === 2 && isLeap(year) ? 29 : (DAYS[month - 1] as number));

const isDigit = (code: number) => code >= 48 && code <= 57;

/** The microseconds of a fraction of `count` digits at text[20], truncated or filled with zeros to 6. */
const micros = (text: string, count: number) =>
  count >= 6 ? text.slice(20, 26) : text.slice(20, 20 + count) + "000000".slice(count);

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/**
 * `2026-02-11T09:38:25.123456+02:00` → `2026-02-11 07:38:25.123456`.
 * Accepts `YYYY-MM-DD[T ]hh:mm:ss[.f{1,9}][Z|±hh[:]mm]`, `T` and `Z` in either case.
 * No offset means UTC (the upstream always writes one; a bare value is taken as UTC, not as
 * server-local time). Fractions beyond microseconds are truncated, never rounded, so a value
 * can't move into the next second. Returns null for anything that isn't a real instant that
 * DATETIME can hold (years 1000–9999).
 */
export function toUtcDatetime6(text: string): string | null {
  if (text.length < 19) return null;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const sep = text[10];
  if (text[4] !== "-" || text[7] !== "-" || (sep !== "T" && sep !== "t" && sep !== " ")) return null;
  if (text[13] !== ":" || text[16] !== ":") return null;
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return null;

  let at = 19;
  // Digits of the fraction (0: none); from 6 on, the microseconds are text[20..26) as written.
  let count = 0;
  if (text.charCodeAt(at) === 46 /* . */) {
    let end = at + 1;
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    count = end - at - 1;
    if (count < 1 || count > 9) return null;
    at = end;
  }

  let offsetMinutes = 0;
  const zone = text[at];
  if (zone === "Z" || zone === "z") {
    at++;
  } else if (zone === "+" || zone === "-") {
    const colon = text[at + 3] === ":" ? 1 : 0;
    const oh = digits(text, at + 1, 2);
    const om = digits(text, at + 3 + colon, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return null;
    offsetMinutes = (zone === "-" ? -1 : 1) * (oh * 60 + om);
    at += 5 + colon;
  }
  if (at !== text.length) return null;

  // UTC already (the upstream's usual `+00:00`): the digits are the answer (the hot path).
  if (offsetMinutes === 0) {
    if (year < 1000) return null;
    return count >= 6
      ? `${text.slice(0, 10)} ${text.slice(11, 26)}`
      : `${text.slice(0, 10)} ${text.slice(11, 19)}.${micros(text, count)}`;
  }
  // An offset moves an instant by less than a day, so only year 999 can reach year 1000; and
  // Date.UTC would read years below 100 as 19xx.
  if (year < 999) return null;
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000);
  const uy = utc.getUTCFullYear();
  if (uy < 1000 || uy > 9999) return null;
  return `${pad(uy, 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())} ${pad(utc.getUTCHours())}:${pad(
    utc.getUTCMinutes(),
  )}:${pad(utc.getUTCSeconds())}.${micros(text, count)}`;
}

/** Milliseconds since the epoch of DATETIME(6) UTC text (as toUtcDatetime6 writes it), read from its digits. */
export function datetimeMs(d: string): number {
  return Date.UTC(
    digits(d, 0, 4),
    digits(d, 5, 2) - 1,
    digits(d, 8, 2),
    digits(d, 11, 2),
    digits(d, 14, 2),
    digits(d, 17, 2),
    digits(d, 20, 3),
  );
}
