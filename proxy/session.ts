/**
 * One client's session through the proxy to DATA ONLY pool elements (raw TCP, RFC 5354 §3.4
 * transport use 0): two pumps moving bytes each way on reused buffers, and failover when the
 * pool element fails.
 *
 * What a `migrate` failover keeps and loses. The proxy knows only which client bytes it has
 * written to the pool element's socket. It replays the bytes it had read from the client but
 * not yet written (at most the pool's `replayBufferBytes`, one read's worth) to the next pool
 * element. Bytes already written to the dead pool element's socket — in its kernel buffers, or
 * received by the server but not answered — are lost, and a server that kept state for the
 * session starts afresh. Bytes the pool element had sent are all passed on before the failover.
 *
 * A session whose first pool element is DATA PLUS CONTROL (transport use 1) is handed to a
 * {@linkcode ControlSession}, which speaks the framed data channel and moves with the state
 * cookies (docs/data_channel.md); the two kinds never mix within one session.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { formatAddress } from "../lib/transport/format_address.ts";
import { type Connector, connectWithin, type PeConnection } from "./connector.ts";
import { ControlSession } from "./control_session.ts";
import type { Deadlines } from "./deadlines.ts";
import type { ConnectGate } from "./control_session_gate.ts";
import { FinProber } from "./fin_prober.ts";
import type { PoolMemberAddress, PoolMemberSource } from "./member_source.ts";
import type {
  FailoverCause,
  FailoverDetail,
  SessionEndDetail,
  SessionEndReason,
  SessionStartDetail,
} from "./proxy_events.ts";
import {
  decodeProxyHeader,
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  type ProxyEndpoint,
  ProxyProtocolError,
} from "./proxy_protocol.ts";
import type { ResolvedPoolSettings } from "./settings.ts";
import {
  closeQuietly,
  type IdleWatch,
  leftWhileConnecting,
  replaceOnce,
  SessionLedger,
  SessionReporter,
  writeAll,
} from "./session_parts.ts";

export { closeQuietly } from "./session_parts.ts";

/** What a session is doing, for the admin API's session list. */
export interface SessionInfo {
  /** The session's identifier. */
  readonly id: number;
  /** The client as `host:port`. */
  readonly client: string;
  /** The pool handle. */
  readonly pool: string;
  /** The pool element in use; undefined while connecting or failing over. */
  readonly peId: number | undefined;
  /** Bytes read from the client. */
  readonly bytesIn: number;
  /** Bytes written to the client. */
  readonly bytesOut: number;
  /** Pool element changes so far. */
  readonly failovers: number;
  /** Milliseconds since the client was accepted. */
  readonly ageMs: number;
}

/** What a session needs from the proxy that runs it. */
export interface SessionHost {
  readonly memberSource: PoolMemberSource;
  readonly connect: Connector;
  readonly logger: Logger;
  /** The timer of the proxy's connect timeouts and idle watches. */
  readonly deadlines: Deadlines;
  /**
   * Confirms pool element FINs, one probe at a time per pool element.
   * @default {a prober per FIN, sharing no probe}
   */
  readonly finProber?: FinProber;
  /**
   * Bounds the connects in flight to each pool element across control-channel sessions.
   * @default {none: every connect goes at once}
   */
  readonly connectGate?: ConnectGate;
  /** The session moved from pool element `from` to `to` (either undefined at the ends). */
  moved(session: Session, from: number | undefined, to: number | undefined): void;
  started(detail: SessionStartDetail): void;
  failedOver(detail: FailoverDetail): void;
}

/** Everything a session starts with. */
export interface SessionInit {
  readonly id: number;
  readonly pool: string;
  readonly settings: ResolvedPoolSettings;
  readonly client: PeConnection;
  /** Client → pool element buffer; only its first `settings.replayBufferBytes` are used. */
  readonly upBuffer: Uint8Array;
  /** Pool element → client buffer. */
  readonly downBuffer: Uint8Array;
  /** Read a PROXY protocol header first (trusted load balancer in front). */
  readonly proxyHeader: { readonly timeoutMs: number; readonly maxLength: number } | undefined;
}

interface Leg {
  readonly member: PoolMemberAddress;
  readonly conn: PeConnection;
  /** Set when the session starts leaving this leg; resolves to the next leg, if any. */
  replaced: Promise<Leg | undefined> | undefined;
}

/** One client connection forwarded to the pool elements of one pool. */
export class Session {
  /** Session identifier, unique within the proxy. */
  readonly id: number;
  /** Pool handle. */
  readonly pool: string;
  readonly #settings: ResolvedPoolSettings;
  readonly #host: SessionHost;
  readonly #client: PeConnection;
  readonly #upBuffer: Uint8Array;
  /** The whole client → PE buffer: a control session's replay limit is not a read limit. */
  readonly #fullUpBuffer: Uint8Array;
  readonly #downBuffer: Uint8Array;
  readonly #proxyHeader: SessionInit["proxyHeader"];
  readonly #ledger: SessionLedger;
  #clientName: string;
  #clientEndpoint: ProxyEndpoint | undefined;
  #listenerEndpoint: ProxyEndpoint | undefined;
  #headerToPe: Uint8Array | undefined;
  #leg: Leg | undefined;
  #bytesIn = 0;
  #bytesOut = 0;
  #answeredAt = 0;
  #clientEof = false;
  /** Settles a pending FIN verdict once the client's EOF or the session's end makes it moot. */
  #finMoot: PromiseWithResolvers<false> | undefined;
  #upDone = false;
  #downDone = false;
  #reason: SessionEndReason | undefined;
  #idle: IdleWatch | undefined;
  readonly #report: SessionReporter;
  /** The first pool element picked speaks DATA PLUS CONTROL: a control session takes over. */
  #controlMember: PoolMemberAddress | undefined;
  #control: ControlSession | undefined;

  /** Creates the session; nothing happens until {@linkcode Session.run}. */
  constructor(init: SessionInit, host: SessionHost) {
    this.id = init.id;
    this.pool = init.pool;
    this.#ledger = new SessionLedger(init.id, init.pool);
    this.#settings = init.settings;
    this.#host = host;
    this.#client = init.client;
    this.#upBuffer = init.upBuffer.length > init.settings.replayBufferBytes
      ? init.upBuffer.subarray(0, init.settings.replayBufferBytes)
      : init.upBuffer;
    this.#fullUpBuffer = init.upBuffer;
    this.#downBuffer = init.downBuffer;
    this.#proxyHeader = init.proxyHeader;
    this.#clientEndpoint = endpointOf(init.client.remoteAddr);
    this.#listenerEndpoint = endpointOf(init.client.localAddr);
    this.#clientName = formatAddress(init.client.remoteAddr);
    this.#report = new SessionReporter(this, host, () => this.#clientName);
  }

  /** The client as `host:port`. */
  get client(): string {
    return this.#clientName;
  }

  /** A snapshot for the session list. */
  info(): SessionInfo {
    if (this.#control !== undefined) return this.#control.info();
    return {
      id: this.id,
      client: this.#clientName,
      pool: this.pool,
      peId: this.#leg?.replaced === undefined ? this.#leg?.member.peId : undefined,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      failovers: this.#ledger.failovers,
      ageMs: this.#ledger.ageMs(),
    };
  }

  /** Moves the session off its pool element as if it had failed (the pool's failover mode applies). */
  failover(cause: "removed" | "admin"): boolean {
    if (this.#control !== undefined) return this.#control.failover(cause);
    const leg = this.#leg;
    if (leg === undefined || leg.replaced !== undefined || this.#reason !== undefined) return false;
    this.#replace(leg, cause);
    return true;
  }

  /** Ends the session at once: both connections are closed. */
  close(reason: SessionEndReason): void {
    if (this.#control !== undefined) return this.#control.close(reason);
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#idle?.stop();
    this.#finMoot?.resolve(false);
    closeQuietly(this.#client);
    if (this.#leg !== undefined) closeQuietly(this.#leg.conn);
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<SessionEndDetail> {
    try {
      const first = this.#proxyHeader === undefined
        ? undefined
        : await this.#readProxyHeader(this.#proxyHeader);
      if (this.#reason === undefined) {
        this.#headerToPe = this.#encodeHeaderToPe();
        const leg = await this.#connectNext(undefined, undefined);
        if (leg !== undefined) {
          this.#host.started({
            sessionId: this.id,
            client: this.#clientName,
            pool: this.pool,
            peId: leg.member.peId,
          });
          this.#armIdleTimer();
          await Promise.all([this.#pumpUp(first), this.#pumpDown(leg)]);
          this.close("completed");
        } else if (this.#controlMember !== undefined && this.#reason === undefined) {
          return await this.#runControl(this.#controlMember, first);
        }
      }
    } catch (error) {
      this.#host.logger.error("Session {sessionId} failed: {error}", {
        peer: this.#clientName,
        sessionId: this.id,
        error,
      });
      this.close("error");
    }
    this.close("error");
    if (this.#leg !== undefined) this.#host.moved(this, this.#leg.member.peId, undefined);
    return this.#ledger.endDetail(
      this.#clientName,
      this.#bytesIn,
      this.#bytesOut,
      this.#reason ?? "error",
    );
  }

  /** Client → pool element. `first` holds client bytes read with the PROXY header. */
  async #pumpUp(first: Uint8Array | undefined): Promise<void> {
    const buffer = this.#upBuffer;
    let chunk = first;
    if (chunk !== undefined) this.#bytesIn += chunk.length;
    while (true) {
      if (chunk === undefined) {
        let n: number | null;
        try {
          n = await this.#client.read(buffer);
        } catch (error) {
          this.#clientFailed(error);
          return;
        }
        if (n === null) break;
        this.#bytesIn += n;
        chunk = n === buffer.length ? buffer : buffer.subarray(0, n);
      }
      // Backpressure: the next read waits until this chunk is written, so the unwritten part
      // of `chunk` is all there is to replay, bounded by the buffer.
      let written = 0;
      while (written < chunk.length) {
        const leg = this.#leg;
        if (leg === undefined || this.#reason !== undefined) return;
        try {
          written += await leg.conn.write(written === 0 ? chunk : chunk.subarray(written));
        } catch (error) {
          if (await this.#legBroke(leg, error) === undefined) return;
        }
      }
      chunk = undefined;
    }
    this.#clientEof = true;
    if (this.#bytesIn === this.#answeredAt) this.#finMoot?.resolve(false);
    let leg = this.#leg;
    while (leg !== undefined && this.#reason === undefined) {
      try {
        await leg.conn.closeWrite();
      } catch (error) {
        leg = await this.#legBroke(leg, error);
        continue;
      }
      if (leg.replaced === undefined) {
        // From here a failover half-closes the next pool element itself.
        this.#upDone = true;
        return;
      }
      leg = await leg.replaced;
    }
  }

  /** Pool element → client, following the session from leg to leg. */
  async #pumpDown(first: Leg): Promise<void> {
    const buffer = this.#downBuffer;
    let leg: Leg | undefined = first;
    while (leg !== undefined && this.#reason === undefined) {
      let n: number | null;
      try {
        n = await leg.conn.read(buffer);
      } catch (error) {
        leg = await this.#legBroke(leg, error);
        continue;
      }
      if (n === null) {
        if (leg.replaced === undefined && !(await this.#finIsFailure(leg))) {
          if (leg.replaced === undefined) break;
        }
        leg = await this.#replace(leg, "dead-fin");
        continue;
      }
      this.#answeredAt = this.#bytesIn;
      let written = 0;
      try {
        while (written < n) {
          written += await this.#client.write(
            written === 0 && n === buffer.length ? buffer : buffer.subarray(written, n),
          );
        }
      } catch (error) {
        this.#clientFailed(error);
        return;
      } finally {
        this.#bytesOut += written;
      }
    }
    if (leg === undefined || this.#reason !== undefined) return;
    // The pool element closed its side and is alive: pass the half-close on.
    this.#downDone = true;
    try {
      await this.#client.closeWrite();
    } catch (error) {
      this.#clientFailed(error);
    }
  }

  /**
   * A crashed server's kernel also sends a FIN. Unless the pool's `finProbe` lets it pass
   * (the client has half-closed and every client byte was answered, by default), a connect
   * probe started after the FIN decides: refused, silent or reset means the pool element died.
   */
  async #finIsFailure(leg: Leg): Promise<boolean> {
    const finProbe = this.#settings.finProbe;
    const answered = this.#bytesIn === this.#answeredAt;
    if (finProbe === "off" || (answered && (this.#clientEof || finProbe === "if-unanswered"))) {
      return false;
    }
    const prober = this.#host.finProber ?? new FinProber(this.#host.connect, this.#host.deadlines);
    // A client that half-closes with every byte answered while the probe runs has all it asked
    // for: the verdict no longer matters, so its FIN need not wait for the probe.
    this.#finMoot = Promise.withResolvers();
    try {
      return await Promise.race([prober.isDead(leg.member, this.#settings), this.#finMoot.promise]);
    } finally {
      this.#finMoot = undefined;
    }
  }

  /** A read, write or half-close on `leg` failed: returns the leg to go on with, if any. */
  #legBroke(leg: Leg, error: unknown): Promise<Leg | undefined> {
    if (leg.replaced !== undefined || this.#reason !== undefined) {
      return leg.replaced ?? Promise.resolve(undefined);
    }
    this.#report.peFailed(leg.member.peId, error);
    return this.#replace(leg, "reset");
  }

  /** Leaves `leg` once, however many pumps notice its failure. */
  #replace(leg: Leg, cause: FailoverCause): Promise<Leg | undefined> {
    // Never rejects: `failover()` callers do not await it.
    return replaceOnce(leg, () => this.#failover(leg, cause), (error) => {
      this.#report.failoverFailed(error);
      this.close("error");
    });
  }

  async #failover(leg: Leg, cause: FailoverCause): Promise<Leg | undefined> {
    const peId = leg.member.peId;
    closeQuietly(leg.conn);
    this.#ledger.exclude.add(peId);
    this.#report.reportLeft(peId, cause);
    if (this.#reason !== undefined) return undefined;
    this.#report.lost(peId, cause);
    if (this.#downDone) {
      // The client already has our FIN: nothing more can reach it.
      this.close("pe-closed");
      return undefined;
    }
    if (this.#settings.failover === "sever") {
      this.close(cause === "admin" ? "closed" : "pe-failed");
      return undefined;
    }
    return await this.#connectNext(peId, cause);
  }

  /**
   * Connects the next pool element, after `from` left for `cause` (both undefined at the
   * start). Connect failures move on to the next pool element; nothing is lost by them.
   */
  async #connectNext(
    from: number | undefined,
    cause: FailoverCause | undefined,
  ): Promise<Leg | undefined> {
    const settings = this.#settings;
    const source = this.#host.memberSource;
    while (this.#reason === undefined) {
      if (from !== undefined && this.#ledger.failovers >= settings.maxFailovers) {
        this.close("max-failovers");
        break;
      }
      const member = source.select(this.pool, this.#ledger.exclude);
      if (member === undefined) {
        this.close("no-pe");
        break;
      }
      if (from !== undefined && cause !== undefined) {
        this.#host.failedOver(this.#ledger.failedOver(from, member.peId, cause));
      }
      from = member.peId;
      this.#ledger.exclude.add(member.peId);
      if (member.transportUse !== 0) {
        if (this.#leg === undefined) {
          this.#controlMember = member;
          return undefined;
        }
        // A session that began on a DATA ONLY pool element has no cookie to move with.
        this.#host.logger.warn(
          "Pool element {peId} of pool {pool} uses DATA PLUS CONTROL, which this proxy does not speak: skipped",
          { peer: this.#clientName, sessionId: this.id, pool: this.pool, peId: member.peId },
        );
        cause = "connect-failed";
        continue;
      }
      let conn: PeConnection;
      try {
        conn = await connectWithin(
          this.#host.connect,
          member.hostname,
          member.port,
          settings.connectTimeoutMs,
          this.#host.deadlines,
        );
      } catch (error) {
        cause = error instanceof Deno.errors.ConnectionRefused
          ? "connect-refused"
          : "connect-failed";
        this.#report.connectFailed(member, error);
        continue;
      }
      if (this.#reason !== undefined) {
        closeQuietly(conn);
        break;
      }
      try {
        conn.setNoDelay(true);
        if (this.#headerToPe !== undefined) await writeAll(conn, this.#headerToPe);
        if (this.#upDone) await conn.closeWrite();
      } catch (error) {
        closeQuietly(conn);
        cause = "connect-failed";
        this.#report.connectFailed(member, error);
        continue;
      }
      if (this.#reason !== undefined) {
        closeQuietly(conn);
        break;
      }
      if (leftWhileConnecting(source, this.pool, member)) {
        closeQuietly(conn);
        cause = "removed";
        continue;
      }
      const leg: Leg = { member, conn, replaced: undefined };
      const previous = this.#leg;
      this.#leg = leg;
      this.#ledger.pes.push(member.peId);
      this.#host.moved(this, previous?.member.peId, member.peId);
      return leg;
    }
    return undefined;
  }

  /** Hands the session to a {@linkcode ControlSession} on `member` (docs/data_channel.md). */
  #runControl(member: PoolMemberAddress, first: Uint8Array | undefined): Promise<SessionEndDetail> {
    const host = this.#host;
    this.#control = new ControlSession({
      id: this.id,
      pool: this.pool,
      settings: this.#settings,
      client: this.#client,
      clientName: this.#clientName,
      upBuffer: this.#fullUpBuffer,
      downBuffer: this.#downBuffer,
      first,
      member,
      ledger: this.#ledger,
    }, {
      memberSource: host.memberSource,
      connect: host.connect,
      logger: host.logger,
      deadlines: host.deadlines,
      connectGate: host.connectGate,
      moved: (from, to) => host.moved(this, from, to),
      started: (detail) => host.started(detail),
      failedOver: (detail) => host.failedOver(detail),
    });
    return this.#control.run();
  }

  #clientFailed(error: unknown): void {
    if (this.#reason !== undefined) return;
    this.#report.clientFailed(error);
    this.close("client-gone");
  }

  /**
   * Reads the PROXY protocol header of a trusted load balancer; returns the client bytes read
   * after it. A malformed, overlong or late header closes this client only.
   */
  async #readProxyHeader(
    { timeoutMs, maxLength }: NonNullable<SessionInit["proxyHeader"]>,
  ): Promise<Uint8Array | undefined> {
    const buffer = new Uint8Array(maxLength);
    const step = this.#settings.replayBufferBytes;
    let have = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close("bad-proxy-header");
    }, timeoutMs);
    try {
      while (true) {
        const n = await this.#client.read(buffer.subarray(have, Math.min(maxLength, have + step)));
        if (n === null) {
          if (have === 0) this.close("client-gone");
          else throw new ProxyProtocolError(`the stream ended after ${have} bytes`, have);
          return undefined;
        }
        have += n;
        const decoded = decodeProxyHeader(buffer.subarray(0, have), { maxLength });
        if (!decoded.complete) continue;
        const { header } = decoded;
        if (header.source !== undefined && header.destination !== undefined) {
          this.#clientEndpoint = header.source;
          this.#listenerEndpoint = header.destination;
          this.#clientName = formatEndpoint(header.source);
        }
        return have > header.length ? buffer.subarray(header.length, have) : undefined;
      }
    } catch (error) {
      const lb = formatAddress(this.#client.remoteAddr);
      if (error instanceof ProxyProtocolError || timedOut) {
        this.#host.logger.warn("Closing client: bad PROXY protocol header: {error}", {
          peer: lb,
          sessionId: this.id,
          error: timedOut
            ? `none within ${timeoutMs} ms`
            : error instanceof Error
            ? error.message
            : String(error),
        });
        this.close("bad-proxy-header");
      } else {
        this.#clientFailed(error);
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  #encodeHeaderToPe(): Uint8Array | undefined {
    switch (this.#settings.proxyProtocol) {
      case "v1":
        return encodeProxyHeaderV1(this.#clientEndpoint, this.#listenerEndpoint);
      case "v2":
        return encodeProxyHeaderV2(this.#clientEndpoint, this.#listenerEndpoint);
      default:
        return undefined;
    }
  }

  #armIdleTimer(): void {
    const idleMs = this.#settings.idleTimeoutMs;
    this.#idle = this.#report.watchIdle(
      idleMs,
      () => this.#bytesIn + this.#bytesOut,
      () => this.close("idle-timeout"),
    );
  }
}

function endpointOf(addr: Deno.Addr): ProxyEndpoint | undefined {
  return addr.transport === "tcp" ? { hostname: addr.hostname, port: addr.port } : undefined;
}

function formatEndpoint(endpoint: ProxyEndpoint): string {
  return formatAddress({ transport: "tcp", ...endpoint });
}
