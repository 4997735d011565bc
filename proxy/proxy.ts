/**
 * The session proxy: front listeners that name a pool by port, TLS server name or HTTP Host,
 * added and removed at run time; sessions that forward a client's bytes to a pool element chosen
 * by the pool's policy; failover, the access log, and the `Deno.serve` lifecycle (STYLE.md §11).
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { formatAddress } from "../lib/transport/format_address.ts";
import { bindNamed } from "../lib/transport/listen_error.ts";
import { type Connector, type PeConnection, tcpConnector } from "./connector.ts";
import {
  DEFAULT_FRONT_TIMEOUT_MS,
  DEFAULT_MAX_FRONT_BYTES,
  type FrontRefusal,
  frontRefusal,
  readFrontRequest,
  refuseFrontConnection,
} from "./front_end.ts";
import {
  checkFrontListenerSpec,
  defaultListenerId,
  type FrontListenerInfo,
  frontListenerRole,
  type FrontListenerSpec,
  ListenerExistsError,
} from "./front_listener.ts";
import type {
  PoolMemberAddress,
  PoolMemberRemovedListener,
  PoolMemberSource,
} from "./member_source.ts";
import { ConnectGate } from "./control_session_gate.ts";
import { Deadlines } from "./deadlines.ts";
import { FinProber } from "./fin_prober.ts";
import { ProxyEventTarget, type SessionEndDetail } from "./proxy_events.ts";
import { DEFAULT_MAX_PROXY_HEADER_LENGTH, PROXY_V1_MAX_LENGTH } from "./proxy_protocol.ts";
import { closeQuietly, Session, type SessionHost, type SessionInfo } from "./session.ts";
import {
  checkInteger,
  type PoolSettings,
  type ResolvedPoolSettings,
  resolvePoolSettings,
} from "./settings.ts";

export { DEFAULT_FRONT_TIMEOUT_MS, DEFAULT_MAX_FRONT_BYTES } from "./front_end.ts";
export {
  DEFAULT_LISTEN_HOSTNAME,
  type FrontListenerInfo,
  type FrontListenerKind,
  type FrontListenerSpec,
  ListenerExistsError,
} from "./front_listener.ts";

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

/**
 * A `tcp` listener written without `kind`, as listeners were given before they had kinds; new
 * code passes a {@linkcode FrontListenerSpec}.
 */
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
  /**
   * The front listeners to bind at start; more can be added with `addListener()`.
   * @default {[]}
   */
  readonly listeners?: readonly (FrontListenerSpec | ListenerOptions)[];
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
  /**
   * Longest wait of a `tls` or `http` listener for the ClientHello or request head, PROXY header
   * included. @default {DEFAULT_FRONT_TIMEOUT_MS}
   */
  readonly frontTimeoutMs?: number;
  /** Most bytes of a ClientHello's records or a request head. @default {DEFAULT_MAX_FRONT_BYTES} */
  readonly maxFrontBytes?: number;
  /**
   * Whether a pool that has no pool element now is one this instance serves (static members all
   * down, say): a `tls` or `http` client asking for it is then told "no pool element" (HTTP 503,
   * TLS close) rather than "no such pool" (HTTP 404, TLS alert unrecognized_name). Pools with
   * settings and pools of `tcp` listeners count as known without it. @default {() => false}
   */
  readonly knownPool?: (pool: string) => boolean;
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
  readonly info: FrontListenerInfo;
  readonly listener: Deno.TcpListener;
}

/** The exclusions of a front end's selection: none, shared. */
const NO_EXCLUSIONS: ReadonlySet<number> = new Set();

/** Settings of a pool that has none of its own (the defaults do not depend on the handle). */
const DEFAULT_POOL_SETTINGS: ResolvedPoolSettings = resolvePoolSettings("");

/**
 * The member source one front-routed session sees: its first selection is the pool element the
 * front end already selected (to tell a pool without pool elements from one with), so the policy
 * is asked once per session, as for `tcp` listeners.
 */
class PreselectedMemberSource implements PoolMemberSource {
  readonly #source: PoolMemberSource;
  #first: PoolMemberAddress | undefined;

  constructor(source: PoolMemberSource, first: PoolMemberAddress) {
    this.#source = source;
    this.#first = first;
  }

  select(poolHandle: string, exclude: ReadonlySet<number>): PoolMemberAddress | undefined {
    const first = this.#first;
    this.#first = undefined;
    if (first !== undefined && !exclude.has(first.peId)) return first;
    return this.#source.select(poolHandle, exclude);
  }

  find(poolHandle: string, peId: number): PoolMemberAddress | undefined {
    return this.#source.find?.(poolHandle, peId);
  }

  reportUnreachable(poolHandle: string, peId: number): void {
    this.#source.reportUnreachable(poolHandle, peId);
  }

  onRemoved(listener: PoolMemberRemovedListener): () => void {
    return this.#source.onRemoved(listener);
  }
}

/**
 * Starts the session proxy. Binds every listener synchronously, so `addrs` and `listeners()`
 * hold the real ports at once (also with port 0).
 *
 * @throws {RangeError} when an option or a listener spec is out of range;
 *   {@linkcode ListenerExistsError} when two listeners have one id; `ListenError` naming the
 *   listener when one cannot bind (listeners bound before it are closed again).
 */
export function startProxy(options: ProxyOptions): SessionProxy {
  return new SessionProxy(options);
}

/** A running session proxy; see {@linkcode startProxy}. */
export class SessionProxy extends ProxyEventTarget implements AsyncDisposable {
  /** Resolves once the proxy has stopped: listeners closed, every session ended. */
  readonly finished: Promise<void>;
  /** Bound listeners by id, in the order they were added. */
  readonly #listeners = new Map<string, BoundListener>();
  readonly #source: PoolMemberSource;
  readonly #logger: Logger;
  readonly #accessLogger: Logger;
  readonly #maxSessions: number;
  readonly #bufferSize: number;
  readonly #proxyHeaderTimeoutMs: number;
  readonly #maxProxyHeaderBytes: number;
  readonly #frontTimeoutMs: number;
  readonly #maxFrontBytes: number;
  readonly #knownPool: (pool: string) => boolean;
  readonly #drainMs: number;
  readonly #spareBuffers: number;
  /** Settings by pool handle, for sessions that start from now on. */
  readonly #settings = new Map<string, ResolvedPoolSettings>();
  readonly #sessions = new Map<number, Session>();
  /** `tls` and `http` connections whose pool is not known yet, and refused ones lingering. */
  readonly #fronts = new Set<Promise<void>>();
  /** Aborted when shutdown begins: stops the front ends' reads. */
  readonly #stopping = new AbortController();
  /** pool handle → PE id → sessions on it, for removal events. */
  readonly #byMember = new Map<string, Map<number, Set<Session>>>();
  readonly #buffers: Uint8Array[] = [];
  readonly #host: SessionHost;
  readonly #deadlines = new Deadlines();
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
    this.#frontTimeoutMs = options.frontTimeoutMs ?? DEFAULT_FRONT_TIMEOUT_MS;
    this.#maxFrontBytes = options.maxFrontBytes ?? DEFAULT_MAX_FRONT_BYTES;
    this.#knownPool = options.knownPool ?? (() => false);
    this.#drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
    this.#spareBuffers = options.spareBuffers ?? DEFAULT_SPARE_BUFFERS;
    checkInteger(what, "maxSessions", this.#maxSessions, 1);
    checkInteger(what, "bufferSize", this.#bufferSize, 1);
    checkInteger(what, "proxyHeaderTimeoutMs", this.#proxyHeaderTimeoutMs, 1);
    checkInteger(what, "maxProxyHeaderBytes", this.#maxProxyHeaderBytes, PROXY_V1_MAX_LENGTH);
    checkInteger(what, "frontTimeoutMs", this.#frontTimeoutMs, 1);
    checkInteger(what, "maxFrontBytes", this.#maxFrontBytes, 1);
    checkInteger(what, "drainMs", this.#drainMs, 0);
    checkInteger(what, "spareBuffers", this.#spareBuffers, 0);
    for (const [handle, pool] of Object.entries(options.pools ?? {})) {
      this.#settings.set(handle, resolvePoolSettings(handle, pool));
    }
    this.#source = options.memberSource;
    this.#logger = options.logger ?? getLogger(["poolgate", "proxy"]);
    this.#accessLogger = options.accessLogger ?? getLogger(["poolgate", "access"]);
    const connect = options.connect ?? tcpConnector;
    this.#host = {
      memberSource: this.#source,
      connect,
      logger: this.#logger,
      deadlines: this.#deadlines,
      finProber: new FinProber(connect, this.#deadlines),
      connectGate: new ConnectGate(),
      moved: (session, from, to) => this.#moved(session, from, to),
      started: (detail) => this.emit("session-start", detail),
      failedOver: (detail) => this.emit("failover", detail),
    };

    try {
      for (const spec of options.listeners ?? []) {
        this.#bind("kind" in spec ? spec : { ...spec, kind: "tcp" });
      }
    } catch (error) {
      for (const { listener } of this.#listeners.values()) closeQuietly(listener);
      throw error;
    }
    this.finished = this.#finished.promise;
    this.#unsubscribe = this.#source.onRemoved((pool, peId, reason) =>
      this.#removed(pool, peId, reason)
    );
    for (const bound of this.#listeners.values()) this.#serve(bound);
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.shutdown();
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Where each listener is bound, in the order they were added. */
  get addrs(): readonly Deno.NetAddr[] {
    return [...this.#listeners.values()].map(({ listener }) => listener.addr);
  }

  /** The first listener's address. */
  get addr(): Deno.NetAddr {
    const [first] = this.addrs;
    if (first === undefined) throw new TypeError("Cannot get address: no listener");
    return first;
  }

  /** The bound listeners, in the order they were added, with their real ports. */
  listeners(): FrontListenerInfo[] {
    return [...this.#listeners.values()].map(({ info }) => ({ ...info }));
  }

  /**
   * Binds a front listener (synchronously) and starts accepting on it. Without an id it gets
   * {@linkcode defaultListenerId} of its kind, hostname and bound port.
   *
   * @throws {RangeError} when the spec is out of range; {@linkcode ListenerExistsError} when its
   *   id is taken; `ListenError` naming the listener when it cannot bind;
   *   `Deno.errors.BadResource` once shutdown has begun.
   */
  addListener(spec: FrontListenerSpec): FrontListenerInfo {
    if (this.#shutdown !== undefined) {
      throw new Deno.errors.BadResource("Cannot add listener: the proxy is shutting down");
    }
    const bound = this.#bind(spec);
    this.#serve(bound);
    return { ...bound.info };
  }

  /**
   * Closes the listening socket of listener `id`: new connections to it are refused, sessions
   * and connections it accepted go on. False when there is no such listener.
   */
  removeListener(id: string): boolean {
    const bound = this.#listeners.get(id);
    if (bound === undefined) return false;
    this.#listeners.delete(id);
    closeQuietly(bound.listener);
    this.#logger.info("Stopped listening on {address} (listener {listener})", {
      address: formatAddress(bound.listener.addr),
      listener: id,
    });
    return true;
  }

  /**
   * Sets the settings of `pool` for the sessions that start from now on; running sessions keep
   * the settings they started with. Fields left out take their defaults.
   *
   * @throws {RangeError} naming the pool and the field when a value is out of range.
   */
  setPoolSettings(pool: string, settings: PoolSettings): void {
    this.#settings.set(pool, resolvePoolSettings(pool, settings));
  }

  /** The settings sessions of `pool` start with now (every default for a pool not configured). */
  poolSettings(pool: string): ResolvedPoolSettings {
    return this.#settings.get(pool) ?? DEFAULT_POOL_SETTINGS;
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
   * `finished`. Connections whose pool is not known yet are closed at once. Idempotent: later
   * calls return the first call's promise.
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
    for (const { listener } of this.#listeners.values()) closeQuietly(listener);
    this.#stopping.abort(new Deno.errors.Interrupted("The proxy is shutting down"));
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
    await Promise.all([this.#drained.promise, ...this.#fronts]);
    this.#deadlines.close();
    this.#unsubscribe();
    this.#finished.resolve();
  }

  /** Checks `spec`, binds it and records it under its id; the caller starts accepting. */
  #bind(spec: FrontListenerSpec): BoundListener {
    const checked = checkFrontListenerSpec(spec);
    if (checked.id !== undefined && this.#listeners.has(checked.id)) {
      throw new ListenerExistsError(checked.id);
    }
    const listener = bindNamed(
      { hostname: checked.hostname, port: checked.port },
      frontListenerRole(checked),
      (address) => Deno.listen({ ...address, transport: "tcp" }),
    );
    const port = listener.addr.port;
    const id = checked.id ?? defaultListenerId(checked.kind, checked.hostname, port);
    if (this.#listeners.has(id)) {
      closeQuietly(listener);
      throw new ListenerExistsError(id);
    }
    const bound = { info: { ...checked, id, port }, listener };
    this.#listeners.set(id, bound);
    return bound;
  }

  #serve(bound: BoundListener): void {
    const { info, listener } = bound;
    this.#logger.info(
      info.kind === "tcp"
        ? "Listening on {address} for pool {pool} (listener {listener})"
        : "Listening on {address} for {kind} host names *{handleSuffix} (listener {listener})",
      {
        address: formatAddress(listener.addr),
        listener: info.id,
        kind: info.kind,
        ...(info.pool === undefined ? {} : { pool: info.pool }),
        ...(info.handleSuffix === undefined ? {} : { handleSuffix: info.handleSuffix }),
      },
    );
    this.#acceptLoop(bound);
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
      this.#admit(conn, bound.info);
    }
  }

  #admit(conn: Deno.TcpConn, info: FrontListenerInfo): void {
    const busy = this.#sessions.size + this.#fronts.size;
    if (busy >= this.#maxSessions || this.#shutdown !== undefined) {
      const reason = this.#shutdown === undefined ? "max-sessions" : "shutting-down";
      const client = formatAddress(conn.remoteAddr);
      closeQuietly(conn);
      this.#logger.warn("Closing client at once: {reason} ({count} sessions)", {
        peer: client,
        reason,
        count: busy,
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
    if (info.kind === "tcp" && info.pool !== undefined) {
      this.#startSession(conn, info.pool, info.acceptProxyProtocol, undefined);
      return;
    }
    const front = this.#route(conn, info).finally(() => {
      this.#fronts.delete(front);
    });
    this.#fronts.add(front);
  }

  /** Reads a `tls` or `http` connection's host name, then starts its session or refuses it. */
  async #route(conn: Deno.TcpConn, info: FrontListenerInfo): Promise<void> {
    const kind = info.kind === "tls" ? "tls" : "http";
    const signal = this.#stopping.signal;
    let peer = formatAddress(conn.remoteAddr);
    try {
      const request = await readFrontRequest(conn, {
        kind,
        handleSuffix: info.handleSuffix ?? "",
        proxyHeader: info.acceptProxyProtocol
          ? { maxLength: this.#maxProxyHeaderBytes }
          : undefined,
        timeoutMs: this.#frontTimeoutMs,
        maxBytes: this.#maxFrontBytes,
        signal,
      });
      if (this.#shutdown !== undefined) {
        closeQuietly(conn);
        return;
      }
      if (!("status" in request)) {
        await this.#refuse(conn, info, peer, request);
        return;
      }
      const { host, pool, client } = request;
      peer = formatAddress(client.remoteAddr);
      if (pool === undefined) {
        const detail = `${host} is not under ${info.handleSuffix}`;
        await this.#refuse(conn, info, peer, frontRefusal(kind, "wrong-domain", detail, host));
        return;
      }
      const member = this.#source.select(pool, NO_EXCLUSIONS);
      if (member === undefined) {
        // A pool exists in the handlespace only while it has a pool element: one the proxy is
        // configured for (settings, a tcp listener, the caller's word) is known without one.
        const known = this.#settings.has(pool) ||
          [...this.#listeners.values()].some((bound) => bound.info.pool === pool) ||
          this.#knownPool(pool);
        const refusal = known
          ? frontRefusal(kind, "no-pe", `pool ${pool} has no pool element`, host)
          : frontRefusal(kind, "unknown-pool", `no pool ${pool}`, host);
        await this.#refuse(conn, info, peer, refusal);
        return;
      }
      this.#startSession(client, pool, false, member);
    } catch (error) {
      closeQuietly(conn);
      if (!signal.aborted) {
        this.#logger.error("Front end of listener {listener} failed: {error}", {
          peer,
          listener: info.id,
          error,
        });
      }
    }
  }

  async #refuse(
    conn: Deno.TcpConn,
    info: FrontListenerInfo,
    peer: string,
    refusal: FrontRefusal,
  ): Promise<void> {
    this.#logger.info("Refusing client on listener {listener}: {reason}: {detail}", {
      peer,
      listener: info.id,
      kind: info.kind,
      reason: refusal.reason,
      detail: refusal.detail,
      ...(refusal.host === undefined ? {} : { host: refusal.host }),
    });
    await refuseFrontConnection(conn, refusal.reply, this.#stopping.signal);
  }

  /**
   * Starts a session of `pool` for `client`; a `tcp` listener's session reads the PROXY header
   * itself, a front-routed one comes with it read and its first pool element selected.
   */
  #startSession(
    client: PeConnection,
    pool: string,
    readProxyHeader: boolean,
    member: PoolMemberAddress | undefined,
  ): void {
    if (this.#shutdown !== undefined) {
      closeQuietly(client);
      return;
    }
    const upBuffer = this.#buffers.pop() ?? new Uint8Array(this.#bufferSize);
    const downBuffer = this.#buffers.pop() ?? new Uint8Array(this.#bufferSize);
    const host = member === undefined
      ? this.#host
      : { ...this.#host, memberSource: new PreselectedMemberSource(this.#source, member) };
    const session = new Session({
      id: ++this.#nextId,
      pool,
      settings: this.poolSettings(pool),
      client,
      upBuffer,
      downBuffer,
      proxyHeader: readProxyHeader
        ? { timeoutMs: this.#proxyHeaderTimeoutMs, maxLength: this.#maxProxyHeaderBytes }
        : undefined,
    }, host);
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
