import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Pool } from "mysql2/promise";
import { parse, stringify } from "yaml";
import { createLogger } from "../../src/log.ts";
import { Metrics } from "../../src/observability/metrics.ts";

// deploy/ (docs/operations.md#dashboards-and-alerts): the alert rules pass Prometheus's own
// promtool (syntax, then each alert's unit tests), and the dashboard and the rules only name
// series the service exports — a renamed metric breaks this test, not a dashboard in production.

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RULES = join(ROOT, "deploy/prometheus/alerts.yml");
const RULE_TESTS = join(ROOT, "deploy/prometheus/alerts.test.yml");
const DASHBOARD = join(ROOT, "deploy/grafana/analytics-service.json");
const OPERATIONS_DOC = join(ROOT, "docs/operations.md");

/** Series Prometheus makes itself for each target (not exported by the service). */
const PROMETHEUS_SERIES = new Set(["up"]);
/** How every panel and query names its data source: the dashboard's DS_PROMETHEUS variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
const DATA_SOURCE = "${DS_PROMETHEUS}";

/** PromQL functions and aggregations: an identifier before `(` must be one of these. */
// biome-ignore format: a list, not one name a line
const FUNCTIONS = new Set([
  "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
  "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "resets", "changes",
  "histogram_quantile", "absent", "absent_over_time", "time", "timestamp", "vector", "scalar", "clamp_min",
  "clamp_max", "abs", "ceil", "floor", "round", "label_replace", "label_join", "sort", "sort_desc",
  "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time",
  "quantile_over_time",
]);
/** PromQL keywords: binary set operators, grouping and matching modifiers, offset, bool. */
// biome-ignore format: a list, not one name a line
const KEYWORDS = new Set([
  "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "inf", "nan",
]);

/** Metric names an expression reads. Throws on a call of an unknown function (a typo, most likely). */
export function seriesNames(expr: string): Set<string> {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings: label values, Grafana variables
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges and subqueries
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // label lists
    .replace(/\boffset\s+-?[0-9a-z$_]+/gi, " ") // offset durations
    .replace(/\b\d[\w.]*/g, " "); // numbers and durations
  const names = new Set<string>();
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const after = bare.slice((m.index ?? 0) + word.length).trimStart();
    if (after.startsWith("(")) {
      if (!FUNCTIONS.has(word) && !KEYWORDS.has(word)) throw new Error(`unknown PromQL function ${word}( in ${expr}`);
    } else if (!KEYWORDS.has(word.toLowerCase())) {
      names.add(word);
    }
  }
  return names;
}

/** Every series name a real Metrics registry exposes (histograms as _bucket, _sum and _count). */
async function exportedSeries(): Promise<Set<string>> {
  const metrics = new Metrics(createLogger("silent"), {} as Pool);
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
    else names.add(m.name);
  }
  return names;
}

const PROMTOOL_MISSING =
  "promtool not found: run scripts/install-tools.sh (as root; it installs it from Debian's prometheus package)";

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile("promtool", args, { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === "ENOENT") reject(new Error(PROMTOOL_MISSING));
      else resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, output: stdout + stderr });
    });
  });
}

type Rule = { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string> } & {
  annotations?: Record<string, string>;
};
type Target = { expr?: string; datasource?: { uid?: string } };
type Panel = {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
};

const rules = async (): Promise<Rule[]> =>
  (parse(await readFile(RULES, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = async () =>
  JSON.parse(await readFile(DASHBOARD, "utf8")) as {
    panels: Panel[];
    templating: { list: { name: string; type: string; query?: unknown }[] };
  };
const queries = (panels: Panel[]) =>
  panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? "" })));

test("seriesNames finds the metrics of an expression and nothing else", () => {
  assert.deepEqual(
    [
      ...seriesNames(
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job=~"$job", x="y z"}[$__rate_interval]))) / on (job) ' +
          'group_left (instance) b unless c offset 5m and time() - d > 600 or absent(up{job="j"})',
      ),
    ].sort(),
    ["a_bucket", "b", "c", "d", "up"],
  );
  assert.throws(() => seriesNames("rat(x[5m])"), /unknown PromQL function rat\(/);
});

test("promtool accepts the alert rules and each alert's unit tests pass", async () => {
  const check = await promtool("check", "rules", RULES);
  assert.equal(check.code, 0, check.output);
  assert.match(check.output, /SUCCESS: \d+ rules found/);
  const unit = await promtool("test", "rules", RULE_TESTS);
  assert.equal(unit.code, 0, unit.output);
  assert.match(unit.output, /SUCCESS/);
});

test("every alert is tested both firing and silent, and has a severity, a summary and a runbook entry", async () => {
  const alerts = (await rules()).filter((r) => r.alert !== undefined);
  assert.ok(alerts.length >= 6);
  const cases = (
    parse(await readFile(RULE_TESTS, "utf8")) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    }
  ).tests.flatMap((t) => t.alert_rule_test ?? []);
  const doc = await readFile(OPERATIONS_DOC, "utf8");
  const anchors = new Set(
    [...doc.matchAll(/^#+ (.+)$/gm)].map((m) =>
      (m[1] ?? "")
        .toLowerCase()
        .replace(/[^\w\- ]/g, "")
        .replace(/ /g, "-"),
    ),
  );
  for (const a of alerts) {
    const name = a.alert ?? "";
    assert.ok(
      cases.some((c) => c.alertname === name && (c.exp_alerts?.length ?? 0) > 0),
      `${name}: no test where it fires`,
    );
    assert.ok(
      cases.some((c) => c.alertname === name && (c.exp_alerts?.length ?? 0) === 0),
      `${name}: no test where it stays silent`,
    );
    assert.match(a.labels?.severity ?? "", /^(critical|warning|info)$/, `${name}: severity`);
    assert.ok(a.annotations?.summary && a.annotations.description, `${name}: summary and description`);
    const anchor = /^docs\/operations\.md#(.+)$/.exec(a.annotations?.runbook_url ?? "")?.[1];
    assert.ok(anchor && anchors.has(anchor), `${name}: runbook_url ${a.annotations?.runbook_url} has no heading`);
  }
});

test("the dashboard and the rules read only series the service exports, and the dashboard shows every analytics_* one", async () => {
  const exported = await exportedSeries();
  const known = (n: string) => exported.has(n) || PROMETHEUS_SERIES.has(n);
  const { panels } = await dashboard();
  const used = new Map<string, string>(); // series -> where
  for (const q of queries(panels)) for (const n of seriesNames(q.expr)) used.set(n, `panel "${q.panel}"`);
  const onDashboard = new Set(used.keys());
  for (const r of await rules()) for (const n of seriesNames(r.expr)) used.set(n, `rule ${r.alert ?? r.record}`);
  const unknown = [...used].filter(([n]) => !known(n)).map(([n, where]) => `${n} (${where})`);
  assert.deepEqual(unknown, [], "series not exported by src/observability/metrics.ts");

  const base = (n: string) => n.replace(/_(bucket|sum|count)$/, "");
  const shown = new Set([...onDashboard].flatMap((n) => [n, base(n)]));
  const missing = [...exported].filter((n) => n.startsWith("analytics_") && !shown.has(n) && !shown.has(base(n)));
  assert.deepEqual(missing, [], "analytics_* series without a panel in deploy/grafana/analytics-service.json");
  for (const n of ["process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "process_cpu_seconds_total"]) {
    assert.ok(onDashboard.has(n), `${n} on the dashboard`);
  }
});

test("the dashboard's queries parse, use the templated data source, and follow the job and instance variables", async () => {
  const { panels, templating } = await dashboard();
  const vars = new Map(templating.list.map((v) => [v.name, v]));
  assert.equal(vars.get("DS_PROMETHEUS")?.type, "datasource");
  assert.equal(vars.get("job")?.type, "query");
  assert.equal(vars.get("instance")?.type, "query");
  for (const v of ["job", "instance"]) {
    const q = vars.get(v)?.query as { query?: string } | undefined;
    for (const n of seriesNames(q?.query?.replace(/^label_values\((.*),\s*\w+\)$/, "$1") ?? "")) {
      assert.ok((await exportedSeries()).has(n), `variable ${v} reads ${n}`);
    }
  }

  const ids = new Set<number>();
  const cells = new Set<string>();
  for (const p of panels) {
    assert.ok(!ids.has(p.id), `panel id ${p.id} used twice`);
    ids.add(p.id);
    const { x, y, w, h } = p.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `panel "${p.title}" fits the 24 columns`);
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `panel "${p.title}" overlaps another`);
        cells.add(`${i},${j}`);
      }
    }
    if (p.type === "row") continue;
    assert.equal(p.datasource?.uid, DATA_SOURCE, `panel "${p.title}" data source`);
    assert.ok((p.targets?.length ?? 0) > 0, `panel "${p.title}" has queries`);
    for (const t of p.targets ?? []) {
      assert.equal(t.datasource?.uid, DATA_SOURCE, `panel "${p.title}" query data source`);
      for (const selector of (t.expr ?? "").match(/\b[a-z_:][\w:]*\{[^}]*\}/g) ?? []) {
        assert.match(selector, /job=~"\$job"/, `panel "${p.title}": ${selector} follows $job`);
        assert.match(selector, /instance=~"\$instance"/, `panel "${p.title}": ${selector} follows $instance`);
      }
    }
  }

  // promtool parses each query, Grafana's variables given values, as a recording rule.
  const dir = await mkdtemp(join(tmpdir(), "dashboard-queries-"));
  try {
    const grafana = (expr: string) =>
      expr
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$__range", "1h")
        .replaceAll("$job", ".*")
        .replaceAll("$instance", ".*");
    const records = queries(panels).map((q, i) => ({ record: `dashboard:query_${i}`, expr: grafana(q.expr) }));
    const file = join(dir, "queries.yml");
    await writeFile(file, stringify({ groups: [{ name: "dashboard", rules: records }] }));
    const check = await promtool("check", "rules", file);
    assert.equal(check.code, 0, check.output);
    assert.match(check.output, new RegExp(`SUCCESS: ${records.length} rules found`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("every dependency the service waits for is named where the docs describe analytics_outage", async () => {
  const doc = await readFile(OPERATIONS_DOC, "utf8");
  const row = /^\| `analytics_outage` \|.*$/m.exec(doc)?.[0] ?? "";
  const service = await readFile(join(ROOT, "src/service.ts"), "utf8");
  const dependencies = [...service.matchAll(/\boutage\("([^"]+)"\)/g)].map((m) => m[1] ?? "");
  assert.ok(dependencies.length >= 3, "src/service.ts names its outages");
  for (const d of dependencies) assert.ok(row.includes(`\`${d}\``), `analytics_outage's row names ${d}`);
  // The alert fires on analytics_outage == 1 whatever the dependency: its row says for which.
  const alert = /^\| `AnalyticsDependencyOutage` \|.*$/m.exec(doc)?.[0] ?? "";
  for (const d of dependencies) assert.ok(alert.includes(`\`${d}\``), `AnalyticsDependencyOutage's row names ${d}`);
  const runbook = /^#### AnalyticsDependencyOutage$([\s\S]*?)^#### /m.exec(doc)?.[1] ?? "";
  for (const d of dependencies)
    assert.ok(runbook.includes(d), `the runbook of AnalyticsDependencyOutage says what ${d} means`);
});
