/**
 * An in-memory {@linkcode AdminBackend} for the admin API's route tests. It keeps the rules the
 * real registrar, proxy and config store keep, so that routes are tested against realistic
 * refusals: a pool's first pool element fixes its policy (another one is 0x5 Inconsistent
 * Pooling Policy), a PE id is unique in its pool (0x4), a pool holds a bounded number of PEs
 * (0x6), PEs that registered over ASAP own their registration (0xa for admin changes), a pool
 * exists while it has a PE, and a listener's id and address are unique; failovers are kept in a
 * bounded ring, newest first, as the real adapter keeps them. Not a stand-in for the
 * real adapter: the serve wiring's tests cover that.
 *
 * @module
 */
import { computeChecksum } from "../../lib/handlespace/checksum.ts";
import { mulberry32 } from "../../lib/handlespace/random_source.ts";
import { ErrorCauseCode } from "../../lib/wire/codes.ts";
import type { ListenerRecord, PoolSettingsRecord } from "../../proxy/config_store.ts";
import {
  type AdminBackend,
  AdminConflictError,
  AdminNotFoundError,
  DEFAULT_RECENT_FAILOVERS,
  type MemberChange,
  type NewStaticMember,
  type PoolSettingsChange,
} from "../../proxy/admin/admin_backend.ts";
import type {
  FailoverView,
  ListenerView,
  MemberState,
  MemberView,
  PoolDetail,
  PoolSettingsView,
  PoolSummary,
  ReadinessCheck,
  RegistrarStatus,
  SessionView,
} from "../../proxy/admin/admin_schemas.ts";
import type { MetricsSnapshot } from "../../proxy/admin/metrics.ts";
import type { FailoverCause } from "../../proxy/proxy_events.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FAILOVER_MODE,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_FAILOVERS,
  DEFAULT_PROXY_PROTOCOL,
  DEFAULT_REPLAY_BUFFER_BYTES,
} from "../../proxy/settings.ts";

/** Registration life the fixture gives every member, in milliseconds. */
export const FIXTURE_REGISTRATION_LIFE_MS = 30_000;
/** The fixture's registrar Server Identifier. */
export const FIXTURE_SERVER_ID = 0x0a0b0c0d;
/** The fixture's clock: a fixed instant, so `lastUpdate` and ages are reproducible. */
export const FIXTURE_NOW_MS = Date.UTC(2025, 0, 1, 12, 0, 0);
/** First port the fixture "binds" a port-0 listener to. */
export const FIXTURE_FIRST_EPHEMERAL_PORT = 40_000;

/** Options of {@linkcode AdminBackendFixture}. */
export interface AdminBackendFixtureOptions {
  /** Seed of the PE identifiers chosen for members added without one. @default {1} */
  readonly seed?: number;
  /** Most PEs per pool; one more is refused with 0x6. @default {16} */
  readonly maxPoolElementsPerPool?: number;
  /** Failovers `recentFailovers()` keeps. @default {DEFAULT_RECENT_FAILOVERS} */
  readonly maxRecentFailovers?: number;
}

/** A PE that registers over ASAP, as {@linkcode AdminBackendFixture.registerOverAsap} takes it. */
export interface AsapRegistration {
  readonly peId: number;
  readonly addresses: readonly string[];
  readonly port: number;
  readonly transportUse: MemberView["transportUse"];
  readonly policy: MemberView["policy"];
  readonly homeRegistrar?: number;
}

interface Member {
  readonly peId: number;
  addresses: string[];
  port: number;
  transportUse: MemberView["transportUse"];
  policy: MemberView["policy"];
  homeRegistrar: number;
  static: boolean;
  check: NewStaticMember["check"] | undefined;
  drain: boolean;
  maintenance: boolean;
  down: boolean;
  failovers: number;
  lastUpdateMs: number;
}

interface Session {
  readonly id: number;
  readonly client: string;
  readonly pool: string;
  peId: number | null;
  bytesIn: number;
  bytesOut: number;
  failovers: number;
  readonly startedMs: number;
}

const ENCODER = new TextEncoder();

/** `work()` as a promise: its throw becomes a rejection, as from an async backend. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}

function causeMessage(cause: number, what: string): AdminConflictError {
  return new AdminConflictError(what, { causeCode: cause });
}

/** The in-memory admin backend; see the module doc. */
export class AdminBackendFixture implements AdminBackend {
  /** Pools by handle, each with its PEs by id in insertion order. */
  readonly pools = new Map<string, Map<number, Member>>();
  /** Stored pool settings, by handle; they outlive the pool, as the config store's do. */
  readonly settings = new Map<string, PoolSettingsRecord>();
  readonly sessions = new Map<number, Session>();
  readonly listeners = new Map<string, ListenerView>();
  readonly readinessChecks: ReadinessCheck[] = [
    { name: "listeners", ready: true },
    { name: "registrar", ready: true },
    { name: "enrp-sync", ready: true },
  ];
  peers: RegistrarStatus["peers"] = [];
  /** ENRP messages received by type, as the metrics show them. */
  enrpMessagesTotal: Record<string, number> = {};
  /** Errors by kind, as the metrics show them. */
  errorsTotal: Record<string, number> = {};
  /** The fixture's clock; tests may move it. */
  nowMs = FIXTURE_NOW_MS;
  readonly #random: () => number;
  readonly #maxPoolElementsPerPool: number;
  readonly #maxRecentFailovers: number;
  /** Newest first. */
  readonly #recentFailovers: FailoverView[] = [];
  #nextSessionId = 1;
  #nextEphemeralPort = FIXTURE_FIRST_EPHEMERAL_PORT;
  #sessionsTotal = 0;
  #registrationsTotal = 0;
  #handleResolutionsTotal = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  readonly #failovers: Record<string, number> = {};

  constructor(options: AdminBackendFixtureOptions = {}) {
    this.#random = mulberry32(options.seed ?? 1);
    this.#maxPoolElementsPerPool = options.maxPoolElementsPerPool ?? 16;
    this.#maxRecentFailovers = options.maxRecentFailovers ?? DEFAULT_RECENT_FAILOVERS;
  }

  // ─── Test set-up: what the rest of Poolgate would do ───

  /** A PE registering over ASAP; refusals as the registrar's. */
  registerOverAsap(handle: string, registration: AsapRegistration): MemberView {
    const member: Member = {
      peId: registration.peId,
      addresses: [...registration.addresses],
      port: registration.port,
      transportUse: registration.transportUse,
      policy: { ...registration.policy },
      homeRegistrar: registration.homeRegistrar ?? FIXTURE_SERVER_ID,
      static: false,
      check: undefined,
      drain: false,
      maintenance: false,
      down: false,
      failovers: 0,
      lastUpdateMs: this.nowMs,
    };
    this.#register(handle, member);
    return this.#view(handle, member);
  }

  /** A client connecting through a listener of `pool`, served by `peId` (null: connecting). */
  openSession(pool: string, client: string, peId: number | null): SessionView {
    const session: Session = {
      id: this.#nextSessionId++,
      client,
      pool,
      peId,
      bytesIn: 0,
      bytesOut: 0,
      failovers: 0,
      startedMs: this.nowMs,
    };
    this.sessions.set(session.id, session);
    this.#sessionsTotal++;
    this.#handleResolutionsTotal++;
    return this.#sessionView(session);
  }

  /** Bytes forwarded by a session: `bytesIn` from its client, `bytesOut` to it. */
  forward(sessionId: number, bytesIn: number, bytesOut: number): void {
    const session = this.sessions.get(sessionId);
    if (session === undefined) throw new TypeError(`No session ${sessionId}`);
    session.bytesIn += bytesIn;
    session.bytesOut += bytesOut;
    this.#bytesIn += bytesIn;
    this.#bytesOut += bytesOut;
  }

  /**
   * The proxy seeing the pool element of a connected session fail with `cause`: the session
   * moves to another active member of its pool, or ends when there is none.
   */
  failSession(sessionId: number, cause: FailoverCause): void {
    const session = this.#session(sessionId);
    if (session.peId === null) throw new TypeError(`Session ${sessionId} has no pool element`);
    this.#failover(session, cause);
  }

  /** A static member's health check result. */
  setDown(handle: string, peId: number, down: boolean): void {
    this.#member(handle, peId).down = down;
  }

  /** Sets one readiness check. */
  setReady(name: ReadinessCheck["name"], ready: boolean, detail?: string): void {
    const index = this.readinessChecks.findIndex((check) => check.name === name);
    this.readinessChecks[index] = detail === undefined ? { name, ready } : { name, ready, detail };
  }

  // ─── AdminBackend ───

  listPools(): Promise<PoolSummary[]> {
    return settle(() => {
      return [...this.pools.keys()].sort().map((handle) => {
        const { policy, sessions, members } = this.#poolDetail(handle);
        return { handle, policy, members: members.length, sessions };
      });
    });
  }

  getPool(handle: string): Promise<PoolDetail> {
    return settle(() => this.#poolDetail(handle));
  }

  addMember(handle: string, request: NewStaticMember): Promise<MemberView> {
    return settle(() => {
      const { name, ...values } = request.policy;
      const member: Member = {
        peId: request.peId ?? this.#freePeId(handle),
        addresses: [request.hostname],
        port: request.port,
        transportUse: "data-only",
        policy: { name, ...values },
        homeRegistrar: FIXTURE_SERVER_ID,
        static: true,
        check: request.check,
        drain: request.drain ?? false,
        maintenance: request.maintenance ?? false,
        down: false,
        failovers: 0,
        lastUpdateMs: this.nowMs,
      };
      this.#register(handle, member);
      return this.#view(handle, member);
    });
  }

  patchMember(handle: string, peId: number, change: MemberChange): Promise<MemberView> {
    return settle(() => {
      const member = this.#member(handle, peId);
      const { drain, maintenance, ...values } = change;
      if (Object.keys(values).length > 0) {
        if (!member.static) {
          throw causeMessage(
            ErrorCauseCode.rejectionDueToSecurityConsiderations,
            `Pool element ${peId} registered over ASAP: only its own registration changes its ` +
              `policy values`,
          );
        }
        member.policy = { ...member.policy, ...values };
        this.#registrationsTotal++;
      }
      if (drain !== undefined) member.drain = drain;
      if (maintenance !== undefined) member.maintenance = maintenance;
      member.lastUpdateMs = this.nowMs;
      return this.#view(handle, member);
    });
  }

  deleteMember(handle: string, peId: number): Promise<void> {
    return settle(() => {
      const member = this.#member(handle, peId);
      if (!member.static) {
        throw causeMessage(
          ErrorCauseCode.rejectionDueToSecurityConsiderations,
          `Pool element ${peId} registered over ASAP: only it can deregister`,
        );
      }
      const pool = this.pools.get(handle)!;
      pool.delete(peId);
      if (pool.size === 0) this.pools.delete(handle);
      for (const session of this.sessions.values()) {
        if (session.pool === handle && session.peId === peId) this.#failover(session, "removed");
      }
    });
  }

  patchPoolSettings(handle: string, change: PoolSettingsChange): Promise<PoolSettingsView> {
    return settle(() => {
      const pool = this.#pool(handle);
      const policy = [...pool.values()][0]?.policy.name;
      if (change.policy !== undefined && change.policy !== policy) {
        throw causeMessage(
          ErrorCauseCode.inconsistentPoolingPolicy,
          `Pool ${JSON.stringify(handle)} uses policy ${policy}: its members would have to ` +
            `re-register with ${change.policy}`,
        );
      }
      const stored = { ...this.settings.get(handle), ...change, pool: handle };
      this.settings.set(handle, stored);
      return this.#settingsView(handle);
    });
  }

  listSessions(): Promise<SessionView[]> {
    return settle(() => [...this.sessions.values()].map((session) => this.#sessionView(session)));
  }

  failoverSession(id: number): Promise<void> {
    return settle(() => {
      const session = this.#session(id);
      if (session.peId === null) {
        throw new AdminConflictError(
          `Session ${id} is not connected to a pool element: it is connecting or failing over`,
        );
      }
      this.#failover(session, "admin");
    });
  }

  closeSession(id: number): Promise<void> {
    return settle(() => {
      this.#session(id);
      this.sessions.delete(id);
    });
  }

  recentFailovers(): Promise<FailoverView[]> {
    return settle(() => this.#recentFailovers.map((failover) => ({ ...failover })));
  }

  listListeners(): Promise<ListenerView[]> {
    return settle(() =>
      [...this.listeners.values()]
        .sort((a, b) => a.id < b.id ? -1 : 1)
        .map((listener) => ({ ...listener }))
    );
  }

  addListener(listener: ListenerRecord): Promise<ListenerView> {
    return settle(() => {
      if (this.listeners.has(listener.id)) {
        throw new AdminConflictError(`There is a listener ${JSON.stringify(listener.id)} already`);
      }
      for (const other of this.listeners.values()) {
        if (
          listener.port !== 0 && other.hostname === listener.hostname &&
          other.port === listener.port
        ) {
          throw new AdminConflictError(
            `Cannot bind ${listener.hostname}:${listener.port}: listener ` +
              `${JSON.stringify(other.id)} has that address`,
          );
        }
      }
      const port = listener.port === 0 ? this.#nextEphemeralPort++ : listener.port;
      const host = listener.hostname.includes(":") ? `[${listener.hostname}]` : listener.hostname;
      const view: ListenerView = { ...listener, address: `${host}:${port}` };
      this.listeners.set(listener.id, view);
      return { ...view };
    });
  }

  removeListener(id: string): Promise<void> {
    return settle(() => {
      if (!this.listeners.delete(id)) {
        throw new AdminNotFoundError("listener", `There is no listener ${JSON.stringify(id)}`);
      }
    });
  }

  registrarStatus(): Promise<RegistrarStatus> {
    return settle(() => {
      const owned: { handle: Uint8Array; identifier: number }[] = [];
      let poolElements = 0;
      for (const [handle, pool] of this.pools) {
        for (const member of pool.values()) {
          poolElements++;
          if (member.homeRegistrar === FIXTURE_SERVER_ID) {
            owned.push({ handle: ENCODER.encode(handle), identifier: member.peId });
          }
        }
      }
      return {
        serverId: FIXTURE_SERVER_ID,
        peers: this.peers.map((peer) => ({ ...peer })),
        checksum: computeChecksum(owned),
        pools: this.pools.size,
        poolElements,
      };
    });
  }

  metrics(): Promise<MetricsSnapshot> {
    return settle(() => {
      const poolElements = new Map<string, { pool: string; state: string; count: number }>();
      for (const [handle, pool] of this.pools) {
        for (const member of pool.values()) {
          const state = this.#state(member);
          const key = JSON.stringify([handle, state]);
          const entry = poolElements.get(key) ?? { pool: handle, state, count: 0 };
          entry.count++;
          poolElements.set(key, entry);
        }
      }
      return {
        sessions: this.sessions.size,
        sessionsTotal: this.#sessionsTotal,
        failoversTotal: { ...this.#failovers },
        bytesTotal: { in: this.#bytesIn, out: this.#bytesOut },
        poolElements: [...poolElements.values()],
        registrationsTotal: this.#registrationsTotal,
        handleResolutionsTotal: this.#handleResolutionsTotal,
        enrpMessagesTotal: { ...this.enrpMessagesTotal },
        errorsTotal: { ...this.errorsTotal },
      };
    });
  }

  readiness(): Promise<ReadinessCheck[]> {
    return settle(() => this.readinessChecks.map((check) => ({ ...check })));
  }

  // ─── Internals ───

  #pool(handle: string): Map<number, Member> {
    const pool = this.pools.get(handle);
    if (pool === undefined) {
      throw new AdminNotFoundError("pool", `There is no pool ${JSON.stringify(handle)}`);
    }
    return pool;
  }

  #member(handle: string, peId: number): Member {
    const member = this.#pool(handle).get(peId);
    if (member === undefined) {
      throw new AdminNotFoundError(
        "member",
        `There is no pool element ${peId} in pool ${JSON.stringify(handle)}`,
      );
    }
    return member;
  }

  #session(id: number): Session {
    const session = this.sessions.get(id);
    if (session === undefined) throw new AdminNotFoundError("session", `There is no session ${id}`);
    return session;
  }

  /** Adds `member` as the registrar would, or throws its refusal. */
  #register(handle: string, member: Member): void {
    const pool = this.pools.get(handle) ?? new Map<number, Member>();
    const first = [...pool.values()][0];
    if (pool.has(member.peId)) {
      throw causeMessage(
        ErrorCauseCode.nonUniquePoolElementIdentifier,
        `Pool ${JSON.stringify(handle)} has a pool element ${member.peId} already`,
      );
    }
    if (first !== undefined && first.policy.name !== member.policy.name) {
      throw causeMessage(
        ErrorCauseCode.inconsistentPoolingPolicy,
        `Pool ${JSON.stringify(handle)} uses policy ${first.policy.name}, not ` +
          `${member.policy.name}`,
      );
    }
    if (pool.size >= this.#maxPoolElementsPerPool) {
      throw causeMessage(
        ErrorCauseCode.lackOfResources,
        `Pool ${JSON.stringify(handle)} holds ${pool.size} pool elements, the most allowed`,
      );
    }
    pool.set(member.peId, member);
    this.pools.set(handle, pool);
    this.#registrationsTotal++;
  }

  /** A random PE id not in use in the pool (RFC 5351 §3.3: chosen at random). */
  #freePeId(handle: string): number {
    const pool = this.pools.get(handle);
    for (;;) {
      const peId = this.#random();
      if (peId !== 0 && !pool?.has(peId)) return peId;
    }
  }

  #failover(session: Session, cause: FailoverCause): void {
    const pool = this.pools.get(session.pool);
    const next = [...pool?.values() ?? []].find((member) =>
      member.peId !== session.peId && this.#state(member) === "active"
    );
    const from = session.peId === null ? undefined : pool?.get(session.peId);
    if (from !== undefined) from.failovers++;
    this.#failovers[cause] = (this.#failovers[cause] ?? 0) + 1;
    if (session.peId !== null) {
      this.#recentFailovers.unshift({
        at: new Date(this.nowMs).toISOString(),
        sessionId: session.id,
        pool: session.pool,
        fromPeId: session.peId,
        toPeId: next?.peId ?? null,
        cause,
      });
      this.#recentFailovers.length = Math.min(
        this.#recentFailovers.length,
        this.#maxRecentFailovers,
      );
    }
    if (next === undefined) {
      // No other pool element: the session ends, as the proxy's "no-pe".
      this.sessions.delete(session.id);
      return;
    }
    session.peId = next.peId;
    session.failovers++;
  }

  #state(member: Member): MemberState {
    if (member.maintenance) return "maintenance";
    if (member.drain) return "draining";
    return member.down ? "down" : "active";
  }

  #sessionsOn(handle: string, peId?: number): number {
    let count = 0;
    for (const session of this.sessions.values()) {
      if (session.pool === handle && (peId === undefined || session.peId === peId)) count++;
    }
    return count;
  }

  #view(handle: string, member: Member): MemberView {
    return {
      peId: member.peId,
      addresses: [...member.addresses],
      port: member.port,
      transportUse: member.transportUse,
      policy: { ...member.policy },
      homeRegistrar: member.homeRegistrar,
      registrationLifeMs: FIXTURE_REGISTRATION_LIFE_MS,
      state: this.#state(member),
      static: member.static,
      sessions: this.#sessionsOn(handle, member.peId),
      failovers: member.failovers,
      lastUpdate: new Date(member.lastUpdateMs).toISOString(),
      ...(member.check === undefined ? {} : { check: member.check }),
    };
  }

  #settingsView(handle: string): PoolSettingsView {
    const stored = this.settings.get(handle);
    return {
      ...(stored?.policy === undefined ? {} : { policy: stored.policy }),
      failover: stored?.failover ?? DEFAULT_FAILOVER_MODE,
      maxFailovers: stored?.maxFailovers ?? DEFAULT_MAX_FAILOVERS,
      replayBufferBytes: stored?.replayBufferBytes ?? DEFAULT_REPLAY_BUFFER_BYTES,
      connectTimeoutMs: stored?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      idleTimeoutMs: stored?.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      proxyProtocol: stored?.proxyProtocol ?? DEFAULT_PROXY_PROTOCOL,
    };
  }

  #poolDetail(handle: string): PoolDetail {
    const members = [...this.#pool(handle).values()];
    return {
      handle,
      policy: members[0]?.policy.name ?? "",
      sessions: this.#sessionsOn(handle),
      members: members.map((member) => this.#view(handle, member)),
      settings: this.#settingsView(handle),
    };
  }

  #sessionView(session: Session): SessionView {
    return {
      id: session.id,
      client: session.client,
      pool: session.pool,
      peId: session.peId,
      bytesIn: session.bytesIn,
      bytesOut: session.bytesOut,
      failovers: session.failovers,
      ageMs: this.nowMs - session.startedMs,
    };
  }
}
