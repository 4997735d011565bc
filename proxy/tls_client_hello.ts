/**
 * The server name (SNI, RFC 6066 §3) of a TLS connection's first ClientHello, read without
 * terminating TLS, so a listener can route the connection to the pool its hostname names and
 * forward every byte untouched. The parser is incremental: call it on the accumulated prefix each
 * time more bytes arrive until it answers something other than "need-more". It handles the TLS
 * 1.0–1.3 record layer (RFC 2246, 4346, 5246, 8446 §5.1), with the ClientHello split across
 * records and arriving in chunks of any size.
 *
 * @module
 */

import { decodeHostname } from "./pool_hostname.ts";

/**
 * Most bytes the records carrying a ClientHello may take, record headers included: one full
 * record (RFC 8446 §5.1 caps a fragment at 2^14 bytes). Real ClientHellos take 250–2,000 bytes,
 * post-quantum key shares and session tickets included.
 */
export const DEFAULT_MAX_CLIENT_HELLO_BYTES = 16384;

/** TLS alert descriptions (RFC 8446 §6) a front end sends before it closes the connection. */
export const TlsAlertDescription = {
  /** Not a TLS record, or a record of another type inside the ClientHello. */
  unexpectedMessage: 10,
  /** A record longer than 2^14 bytes. */
  recordOverflow: 22,
  /** The ClientHello is acceptable TLS but refused by policy (too large). */
  handshakeFailure: 40,
  /** A field has a value the protocol forbids (a repeated extension). */
  illegalParameter: 47,
  /** A length or field is inconsistent: the ClientHello cannot be parsed. */
  decodeError: 50,
  /** The client offers only SSL 3.0 (RFC 7568). */
  protocolVersion: 70,
  /** The proxy failed on its own side (no pool element reachable). */
  internalError: 80,
  /** The server name is invalid or names no pool (RFC 6066 §3). */
  unrecognizedName: 112,
} as const;

/** One of the {@linkcode TlsAlertDescription} codes. */
export type TlsAlertDescription = typeof TlsAlertDescription[keyof typeof TlsAlertDescription];

/** Why a ClientHello was refused. */
export type ClientHelloErrorReason =
  | "not-tls"
  | "malformed"
  | "too-large"
  | "unsupported-version"
  | "invalid-server-name";

/**
 * A connection that does not open with an acceptable ClientHello. `alertDescription` is the alert
 * to send (with {@linkcode tlsAlert}) before closing; `offset` is the byte in the parsed prefix
 * where the problem was found.
 */
export class ClientHelloError extends Error {
  /** What is wrong, as a code for logs and metrics. */
  readonly reason: ClientHelloErrorReason;
  /** Offset into the bytes given to the parser where parsing stopped. */
  readonly offset: number;
  /** The fatal alert to answer with. */
  readonly alertDescription: TlsAlertDescription;

  /** Builds the error; `message` follows the Deno style ("Cannot read ClientHello at offset N: …"). */
  constructor(
    reason: ClientHelloErrorReason,
    message: string,
    offset: number,
    alertDescription: TlsAlertDescription,
  ) {
    super(message);
    this.name = "ClientHelloError";
    this.reason = reason;
    this.offset = offset;
    this.alertDescription = alertDescription;
  }
}

/**
 * What {@linkcode readClientHelloServerName} makes of a prefix: call again with more bytes, the
 * server name (undefined when the ClientHello carries none) and how many bytes its records take,
 * or why the connection must be refused.
 */
export type ClientHelloResult =
  | { readonly status: "need-more" }
  | { readonly status: "ok"; readonly serverName: string | undefined; readonly consumed: number }
  | { readonly status: "error"; readonly error: ClientHelloError };

/** Bounds for {@linkcode readClientHelloServerName}. */
export interface ClientHelloOptions {
  /**
   * Most bytes the ClientHello's records may take, headers included (1..); more is "too-large".
   * @default {16384}
   */
  readonly maxClientHelloBytes?: number;
}

const CONTENT_TYPE_ALERT = 21;
const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const ALERT_LEVEL_FATAL = 2;
const RECORD_HEADER_BYTES = 5;
const HANDSHAKE_HEADER_BYTES = 4;
/** RFC 8446 §5.1, RFC 5246 §6.2.1: a plaintext fragment holds at most 2^14 bytes. */
const MAX_FRAGMENT_BYTES = 16384;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
const MAX_SESSION_ID_BYTES = 32;
const RANDOM_BYTES = 32;

const NEED_MORE: ClientHelloResult = Object.freeze({ status: "need-more" });

/** Handshake bytes of one record: `bytes[start, end)`, which may stop short of the record's end. */
interface Fragment {
  readonly start: number;
  readonly end: number;
}

function malformed(
  offset: number,
  detail: string,
  alert: TlsAlertDescription = TlsAlertDescription.decodeError,
): ClientHelloError {
  return new ClientHelloError(
    "malformed",
    `Cannot read ClientHello at offset ${offset}: ${detail}`,
    offset,
    alert,
  );
}

/** Maps an index into the reassembled handshake message to its offset in the wire bytes. */
function wireOffset(fragments: readonly Fragment[], index: number): number {
  let rest = index;
  for (const fragment of fragments) {
    const length = fragment.end - fragment.start;
    if (rest < length) return fragment.start + rest;
    rest -= length;
  }
  const last = fragments[fragments.length - 1];
  return (last?.end ?? 0) + rest;
}

/** A bounded cursor over the reassembled ClientHello: every read is checked against its end. */
class HelloReader {
  readonly #bytes: Uint8Array;
  readonly #fragments: readonly Fragment[];
  readonly #end: number;
  #offset: number;

  constructor(bytes: Uint8Array, fragments: readonly Fragment[], offset: number, end: number) {
    this.#bytes = bytes;
    this.#fragments = fragments;
    this.#offset = offset;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  /** The wire offset of the next byte, for errors. */
  get wireOffset(): number {
    return wireOffset(this.#fragments, this.#offset);
  }

  #take(count: number, what: string): number {
    if (count > this.remaining) {
      throw malformed(
        this.wireOffset,
        `${what} needs ${count} bytes but only ${this.remaining} remain`,
      );
    }
    const at = this.#offset;
    this.#offset += count;
    return at;
  }

  u8(what: string): number {
    return this.#bytes[this.#take(1, what)]!;
  }

  u16(what: string): number {
    const at = this.#take(2, what);
    return (this.#bytes[at]! << 8) | this.#bytes[at + 1]!;
  }

  skip(count: number, what: string): void {
    this.#take(count, what);
  }

  /** A view of the next `count` bytes (no copy). */
  bytes(count: number, what: string): Uint8Array {
    const at = this.#take(count, what);
    return this.#bytes.subarray(at, at + count);
  }

  /** A reader over the next `count` bytes, so nothing inside can read past them. */
  sub(count: number, what: string): HelloReader {
    const at = this.#take(count, what);
    return new HelloReader(this.#bytes, this.#fragments, at, at + count);
  }
}

/** RFC 6066 §3: a ServerNameList holding exactly one host_name, as OpenSSL also requires. */
function readServerName(reader: HelloReader): string {
  const listLength = reader.u16("server_name_list length");
  if (listLength === 0 || listLength !== reader.remaining) {
    throw malformed(
      reader.wireOffset - 2,
      `server_name_list length ${listLength} does not fill the extension's ${reader.remaining} bytes`,
    );
  }
  const nameType = reader.u8("name_type");
  if (nameType !== NAME_TYPE_HOST_NAME) {
    throw malformed(reader.wireOffset - 1, `name_type ${nameType} is not host_name (0)`);
  }
  const nameLength = reader.u16("host_name length");
  const nameOffset = reader.wireOffset;
  if (nameLength === 0) throw malformed(nameOffset - 2, "host_name is empty");
  const name = reader.bytes(nameLength, "host_name");
  if (reader.remaining !== 0) {
    throw malformed(reader.wireOffset, "server_name_list holds more than one name");
  }
  const host = decodeHostname(name);
  if (host === undefined) {
    throw new ClientHelloError(
      "invalid-server-name",
      `Cannot read ClientHello at offset ${nameOffset}: host_name is not a valid DNS host name`,
      nameOffset,
      TlsAlertDescription.unrecognizedName,
    );
  }
  return host;
}

/** Reads a ClientHello body (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2) and returns its server name. */
function readClientHelloBody(reader: HelloReader): string | undefined {
  const versionOffset = reader.wireOffset;
  const version = reader.u16("legacy_version");
  if (version >> 8 !== 3) {
    throw malformed(versionOffset, `legacy_version 0x${version.toString(16)} is not TLS`);
  }
  if ((version & 0xff) === 0) {
    throw new ClientHelloError(
      "unsupported-version",
      `Cannot read ClientHello at offset ${versionOffset}: the client offers only SSL 3.0`,
      versionOffset,
      TlsAlertDescription.protocolVersion,
    );
  }
  reader.skip(RANDOM_BYTES, "random");
  const sessionIdLength = reader.u8("legacy_session_id length");
  if (sessionIdLength > MAX_SESSION_ID_BYTES) {
    throw malformed(
      reader.wireOffset - 1,
      `legacy_session_id length ${sessionIdLength} exceeds 32`,
    );
  }
  reader.skip(sessionIdLength, "legacy_session_id");
  const suitesLength = reader.u16("cipher_suites length");
  if (suitesLength < 2 || suitesLength % 2 !== 0) {
    throw malformed(
      reader.wireOffset - 2,
      `cipher_suites length ${suitesLength} is not even and >= 2`,
    );
  }
  reader.skip(suitesLength, "cipher_suites");
  const compressionLength = reader.u8("legacy_compression_methods length");
  if (compressionLength === 0) {
    throw malformed(reader.wireOffset - 1, "legacy_compression_methods is empty");
  }
  reader.skip(compressionLength, "legacy_compression_methods");
  // RFC 5246 §7.4.1.2: a TLS 1.0-1.2 ClientHello may end here, without extensions.
  if (reader.remaining === 0) return undefined;
  const extensionsLength = reader.u16("extensions length");
  if (extensionsLength !== reader.remaining) {
    throw malformed(
      reader.wireOffset - 2,
      `extensions length ${extensionsLength} does not match the ${reader.remaining} bytes left`,
    );
  }
  const seen = new Set<number>();
  let serverName: string | undefined;
  while (reader.remaining > 0) {
    const typeOffset = reader.wireOffset;
    const type = reader.u16("extension type");
    const data = reader.sub(reader.u16("extension length"), `extension ${type}`);
    // RFC 8446 §4.2, RFC 5246 §7.4.1.4: no extension type may appear twice.
    if (seen.has(type)) {
      throw malformed(
        typeOffset,
        `extension ${type} appears twice`,
        TlsAlertDescription.illegalParameter,
      );
    }
    seen.add(type);
    if (type === EXTENSION_SERVER_NAME) serverName = readServerName(data);
  }
  return serverName;
}

function checkMaxClientHelloBytes(options: ClientHelloOptions | undefined): number {
  const value = options?.maxClientHelloBytes ?? DEFAULT_MAX_CLIENT_HELLO_BYTES;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot read ClientHello as 'maxClientHelloBytes' must be a positive integer: current value is ${value}`,
    );
  }
  return value;
}

function tooLarge(offset: number, length: number, max: number): ClientHelloError {
  return new ClientHelloError(
    "too-large",
    `Cannot read ClientHello at offset ${offset}: its records take at least ${length} bytes, above the limit of ${max}`,
    offset,
    TlsAlertDescription.handshakeFailure,
  );
}

/** Reads byte `index` of the handshake stream, which `fragments` hold in pieces. */
function handshakeByte(bytes: Uint8Array, fragments: readonly Fragment[], index: number): number {
  return bytes[wireOffset(fragments, index)]!;
}

/**
 * Walks the handshake records of `bytes` and returns the fragments holding the whole ClientHello
 * with the offset just past its last record, or undefined while bytes are missing.
 */
function collectClientHello(
  bytes: Uint8Array,
  max: number,
): { fragments: Fragment[]; helloLength: number; consumed: number } | undefined {
  const fragments: Fragment[] = [];
  let available = 0;
  let promised = 0;
  let helloLength = -1;
  let offset = 0;
  while (helloLength < 0 || promised < helloLength) {
    if (offset >= bytes.length) return undefined;
    const reason = offset === 0 ? "not-tls" : "malformed";
    const type = bytes[offset]!;
    if (type !== CONTENT_TYPE_HANDSHAKE) {
      throw new ClientHelloError(
        reason,
        `Cannot read ClientHello at offset ${offset}: record content type ${type} is not handshake (22)`,
        offset,
        TlsAlertDescription.unexpectedMessage,
      );
    }
    const major = bytes[offset + 1];
    if (major !== undefined && major !== 3) {
      throw new ClientHelloError(
        reason,
        `Cannot read ClientHello at offset ${offset + 1}: record version major ${major} is not 3`,
        offset + 1,
        TlsAlertDescription.unexpectedMessage,
      );
    }
    if (offset + RECORD_HEADER_BYTES > bytes.length) return undefined;
    // RFC 5246 Appendix E.1: a client may send any {03,XX} as the record version, so XX is free.
    const length = (bytes[offset + 3]! << 8) | bytes[offset + 4]!;
    if (length === 0) throw malformed(offset + 3, "empty handshake record");
    if (length > MAX_FRAGMENT_BYTES) {
      throw malformed(
        offset + 3,
        `record length ${length} exceeds 2^14`,
        TlsAlertDescription.recordOverflow,
      );
    }
    const recordEnd = offset + RECORD_HEADER_BYTES + length;
    if (recordEnd > max) throw tooLarge(offset, recordEnd, max);
    const start = offset + RECORD_HEADER_BYTES;
    const end = Math.min(recordEnd, bytes.length);
    fragments.push({ start, end });
    available += end - start;
    promised += length;
    if (helloLength < 0 && available >= HANDSHAKE_HEADER_BYTES) {
      const firstOffset = fragments[0]!.start;
      const messageType = handshakeByte(bytes, fragments, 0);
      if (messageType !== HANDSHAKE_CLIENT_HELLO) {
        throw malformed(
          firstOffset,
          `handshake type ${messageType} is not ClientHello (1)`,
          TlsAlertDescription.unexpectedMessage,
        );
      }
      helloLength = HANDSHAKE_HEADER_BYTES + ((handshakeByte(bytes, fragments, 1) << 16) |
        (handshakeByte(bytes, fragments, 2) << 8) | handshakeByte(bytes, fragments, 3));
      if (RECORD_HEADER_BYTES + helloLength > max) {
        throw tooLarge(firstOffset + 1, RECORD_HEADER_BYTES + helloLength, max);
      }
    }
    // RFC 8446 §5.1: the record that ends the ClientHello carries nothing after it, since the
    // client's next handshake message follows the server's reply.
    if (helloLength >= 0 && promised > helloLength) {
      throw malformed(
        recordEnd - (promised - helloLength),
        "the record continues after the ClientHello",
      );
    }
    if (end < recordEnd) return undefined;
    offset = recordEnd;
  }
  return { fragments, helloLength, consumed: offset };
}

/**
 * Reads the server name from the first ClientHello in `bytes`, the bytes received so far on a
 * TLS connection. Answers "need-more" until the whole ClientHello is there, then "ok" with the
 * host_name lower-cased (undefined without a server_name extension) and `consumed`, the bytes its
 * records take; or "error" as soon as the prefix cannot become an acceptable ClientHello.
 * Nothing is allocated before the lengths read are checked against `maxClientHelloBytes`.
 *
 * @throws {RangeError} when `maxClientHelloBytes` is not a positive integer.
 */
export function readClientHelloServerName(
  bytes: Uint8Array,
  options?: ClientHelloOptions,
): ClientHelloResult {
  const max = checkMaxClientHelloBytes(options);
  try {
    const hello = collectClientHello(bytes, max);
    if (hello === undefined) return NEED_MORE;
    const { fragments, helloLength, consumed } = hello;
    let message: Uint8Array;
    const first = fragments[0]!;
    if (fragments.length === 1) {
      message = bytes.subarray(first.start, first.start + helloLength);
    } else {
      message = new Uint8Array(helloLength);
      let at = 0;
      for (const fragment of fragments) {
        message.set(bytes.subarray(fragment.start, fragment.end), at);
        at += fragment.end - fragment.start;
      }
    }
    const reader = new HelloReader(message, fragments, HANDSHAKE_HEADER_BYTES, helloLength);
    const serverName = readClientHelloBody(reader);
    return { status: "ok", serverName, consumed };
  } catch (error) {
    if (error instanceof ClientHelloError) return { status: "error", error };
    throw error;
  }
}

/**
 * A fatal alert record (RFC 8446 §6) with `description`, to send before closing a connection
 * whose ClientHello is refused. Its record version is 0x0303, which clients of every TLS version
 * accept before the server has chosen one.
 *
 * @throws {RangeError} when `description` is not an integer from 0 to 255.
 */
export function tlsAlert(description: number): Uint8Array {
  if (!Number.isInteger(description) || description < 0 || description > 255) {
    throw new RangeError(
      `Cannot build TLS alert as the description must be an integer from 0 to 255: current value is ${description}`,
    );
  }
  return Uint8Array.of(CONTENT_TYPE_ALERT, 3, 3, 0, 2, ALERT_LEVEL_FATAL, description);
}
