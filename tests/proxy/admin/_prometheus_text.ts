/**
 * A strict parser of the Prometheus text exposition format 0.0.4, written from the format's
 * description (https://prometheus.io/docs/instrumenting/exposition_formats/) independently of
 * proxy/admin/metrics.ts, so that tests check the rendering against the format, not against
 * itself. It throws on anything Prometheus would reject or that the format says must not
 * happen: a TYPE after its samples, two TYPE or HELP lines for one name, a family's samples
 * split, a repeated label set, a bad escape, a missing final line feed.
 *
 * @module
 */

/** One parsed sample. */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One parsed family: its HELP and TYPE (when given) and samples. */
export interface ParsedFamily {
  help: string | undefined;
  type: string | undefined;
  readonly samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function fail(lineNumber: number, message: string): never {
  throw new SyntaxError(`Prometheus text line ${lineNumber}: ${message}`);
}

/** Undoes the escapes of a HELP text (`\\`, `\n`) or a label value (also `\"`). */
function unescape(text: string, quotes: boolean, lineNumber: number): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char !== "\\") {
      out += char;
      continue;
    }
    const next = text[++i];
    if (next === "\\") out += "\\";
    else if (next === "n") out += "\n";
    else if (next === '"' && quotes) out += '"';
    else if (quotes) fail(lineNumber, `bad escape \\${next ?? ""} in a label value`);
    else out += "\\" + (next ?? "");
  }
  return out;
}

function parseValue(text: string, lineNumber: number): number {
  if (text === "NaN") return NaN;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (!/^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(text)) {
    fail(lineNumber, `bad sample value ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** Parses `{name="value",…}` at the start of `text`; returns the labels and the rest. */
function parseLabels(
  text: string,
  lineNumber: number,
): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let rest = text.slice(1);
  while (!rest.startsWith("}")) {
    const name = LABEL.exec(rest)?.[0];
    if (name === undefined) fail(lineNumber, "bad label name");
    if (name in labels) fail(lineNumber, `label ${name} twice`);
    rest = rest.slice(name.length);
    if (!rest.startsWith('="')) fail(lineNumber, `label ${name} without ="`);
    rest = rest.slice(2);
    let raw = "";
    for (;;) {
      const char = rest[0];
      if (char === undefined) fail(lineNumber, "unterminated label value");
      if (char === '"') break;
      if (char === "\n") fail(lineNumber, "raw line feed in a label value");
      if (char === "\\") {
        raw += rest.slice(0, 2);
        rest = rest.slice(2);
      } else {
        raw += char;
        rest = rest.slice(1);
      }
    }
    labels[name] = unescape(raw, true, lineNumber);
    rest = rest.slice(1);
    if (rest.startsWith(",")) rest = rest.slice(1);
    else if (!rest.startsWith("}")) fail(lineNumber, "expected , or } after a label");
  }
  return [labels, rest.slice(1)];
}

/** Parses a whole exposition into families by name, in order of appearance. */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text !== "" && !text.endsWith("\n")) fail(0, "the text does not end with a line feed");
  const families = new Map<string, ParsedFamily>();
  const seenSeries = new Set<string>();
  let current: string | undefined;
  const lines = text.split("\n").slice(0, -1);
  const familyOf = (name: string, lineNumber: number, forSample: boolean): ParsedFamily => {
    let family = families.get(name);
    if (family === undefined) {
      family = { help: undefined, type: undefined, samples: [] };
      families.set(name, family);
    } else if (forSample && current !== name) {
      fail(lineNumber, `samples of ${name} are not together`);
    }
    current = name;
    return family;
  };
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const match = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
      if (match === null) return; // a plain comment
      const [, keyword, name, rest] = match as unknown as [string, string, string, string];
      if (!NAME.test(name) || NAME.exec(name)?.[0] !== name) fail(lineNumber, `bad name ${name}`);
      const family = familyOf(name, lineNumber, false);
      if (keyword === "HELP") {
        if (family.help !== undefined) fail(lineNumber, `second HELP for ${name}`);
        family.help = unescape(rest, false, lineNumber);
      } else {
        if (family.type !== undefined) fail(lineNumber, `second TYPE for ${name}`);
        if (family.samples.length > 0) fail(lineNumber, `TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) fail(lineNumber, `unknown type ${rest}`);
        family.type = rest;
      }
      return;
    }
    const name = NAME.exec(line)?.[0];
    if (name === undefined) fail(lineNumber, "a sample line must start with a metric name");
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, lineNumber);
    const fields = rest.trim().split(/ +/);
    if (!rest.startsWith(" ") || fields.length < 1 || fields.length > 2) {
      fail(lineNumber, "expected ' value [timestamp]' after the labels");
    }
    const value = parseValue(fields[0]!, lineNumber);
    if (fields[1] !== undefined && !/^-?[0-9]+$/.test(fields[1])) {
      fail(lineNumber, "bad timestamp");
    }
    const series = JSON.stringify([name, Object.entries(labels).sort()]);
    if (seenSeries.has(series)) fail(lineNumber, `series ${series} twice`);
    seenSeries.add(series);
    familyOf(name, lineNumber, true).samples.push({ name, labels, value });
  });
  return families;
}
