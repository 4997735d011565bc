import assert from "node:assert/strict";
import {
  escapeLabelValue,
  type MetricsSnapshot,
  PROMETHEUS_CONTENT_TYPE,
  renderMetrics,
  renderPrometheusText,
} from "../../../proxy/admin/metrics.ts";
import { createAdminApp } from "../../../proxy/admin/admin_app.ts";
import { AdminBackendFixture } from "../../_support/admin_backend_fixture.ts";
import { needsPrograms } from "../../_support/external_program.ts";
import { parsePrometheusText } from "./_prometheus_text.ts";

/** Pool handles that need every escape, and one beyond ASCII. */
const AWKWARD_POOL = 'we"b\\x\nz';
const UNICODE_POOL = "échec-池";

const SNAPSHOT: MetricsSnapshot = {
  sessions: 2,
  sessionsTotal: 10,
  failoversTotal: { reset: 3, admin: 1 },
  bytesTotal: { in: 100, out: 2000 },
  poolElements: [
    { pool: UNICODE_POOL, state: "down", count: 1 },
    { pool: AWKWARD_POOL, state: "active", count: 2 },
    { pool: AWKWARD_POOL, state: "draining", count: 1 },
  ],
  registrationsTotal: 4,
  handleResolutionsTotal: 9,
  enrpMessagesTotal: { ENRP_PRESENCE: 5, ENRP_HANDLE_UPDATE: 2 },
  errorsTotal: {},
};

const FAMILIES = [
  ["poolgate_sessions", "gauge"],
  ["poolgate_sessions_total", "counter"],
  ["poolgate_failovers_total", "counter"],
  ["poolgate_bytes_total", "counter"],
  ["poolgate_pool_elements", "gauge"],
  ["poolgate_registrations_total", "counter"],
  ["poolgate_handle_resolutions_total", "counter"],
  ["poolgate_enrp_messages_total", "counter"],
  ["poolgate_errors_total", "counter"],
] as const;

function valueOf(
  families: ReturnType<typeof parsePrometheusText>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return families.get(name)?.samples.find((sample) =>
    JSON.stringify(Object.entries(sample.labels).sort()) ===
      JSON.stringify(Object.entries(labels).sort())
  )?.value;
}

Deno.test("renderMetrics() gives every family with HELP and TYPE, prefixed poolgate_", () => {
  const families = parsePrometheusText(renderMetrics(SNAPSHOT));
  assert.deepEqual([...families.keys()], FAMILIES.map(([name]) => name));
  for (const [name, type] of FAMILIES) {
    const family = families.get(name)!;
    assert.equal(family.type, type, name);
    assert.ok(family.help !== undefined && family.help.length > 0, `${name} has help`);
  }
});

Deno.test("renderMetrics() shows each value under its labels", () => {
  const families = parsePrometheusText(renderMetrics(SNAPSHOT));
  assert.equal(valueOf(families, "poolgate_sessions"), 2);
  assert.equal(valueOf(families, "poolgate_sessions_total"), 10);
  assert.equal(valueOf(families, "poolgate_failovers_total", { cause: "reset" }), 3);
  assert.equal(valueOf(families, "poolgate_failovers_total", { cause: "admin" }), 1);
  assert.equal(valueOf(families, "poolgate_bytes_total", { direction: "in" }), 100);
  assert.equal(valueOf(families, "poolgate_bytes_total", { direction: "out" }), 2000);
  assert.equal(
    valueOf(families, "poolgate_pool_elements", { pool: AWKWARD_POOL, state: "draining" }),
    1,
  );
  assert.equal(
    valueOf(families, "poolgate_pool_elements", { pool: UNICODE_POOL, state: "down" }),
    1,
  );
  assert.equal(valueOf(families, "poolgate_registrations_total"), 4);
  assert.equal(valueOf(families, "poolgate_handle_resolutions_total"), 9);
  assert.equal(valueOf(families, "poolgate_enrp_messages_total", { type: "ENRP_PRESENCE" }), 5);
  assert.equal(families.get("poolgate_errors_total")?.samples.length, 0);
});

Deno.test("renderMetrics() sorts labelled samples, so the output is stable", () => {
  const text = renderMetrics(SNAPSHOT);
  assert.ok(text.indexOf('cause="admin"') < text.indexOf('cause="reset"'));
  assert.ok(text.indexOf('type="ENRP_HANDLE_UPDATE"') < text.indexOf('type="ENRP_PRESENCE"'));
  assert.equal(
    renderMetrics({ ...SNAPSHOT, poolElements: [...SNAPSHOT.poolElements].reverse() }),
    text,
  );
});

Deno.test("escapeLabelValue() escapes backslash, double quote and line feed only", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd\te'), 'a\\\\b\\"c\\nd\te');
  const text = renderMetrics(SNAPSHOT);
  assert.ok(text.includes('pool="we\\"b\\\\x\\nz"'), text);
});

Deno.test("renderPrometheusText() writes NaN and infinities as Prometheus reads them", () => {
  const text = renderPrometheusText([{
    name: "poolgate_test",
    type: "gauge",
    help: "A help text with a \\ backslash\nand a line feed.",
    samples: [
      { labels: { v: "nan" }, value: NaN },
      { labels: { v: "inf" }, value: Infinity },
      { labels: { v: "minus" }, value: -Infinity },
      { labels: { v: "fraction" }, value: 0.25 },
    ],
  }]);
  assert.match(
    text,
    /^# HELP poolgate_test A help text with a \\\\ backslash\\nand a line feed\.$/m,
  );
  assert.match(text, /^poolgate_test\{v="inf"\} \+Inf$/m);
  assert.match(text, /^poolgate_test\{v="minus"\} -Inf$/m);
  const family = parsePrometheusText(text).get("poolgate_test")!;
  assert.equal(family.help, "A help text with a \\ backslash\nand a line feed.");
  assert.ok(Number.isNaN(family.samples[0]!.value));
  assert.equal(family.samples[3]!.value, 0.25);
});

Deno.test("renderPrometheusText() refuses a bad metric or label name with TypeError", () => {
  assert.throws(
    () => renderPrometheusText([{ name: "poolgate-x", type: "gauge", help: "h", samples: [] }]),
    { name: "TypeError", message: /metric 'poolgate-x'/ },
  );
  assert.throws(
    () =>
      renderPrometheusText([{
        name: "poolgate_x",
        type: "gauge",
        help: "h",
        samples: [{ labels: { "__reserved": "v" }, value: 1 }],
      }]),
    { name: "TypeError", message: /label '__reserved'/ },
  );
});

Deno.test("renderMetrics() passes promtool check metrics", needsPrograms("promtool"), async () => {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(renderMetrics(SNAPSHOT)));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const said = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, said);
  assert.equal(said.trim(), "");
});

Deno.test("GET /metrics serves the backend's counters in the text format", async () => {
  const backend = new AdminBackendFixture();
  backend.registerOverAsap("web", {
    peId: 7,
    addresses: ["10.0.0.7"],
    port: 80,
    transportUse: "data-only",
    policy: { name: "rr" },
  });
  const session = backend.openSession("web", "192.0.2.1:5000", 7);
  backend.forward(session.id, 11, 22);
  await backend.failoverSession(session.id);
  const response = await createAdminApp({ backend }).request("/metrics");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  const families = parsePrometheusText(await response.text());
  assert.equal(valueOf(families, "poolgate_sessions_total"), 1);
  assert.equal(valueOf(families, "poolgate_bytes_total", { direction: "out" }), 22);
  assert.equal(valueOf(families, "poolgate_failovers_total", { cause: "admin" }), 1);
  assert.equal(valueOf(families, "poolgate_pool_elements", { pool: "web", state: "active" }), 1);
});

Deno.test("parsePrometheusText(), the oracle above, rejects what Prometheus rejects", () => {
  const bad = [
    'poolgate_x{pool="a"b"} 1\n',
    'poolgate_x{pool="a\\q"} 1\n',
    "poolgate_x 1\n# TYPE poolgate_x gauge\n",
    "# TYPE poolgate_x gauge\n# TYPE poolgate_x gauge\n",
    'poolgate_x 1\npoolgate_y 1\npoolgate_x{a="b"} 2\n',
    "poolgate_x 1\npoolgate_x 2\n",
    "poolgate_x one\n",
    "poolgate_x 1",
  ];
  for (const text of bad) {
    assert.throws(() => parsePrometheusText(text), SyntaxError, JSON.stringify(text));
  }
});
