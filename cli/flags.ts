/**
 * Command-line flags that can also come from `POOLGATE_<FLAG>` environment variables and from a
 * JSON config file (`--config FILE`), with the precedence flag > environment > file > default.
 * Argument parsing is `node:util` parseArgs (JSR's `@std/cli` is not reachable here).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { formatDuration, parsePositiveDuration } from "./values.ts";

/** A bad flag, value, environment variable or config key: one line on stderr, exit 2. */
export class UsageError extends Error {
  /** Builds a usage error whose message is printed as-is. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How one flag is read and what it turns into. */
export interface Flag<T> {
  /** `value` takes one text, `list` is repeatable, `toggle` is a boolean switch. */
  readonly kind: "value" | "list" | "toggle";
  /** One line for `--help`. */
  readonly description: string;
  /** What the value looks like in `--help`, e.g. `HOST:PORT`. */
  readonly valueName: string;
  /** The default as text, shown in `--help`; undefined when the flag has none. */
  readonly defaultText: string | undefined;
  /** Turns the texts given (none when absent everywhere) into the value; throws on a bad one. */
  resolve(texts: readonly string[], name: string): T;
}

/** A command's flags by name (kebab-case, without the dashes). */
export type FlagSet = Record<string, Flag<unknown>>;

/** The parsed values of a flag set. */
export type FlagValues<S extends FlagSet> = {
  [K in keyof S]: S[K] extends Flag<infer T> ? T : never;
};

/** Parses one text of a flag; throws `RangeError`/`TypeError` with the reason when it is bad. */
export type ValueParser<T> = (text: string) => T;

function parseWith<T>(parse: ValueParser<T>, text: string, name: string): T {
  try {
    return parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`Invalid value for --${name}: ${JSON.stringify(text)}: ${reason}`);
  }
}

/** A flag with one value and a default. */
export function option<T>(
  parse: ValueParser<T>,
  spec: { description: string; valueName: string; default: string },
): Flag<T> {
  return {
    kind: "value",
    description: spec.description,
    valueName: spec.valueName,
    defaultText: spec.default,
    resolve: (texts, name) => parseWith(parse, texts.at(-1) ?? spec.default, name),
  };
}

/** A flag taking a duration of at least 1 ms, with its default in milliseconds. */
export function durationOption(description: string, defaultMs: number): Flag<number> {
  return option(parsePositiveDuration, {
    description,
    valueName: "DURATION",
    default: formatDuration(defaultMs),
  });
}

/** A flag with one value and no default. */
export function optionalOption<T>(
  parse: ValueParser<T>,
  spec: { description: string; valueName: string },
): Flag<T | undefined> {
  return {
    kind: "value",
    description: spec.description,
    valueName: spec.valueName,
    defaultText: undefined,
    resolve: (texts, name) => {
      const text = texts.at(-1);
      return text === undefined ? undefined : parseWith(parse, text, name);
    },
  };
}

/** A repeatable flag; its default is a list of texts (empty unless given). */
export function repeatable<T>(
  parse: ValueParser<T>,
  spec: { description: string; valueName: string; default?: readonly string[] },
): Flag<T[]> {
  const defaults = spec.default ?? [];
  return {
    kind: "list",
    description: spec.description,
    valueName: spec.valueName,
    defaultText: defaults.length > 0 ? defaults.join(" ") : undefined,
    resolve: (texts, name) =>
      (texts.length > 0 ? texts : defaults).map((text) => parseWith(parse, text, name)),
  };
}

/** A boolean switch, false unless given. */
export function toggle(description: string): Flag<boolean> {
  return {
    kind: "toggle",
    description,
    valueName: "",
    defaultText: "false",
    resolve: (texts, name) => parseWith(parseBoolean, texts.at(-1) ?? "false", name),
  };
}

/** Parses true/false, 1/0, yes/no, on/off. */
export function parseBoolean(text: string): boolean {
  const lower = text.toLowerCase();
  if (["true", "1", "yes", "on"].includes(lower)) return true;
  if (["false", "0", "no", "off"].includes(lower)) return false;
  throw new RangeError("expected true or false");
}

/** The environment variable that carries a flag: `POOLGATE_` + the name in capitals. */
export function envName(flagName: string): string {
  return `POOLGATE_${flagName.toUpperCase().replaceAll("-", "_")}`;
}

/** Where parsed values come from, so tests can hand in their own environment. */
export interface FlagSources {
  /** Command-line arguments after the subcommand. */
  readonly args: readonly string[];
  /** Environment lookup; defaults to `Deno.env.get`. */
  readonly env?: (name: string) => string | undefined;
  /** Reads the config file; defaults to `Deno.readTextFileSync`. */
  readonly readFile?: (path: string) => string;
}

/** The outcome of parsing: the values, the positionals, and whether `--help` was asked for. */
export interface ParsedFlags<S extends FlagSet> {
  readonly values: FlagValues<S>;
  readonly positionals: string[];
  readonly help: boolean;
}

/** Flags every command has. */
export const COMMON_FLAGS = {
  config: optionalOption((text) => text, {
    description: "JSON file of flag values (keys are flag names)",
    valueName: "FILE",
  }),
} satisfies FlagSet;

function configSchema(flags: FlagSet) {
  const scalar = z.union([z.string(), z.number(), z.boolean()]);
  const shape: Record<string, z.ZodType> = {};
  for (const [name, flag] of Object.entries(flags)) {
    if (name === "config") continue;
    shape[name] = flag.kind === "list" ? z.union([scalar, z.array(scalar)]) : scalar;
  }
  return z.object(shape).partial().strict();
}

function readConfigFile(
  path: string,
  flags: FlagSet,
  readFile: (path: string) => string,
): Map<string, string[]> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`Cannot read config file ${path}: ${reason}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`Cannot parse config file ${path} as JSON: ${reason}`);
  }
  const result = configSchema(flags).safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue?.path.join(".") ?? "";
    const problem = issue?.code === "unrecognized_keys"
      ? `unknown key ${JSON.stringify(issue.keys[0])}`
      : `key ${JSON.stringify(key)}: ${issue?.message ?? "invalid"}`;
    throw new UsageError(`Invalid config file ${path}: ${problem}`);
  }
  const values = new Map<string, string[]>();
  for (const [name, value] of Object.entries(result.data)) {
    const list = Array.isArray(value) ? value : [value];
    values.set(name, list.map((v) => String(v)));
  }
  return values;
}

/**
 * Parses `sources.args` against `flags` (plus {@linkcode COMMON_FLAGS} and `--help`), filling
 * what the command line lacks from the environment, then the config file, then the defaults.
 *
 * @throws {UsageError} for an unknown flag, a missing or bad value, or a bad config file.
 */
export function parseFlags<S extends FlagSet>(
  flags: S,
  sources: FlagSources,
): ParsedFlags<S & typeof COMMON_FLAGS> {
  const all: FlagSet = { ...COMMON_FLAGS, ...flags };
  const env = sources.env ?? ((name: string) => Deno.env.get(name));
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
  };
  for (const [name, flag] of Object.entries(all)) {
    options[name] = flag.kind === "toggle"
      ? { type: "boolean" }
      : { type: "string", ...(flag.kind === "list" ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...sources.args], options, strict: true, allowPositionals: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // parseArgs appends advice about '--' that does not fit a one-line answer.
    const first = (reason.split("\n")[0] ?? reason).split(". ")[0] ?? reason;
    throw new UsageError(`${first}; see --help`);
  }
  const given = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (given.help === true) {
    return {
      values: {} as FlagValues<S & typeof COMMON_FLAGS>,
      positionals: parsed.positionals,
      help: true,
    };
  }

  const configPath = typeof given.config === "string" ? given.config : env(envName("config"));
  const fromFile = configPath === undefined
    ? new Map<string, string[]>()
    : readConfigFile(configPath, all, sources.readFile ?? Deno.readTextFileSync);

  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(all)) {
    const onCommandLine = given[name];
    let texts: string[];
    if (onCommandLine !== undefined) {
      texts = Array.isArray(onCommandLine) ? onCommandLine : [String(onCommandLine)];
    } else if (env(envName(name)) !== undefined) {
      const text = env(envName(name)) ?? "";
      // Repeatable flags take a whitespace-separated list in one variable.
      texts = flag.kind === "list" ? text.split(/\s+/).filter((t) => t !== "") : [text];
    } else {
      texts = fromFile.get(name) ?? [];
    }
    values[name] = flag.resolve(texts, name);
  }
  return {
    values: values as FlagValues<S & typeof COMMON_FLAGS>,
    positionals: parsed.positionals,
    help: false,
  };
}

/** The `--help` text of a command: usage line, then one line per flag with default and env. */
export function formatHelp(usage: string, summary: string, flags: FlagSet): string {
  const all: FlagSet = { ...flags, ...COMMON_FLAGS };
  const rows = Object.entries(all).map(([name, flag]) => {
    const left = `  --${name}${flag.valueName === "" ? "" : ` ${flag.valueName}`}`;
    const notes = [
      flag.kind === "list" ? "repeatable" : undefined,
      flag.defaultText === undefined ? undefined : `default: ${flag.defaultText}`,
      `env: ${envName(name)}`,
    ].filter((n) => n !== undefined).join("; ");
    return { left, right: `${flag.description} (${notes})` };
  });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  const lines = rows.map((r) => r.left.padEnd(width) + r.right);
  return `Usage: ${usage}\n\n${summary}\n\nFlags:\n${lines.join("\n")}\n  --help${
    " ".repeat(Math.max(2, width - 8))
  }Show this help\n`;
}
