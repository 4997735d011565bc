/**
 * Pool handles named by hostnames, and the front end the TLS (SNI) and HTTP (Host) listeners share:
 * a connection's first bytes are read into a bounded buffer until a parser can name the host, and
 * all of them are kept so the proxy forwards them untouched.
 *
 * @module
 */

/** Longest DNS host name accepted, in characters (RFC 1035 §2.3.4: 255 octets on the wire). */
export const MAX_HOSTNAME_LENGTH = 253;

/** Longest label of a host name (RFC 1035 §2.3.4). */
const MAX_LABEL_LENGTH = 63;

const DOT = 0x2e;
const HYPHEN = 0x2d;

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function isLetter(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

/**
 * Reads `bytes` as a DNS host name and returns it ASCII lower-cased, or undefined when it is not
 * one: letter-digit-hyphen labels of 1 to 63 characters that neither start nor end with a hyphen
 * (RFC 1123 §2.1), at most {@linkcode MAX_HOSTNAME_LENGTH} characters, no trailing dot (RFC 6066
 * §3), and a last label that is not all digits, so an IPv4 literal is not taken for a name
 * (RFC 3696 §2). IDNs pass only as A-labels ("xn--…").
 */
export function decodeHostname(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0 || bytes.length > MAX_HOSTNAME_LENGTH) return undefined;
  const codes = new Array<number>(bytes.length);
  let labelStart = 0;
  let labelAllDigits = true;
  for (let i = 0; i <= bytes.length; i++) {
    const byte = i < bytes.length ? bytes[i]! : DOT;
    if (byte === DOT) {
      const labelLength = i - labelStart;
      if (labelLength === 0 || labelLength > MAX_LABEL_LENGTH) return undefined;
      if (bytes[labelStart] === HYPHEN || bytes[i - 1] === HYPHEN) return undefined;
      if (i === bytes.length && labelAllDigits) return undefined;
      labelStart = i + 1;
      labelAllDigits = true;
    } else if (isLetter(byte) || byte === HYPHEN) {
      labelAllDigits = false;
    } else if (!isDigit(byte)) {
      return undefined;
    }
    if (i < bytes.length) codes[i] = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
  }
  return String.fromCharCode(...codes);
}

function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

/**
 * Maps `<handle><suffix>` to the pool handle, or undefined when `host` does not end in `suffix`
 * or nothing precedes it. The comparison ignores ASCII case and the handle comes back lower-cased
 * (DNS names are case-insensitive), so pools reached by hostname need lower-case handles. A handle
 * may span several labels: "a.b.pool.example" with suffix ".pool.example" names pool "a.b".
 *
 * @throws {TypeError} when `suffix` does not start with "." or is only ".".
 */
export function poolHandleFromHostname(host: string, suffix: string): string | undefined {
  if (suffix.length < 2 || !suffix.startsWith(".")) {
    throw new TypeError(
      `Cannot match pool hostnames as the suffix must start with "." and name a domain: current value is "${suffix}"`,
    );
  }
  if (host.length <= suffix.length) return undefined;
  const lowerHost = asciiLowerCase(host);
  if (!lowerHost.endsWith(asciiLowerCase(suffix))) return undefined;
  const handle = lowerHost.slice(0, lowerHost.length - suffix.length);
  return handle.endsWith(".") ? undefined : handle;
}

/** Most bytes {@linkcode readConnectionPrefix} buffers: the larger of the two parsers' bounds. */
export const DEFAULT_MAX_PREFIX_BYTES = 16384;

/**
 * Longest time {@linkcode readConnectionPrefix} waits for the whole prefix, from its first call:
 * a total limit, not an idle one, so a client that drips one byte at a time is cut off too.
 */
export const DEFAULT_PREFIX_TIMEOUT_MS = 10_000;

/** The first size of the prefix buffer; it doubles up to `maxBytes` as bytes arrive. */
const INITIAL_PREFIX_BUFFER_BYTES = 2048;

/** The reading half of a connection: `Deno.Conn`'s `read`. */
export interface PrefixSource {
  /** Reads into `buffer`; resolves to the byte count, or null at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** What a prefix parser answers: "need-more" to be called again with more bytes, else its verdict. */
export interface PrefixParseResult {
  /** "need-more" until the parser has decided ("ok", "error", …). */
  readonly status: string;
}

/** The verdict of a prefix parser, without its "need-more" case. */
export type PrefixVerdict<R extends PrefixParseResult> = Exclude<
  R,
  { readonly status: "need-more" }
>;

/** Bounds for {@linkcode readConnectionPrefix}. */
export interface ReadConnectionPrefixOptions {
  /**
   * Most bytes to buffer before giving up with reason "too-large" (1..).
   * @default {16384}
   */
  readonly maxBytes?: number;
  /**
   * Total time allowed for the prefix, in milliseconds (1..); then reason "timeout".
   * @default {10000}
   */
  readonly timeoutMs?: number;
  /** Stops the wait: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A connection's first bytes and the parser's verdict on them. */
export interface ConnectionPrefix<V> {
  /** The parser's answer other than "need-more". */
  readonly result: V;
  /** Every byte read so far, in order (the caller owns them; they may go past what was parsed). */
  readonly bytes: Uint8Array;
}

/** Why {@linkcode readConnectionPrefix} stopped without a verdict from the parser. */
export type ConnectionPrefixErrorReason = "timeout" | "closed" | "too-large";

/** The connection timed out, ended or overflowed the buffer before the parser decided. */
export class ConnectionPrefixError extends Error {
  /** What stopped the read. */
  readonly reason: ConnectionPrefixErrorReason;
  /** Every byte read before it stopped (the caller owns them). */
  readonly bytes: Uint8Array;

  /** Builds the error; `bytes` are what the client sent until then. */
  constructor(reason: ConnectionPrefixErrorReason, message: string, bytes: Uint8Array) {
    super(message);
    this.name = "ConnectionPrefixError";
    this.reason = reason;
    this.bytes = bytes;
  }
}

function checkPositiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot read connection prefix as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
  return value;
}

function isVerdict<R extends PrefixParseResult>(result: R): result is PrefixVerdict<R> {
  return result.status !== "need-more";
}

function ignore(): void {}

/**
 * Reads from `conn` into a growing buffer of at most `maxBytes` and calls `parse` on all bytes
 * read so far after each read, until it answers anything but "need-more"; resolves to that answer
 * and the bytes. The deadline counts from the call, however the bytes trickle in.
 *
 * On timeout or abort a read may still be pending on `conn`: the caller must close `conn` (after
 * writing any reply), which also discards whatever that read would have returned.
 *
 * @throws {ConnectionPrefixError} on timeout, end of stream or a full buffer before a verdict.
 * @throws {RangeError} when an option is not a positive integer.
 * Read errors from `conn` and the signal's reason pass through unchanged.
 */
export async function readConnectionPrefix<R extends PrefixParseResult>(
  conn: PrefixSource,
  parse: (bytes: Uint8Array) => R,
  options?: ReadConnectionPrefixOptions,
): Promise<ConnectionPrefix<PrefixVerdict<R>>> {
  const maxBytes = checkPositiveInteger("maxBytes", options?.maxBytes ?? DEFAULT_MAX_PREFIX_BYTES);
  const timeoutMs = checkPositiveInteger(
    "timeoutMs",
    options?.timeoutMs ?? DEFAULT_PREFIX_TIMEOUT_MS,
  );
  const signal = options?.signal;
  signal?.throwIfAborted();

  const stop = Promise.withResolvers<"timeout" | "aborted">();
  const timer = setTimeout(() => stop.resolve("timeout"), timeoutMs);
  const onAbort = () => stop.resolve("aborted");
  signal?.addEventListener("abort", onAbort, { once: true });
  let buffer = new Uint8Array(Math.min(maxBytes, INITIAL_PREFIX_BUFFER_BYTES));
  let length = 0;
  try {
    while (true) {
      if (length === buffer.length) {
        if (length === maxBytes) {
          throw new ConnectionPrefixError(
            "too-large",
            `Cannot read connection prefix as it exceeds ${maxBytes} bytes`,
            buffer,
          );
        }
        const grown = new Uint8Array(Math.min(maxBytes, buffer.length * 2));
        grown.set(buffer);
        buffer = grown;
      }
      const read = conn.read(buffer.subarray(length));
      const outcome = await Promise.race([read, stop.promise]);
      if (outcome === "timeout" || outcome === "aborted") {
        // The read stays pending until the caller closes conn; its rejection then is expected.
        read.catch(ignore);
        if (outcome === "aborted") throw signal?.reason;
        throw new ConnectionPrefixError(
          "timeout",
          `Cannot read connection prefix as it took longer than ${timeoutMs} ms (${length} bytes read)`,
          buffer.subarray(0, length),
        );
      }
      if (outcome === null) {
        throw new ConnectionPrefixError(
          "closed",
          `Cannot read connection prefix as the peer ended the stream after ${length} bytes`,
          buffer.subarray(0, length),
        );
      }
      length += outcome;
      const bytes = buffer.subarray(0, length);
      const result = parse(bytes);
      if (isVerdict(result)) return { result, bytes };
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
