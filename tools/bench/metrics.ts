// What the service's /metrics say, summed over labels: the benchmark reads it once a second.

export interface ServiceMetrics {
  /** analytics_events_total over every type and outcome: events the service has finished with. */
  events: number;
  /** analytics_rows_total: upserts, replaced children, updates, deletes. */
  rows: number;
  rowsDetail: string;
  /** analytics_deadlocks_total, when the service exports it. */
  deadlocks: number | null;
}

/** Sums of the service's counters from its /metrics; null when it does not answer (yet). */
export async function serviceMetrics(port: number): Promise<ServiceMetrics | null> {
  let text: string;
  try {
    text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  } catch {
    return null;
  }
  return parseMetrics(text);
}

export function parseMetrics(text: string): ServiceMetrics {
  const sum = (name: string) => {
    let total = 0;
    let seen = false;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "gm"))) {
      total += Number(m[1]);
      seen = true;
    }
    return seen ? total : null;
  };
  const detail: string[] = [];
  for (const m of text.matchAll(/^analytics_rows_total\{([^}]*)\} (\d+)/gm)) {
    detail.push(`${(m[1] ?? "").replace(/[a-z]+="([^"]*)",?/g, "$1 ").trim()}: ${m[2]}`);
  }
  return {
    events: sum("analytics_events_total") ?? 0,
    rows: sum("analytics_rows_total") ?? 0,
    rowsDetail: detail.join(", "),
    deadlocks: sum("analytics_deadlocks_total"),
  };
}
