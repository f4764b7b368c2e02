// ISO-8601 → MySQL DATETIME(6) text in UTC, done on the digits: a JS Date keeps milliseconds
// only, and a round trip through it would lose or round the microseconds.

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/i;

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/**
 * `2026-02-11T09:38:25.123456+02:00` → `2026-02-11 07:38:25.123456`.
 * No offset means UTC (the upstream always writes one; a bare value is taken as UTC, not as
 * server-local time). Fractions beyond microseconds are truncated, never rounded, so a value
 * can't move into the next second. Returns null for anything that isn't a real instant that
 * DATETIME can hold (years 1000–9999).
 */
export function toUtcDatetime6(text: string): string | null {
  const m = ISO.exec(text);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac = "", zone = "Z"] = m as unknown as string[];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(base);
  // Date.UTC rolls 31 February over into March; a date that rolls over is not a date.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  const micros = `${frac}000000`.slice(0, 6);
  // The upstream's usual UTC offset: the digits already are the answer (the hot path).
  if ((zone === "Z" || zone === "z" || zone === "+00:00") && year >= 1000) {
    return `${y}-${mo}-${d} ${h}:${mi}:${s}.${micros}`;
  }
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4));
    if (oh > 23 || om > 59) return null;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const utc = new Date(base - offsetMinutes * 60_000);
  const uy = utc.getUTCFullYear();
  if (uy < 1000 || uy > 9999) return null;
  return `${pad(uy, 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())} ${pad(utc.getUTCHours())}:${pad(
    utc.getUTCMinutes(),
  )}:${pad(utc.getUTCSeconds())}.${micros}`;
}
