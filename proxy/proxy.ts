/**
 * The session proxy: listeners that each name a pool, sessions that forward a client's bytes to
 * a pool element chosen by the pool's policy, failover, the access log, and the `Deno.serve`
 * lifecycle (STYLE.md §11).
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { formatAddress } from "../lib/transport/format_address.ts";
import { type Connector, tcpConnector } from "./connector.ts";
import type { PoolMemberSource } from "./member_source.ts";
import { ProxyEventTarget, type SessionEndDetail } from "./proxy_events.ts";
import { DEFAULT_MAX_PROXY_HEADER_LENGTH, PROXY_V1_MAX_LENGTH } from "./proxy_protocol.ts";
import { closeQuietly, Session, type SessionHost, type SessionInfo } from "./session.ts";
import {
  checkInteger,
  type PoolSettings,
  type ResolvedPoolSettings,
  resolvePoolSettings,
} from "./settings.ts";

/** Listeners bind to every interface unless told otherwise, as `Deno.listen` does. */
export const DEFAULT_LISTEN_HOSTNAME = "0.0.0.0";
/** Most sessions at once; a client over it is closed at once. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Bytes per read buffer; each session holds two, one per direction. */
export const DEFAULT_BUFFER_SIZE = 64 * 1024;
/** Longest wait for a load balancer's PROXY protocol header. */
export const DEFAULT_PROXY_HEADER_TIMEOUT_MS = 3_000;
/** Longest PROXY protocol header accepted from a load balancer (v2 with TLVs). */
export const DEFAULT_MAX_PROXY_HEADER_BYTES: number = DEFAULT_MAX_PROXY_HEADER_LENGTH;
/** How long `shutdown()` lets sessions finish before it closes them. */
export const DEFAULT_DRAIN_MS = 10_000;
/** Idle buffers kept for reuse by later sessions (the rest go to the garbage collector). */
export const DEFAULT_SPARE_BUFFERS = 256;

/** One listening address and the pool its clients are forwarded to. */
export interface ListenerOptions {
  /** Address to bind. @default {DEFAULT_LISTEN_HOSTNAME} */
  readonly hostname?: string;
  /** TCP port; 0 picks a free one (see `addrs`). */
  readonly port: number;
  /** Pool handle of the pool served on this address. */
  readonly pool: string;
  /**
   * Expect a PROXY protocol v1 or v2 header from a trusted load balancer before the client's
   * bytes, and take the client's address from it. @default {false}
   */
  readonly acceptProxyProtocol?: boolean;
}

/** Options of {@linkcode startProxy}. */
export interface ProxyOptions {
  /** The addresses to listen on, each naming its pool. */
  readonly listeners: readonly ListenerOptions[];
  /** Selection, failure reports and removal events of pool elements (the registrar). */
  readonly memberSource: PoolMemberSource;
  /** Settings per pool handle; a pool not named here gets every default. */
  readonly pools?: Readonly<Record<string, PoolSettings>>;
  /** Most sessions at once. @default {DEFAULT_MAX_SESSIONS} */
  readonly maxSessions?: number;
  /** Bytes per read buffer (two per session). @default {DEFAULT_BUFFER_SIZE} */
  readonly bufferSize?: number;
  /** Longest wait for an incoming PROXY header. @default {DEFAULT_PROXY_HEADER_TIMEOUT_MS} */
  readonly proxyHeaderTimeoutMs?: number;
  /** Longest incoming PROXY header. @default {DEFAULT_MAX_PROXY_HEADER_BYTES} */
  readonly maxProxyHeaderBytes?: number;
  /** Drain time of `shutdown()` without an argument and of `signal`. @default {DEFAULT_DRAIN_MS} */
  readonly drainMs?: number;
  /** Idle buffers kept for reuse. @default {DEFAULT_SPARE_BUFFERS} */
  readonly spareBuffers?: number;
  /** Operational logs. @default {getLogger(["poolgate", "proxy"])} */
  readonly logger?: Logger;
  /** One line per session at its end. @default {getLogger(["poolgate", "access"])} */
  readonly accessLogger?: Logger;
  /** Aborting it starts `shutdown()`. */
  readonly signal?: AbortSignal;
  /** Opens connections to pool elements (tests stand in for the network). @default {tcpConnector} */
  readonly connect?: Connector;
}

/** Options of {@linkcode SessionProxy.shutdown}. */
export interface ShutdownOptions {
  /** How long sessions may go on before they are closed. @default {ProxyOptions.drainMs} */
  readonly drainMs?: number;
}

interface BoundListener {
  readonly listener: Deno.TcpListener;
  readonly pool: string;
  readonly settings: ResolvedPoolSettings;
  readonly acceptProxyProtocol: boolean;
}

/**
 * Starts the session proxy. Binds every listener synchronously, so `addrs` holds the real ports
 * at once (also with port 0).
 *
 * @throws {RangeError} when an option is out of range; `Deno.errors.AddrInUse` and the like
 *   when a listener cannot bind (listeners bound before it are closed again).
 */
export function startProxy(options: ProxyOptions): SessionProxy {
  return new SessionProxy(options);
}

/** A running session proxy; see {@linkcode startProxy}. */
export class SessionProxy extends ProxyEventTarget implements AsyncDisposable {
  /** Where each listener is bound, in the order of `listeners`. */
  readonly addrs: readonly Deno.NetAddr[];
  /** Resolves once the proxy has stopped: listeners closed, every session ended. */
  readonly finished: Promise<void>;
  readonly #listeners: readonly BoundListener[];
  readonly #source: PoolMemberSource;
  readonly #logger: Logger;
  readonly #accessLogger: Logger;
  readonly #maxSessions: number;
  readonly #bufferSize: number;
  readonly #proxyHeaderTimeoutMs: number;
  readonly #maxProxyHeaderBytes: number;
  readonly #drainMs: number;
  readonly #spareBuffers: number;
  readonly #sessions = new Map<number, Session>();
  /** pool handle → PE id → sessions on it, for removal events. */
  readonly #byMember = new Map<string, Map<number, Set<Session>>>();
  readonly #buffers: Uint8Array[] = [];
  readonly #host: SessionHost;
  readonly #unsubscribe: () => void;
  readonly #finished = Promise.withResolvers<void>();
  readonly #signal: AbortSignal | undefined;
  #nextId = 0;
  #shutdown: Promise<void> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;

  /** Use {@linkcode startProxy}. */
  constructor(options: ProxyOptions) {
    super();
    const what = "proxy";
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.#bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    this.#proxyHeaderTimeoutMs = options.proxyHeaderTimeoutMs ?? DEFAULT_PROXY_HEADER_TIMEOUT_MS;
    this.#maxProxyHeaderBytes = options.maxProxyHeaderBytes ?? DEFAULT_MAX_PROXY_HEADER_BYTES;
    this.#drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
    this.#spareBuffers = options.spareBuffers ?? DEFAULT_SPARE_BUFFERS;
    checkInteger(what, "maxSessions", this.#maxSessions, 1);
    checkInteger(what, "bufferSize", this.#bufferSize, 1);
    checkInteger(what, "proxyHeaderTimeoutMs", this.#proxyHeaderTimeoutMs, 1);
    checkInteger(what, "maxProxyHeaderBytes", this.#maxProxyHeaderBytes, PROXY_V1_MAX_LENGTH);
    checkInteger(what, "drainMs", this.#drainMs, 0);
    checkInteger(what, "spareBuffers", this.#spareBuffers, 0);
    const settings = new Map<string, ResolvedPoolSettings>();
    for (const [handle, pool] of Object.entries(options.pools ?? {})) {
      settings.set(handle, resolvePoolSettings(handle, pool));
    }
    for (const { pool } of options.listeners) {
      if (!settings.has(pool)) settings.set(pool, resolvePoolSettings(pool));
    }
    this.#source = options.memberSource;
    this.#logger = options.logger ?? getLogger(["poolgate", "proxy"]);
    this.#accessLogger = options.accessLogger ?? getLogger(["poolgate", "access"]);
    this.#host = {
      memberSource: this.#source,
      connect: options.connect ?? tcpConnector,
      logger: this.#logger,
      moved: (session, from, to) => this.#moved(session, from, to),
      started: (detail) => this.emit("session-start", detail),
      failedOver: (detail) => this.emit("failover", detail),
    };

    const bound: BoundListener[] = [];
    try {
      for (const listener of options.listeners) {
        bound.push({
          listener: Deno.listen({
            hostname: listener.hostname ?? DEFAULT_LISTEN_HOSTNAME,
            port: listener.port,
            transport: "tcp",
          }),
          pool: listener.pool,
          settings: settings.get(listener.pool) ?? resolvePoolSettings(listener.pool),
          acceptProxyProtocol: listener.acceptProxyProtocol ?? false,
        });
      }
    } catch (error) {
      for (const { listener } of bound) closeQuietly(listener);
      throw error;
    }
    this.#listeners = bound;
    this.addrs = bound.map(({ listener }) => listener.addr);
    this.finished = this.#finished.promise;
    this.#unsubscribe = this.#source.onRemoved((pool, peId, reason) =>
      this.#removed(pool, peId, reason)
    );
    for (const listener of bound) this.#acceptLoop(listener);
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.shutdown();
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (bound.length > 0) {
      this.#logger.info("Listening on {addresses}", {
        addresses: bound.map(({ listener, pool }) => `${formatAddress(listener.addr)}=${pool}`),
      });
    }
  }

  /** The first listener's address. */
  get addr(): Deno.NetAddr {
    const [first] = this.addrs;
    if (first === undefined) throw new TypeError("Cannot get address: no listener");
    return first;
  }

  /** The sessions running now, oldest first. */
  sessions(): SessionInfo[] {
    return [...this.#sessions.values()].map((session) => session.info());
  }

  /**
   * Moves a session off its pool element as if that had failed (under `sever` this closes the
   * client). False when there is no such session or it is not connected to a pool element.
   */
  failover(sessionId: number): boolean {
    return this.#sessions.get(sessionId)?.failover("admin") ?? false;
  }

  /** Closes a session at once; false when there is no such session. */
  close(sessionId: number): boolean {
    const session = this.#sessions.get(sessionId);
    session?.close("closed");
    return session !== undefined;
  }

  /**
   * Stops accepting, lets sessions finish for `drainMs`, then closes the rest; resolves with
   * `finished`. Idempotent: later calls return the first call's promise.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#shutdown ??= this.#stop(options.drainMs ?? this.#drainMs);
    return this.#shutdown;
  }

  /** Same as `shutdown()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  readonly #onAbort = () => {
    this.shutdown();
  };

  async #stop(drainMs: number): Promise<void> {
    checkInteger("shutdown", "drainMs", drainMs, 0);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    for (const { listener } of this.#listeners) closeQuietly(listener);
    this.#drained = Promise.withResolvers<void>();
    if (this.#sessions.size === 0) this.#drained.resolve();
    else {
      this.#logger.info("Shutting down: draining {count} sessions for up to {drainMs} ms", {
        count: this.#sessions.size,
        drainMs,
      });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainMs);
    });
    try {
      await Promise.race([this.#drained.promise, expired]);
    } finally {
      clearTimeout(timer);
    }
    for (const session of this.#sessions.values()) session.close("shutdown");
    await this.#drained.promise;
    this.#unsubscribe();
    this.#finished.resolve();
  }

  async #acceptLoop(bound: BoundListener): Promise<void> {
    while (this.#shutdown === undefined) {
      let conn: Deno.TcpConn;
      try {
        conn = await bound.listener.accept();
      } catch (error) {
        if (
          this.#shutdown !== undefined || error instanceof Deno.errors.BadResource ||
          error instanceof Deno.errors.Interrupted
        ) {
          return;
        }
        // Out of file descriptors and the like: say so, then try again a little later.
        this.#logger.error("Cannot accept on {address}: {error}", {
          address: formatAddress(bound.listener.addr),
          error,
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#admit(conn, bound);
    }
  }

  #admit(conn: Deno.TcpConn, bound: BoundListener): void {
    if (this.#sessions.size >= this.#maxSessions || this.#shutdown !== undefined) {
      const reason = this.#shutdown === undefined ? "max-sessions" : "shutting-down";
      const client = formatAddress(conn.remoteAddr);
      closeQuietly(conn);
      this.#logger.warn("Closing client at once: {reason} ({count} sessions)", {
        peer: client,
        reason,
        count: this.#sessions.size,
      });
      this.emit("session-rejected", { client, reason });
      return;
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // Reset between accept and here: nothing to serve.
      closeQuietly(conn);
      return;
    }
    const upBuffer = this.#buffers.pop() ?? new Uint8Array(this.#bufferSize);
    const downBuffer = this.#buffers.pop() ?? new Uint8Array(this.#bufferSize);
    const session = new Session({
      id: ++this.#nextId,
      pool: bound.pool,
      settings: bound.settings,
      client: conn,
      upBuffer,
      downBuffer,
      proxyHeader: bound.acceptProxyProtocol
        ? { timeoutMs: this.#proxyHeaderTimeoutMs, maxLength: this.#maxProxyHeaderBytes }
        : undefined,
    }, this.#host);
    this.#sessions.set(session.id, session);
    session.run().then((detail) => {
      // Both pumps are done: no read is pending into the buffers any more.
      if (this.#buffers.length < this.#spareBuffers) this.#buffers.push(upBuffer);
      if (this.#buffers.length < this.#spareBuffers) this.#buffers.push(downBuffer);
      this.#ended(detail);
    });
  }

  #ended(detail: SessionEndDetail): void {
    this.#sessions.delete(detail.sessionId);
    this.#accessLogger.info(
      "{client} {pool} pes={pes} in={bytesIn} out={bytesOut} failovers={failovers} {durationMs}ms {reason}",
      { peer: detail.client, ...detail },
    );
    this.emit("session-end", detail);
    if (this.#sessions.size === 0) this.#drained?.resolve();
  }

  #moved(session: Session, from: number | undefined, to: number | undefined): void {
    let members = this.#byMember.get(session.pool);
    if (from !== undefined && members !== undefined) {
      const sessions = members.get(from);
      sessions?.delete(session);
      if (sessions?.size === 0) members.delete(from);
    }
    if (to === undefined) return;
    if (members === undefined) {
      members = new Map();
      this.#byMember.set(session.pool, members);
    }
    let sessions = members.get(to);
    if (sessions === undefined) {
      sessions = new Set();
      members.set(to, sessions);
    }
    sessions.add(session);
  }

  #removed(pool: string, peId: number, reason: string): void {
    const sessions = this.#byMember.get(pool)?.get(peId);
    if (sessions === undefined || sessions.size === 0) return;
    this.#logger.info(
      "Pool element {peId} left pool {pool} ({reason}): failing over {count} sessions",
      {
        pool,
        peId,
        reason,
        count: sessions.size,
      },
    );
    for (const session of [...sessions]) session.failover("removed");
  }
}
