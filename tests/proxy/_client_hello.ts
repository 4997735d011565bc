/**
 * ClientHellos for the front-end tests: the captured fixtures (tests/fixtures/tls_client_hello_*.hex,
 * real bytes from OpenSSL and Deno) and a small builder, written from RFC 8446 §4.1.2 and RFC 6066
 * §3 independently of the parser, for the shapes no real client sends.
 *
 * @module
 */

/** The captured ClientHellos, by fixture name. */
export type ClientHelloFixture =
  | "openssl"
  | "openssl_no_sni"
  | "deno"
  | "deno_ip_literal";

/** Reads tests/fixtures/tls_client_hello_<name>.hex: hex digits, "#" lines are comments. */
export function clientHelloFixture(name: ClientHelloFixture): Uint8Array {
  const url = new URL(`../fixtures/tls_client_hello_${name}.hex`, import.meta.url);
  const hex = Deno.readTextFileSync(url)
    .split("\n")
    .filter((line) => !line.startsWith("#"))
    .join("")
    .replace(/\s+/g, "");
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function u16(value: number): number[] {
  return [value >> 8, value & 0xff];
}

/** An extension: type (2), length (2), data. */
export function extension(type: number, data: ArrayLike<number>): Uint8Array {
  return Uint8Array.from([...u16(type), ...u16(data.length), ...Array.from(data)]);
}

/** A server_name extension holding one entry of `nameType` (0 is host_name). */
export function serverNameExtension(name: string | Uint8Array, nameType = 0): Uint8Array {
  const bytes = typeof name === "string" ? new TextEncoder().encode(name) : name;
  const entry = [nameType, ...u16(bytes.length), ...bytes];
  return extension(0, [...u16(entry.length), ...entry]);
}

/** The fields of a ClientHello body; every one has a plausible default. */
export interface ClientHelloParts {
  /** legacy_version. @default {0x0303} */
  version?: number;
  /** legacy_session_id length (bytes 0xaa). @default {32} */
  sessionIdLength?: number;
  /** cipher_suites. @default {[0x1301, 0xc02f]} */
  cipherSuites?: number[];
  /** legacy_compression_methods. @default {[0]} */
  compressionMethods?: number[];
  /** Extensions, or undefined to end the body before the extensions length (TLS 1.0 style). */
  extensions?: Uint8Array[] | undefined;
}

/** A ClientHello handshake message: type 1, 3-byte length, body. */
export function clientHelloMessage(parts: ClientHelloParts = {}): Uint8Array {
  const sessionIdLength = parts.sessionIdLength ?? 32;
  const suites = (parts.cipherSuites ?? [0x1301, 0xc02f]).flatMap(u16);
  const compression = parts.compressionMethods ?? [0];
  const body = [
    ...u16(parts.version ?? 0x0303),
    ...new Array<number>(32).fill(0x5a),
    sessionIdLength,
    ...new Array<number>(sessionIdLength).fill(0xaa),
    ...u16(suites.length),
    ...suites,
    compression.length,
    ...compression,
  ];
  if (!("extensions" in parts) || parts.extensions !== undefined) {
    const extensions = (parts.extensions ?? [serverNameExtension("echo.pool.example")])
      .flatMap((e) => Array.from(e));
    body.push(...u16(extensions.length), ...extensions);
  }
  return Uint8Array.from([
    1,
    body.length >> 16,
    (body.length >> 8) & 0xff,
    body.length & 0xff,
    ...body,
  ]);
}

/**
 * Wraps `message` in handshake records of at most `fragmentBytes` each, with record version
 * `version`.
 */
export function handshakeRecords(
  message: Uint8Array,
  fragmentBytes = 16384,
  version = 0x0301,
): Uint8Array {
  const out: number[] = [];
  for (let at = 0; at < message.length; at += fragmentBytes) {
    const fragment = message.subarray(at, Math.min(message.length, at + fragmentBytes));
    out.push(22, ...u16(version), ...u16(fragment.length), ...fragment);
  }
  return Uint8Array.from(out);
}

/** The handshake message inside a single-record fixture (the record header dropped). */
export function handshakeOf(record: Uint8Array): Uint8Array {
  return record.subarray(5);
}

/** Concatenates byte arrays. */
export function concat(...parts: ArrayLike<number>[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => Array.from(part)));
}
