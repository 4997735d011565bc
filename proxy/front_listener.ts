/**
 * Front listeners as the session proxy runs them and the admin API manages them: a `tcp`
 * listener forwards every client to one pool; a `tls` listener takes the pool handle from the
 * server name (SNI) of the client's ClientHello and an `http` listener from the Host of its first
 * request, each less the listener's handle suffix (`echo.pool.example` with `.pool.example` is
 * pool `echo`). The spec a caller gives, what the proxy reports back, and the checks in between.
 *
 * @module
 */
import { decodeHostname } from "./pool_hostname.ts";

/** Listeners bind to every interface unless told otherwise, as `Deno.listen` does. */
export const DEFAULT_LISTEN_HOSTNAME = "0.0.0.0";

/** How a listener names the pool of a connection: by port, by TLS server name or by HTTP Host. */
export type FrontListenerKind = "tcp" | "tls" | "http";

/** A front listener to bind: what `startProxy({ listeners })` and `addListener()` take. */
export interface FrontListenerSpec {
  /**
   * Names the listener for `removeListener()`; unique within the proxy.
   * @default {`${kind}-${hostname}-${port}` with the bound port (see {@linkcode defaultListenerId})}
   */
  readonly id?: string;
  /** How the pool is named: `tcp` by `pool`, `tls` by SNI, `http` by Host. */
  readonly kind: FrontListenerKind;
  /** Address to bind. @default {DEFAULT_LISTEN_HOSTNAME} */
  readonly hostname?: string;
  /** TCP port; 0 picks a free one (see `listeners()`). */
  readonly port: number;
  /** The pool every client is forwarded to: `tcp` only, and required there. */
  readonly pool?: string;
  /**
   * The domain under which host names name pools, such as ".pool.example": `tls` and `http`
   * only, and required there. Compared ignoring ASCII case.
   */
  readonly handleSuffix?: string;
  /**
   * Expect a PROXY protocol v1 or v2 header from a trusted load balancer before the client's
   * bytes (before its ClientHello or request on `tls` and `http`), and take the client's address
   * from it. @default {false}
   */
  readonly acceptProxyProtocol?: boolean;
}

/** A bound front listener, as `listeners()` and `addListener()` report it. */
export interface FrontListenerInfo {
  /** The listener's id, given or defaulted. */
  readonly id: string;
  /** How it names the pool. */
  readonly kind: FrontListenerKind;
  /** The address it was asked to bind (the spec's, or the default). */
  readonly hostname: string;
  /** The port it is bound to: the real one when the spec asked for 0. */
  readonly port: number;
  /** The pool of a `tcp` listener. */
  readonly pool?: string;
  /** The handle suffix of a `tls` or `http` listener. */
  readonly handleSuffix?: string;
  /** Whether it expects a PROXY protocol header first. */
  readonly acceptProxyProtocol: boolean;
}

/** `addListener()` was given an id that another listener of the proxy has. */
export class ListenerExistsError extends Error {
  /** The id in use. */
  readonly id: string;

  /** Builds the error for `id`. */
  constructor(id: string) {
    super(`Cannot add listener '${id}' as a listener with that id exists`);
    this.name = "ListenerExistsError";
    this.id = id;
  }
}

/** A spec with its defaults filled in and its fields checked; the id may still be open. */
export type CheckedFrontListenerSpec = Omit<FrontListenerInfo, "id"> & {
  readonly id: string | undefined;
};

const KINDS: readonly FrontListenerKind[] = ["tcp", "tls", "http"];

function invalid(name: string, rule: string, value: unknown): RangeError {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return new RangeError(
    `Cannot add listener as '${name}' ${rule}: current value is ${shown}`,
  );
}

/**
 * Fills in the defaults of `spec` and checks it: a known kind, a port from 0 to 65535, a
 * non-empty id and hostname, a pool on `tcp` only, and a handle suffix (a "." followed by a DNS
 * name) on `tls` and `http` only.
 *
 * @throws {RangeError} naming the field that is wrong.
 */
export function checkFrontListenerSpec(spec: FrontListenerSpec): CheckedFrontListenerSpec {
  const { kind, port, pool, handleSuffix } = spec;
  const hostname = spec.hostname ?? DEFAULT_LISTEN_HOSTNAME;
  if (!KINDS.includes(kind)) throw invalid("kind", 'must be "tcp", "tls" or "http"', kind);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid("port", "must be an integer from 0 to 65535", port);
  }
  if (spec.id !== undefined && (typeof spec.id !== "string" || spec.id === "")) {
    throw invalid("id", "must be a non-empty string", spec.id);
  }
  if (typeof hostname !== "string" || hostname === "") {
    throw invalid("hostname", "must be a non-empty string", hostname);
  }
  let routing: { readonly pool: string } | { readonly handleSuffix: string };
  if (kind === "tcp") {
    if (typeof pool !== "string" || pool === "") {
      throw invalid("pool", "must name the pool of a tcp listener", pool);
    }
    if (handleSuffix !== undefined) {
      throw invalid("handleSuffix", "is for tls and http listeners only", handleSuffix);
    }
    routing = { pool };
  } else {
    if (pool !== undefined) {
      throw invalid(
        "pool",
        `is for tcp listeners only (a ${kind} listener takes it from the name the client asks for)`,
        pool,
      );
    }
    if (!isHandleSuffix(handleSuffix)) {
      throw invalid(
        "handleSuffix",
        `must be "." followed by a DNS name, such as ".pool.example", on a ${kind} listener`,
        handleSuffix,
      );
    }
    routing = { handleSuffix };
  }
  return {
    id: spec.id,
    kind,
    hostname,
    port,
    ...routing,
    acceptProxyProtocol: spec.acceptProxyProtocol ?? false,
  };
}

/**
 * True when `suffix` is "." followed by a DNS host name (letter-digit-hyphen labels, the last one
 * not all digits), as a handle suffix must be.
 */
export function isHandleSuffix(suffix: string | undefined): suffix is string {
  return typeof suffix === "string" && suffix.startsWith(".") &&
    decodeHostname(new TextEncoder().encode(suffix.slice(1))) !== undefined;
}

/**
 * The id of a listener bound without one: `${kind}-${hostname}-${port}` with the bound port and
 * every character of the hostname other than letters, digits, "." and "-" written as "_"
 * ("tls-127.0.0.1-8443", "tcp-__1-9000" for "::1"), so that it is also a valid config-store id.
 */
export function defaultListenerId(kind: FrontListenerKind, hostname: string, port: number): string {
  return `${kind}-${hostname.replace(/[^0-9A-Za-z.-]/g, "_")}-${port}`;
}

/**
 * What a front listener is for, as a bind failure names it: "front listener for pool web",
 * "front listener for tls host names *.pool.example". An id other than the default one is named
 * too, since a stored listener is changed by its id.
 */
export function frontListenerRole(spec: CheckedFrontListenerSpec): string {
  const named =
    spec.id === undefined || spec.id === defaultListenerId(spec.kind, spec.hostname, spec.port)
      ? ""
      : ` ${JSON.stringify(spec.id)}`;
  return spec.kind === "tcp"
    ? `front listener${named} for pool ${spec.pool}`
    : `front listener${named} for ${spec.kind} host names *${spec.handleSuffix}`;
}
