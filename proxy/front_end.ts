/**
 * The front end of `tls` and `http` listeners: read a connection's first bytes — a load
 * balancer's PROXY protocol header if the listener expects one, then the TLS ClientHello or the
 * HTTP/1.x request head — within a size and a time limit, name the pool from the server name or
 * Host, and hand the session a connection that replays those bytes untouched. A connection that
 * cannot be routed gets the refusal its protocol understands: a fatal TLS alert (RFC 8446 §6) or
 * a short HTTP error response, then a bounded lingering close.
 *
 * @module
 */
import type { PeConnection } from "./connector.ts";
import { httpErrorResponse, type HttpErrorStatus, readHttpHost } from "./http_request_head.ts";
import {
  ConnectionPrefixError,
  poolHandleFromHostname,
  readConnectionPrefix,
} from "./pool_hostname.ts";
import { decodeProxyHeader, type ProxyHeader, ProxyProtocolError } from "./proxy_protocol.ts";
import {
  type ClientHelloErrorReason,
  readClientHelloServerName,
  tlsAlert,
  TlsAlertDescription,
} from "./tls_client_hello.ts";

/**
 * Longest time from accept until the ClientHello or request head (and the PROXY header before
 * it) is complete: a total, so a client that drips one byte at a time is cut off too.
 */
export const DEFAULT_FRONT_TIMEOUT_MS = 10_000;
/**
 * Most bytes a ClientHello's records or a request head may take: one full TLS record (RFC 8446
 * §5.1), twice what Apache and nginx allow per header line.
 */
export const DEFAULT_MAX_FRONT_BYTES = 16384;

/**
 * How long a refused connection is read and discarded after the refusal and a FIN, so that the
 * client reads the refusal instead of a reset (closing a socket with unread bytes sends RST).
 */
const LINGER_MS = 2_000;
/** Most bytes read and discarded while lingering. */
const LINGER_MAX_BYTES = 16384;
/** RFC 8446 §9.2: the alert for a ClientHello without the server_name a server requires. */
const MISSING_EXTENSION_ALERT = 109;

/** Why a `tls` or `http` connection was not forwarded. */
export type FrontRefusalReason =
  /** The load balancer's PROXY header was malformed or too long. */
  | "bad-proxy-header"
  /** The first bytes are not a ClientHello or an HTTP/1.x request (garbage, another protocol). */
  | "malformed"
  /** The ClientHello or request head is larger than the limit. */
  | "too-large"
  /** SSL 3.0 only, or HTTP other than 1.x. */
  | "unsupported-version"
  /** The ClientHello has no server name, or the request no Host. */
  | "no-host"
  /** The server name or Host is not a host name under the listener's handle suffix. */
  | "wrong-domain"
  /** The host name names a pool that has no pool element and that the proxy does not know. */
  | "unknown-pool"
  /** The pool is known but has no pool element to take the connection. */
  | "no-pe"
  /** The prefix did not arrive within the front timeout. */
  | "timeout"
  /** The client ended the stream before the prefix was complete. */
  | "closed";

/** What a front end refuses a connection with: the reason, a detail for the log, the reply. */
export interface FrontRefusal {
  /** Why, as a code for logs and metrics. */
  readonly reason: FrontRefusalReason;
  /** What was wrong, in words, for the log line. */
  readonly detail: string;
  /** The bytes to send before closing (an alert record or an HTTP response), if any. */
  readonly reply: Uint8Array | undefined;
  /** The host name asked for, when one was read. */
  readonly host?: string;
}

/** A connection whose pool the front end has named. */
export interface FrontRequest {
  /** Tells a request from a {@linkcode FrontRefusal}. */
  readonly status: "ok";
  /** The server name or Host, lower-cased. */
  readonly host: string;
  /** The pool handle the host name names (lower-cased); undefined when it is not under the suffix. */
  readonly pool: string | undefined;
  /** The connection for the session: its first reads return the ClientHello or request onwards. */
  readonly client: PrefixedConnection;
}

/** Options of {@linkcode readFrontRequest}. */
export interface FrontRequestOptions {
  /** `tls` reads a ClientHello, `http` a request head. */
  readonly kind: "tls" | "http";
  /** The domain under which host names name pools, such as ".pool.example". */
  readonly handleSuffix: string;
  /** Read a PROXY protocol v1/v2 header of at most `maxLength` bytes first. */
  readonly proxyHeader: { readonly maxLength: number } | undefined;
  /** Total time for the PROXY header and the ClientHello or head. @default {DEFAULT_FRONT_TIMEOUT_MS} */
  readonly timeoutMs?: number;
  /** Most bytes of the ClientHello's records or the head. @default {DEFAULT_MAX_FRONT_BYTES} */
  readonly maxBytes?: number;
  /** Aborting it stops the wait: the promise rejects with its reason. */
  readonly signal?: AbortSignal;
}

/** What the TLS or HTTP parser made of the bytes after the PROXY header: a host, or a refusal. */
type FrontVerdict = { readonly host: string } | FrontRefusal;

type Parsed =
  | { readonly status: "need-more" }
  | { readonly status: "bad-proxy-header"; readonly error: ProxyProtocolError }
  | {
    readonly status: "parsed";
    readonly header: ProxyHeader | undefined;
    readonly offset: number;
    readonly verdict: FrontVerdict;
  };

const NEED_MORE = Object.freeze({ status: "need-more" } as const);

const TLS_REASON: Readonly<Record<ClientHelloErrorReason, FrontRefusalReason>> = {
  "not-tls": "malformed",
  "malformed": "malformed",
  "too-large": "too-large",
  "unsupported-version": "unsupported-version",
  // An IP literal or a name that is not a DNS host name: no pool can be under the suffix.
  "invalid-server-name": "wrong-domain",
};

function tlsVerdict(bytes: Uint8Array, maxBytes: number): FrontVerdict | undefined {
  const result = readClientHelloServerName(bytes, { maxClientHelloBytes: maxBytes });
  switch (result.status) {
    case "need-more":
      return undefined;
    case "error": {
      const { error } = result;
      const reply = tlsAlert(error.alertDescription);
      return { reason: TLS_REASON[error.reason], detail: error.message, reply };
    }
    case "ok":
      return result.serverName === undefined
        ? frontRefusal("tls", "no-host", "the ClientHello carries no server name (SNI)")
        : { host: result.serverName };
  }
}

function httpVerdict(bytes: Uint8Array, maxBytes: number): FrontVerdict | undefined {
  const result = readHttpHost(bytes, { maxHeaderBytes: maxBytes });
  switch (result.status) {
    case "need-more":
      return undefined;
    case "error": {
      const { error } = result;
      const reply = httpErrorResponse(error.status, HTTP_MESSAGE[error.reason]);
      return { reason: error.reason, detail: error.message, reply };
    }
    case "ok":
      return { host: result.host };
  }
}

/**
 * Reads the PROXY header (when expected) and the ClientHello or request head of `conn`, and names
 * the pool from its host name. Resolves to the request, or to the refusal to answer with (see
 * {@linkcode refuseFrontConnection}); whether the pool is known and has a pool element is for the
 * caller to find out.
 *
 * @throws {RangeError} when `timeoutMs` or `maxBytes` is not a positive integer.
 * Read errors from `conn` other than the end of the stream, and the signal's reason, pass through.
 */
export async function readFrontRequest(
  conn: PeConnection,
  options: FrontRequestOptions,
): Promise<FrontRequest | FrontRefusal> {
  const { kind, proxyHeader } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FRONT_BYTES;
  const readVerdict = kind === "tls" ? tlsVerdict : httpVerdict;
  const parse = (bytes: Uint8Array): Parsed => {
    let header: ProxyHeader | undefined;
    if (proxyHeader !== undefined) {
      try {
        const decoded = decodeProxyHeader(bytes, proxyHeader);
        if (!decoded.complete) return NEED_MORE;
        header = decoded.header;
      } catch (error) {
        if (error instanceof ProxyProtocolError) return { status: "bad-proxy-header", error };
        throw error;
      }
    }
    const offset = header?.length ?? 0;
    if (offset === bytes.length) return NEED_MORE;
    const verdict = readVerdict(bytes.subarray(offset), maxBytes);
    return verdict === undefined ? NEED_MORE : { status: "parsed", header, offset, verdict };
  };
  let prefix;
  try {
    prefix = await readConnectionPrefix(conn, parse, {
      // The parsers refuse an oversized prefix themselves; this bound only backs them up.
      maxBytes: maxBytes + (proxyHeader?.maxLength ?? 0),
      timeoutMs: options.timeoutMs ?? DEFAULT_FRONT_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (!(error instanceof ConnectionPrefixError)) throw error;
    const refused = frontRefusal(kind, error.reason, error.message);
    // A client that sent nothing at all (a port check, a preconnect) is closed without a 408.
    return error.bytes.length === 0 ? { ...refused, reply: undefined } : refused;
  }
  const { result, bytes } = prefix;
  if (result.status === "bad-proxy-header") {
    return frontRefusal(kind, "bad-proxy-header", result.error.message);
  }
  const { verdict, header, offset } = result;
  if ("reason" in verdict) return verdict;
  return {
    status: "ok",
    host: verdict.host,
    pool: poolHandleFromHostname(verdict.host, options.handleSuffix),
    client: new PrefixedConnection(conn, bytes.subarray(offset), header),
  };
}

const HTTP_STATUS: Readonly<Record<FrontRefusalReason, HttpErrorStatus | undefined>> = {
  "bad-proxy-header": undefined,
  "malformed": 400,
  "too-large": 431,
  "unsupported-version": 505,
  "no-host": 400,
  "wrong-domain": 421,
  "unknown-pool": 404,
  "no-pe": 503,
  "timeout": 408,
  "closed": undefined,
};

const TLS_ALERT: Readonly<Record<FrontRefusalReason, number | undefined>> = {
  "bad-proxy-header": undefined,
  "malformed": TlsAlertDescription.unexpectedMessage,
  "too-large": TlsAlertDescription.handshakeFailure,
  "unsupported-version": TlsAlertDescription.protocolVersion,
  "no-host": MISSING_EXTENSION_ALERT,
  "wrong-domain": TlsAlertDescription.unrecognizedName,
  "unknown-pool": TlsAlertDescription.unrecognizedName,
  // The client cannot tell a pool without pool elements from a dead server: a plain close.
  "no-pe": undefined,
  "timeout": undefined,
  "closed": undefined,
};

const HTTP_MESSAGE: Readonly<Record<FrontRefusalReason, string>> = {
  "bad-proxy-header": "",
  "malformed": "Bad request",
  "too-large": "Request head too large",
  "unsupported-version": "Only HTTP/1.x is served here",
  "no-host": "No Host",
  "wrong-domain": "This host is not served here",
  "unknown-pool": "No such pool",
  "no-pe": "No server of this pool is available",
  "timeout": "Request head not received in time",
  "closed": "",
};

/**
 * The refusal of a `kind` connection for `reason`: the reply follows the tables above (a TLS
 * alert, or an HTTP status with a one-line body; none for a bad PROXY header, a stream the client
 * ended, or a TLS connection that timed out or found no pool element).
 */
export function frontRefusal(
  kind: "tls" | "http",
  reason: FrontRefusalReason,
  detail: string,
  host?: string,
): FrontRefusal {
  let reply: Uint8Array | undefined;
  if (kind === "tls") {
    const alert = TLS_ALERT[reason];
    reply = alert === undefined ? undefined : tlsAlert(alert);
  } else {
    const status = HTTP_STATUS[reason];
    reply = status === undefined ? undefined : httpErrorResponse(status, HTTP_MESSAGE[reason]);
  }
  return host === undefined ? { reason, detail, reply } : { reason, detail, reply, host };
}

/**
 * Sends `reply` (if any), half-closes, reads and discards what the client still sends for a
 * short while, so that it reads the reply rather than a reset, then closes `conn`. Never
 * rejects; the signal cuts the lingering short.
 */
export async function refuseFrontConnection(
  conn: PeConnection,
  reply: Uint8Array | undefined,
  signal?: AbortSignal,
): Promise<void> {
  try {
    if (reply === undefined || signal?.aborted) return;
    for (let written = 0; written < reply.length;) {
      written += await conn.write(reply.subarray(written));
    }
    await conn.closeWrite();
    // A parser that never decides: the read ends at end of stream, the byte limit or the time.
    await readConnectionPrefix(conn, () => NEED_MORE, {
      maxBytes: LINGER_MAX_BYTES,
      timeoutMs: LINGER_MS,
      ...(signal ? { signal } : {}),
    });
  } catch {
    // Gone, reset, lingered long enough or aborted: closing is all that is left.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * A client connection whose first reads return the bytes the front end has read (the ClientHello
 * or request head onwards, the PROXY header left out), and whose addresses are those of the PROXY
 * header when one named them, so the session logs and passes on the real client.
 */
export class PrefixedConnection implements PeConnection {
  readonly #conn: PeConnection;
  #prefix: Uint8Array | undefined;
  /** The address the client connected to (from the PROXY header when it gave one). */
  readonly localAddr: Deno.Addr;
  /** The client (from the PROXY header when it gave one). */
  readonly remoteAddr: Deno.Addr;

  /** Wraps `conn`, replaying `prefix` first; `header` overrides the addresses. */
  constructor(conn: PeConnection, prefix: Uint8Array, header: ProxyHeader | undefined) {
    this.#conn = conn;
    this.#prefix = prefix.length > 0 ? prefix : undefined;
    const { source, destination } = header ?? {};
    const named = source !== undefined && destination !== undefined;
    this.remoteAddr = named ? { transport: "tcp", ...source } : conn.remoteAddr;
    this.localAddr = named ? { transport: "tcp", ...destination } : conn.localAddr;
  }

  /** The bytes read ahead first, then the connection's own. */
  read(buffer: Uint8Array): Promise<number | null> {
    const prefix = this.#prefix;
    if (prefix === undefined) return this.#conn.read(buffer);
    const count = Math.min(buffer.length, prefix.length);
    buffer.set(count === prefix.length ? prefix : prefix.subarray(0, count));
    this.#prefix = count === prefix.length ? undefined : prefix.subarray(count);
    return Promise.resolve(count);
  }

  /** Writes to the client. */
  write(data: Uint8Array): Promise<number> {
    return this.#conn.write(data);
  }

  /** Half-closes towards the client. */
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  /** Closes the client connection. */
  close(): void {
    this.#prefix = undefined;
    this.#conn.close();
  }

  /** Sets TCP_NODELAY on the client connection. */
  setNoDelay(noDelay?: boolean): void {
    this.#conn.setNoDelay(noDelay);
  }
}
