/**
 * GET /metrics: Poolgate's counters and gauges in the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), every name prefixed
 * `poolgate_`, each family with its HELP and TYPE lines, label values escaped.
 *
 * @module
 */

/** The Content-Type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Pool elements of one pool in one state (`active`, `draining`, `maintenance`, `down`). */
export interface PoolElementCount {
  readonly pool: string;
  readonly state: string;
  readonly count: number;
}

/** What GET /metrics shows: totals count from the process start. */
export interface MetricsSnapshot {
  /** Sessions open now. */
  readonly sessions: number;
  /** Sessions started. */
  readonly sessionsTotal: number;
  /** Failovers by cause (`reset`, `connect-refused`, `admin`, …). */
  readonly failoversTotal: Readonly<Record<string, number>>;
  /** Bytes read from clients (`in`) and written to them (`out`). */
  readonly bytesTotal: { readonly in: number; readonly out: number };
  /** Pool elements by pool and state. */
  readonly poolElements: readonly PoolElementCount[];
  /** ASAP registrations (and re-registrations) the registrar accepted. */
  readonly registrationsTotal: number;
  /** ASAP handle resolutions answered. */
  readonly handleResolutionsTotal: number;
  /** ENRP messages received, by message type name (`ENRP_PRESENCE`, …). */
  readonly enrpMessagesTotal: Readonly<Record<string, number>>;
  /** Errors by kind (`wire-decode`, `accept`, …). */
  readonly errorsTotal: Readonly<Record<string, number>>;
}

/** One sample: its labels (name → value) and value. */
export interface MetricSample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family: its name, help text, type and samples. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly samples: readonly MetricSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// Names starting with "__" are reserved for Prometheus itself.
const LABEL_NAME = /^(?!__)[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: backslash and line feed escaped. */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** A label value: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** A sample value as Go's `strconv.ParseFloat` reads it. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return "";
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`;
}

/**
 * Renders `families` in the text exposition format, one block per family in the given order.
 *
 * @throws {TypeError} when a metric or label name is not a valid Prometheus name.
 */
export function renderPrometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) {
      throw new TypeError(`Cannot render metric '${family.name}': not a valid metric name`);
    }
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      for (const name of Object.keys(sample.labels ?? {})) {
        if (!LABEL_NAME.test(name)) {
          throw new TypeError(
            `Cannot render metric '${family.name}': label '${name}' is not a valid label name`,
          );
        }
      }
      lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/** Orders text by UTF-16 code units, as the same on every host (no locale). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One sample per entry of `counts`, labelled `label`, sorted by label value. */
function byLabel(label: string, counts: Readonly<Record<string, number>>): MetricSample[] {
  return Object.entries(counts)
    .sort(([a], [b]) => compareText(a, b))
    .map(([value, count]) => ({ labels: { [label]: value }, value: count }));
}

/** A family of one unlabelled sample. */
function single(
  name: string,
  type: MetricFamily["type"],
  help: string,
  value: number,
): MetricFamily {
  return { name, type, help, samples: [{ value }] };
}

/** The metric families of `snapshot`, in a fixed order with sorted samples. */
export function metricFamilies(snapshot: MetricsSnapshot): MetricFamily[] {
  const poolElements = [...snapshot.poolElements]
    .sort((a, b) => compareText(a.pool, b.pool) || compareText(a.state, b.state))
    .map(({ pool, state, count }) => ({ labels: { pool, state }, value: count }));
  return [
    single("poolgate_sessions", "gauge", "Sessions open now.", snapshot.sessions),
    single("poolgate_sessions_total", "counter", "Sessions started.", snapshot.sessionsTotal),
    {
      name: "poolgate_failovers_total",
      type: "counter",
      help: "Sessions moved off a pool element, by cause.",
      samples: byLabel("cause", snapshot.failoversTotal),
    },
    {
      name: "poolgate_bytes_total",
      type: "counter",
      help: "Bytes forwarded: direction in is read from clients, out is written to them.",
      samples: byLabel("direction", snapshot.bytesTotal),
    },
    {
      name: "poolgate_pool_elements",
      type: "gauge",
      help: "Pool elements by pool and state.",
      samples: poolElements,
    },
    single(
      "poolgate_registrations_total",
      "counter",
      "ASAP registrations accepted by the registrar.",
      snapshot.registrationsTotal,
    ),
    single(
      "poolgate_handle_resolutions_total",
      "counter",
      "ASAP handle resolutions answered by the registrar.",
      snapshot.handleResolutionsTotal,
    ),
    {
      name: "poolgate_enrp_messages_total",
      type: "counter",
      help: "ENRP messages received, by message type.",
      samples: byLabel("type", snapshot.enrpMessagesTotal),
    },
    {
      name: "poolgate_errors_total",
      type: "counter",
      help: "Errors, by kind.",
      samples: byLabel("kind", snapshot.errorsTotal),
    },
  ];
}

/** `snapshot` in the text exposition format. */
export function renderMetrics(snapshot: MetricsSnapshot): string {
  return renderPrometheusText(metricFamilies(snapshot));
}
