// Throughput over a drain, from samples of how many events the service had finished, once a
// second: the rate in each tenth of the drain, and the chart of events/s per second as hand-written
// SVG (no dependency).

export interface Sample {
  /** Seconds since the service was started. */
  t: number;
  /** Events finished by then (analytics_events_total, or the committed offsets). */
  events: number;
}

/** When `target` events were reached, interpolated between the samples around it; null if never. */
function timeOf(samples: readonly Sample[], target: number): number | null {
  let previous: Sample = { t: 0, events: 0 };
  for (const s of samples) {
    if (s.events >= target) {
      if (s.events === previous.events) return s.t;
      return previous.t + ((target - previous.events) / (s.events - previous.events)) * (s.t - previous.t);
    }
    previous = s;
  }
  return null;
}

/**
 * Events/s in each tenth of the drain: the time between reaching k/10 and (k+1)/10 of `total`.
 * The first tenth starts with the service's start, so it carries the service's start-up.
 */
export function rateByTenth(samples: readonly Sample[], total: number): (number | null)[] {
  const times = Array.from({ length: 11 }, (_, k) => (k === 0 ? 0 : timeOf(samples, (k * total) / 10)));
  return times.slice(1).map((t, k) => {
    const before = times[k];
    if (t === null || before === null || before === undefined || t <= before) return null;
    return Math.round(total / 10 / (t - before));
  });
}

/** Events/s between consecutive samples, at the later one's time. */
export function ratePerSecond(samples: readonly Sample[]): { t: number; rate: number }[] {
  const out: { t: number; rate: number }[] = [];
  let previous: Sample = { t: 0, events: 0 };
  for (const s of samples) {
    if (s.t > previous.t) out.push({ t: s.t, rate: (s.events - previous.events) / (s.t - previous.t) });
    previous = s;
  }
  return out;
}

/** A round step giving about `count` ticks up to `max`: 1, 2 or 5 times a power of ten. */
export function tickStep(max: number, count = 6): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) as number;
  return step;
}

const xml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const thousands = (n: number) => Math.round(n).toLocaleString("en-US");

/** The chart: events/s per second as a polyline, the drain's mean dashed, axes with labels. */
export function throughputSvg(samples: readonly Sample[], mean: number, title: string, subtitle: string): string {
  const points = ratePerSecond(samples);
  const [width, height] = [860, 400];
  const m = { left: 78, right: 24, top: 58, bottom: 52 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const last = samples[samples.length - 1];
  const tMax = Math.max(1, last?.t ?? 1);
  const xStep = tickStep(tMax, 8);
  const yStep = tickStep(Math.max(1, ...points.map((p) => p.rate), mean) * 1.05, 6);
  const yMax = Math.ceil((Math.max(1, ...points.map((p) => p.rate), mean) * 1.05) / yStep) * yStep;
  const x = (t: number) => (m.left + (t / tMax) * plotW).toFixed(1);
  const y = (r: number) => (m.top + plotH - (r / yMax) * plotH).toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${m.left}" y="22" font-size="15" font-weight="bold">${xml(title)}</text>`,
    `<text x="${m.left}" y="40" fill="#555">${xml(subtitle)}</text>`,
  ];
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(
      `<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`,
      `<text x="${m.left - 6}" y="${y(v)}" dy="4" text-anchor="end">${thousands(v)}</text>`,
    );
  }
  for (let t = 0; t <= tMax + 1e-9; t += xStep) {
    out.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="${m.top + plotH}" y2="${m.top + plotH + 5}" stroke="#333"/>`,
      `<text x="${x(t)}" y="${m.top + plotH + 19}" text-anchor="middle">${thousands(t)}</text>`,
    );
  }
  out.push(
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<text x="${m.left + plotW / 2}" y="${height - 10}" text-anchor="middle">seconds since the service started</text>`,
    `<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">events/s (per second)</text>`,
    `<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(mean)}" y2="${y(mean)}" stroke="#c0392b" stroke-dasharray="6 4"/>`,
    `<text x="${m.left + plotW - 4}" y="${y(mean)}" dy="-5" text-anchor="end" fill="#c0392b">mean ${thousands(mean)} events/s</text>`,
  );
  const line = [`${x(0)},${y(0)}`, ...points.map((p) => `${x(p.t)},${y(p.rate)}`)].join(" ");
  out.push(`<polyline points="${line}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>`, "</svg>", "");
  return out.join("\n");
}
