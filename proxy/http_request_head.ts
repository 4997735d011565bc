/**
 * The host of a plain HTTP/1.x connection's first request (RFC 9112 §3, RFC 9110 §7.2), so a
 * listener can route the connection to the pool its hostname names and forward every byte
 * untouched. The parser is incremental: call it on the accumulated prefix each time more bytes
 * arrive until it answers something other than "need-more". It is strict, because the proxy
 * routes on what it reads while the pool element reads the same bytes on its own: anything two
 * parsers could read differently (obs-fold, bare CR or LF, whitespace before a colon, a second
 * Host, a Host unlike the target's authority) is refused.
 *
 * @module
 */

import { formatIpv4, formatIpv6, parseIpAddress } from "../lib/wire/ip_address.ts";
import { decodeHostname } from "./pool_hostname.ts";

/**
 * Most bytes the request head may take, from the request-line to the empty line that ends it.
 * Browsers and curl send under 2 KiB; 8 KiB is what Apache and nginx allow per line.
 */
export const DEFAULT_MAX_HEADER_BYTES = 8192;

/** The statuses a front end answers with when it cannot route an HTTP connection. */
export type HttpErrorStatus = 400 | 404 | 408 | 421 | 431 | 502 | 503 | 505;

/** Why a request head was refused. */
export type HttpHeadErrorReason = "malformed" | "too-large" | "no-host" | "unsupported-version";

const STATUS_FOR_REASON: Readonly<Record<HttpHeadErrorReason, HttpErrorStatus>> = {
  "malformed": 400,
  "too-large": 431,
  // RFC 9112 §3.2: a request without a usable Host gets 400.
  "no-host": 400,
  "unsupported-version": 505,
};

/**
 * A connection that does not open with an acceptable HTTP/1.x request head. `status` is the
 * response to send (with {@linkcode httpErrorResponse}) before closing; `offset` is the byte in
 * the parsed prefix where the problem was found.
 */
export class HttpHeadError extends Error {
  /** What is wrong, as a code for logs and metrics. */
  readonly reason: HttpHeadErrorReason;
  /** Offset into the bytes given to the parser where parsing stopped. */
  readonly offset: number;
  /** The status to answer with. */
  readonly status: HttpErrorStatus;

  /** Builds the error; `message` follows the Deno style ("Cannot read HTTP request head at offset N: …"). */
  constructor(reason: HttpHeadErrorReason, message: string, offset: number) {
    super(message);
    this.name = "HttpHeadError";
    this.reason = reason;
    this.offset = offset;
    this.status = STATUS_FOR_REASON[reason];
  }
}

/** The parts of a request head a listener routes and logs by. */
export interface HttpRequestHead {
  readonly status: "ok";
  /**
   * The host, ASCII lower-cased and without port: a DNS name (a trailing dot removed), a dotted
   * quad, or an IPv6 literal in RFC 5952 form inside brackets ("[2001:db8::1]").
   */
  readonly host: string;
  /** The port after the host, when one is given. */
  readonly port: number | undefined;
  /** The method, as sent (methods are case-sensitive). */
  readonly method: string;
  /** The request-target, as sent. */
  readonly target: string;
  /** "HTTP/1.0" or "HTTP/1.1" (or a later HTTP/1.x minor version, as sent). */
  readonly version: string;
  /** Offset just past the empty line that ends the head, where a body would start. */
  readonly headEnd: number;
}

/**
 * What {@linkcode readHttpHost} makes of a prefix: call again with more bytes, the request head,
 * or why the connection must be refused.
 */
export type HttpHeadResult =
  | { readonly status: "need-more" }
  | HttpRequestHead
  | { readonly status: "error"; readonly error: HttpHeadError };

/** Bounds for {@linkcode readHttpHost}. */
export interface HttpHeadOptions {
  /**
   * Most bytes the request head may take, its final empty line included (1..); more is
   * "too-large".
   * @default {8192}
   */
  readonly maxHeaderBytes?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const HASH = 0x23;
const DEL = 0x7f;
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"
const HOST = [0x68, 0x6f, 0x73, 0x74]; // "host"
const MAX_PORT = 65535;

const NEED_MORE: HttpHeadResult = Object.freeze({ status: "need-more" });

/** RFC 9110 §5.6.2 tchar: the characters of a token (method, field name). */
const TCHAR: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  for (const c of "!#$%&'*+-.^_`|~") table[c.charCodeAt(0)] = 1;
  return table;
})();

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/** A request-target character: visible ASCII except "#" (RFC 9112 §3.2 has no fragment). */
function isTargetByte(byte: number): boolean {
  return byte > SP && byte < DEL && byte !== HASH;
}

/** RFC 9110 §5.5: field-vchar, SP and HTAB; CR, LF, NUL and other controls are refused. */
function isFieldValueByte(byte: number): boolean {
  return byte === HTAB || (byte >= SP && byte !== DEL);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function fail(reason: HttpHeadErrorReason, offset: number, detail: string): HttpHeadError {
  return new HttpHeadError(
    reason,
    `Cannot read HTTP request head at offset ${offset}: ${detail}`,
    offset,
  );
}

/** A host and optional port, as RFC 9110 §7.2 `Host` and RFC 9112 §3.2.3 authority-form spell them. */
interface Authority {
  readonly host: string;
  readonly port: number | undefined;
}

/** Reads `uri-host [ ":" port ]` (RFC 3986 §3.2.2); undefined when it is not one. */
function parseAuthority(bytes: Uint8Array, portRequired: boolean): Authority | undefined {
  let host: string | undefined;
  let rest: number;
  if (bytes[0] === 0x5b) {
    // RFC 3986 §3.2.2 IP-literal; IPvFuture and RFC 6874 zone identifiers are not accepted.
    const close = bytes.indexOf(0x5d);
    if (close < 0) return undefined;
    const inner = ascii(bytes, 1, close);
    const address = inner.includes(":") ? parseIpAddress(inner) : undefined;
    if (address === undefined) return undefined;
    host = `[${formatIpv6(address, 0)}]`;
    rest = close + 1;
  } else {
    const colon = bytes.indexOf(COLON);
    rest = colon < 0 ? bytes.length : colon;
    let name = bytes.subarray(0, rest);
    if (name.length > 1 && name[name.length - 1] === 0x2e) name = name.subarray(0, -1);
    host = decodeHostname(name);
    if (host === undefined) {
      const address = parseIpAddress(ascii(name, 0, name.length));
      if (address?.length === 4) host = formatIpv4(address, 0);
    }
    if (host === undefined) return undefined;
  }
  if (rest === bytes.length) return portRequired ? undefined : { host, port: undefined };
  if (bytes[rest] !== COLON) return undefined;
  const digits = bytes.subarray(rest + 1);
  if (digits.length > 5 || !digits.every(isDigit)) return undefined;
  if (digits.length === 0) return portRequired ? undefined : { host, port: undefined };
  const port = Number(ascii(digits, 0, digits.length));
  return port > MAX_PORT ? undefined : { host, port };
}

function isHostName(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start !== HOST.length) return false;
  for (let i = 0; i < HOST.length; i++) {
    if ((bytes[start + i]! | 0x20) !== HOST[i]) return false;
  }
  return true;
}

function trimWhitespace(bytes: Uint8Array, start: number, end: number): Uint8Array {
  while (start < end && (bytes[start] === SP || bytes[start] === HTAB)) start++;
  while (end > start && (bytes[end - 1] === SP || bytes[end - 1] === HTAB)) end--;
  return bytes.subarray(start, end);
}

/**
 * The authority a request-target names (RFC 9112 §3.2): undefined for origin-form and
 * asterisk-form.
 *
 * @throws {HttpHeadError} when the target's form does not suit the method or is malformed.
 */
function targetAuthority(
  bytes: Uint8Array,
  method: string,
  start: number,
  end: number,
): Authority | undefined {
  const target = bytes.subarray(start, end);
  const first = target[0];
  if (method === "CONNECT") {
    // RFC 9112 §3.2.3: CONNECT takes authority-form only, and the port is required.
    const authority = parseAuthority(target, true);
    if (authority === undefined) {
      throw fail("malformed", start, "CONNECT needs a host:port target");
    }
    return authority;
  }
  if (first === 0x2f) return undefined;
  if (first === 0x2a && target.length === 1) {
    // RFC 9112 §3.2.4: asterisk-form is for OPTIONS only.
    if (method !== "OPTIONS") throw fail("malformed", start, `${method} cannot target "*"`);
    return undefined;
  }
  // RFC 9112 §3.2.2: absolute-form, with an http or https URI.
  const text = ascii(target, 0, target.length);
  const match = /^(https?):\/\/([^/?]*)/i.exec(text);
  if (match === null) throw fail("malformed", start, "the request-target has no valid form");
  const authorityText = match[2]!;
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is treated as an error.
  const authority = authorityText.includes("@")
    ? undefined
    : parseAuthority(target.subarray(match[1]!.length + 3, match[0].length), false);
  if (authority === undefined) {
    throw fail("malformed", start, "the request-target's authority is not a valid host");
  }
  return authority;
}

function checkMaxHeaderBytes(options: HttpHeadOptions | undefined): number {
  const value = options?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot read HTTP request head as 'maxHeaderBytes' must be a positive integer: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Parses the head of the first request in `bytes`; returns the head, or undefined while bytes
 * are missing within the limit.
 *
 * @throws {HttpHeadError} as soon as the prefix cannot become an acceptable head.
 */
function parseHead(bytes: Uint8Array, max: number): HttpRequestHead | undefined {
  const limit = Math.min(bytes.length, max);
  /** The prefix ran out: more bytes may help unless the limit is reached. */
  const exhausted = (): undefined => {
    if (bytes.length >= max) {
      throw fail("too-large", max, `the request head exceeds ${max} bytes`);
    }
    return undefined;
  };
  /** Checks for LF after the CR at `at`; returns the offset after it. */
  const lineEnd = (at: number): number | undefined => {
    if (at + 1 >= limit) return undefined;
    if (bytes[at + 1] !== LF) throw fail("malformed", at, "CR is not followed by LF");
    return at + 2;
  };

  let pos = 0;
  // RFC 9112 §2.2: a server should ignore empty lines received before the request-line.
  while (pos < limit && bytes[pos] === CR) {
    const next = lineEnd(pos);
    if (next === undefined) return exhausted();
    pos = next;
  }

  const methodStart = pos;
  while (pos < limit && TCHAR[bytes[pos]!] === 1) pos++;
  if (pos >= limit) return exhausted();
  if (pos === methodStart || bytes[pos] !== SP) {
    throw fail("malformed", pos, "the method is not a token followed by one space");
  }
  const method = ascii(bytes, methodStart, pos);
  pos++;

  const targetStart = pos;
  while (pos < limit && isTargetByte(bytes[pos]!)) pos++;
  if (pos >= limit) return exhausted();
  if (pos === targetStart || bytes[pos] !== SP) {
    throw fail("malformed", pos, "the request-target is not visible ASCII followed by one space");
  }
  const targetEnd = pos;
  pos++;

  // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
  const versionStart = pos;
  for (const expected of HTTP_SLASH) {
    if (pos >= limit) return exhausted();
    if (bytes[pos] !== expected) throw fail("malformed", pos, "the HTTP-version is not HTTP/d.d");
    pos++;
  }
  for (const part of ["major", "dot", "minor"]) {
    if (pos >= limit) return exhausted();
    const byte = bytes[pos]!;
    if (part === "dot" ? byte !== 0x2e : !isDigit(byte)) {
      throw fail("malformed", pos, "the HTTP-version is not HTTP/d.d");
    }
    if (part === "major" && byte !== 0x31) {
      throw fail("unsupported-version", pos, `HTTP/${byte - 0x30} is not HTTP/1.x`);
    }
    pos++;
  }
  const version = ascii(bytes, versionStart, pos);
  if (pos >= limit) return exhausted();
  if (bytes[pos] !== CR) throw fail("malformed", pos, "the request-line does not end in CRLF");
  const requestLineEnd = lineEnd(pos);
  if (requestLineEnd === undefined) return exhausted();
  pos = requestLineEnd;
  const authority = targetAuthority(bytes, method, targetStart, targetEnd);

  let host: Authority | undefined;
  let hostSeen = false;
  while (true) {
    if (pos >= limit) return exhausted();
    if (bytes[pos] === CR) {
      const headEnd = lineEnd(pos);
      if (headEnd === undefined) return exhausted();
      pos = headEnd;
      break;
    }
    // RFC 9112 §5.2 obs-fold, and §2.2 whitespace before the first field line: both refused.
    if (bytes[pos] === SP || bytes[pos] === HTAB) {
      throw fail("malformed", pos, "a field line starts with whitespace (obs-fold)");
    }
    const nameStart = pos;
    while (pos < limit && TCHAR[bytes[pos]!] === 1) pos++;
    if (pos >= limit) return exhausted();
    // RFC 9112 §5.1: no whitespace between the field name and the colon.
    if (pos === nameStart || bytes[pos] !== COLON) {
      throw fail("malformed", pos, "the field name is not a token followed by a colon");
    }
    const nameEnd = pos;
    pos++;
    const valueStart = pos;
    while (pos < limit && isFieldValueByte(bytes[pos]!)) pos++;
    if (pos >= limit) return exhausted();
    if (bytes[pos] !== CR) {
      throw fail("malformed", pos, "the field value holds a control character");
    }
    const valueEnd = pos;
    const next = lineEnd(pos);
    if (next === undefined) return exhausted();
    pos = next;
    if (!isHostName(bytes, nameStart, nameEnd)) continue;
    // RFC 9112 §3.2: more than one Host field line, or an invalid one, gets 400.
    if (hostSeen) throw fail("malformed", nameStart, "the request has more than one Host");
    hostSeen = true;
    const value = trimWhitespace(bytes, valueStart, valueEnd);
    if (value.length === 0) continue;
    host = parseAuthority(value, false);
    if (host === undefined) throw fail("malformed", valueStart, "the Host is not a valid host");
  }

  if (host === undefined) {
    // RFC 9112 §3.2: HTTP/1.1 requires Host; an HTTP/1.0 request may name its host in the target.
    if (authority === undefined || version !== "HTTP/1.0") {
      throw fail("no-host", pos, "the request names no host");
    }
    host = authority;
  } else if (authority !== undefined && authority.host !== host.host) {
    // The pool element reads Host or the target, whichever its parser prefers: they must agree.
    throw fail("malformed", targetStart, "the request-target and Host name different hosts");
  }
  return {
    status: "ok",
    host: host.host,
    port: host.port,
    method,
    target: ascii(bytes, targetStart, targetEnd),
    version,
    headEnd: pos,
  };
}

/**
 * Reads the host from the first HTTP/1.x request head in `bytes`, the bytes received so far on
 * a connection. Answers "need-more" until the head's empty line is there, then "ok" with the
 * host, method, target, version and the offset where the head ends; or "error" as soon as the
 * prefix cannot become an acceptable head, or its head would exceed `maxHeaderBytes`.
 *
 * @throws {RangeError} when `maxHeaderBytes` is not a positive integer.
 */
export function readHttpHost(bytes: Uint8Array, options?: HttpHeadOptions): HttpHeadResult {
  const max = checkMaxHeaderBytes(options);
  try {
    return parseHead(bytes, max) ?? NEED_MORE;
  } catch (error) {
    if (error instanceof HttpHeadError) return { status: "error", error };
    throw error;
  }
}

const REASON_PHRASES: Readonly<Record<HttpErrorStatus, string>> = {
  400: "Bad Request",
  404: "Not Found",
  408: "Request Timeout",
  421: "Misdirected Request",
  431: "Request Header Fields Too Large",
  502: "Bad Gateway",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/**
 * A complete `HTTP/1.1 <status>` response with `message` and a newline as its text/plain body and
 * `Connection: close`, to write before closing a connection the proxy cannot route.
 *
 * @throws {RangeError} when `status` is not one of {@linkcode HttpErrorStatus}.
 */
export function httpErrorResponse(status: HttpErrorStatus, message: string): Uint8Array {
  const phrase = REASON_PHRASES[status];
  if (phrase === undefined) {
    throw new RangeError(`Cannot build HTTP error response for status ${status}`);
  }
  const body = new TextEncoder().encode(`${message}\n`);
  const head = new TextEncoder().encode(
    `HTTP/1.1 ${status} ${phrase}\r\n` +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      `Content-Length: ${body.length}\r\n` +
      "Connection: close\r\n" +
      "\r\n",
  );
  const response = new Uint8Array(head.length + body.length);
  response.set(head);
  response.set(body, head.length);
  return response;
}
