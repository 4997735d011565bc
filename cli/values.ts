/**
 * Parsers for the value forms every command shares: `HOST:PORT` addresses (IPv6 as
 * `[::1]:PORT`), durations with a unit, bounded integers and named choices. Each throws a
 * `RangeError` whose message says what was expected; {@linkcode parseFlags} adds the flag name.
 *
 * @module
 */

/** A host and port, as `Deno.listen` and `Deno.connect` take them. */
export interface HostPort {
  readonly hostname: string;
  readonly port: number;
}

/** Parses a port number 0–65535. */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new RangeError("expected a port number from 0 to 65535");
  }
  return Number(text);
}

/**
 * Parses `HOST:PORT` or `[IPv6]:PORT`; with `defaultHost`, a bare `PORT` or `:PORT` is accepted
 * too.
 */
export function parseHostPort(text: string, defaultHost?: string): HostPort {
  const bracketed = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
  if (bracketed) return { hostname: bracketed[1] ?? "", port: parsePort(bracketed[2] ?? "") };
  const colon = text.lastIndexOf(":");
  if (colon < 0) {
    if (defaultHost !== undefined && /^\d+$/.test(text)) {
      return { hostname: defaultHost, port: parsePort(text) };
    }
    throw new RangeError("expected HOST:PORT (IPv6 as [::1]:PORT)");
  }
  const host = text.slice(0, colon);
  if (host.includes(":")) throw new RangeError("an IPv6 address must be written in brackets");
  if (host === "" && defaultHost === undefined) throw new RangeError("expected HOST:PORT");
  return {
    hostname: host === "" ? defaultHost ?? "" : host,
    port: parsePort(text.slice(colon + 1)),
  };
}

/** Writes a host and port back as text, brackets around IPv6. */
export function formatHostPort(address: HostPort): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a duration with a unit (`250ms`, `2s`, `1.5m`, `1h`) into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!match) throw new RangeError("expected a duration with a unit, such as 250ms or 2s");
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? "ms"] ?? 1));
}

/** Parses a duration of at least 1 ms. */
export function parsePositiveDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms < 1) throw new RangeError("expected a duration of at least 1ms");
  return ms;
}

/** Writes milliseconds as the shortest duration text that parses back to the same value. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A parser for whole numbers in `[min, max]`. */
export function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^-?\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new RangeError(`expected a whole number from ${min} to ${max}`);
    }
    return Number(text);
  };
}

/** A parser that accepts one of `choices`. */
export function oneOf<const T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    const found = choices.find((c) => c === text);
    if (found === undefined) throw new RangeError(`expected one of ${choices.join(", ")}`);
    return found;
  };
}
