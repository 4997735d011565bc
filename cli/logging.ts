/**
 * Logging through LogTape (JSR's `@std/log` is not reachable here): human-readable text on a
 * terminal, JSON lines with `--log-format json`, written to stderr so that stdout stays free
 * for command output.
 *
 * @module
 */
import {
  configure,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  reset,
  type TextFormatter,
} from "@logtape/logtape";
import { option, optionalOption } from "./flags.ts";
import { oneOf } from "./values.ts";

/** Log levels as `--log-level` takes them. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;

/** Flags of every long-running command. */
export const LOGGING_FLAGS = {
  "log-level": option(oneOf(LOG_LEVELS), {
    description: "Lowest level logged",
    valueName: LOG_LEVELS.join("|"),
    default: "info",
  }),
  "log-format": optionalOption(oneOf(["text", "json"] as const), {
    description: "text (default on a terminal) or json (JSON lines, default otherwise)",
    valueName: "text|json",
  }),
};

/** Where and how logs go. */
export interface LoggingOptions {
  readonly level: LogLevel;
  /** Defaults to text on a terminal and JSON lines otherwise. */
  readonly format?: "text" | "json" | undefined;
  /** Receives each formatted line; defaults to a synchronous write to stderr. */
  readonly write?: (line: string) => void;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

/** Text lines with the record's properties appended as `key=value`, so the peer is always shown. */
const textWithProperties: TextFormatter = (() => {
  // Strings print bare (not quoted) so text lines read as prose; other values as JSON.
  const base = getTextFormatter({
    timestamp: "date-time-timezone",
    value: renderValue,
  });
  return (record: LogRecord) => {
    const line = base(record).trimEnd();
    const props = Object.entries(record.properties)
      .filter(([key]) => !record.rawMessage.toString().includes(`{${key}}`))
      .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
    return `${line}${props.length > 0 ? " " + props.join(" ") : ""}\n`;
  };
})();

/** A value inside a message: strings bare, everything else as JSON. */
function renderValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return JSON.stringify(value, jsonValue) ?? String(value);
}

/** Keeps what JSON cannot hold readable: errors by name and message, bigints as text. */
function jsonValue(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * JSON lines with the message rendered as prose (strings bare, as the text format shows them);
 * the values stay typed in `properties`.
 */
function jsonLine(record: LogRecord): string {
  const message = record.message.map((part, i) => i % 2 === 0 ? String(part) : renderValue(part))
    .join("");
  return JSON.stringify({
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
    message,
    logger: record.category.join("."),
    properties: record.properties,
  }, jsonValue) + "\n";
}

/** Configures LogTape for the process; categories under `poolgate`. */
export async function setUpLogging(options: LoggingOptions): Promise<void> {
  const format = options.format ?? (Deno.stderr.isTerminal() ? "text" : "json");
  const formatter = format === "json" ? jsonLine : textWithProperties;
  const write = options.write ?? writeStderr;
  await configure({
    reset: true,
    sinks: { stderr: (record: LogRecord) => write(formatter(record)) },
    loggers: [
      { category: ["poolgate"], lowestLevel: options.level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Undoes {@linkcode setUpLogging} (tests). */
export async function tearDownLogging(): Promise<void> {
  await reset();
}
