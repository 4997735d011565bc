/**
 * The PROXY protocol (HAProxy's "The PROXY protocol" versions 1 and 2,
 * https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt): the header a proxy puts before
 * the first byte of a TCP connection to pass on the client's address. Pure functions: the
 * session writes {@linkcode encodeProxyHeaderV1} / {@linkcode encodeProxyHeaderV2} towards pool
 * elements and reads {@linkcode decodeProxyHeader} from a trusted load balancer in front.
 *
 * @module
 */
import { formatIpv4, formatIpv6, parseIpAddress } from "../lib/wire/ip_address.ts";

/** A TCP endpoint as the PROXY protocol carries it. */
export interface ProxyEndpoint {
  /** IPv4 or IPv6 address text (IPv6 without brackets). */
  readonly hostname: string;
  /** TCP port. */
  readonly port: number;
}

/** A PROXY protocol header read from the start of a connection. */
export interface ProxyHeader {
  /** 1 (text) or 2 (binary). */
  readonly version: 1 | 2;
  /** Bytes the header takes at the start of the stream; what follows is the client's data. */
  readonly length: number;
  /**
   * The client's address, or undefined for `UNKNOWN` (v1), `LOCAL` (v2: the load balancer's own
   * connection, e.g. a health check) and families other than TCP over IPv4/IPv6.
   */
  readonly source: ProxyEndpoint | undefined;
  /** The address the client connected to, undefined when `source` is. */
  readonly destination: ProxyEndpoint | undefined;
}

/** Result of {@linkcode decodeProxyHeader}: the header, or how it is still incomplete. */
export type ProxyHeaderDecoding =
  | { readonly complete: true; readonly header: ProxyHeader }
  | { readonly complete: false };

/** A malformed PROXY protocol header; `offset` is where in the header it went wrong. */
export class ProxyProtocolError extends Error {
  /** Byte offset of the offending field from the start of the header. */
  readonly offset: number;

  /** Creates the error for a problem at `offset`. */
  constructor(message: string, offset: number) {
    super(`Cannot read PROXY protocol header at offset ${offset}: ${message}`);
    this.name = "ProxyProtocolError";
    this.offset = offset;
  }
}

/** The 12-byte signature that starts every version 2 header (spec §2.2). */
export const PROXY_V2_SIGNATURE: Uint8Array = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);

/** The longest version 1 header, CRLF included (spec §2.1). */
export const PROXY_V1_MAX_LENGTH = 107;

/** The longest version 2 header {@linkcode decodeProxyHeader} accepts unless told otherwise. */
export const DEFAULT_MAX_PROXY_HEADER_LENGTH = 4096;

const V1_PREFIX = new TextEncoder().encode("PROXY ");
const V2_HEADER_LENGTH = 16;
const V2_VERSION = 0x20;
const V2_COMMAND_LOCAL = 0x0;
const V2_COMMAND_PROXY = 0x1;
const V2_FAMILY_INET = 0x1;
const V2_FAMILY_INET6 = 0x2;
const V2_FAMILY_UNIX = 0x3;
const V2_TCP4 = 0x11;
const V2_TCP6 = 0x21;
const V2_UNSPEC = 0x00;

interface AddressPair {
  readonly family: 4 | 6;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
}

/**
 * Puts both endpoints in one family, as both headers require: IPv4 when both are IPv4 (or
 * IPv4-mapped IPv6), else IPv6 with IPv4 mapped; undefined when either is not an IP literal.
 */
function addressPair(
  source: ProxyEndpoint | undefined,
  destination: ProxyEndpoint | undefined,
): AddressPair | undefined {
  if (source === undefined || destination === undefined) return undefined;
  const a = toIpv6(source.hostname);
  const b = toIpv6(destination.hostname);
  if (a === undefined || b === undefined) return undefined;
  if (isIpv4Mapped(a) && isIpv4Mapped(b)) {
    return { family: 4, source: a.subarray(12), destination: b.subarray(12) };
  }
  return { family: 6, source: a, destination: b };
}

/** IPv4 and IPv6 text as 16 bytes, IPv4 mapped (RFC 4291 §2.5.5.2). */
function toIpv6(hostname: string): Uint8Array | undefined {
  const bytes = parseIpAddress(hostname);
  if (bytes === undefined || bytes.length === 16) return bytes;
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped.set(bytes, 12);
  return mapped;
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 12).every((byte, i) => byte === (i < 10 ? 0 : 0xff));
}

function formatAddressBytes(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIpv4(bytes, 0) : formatIpv6(bytes, 0);
}

/**
 * Encodes a version 1 (text) header: `PROXY TCP4|TCP6 src dst sport dport\r\n`, or
 * `PROXY UNKNOWN\r\n` when an endpoint is missing or not an IP literal.
 */
export function encodeProxyHeaderV1(
  source: ProxyEndpoint | undefined,
  destination: ProxyEndpoint | undefined,
): Uint8Array {
  const pair = addressPair(source, destination);
  if (pair === undefined || source === undefined || destination === undefined) {
    return new TextEncoder().encode("PROXY UNKNOWN\r\n");
  }
  const addresses = `${formatAddressBytes(pair.source)} ${formatAddressBytes(pair.destination)}`;
  return new TextEncoder().encode(
    `PROXY TCP${pair.family} ${addresses} ${source.port} ${destination.port}\r\n`,
  );
}

/**
 * Encodes a version 2 (binary) header with the PROXY command over TCP; `AF_UNSPEC` with no
 * address block when an endpoint is missing or not an IP literal.
 */
export function encodeProxyHeaderV2(
  source: ProxyEndpoint | undefined,
  destination: ProxyEndpoint | undefined,
): Uint8Array {
  const pair = addressPair(source, destination);
  const addressLength = pair === undefined ? 0 : pair.family === 4 ? 12 : 36;
  const bytes = new Uint8Array(V2_HEADER_LENGTH + addressLength);
  const view = new DataView(bytes.buffer);
  bytes.set(PROXY_V2_SIGNATURE, 0);
  bytes[12] = V2_VERSION | V2_COMMAND_PROXY;
  bytes[13] = pair === undefined ? V2_UNSPEC : pair.family === 4 ? V2_TCP4 : V2_TCP6;
  view.setUint16(14, addressLength);
  if (pair !== undefined && source !== undefined && destination !== undefined) {
    const size = pair.source.length;
    bytes.set(pair.source, 16);
    bytes.set(pair.destination, 16 + size);
    view.setUint16(16 + 2 * size, source.port);
    view.setUint16(18 + 2 * size, destination.port);
  }
  return bytes;
}

/** Options of {@linkcode decodeProxyHeader}. */
export interface DecodeProxyHeaderOptions {
  /**
   * Longest version 2 header accepted (signature, address block and TLVs); a longer one is an
   * error. @default {DEFAULT_MAX_PROXY_HEADER_LENGTH}
   */
  readonly maxLength?: number;
}

/**
 * Reads a version 1 or 2 header from the first bytes of a connection. Returns
 * `{ complete: false }` while `bytes` is a proper prefix of a header, so the caller reads more.
 *
 * @throws {ProxyProtocolError} when the bytes cannot start a valid header.
 */
export function decodeProxyHeader(
  bytes: Uint8Array,
  options: DecodeProxyHeaderOptions = {},
): ProxyHeaderDecoding {
  if (startsWith(bytes, PROXY_V2_SIGNATURE)) {
    return decodeV2(bytes, options.maxLength ?? DEFAULT_MAX_PROXY_HEADER_LENGTH);
  }
  if (startsWith(bytes, V1_PREFIX)) return decodeV1(bytes);
  throw new ProxyProtocolError("it starts with neither the v1 nor the v2 signature", 0);
}

/** True when `bytes` and `prefix` agree on their common length (so a short `bytes` may still match). */
function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function decodeV1(bytes: Uint8Array): ProxyHeaderDecoding {
  const limit = Math.min(bytes.length, PROXY_V1_MAX_LENGTH);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    if (bytes.length >= PROXY_V1_MAX_LENGTH) {
      throw new ProxyProtocolError(`no CRLF within ${PROXY_V1_MAX_LENGTH} bytes`, 0);
    }
    return { complete: false };
  }
  if (bytes[end - 1] !== 0x0d) throw new ProxyProtocolError("LF without CR", end);
  // Latin-1 keeps one character per byte, so text offsets are byte offsets.
  const line = new TextDecoder("latin1").decode(bytes.subarray(0, end - 1));
  const fields = line.split(" ");
  const length = end + 1;
  if (fields[1] === "UNKNOWN") {
    // Spec §2.1: after UNKNOWN the receiver ignores everything up to the CRLF.
    return {
      complete: true,
      header: { version: 1, length, source: undefined, destination: undefined },
    };
  }
  if (fields[1] !== "TCP4" && fields[1] !== "TCP6") {
    throw new ProxyProtocolError(`unknown protocol '${fields[1]}'`, V1_PREFIX.length);
  }
  if (fields.length !== 6) {
    throw new ProxyProtocolError(`${fields.length} fields instead of 6`, V1_PREFIX.length);
  }
  const size = fields[1] === "TCP4" ? 4 : 16;
  let offset = V1_PREFIX.length + 5;
  const values: (string | number)[] = [];
  for (let i = 2; i < 6; i++) {
    const field = fields[i] ?? "";
    if (i < 4) {
      const address = parseIpAddress(field);
      // Leading zeros read as octal elsewhere (inet_pton rejects them too).
      if (address?.length !== size || (size === 4 && /(^|\.)0[0-9]/.test(field))) {
        throw new ProxyProtocolError(`'${field}' is not an ${fields[1]} address`, offset);
      }
      values.push(formatAddressBytes(address));
    } else {
      if (!/^(0|[1-9][0-9]{0,4})$/.test(field) || Number(field) > 65535) {
        throw new ProxyProtocolError(`'${field}' is not a port`, offset);
      }
      values.push(Number(field));
    }
    offset += field.length + 1;
  }
  const [sourceHost, destinationHost, sourcePort, destinationPort] = values;
  return {
    complete: true,
    header: {
      version: 1,
      length,
      source: { hostname: String(sourceHost), port: Number(sourcePort) },
      destination: { hostname: String(destinationHost), port: Number(destinationPort) },
    },
  };
}

function decodeV2(bytes: Uint8Array, maxLength: number): ProxyHeaderDecoding {
  if (bytes.length < V2_HEADER_LENGTH) return { complete: false };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const versionCommand = view.getUint8(12);
  if ((versionCommand & 0xf0) !== V2_VERSION) {
    throw new ProxyProtocolError(`version ${versionCommand >> 4} instead of 2`, 12);
  }
  const command = versionCommand & 0x0f;
  if (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY) {
    throw new ProxyProtocolError(`unknown command ${command}`, 12);
  }
  const familyTransport = view.getUint8(13);
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family > V2_FAMILY_UNIX || transport > 2) {
    throw new ProxyProtocolError(
      `unknown address family/transport 0x${familyTransport.toString(16)}`,
      13,
    );
  }
  const addressLength = view.getUint16(14);
  const length = V2_HEADER_LENGTH + addressLength;
  if (length > maxLength) {
    throw new ProxyProtocolError(`length ${length} is above the maximum ${maxLength}`, 14);
  }
  const needed = family === V2_FAMILY_INET ? 12 : family === V2_FAMILY_INET6 ? 36 : 0;
  if (command === V2_COMMAND_PROXY && addressLength < needed) {
    throw new ProxyProtocolError(
      `address length ${addressLength} is below the ${needed} bytes of its family`,
      14,
    );
  }
  if (bytes.length < length) return { complete: false };
  const unknown = { version: 2, length, source: undefined, destination: undefined } as const;
  if (command === V2_COMMAND_LOCAL || needed === 0 || transport === 2) {
    return { complete: true, header: unknown };
  }
  const size = family === V2_FAMILY_INET ? 4 : 16;
  const at = V2_HEADER_LENGTH;
  return {
    complete: true,
    header: {
      version: 2,
      length,
      source: {
        hostname: formatAddressBytes(bytes.subarray(at, at + size)),
        port: view.getUint16(at + 2 * size),
      },
      destination: {
        hostname: formatAddressBytes(bytes.subarray(at + size, at + 2 * size)),
        port: view.getUint16(at + 2 * size + 2),
      },
    },
  };
}
