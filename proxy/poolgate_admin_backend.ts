/**
 * The admin API's {@linkcode AdminBackend} over a running Poolgate: pools and pool elements come
 * from the embedded registrar's handlespace, static members from {@linkcode StaticMembers},
 * sessions and front listeners from the {@linkcode SessionProxy}, drain and maintenance from
 * {@linkcode SelectionMarks}, counters from {@linkcode MetricsCounters}. Every change is written
 * to the config store before the call resolves, and changes run one at a time, so the store
 * always matches what the API shows. Registrar refusals keep their RFC 5354 §3.12 error cause.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { PoolElementView, PoolView } from "../lib/handlespace/mod.ts";
import { parseCEscapes } from "../lib/health/c_escapes.ts";
import type { PoolElementChangeDetail, Registrar } from "../lib/registrar/mod.ts";
import { ListenError } from "../lib/transport/listen_error.ts";
import { errorCauseName } from "../lib/wire/code_names.ts";
import {
  ErrorCauseCode,
  type KnownSelectionPolicy,
  parseIpAddress,
  REGISTRATION_LIFE_INFINITE,
  TransportUse,
} from "../lib/wire/mod.ts";
import {
  policyFromSettings,
  settingsFromPolicy,
  shortNameOfType,
} from "../lib/wire/policy_text.ts";
import {
  type AdminBackend,
  AdminConflictError,
  AdminNotFoundError,
  type MemberChange,
  type NewStaticMember,
  type PoolSettingsChange,
} from "./admin/admin_backend.ts";
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
} from "./admin/admin_schemas.ts";
import type { MetricsSnapshot, PoolElementCount } from "./admin/metrics.ts";
import { AdminInputError } from "./admin/validation.ts";
import {
  type ConfigSnapshot,
  type ConfigStore,
  ConfigStoreError,
  type HealthCheckRecord,
  type ListenerRecord,
  type PoolSettingsRecord,
  type StaticMemberRecord,
} from "./config_store.ts";
import type { MetricsCounters } from "./metrics_counters.ts";
import { ListenerExistsError, type SessionProxy } from "./proxy.ts";
import type { SelectionMarks } from "./registrar_member_source.ts";
import type { SessionInfo } from "./session.ts";
import type { PoolSettings } from "./settings.ts";
import type { StaticMemberCheck, StaticMembers, StaticMemberState } from "./static_members.ts";

/**
 * What the admin API shows as `registrationLifeMs` of a PE that never expires (static members):
 * 0xffffffff, the u32 that RFC 5354 §3.10's registration life is on the wire.
 */
export const INFINITE_REGISTRATION_LIFE_MS = 0xffff_ffff;

/** ENRP's part of the registrar status, readiness and metrics. */
export interface EnrpStatus {
  /** The peer registrars and their state. */
  readonly peers: RegistrarStatus["peers"];
  /** True once the first handle table download is done, or when there are no peers. */
  readonly synchronized: boolean;
  /** Why it is not synchronized yet, for /readyz. */
  readonly detail?: string;
  /** ENRP messages received, by message type name (`ENRP_PRESENCE`, …). */
  readonly messagesReceived: Readonly<Record<string, number>>;
}

/** The ENRP status of a registrar without peers: nothing to wait for. */
export const NO_ENRP_STATUS: EnrpStatus = { peers: [], synchronized: true, messagesReceived: {} };

/** Proxy settings of a pool that the config store has no field for; they come from flags. */
export type PoolTuning = Pick<PoolSettings, "finProbe" | "finProbeSettleMs">;

/** What {@linkcode PoolgateAdminBackend} works on. */
export interface PoolgateAdminBackendOptions {
  readonly registrar: Registrar;
  readonly proxy: SessionProxy;
  readonly members: StaticMembers;
  /** Drain and maintenance marks; the proxy's member source skips what they mark. */
  readonly marks: SelectionMarks;
  readonly counters: MetricsCounters;
  /** Where changes are kept; without one they last until the process ends. */
  readonly store?: ConfigStore;
  /** Per-pool settings from flags that the store cannot hold, applied under every change. */
  readonly poolTuning?: Readonly<Record<string, PoolTuning>>;
  /**
   * ENRP peers, first synchronisation and message counts; the registrar's ENRP peering fills
   * it in. @default {() => NO_ENRP_STATUS}
   */
  readonly enrpStatus?: () => EnrpStatus;
  /** True once the instance is shutting down: readiness fails from then on. */
  readonly stopping?: () => boolean;
  /** Wall clock in milliseconds. @default {Date.now} */
  readonly now?: () => number;
  /** @default {getLogger(["poolgate", "admin"])} */
  readonly logger?: Logger;
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

function memberKey(pool: string, peId: number): string {
  return `${peId}\u0000${pool}`;
}

function describeMember(pool: string, peId: number): string {
  return `pool element ${peId} of pool ${JSON.stringify(pool)}`;
}

function refusal(cause: number, what: string): AdminConflictError {
  return new AdminConflictError(
    `The registrar refused ${what}: ${errorCauseName(cause)} (cause ${cause})`,
    { causeCode: cause },
  );
}

function ownedByAsap(pool: string, peId: number, action: string): AdminConflictError {
  return new AdminConflictError(
    `Cannot ${action} ${describeMember(pool, peId)}: it registered over ASAP and owns its ` +
      `registration; only the pool element itself can change it`,
    { causeCode: ErrorCauseCode.rejectionDueToSecurityConsiderations },
  );
}

function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** A pool's policy as operators name it: RFC 5356's short name, else RSPLIB's long one. */
function poolPolicyName(pool: PoolView): string {
  return shortNameOfType(pool.policyType) ?? pool.policyName;
}

/** A PE's policy and values in operator units (loads in percent). */
function policyView(policy: KnownSelectionPolicy, poolPolicy: string): MemberView["policy"] {
  return settingsFromPolicy(policy) ?? { name: poolPolicy };
}

/** The health check settings of a stored check record. */
export function checkFromRecord(check: HealthCheckRecord): StaticMemberCheck {
  if (check.kind === "connect") {
    const { kind: _kind, ...timing } = check;
    return timing;
  }
  const { kind: _kind, send, expect, ...timing } = check;
  return { ...timing, send: parseCEscapes(send), expect: parseCEscapes(expect) };
}

/** The proxy settings of a stored pool record, over the flags' tuning. */
export function poolSettingsFromRecord(
  record: PoolSettingsRecord,
  tuning: PoolTuning = {},
): PoolSettings {
  const { pool: _pool, policy: _policy, ...settings } = record;
  return { ...tuning, ...settings };
}

/** A static member started from its record, or the registrar's refusal. */
type StartedMember =
  | { readonly ok: true; readonly record: StaticMemberRecord }
  | { readonly ok: false; readonly cause: number };

/** Sessions now, counted by pool and by pool element. */
class SessionCounts {
  readonly byPool = new Map<string, number>();
  readonly byMember = new Map<string, number>();

  constructor(sessions: readonly SessionInfo[]) {
    for (const session of sessions) {
      this.byPool.set(session.pool, (this.byPool.get(session.pool) ?? 0) + 1);
      if (session.peId === undefined) continue;
      const key = memberKey(session.pool, session.peId);
      this.byMember.set(key, (this.byMember.get(key) ?? 0) + 1);
    }
  }

  member(pool: string, peId: number): number {
    return this.byMember.get(memberKey(pool, peId)) ?? 0;
  }
}

/**
 * The admin backend of one Poolgate instance; {@linkcode PoolgateAdminBackend.apply} sets up
 * the configuration it starts with.
 */
export class PoolgateAdminBackend implements AdminBackend, Disposable {
  readonly #registrar: Registrar;
  readonly #proxy: SessionProxy;
  readonly #members: StaticMembers;
  readonly #marks: SelectionMarks;
  readonly #counters: MetricsCounters;
  readonly #store: ConfigStore | undefined;
  readonly #poolTuning: Readonly<Record<string, PoolTuning>>;
  readonly #enrpStatus: () => EnrpStatus;
  readonly #stopping: () => boolean;
  readonly #now: () => number;
  readonly #logger: Logger;
  /** Static member records by pool and PE id: what the store holds (or would) for each. */
  readonly #memberRecords = new Map<string, StaticMemberRecord>();
  readonly #poolRecords = new Map<string, PoolSettingsRecord>();
  readonly #listenerRecords = new Map<string, ListenerRecord>();
  readonly #onRemoved = (event: CustomEvent<PoolElementChangeDetail>) => {
    const pool = DECODER.decode(event.detail.handle);
    // An ASAP PE that leaves is gone for good (it comes back as a new registration); a static
    // member that fails its health check comes back with its marks.
    if (this.#members.get(pool, event.detail.peId) === undefined) {
      this.#marks.delete(pool, event.detail.peId);
    }
  };
  #registrarStopped = false;
  /** The change running now: the next one starts after it. */
  #changes: Promise<unknown> = Promise.resolve();

  /** Wraps the components; nothing is added until {@linkcode PoolgateAdminBackend.apply}. */
  constructor(options: PoolgateAdminBackendOptions) {
    this.#registrar = options.registrar;
    this.#proxy = options.proxy;
    this.#members = options.members;
    this.#marks = options.marks;
    this.#counters = options.counters;
    this.#store = options.store;
    this.#poolTuning = options.poolTuning ?? {};
    this.#enrpStatus = options.enrpStatus ?? (() => NO_ENRP_STATUS);
    this.#stopping = options.stopping ?? (() => false);
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? getLogger(["poolgate", "admin"]);
    this.#registrar.addEventListener("pe-removed", this.#onRemoved);
    void this.#registrar.finished.then(() => this.#registrarStopped = true);
  }

  /**
   * Sets up the configuration in effect at start-up (stored records merged over flags) without
   * writing it to the store: pool settings, static members with their marks, listeners.
   *
   * @throws {RangeError} when the registrar refuses a member or a record cannot be used.
   * @throws {ListenError} naming the listener when it cannot bind.
   */
  apply(config: ConfigSnapshot): void {
    for (const record of config.poolSettings) {
      this.#configurePool(record);
      this.#poolRecords.set(record.pool, record);
    }
    for (const record of config.members) {
      const started = this.#startMember(record);
      if (!started.ok) {
        throw new RangeError(
          `Cannot add member ${hostPort(record.hostname, record.port)} to pool ` +
            `'${record.pool}' as PE ${record.peId}: the registrar refused it with cause ` +
            `${started.cause} (${errorCauseName(started.cause)})`,
        );
      }
    }
    for (const record of config.listeners) {
      this.#proxy.addListener(record);
      this.#listenerRecords.set(record.id, record);
    }
  }

  /** Stops following the registrar's events; idempotent. */
  close(): void {
    this.#registrar.removeEventListener("pe-removed", this.#onRemoved);
  }

  /** Same as {@linkcode PoolgateAdminBackend.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ─── Pools and members ───

  listPools(): Promise<PoolSummary[]> {
    return this.#read(() => {
      const sessions = new SessionCounts(this.#proxy.sessions());
      return this.#poolHandles().map((handle) => {
        const { policy, members } = this.#poolMembers(handle, sessions);
        return {
          handle,
          policy,
          members: members.length,
          sessions: sessions.byPool.get(handle) ?? 0,
        };
      });
    });
  }

  getPool(handle: string): Promise<PoolDetail> {
    return this.#read(() => {
      const sessions = new SessionCounts(this.#proxy.sessions());
      const { policy, members } = this.#poolMembers(handle, sessions);
      if (members.length === 0) throw this.#unknownPool(handle);
      return {
        handle,
        policy,
        sessions: sessions.byPool.get(handle) ?? 0,
        members,
        settings: this.#settingsView(handle),
      };
    });
  }

  addMember(handle: string, member: NewStaticMember): Promise<MemberView> {
    return this.#change(async () => {
      if (parseIpAddress(member.hostname) === undefined) {
        throw new AdminInputError([{
          field: "hostname",
          message: "must be an IP address: a static member is registered by its address",
        }]);
      }
      if (member.peId !== undefined) this.#checkFreePeId(handle, member.peId);
      const record: StaticMemberRecord = {
        pool: handle,
        // Filled in below when the request has none: StaticMembers picks a free one.
        peId: member.peId ?? 0,
        hostname: member.hostname,
        port: member.port,
        transportUse: "data-only",
        policy: member.policy,
        check: member.check,
        drain: member.drain ?? false,
        maintenance: member.maintenance ?? false,
      };
      const started = this.#startMember(record, member.peId === undefined);
      if (!started.ok) {
        throw refusal(started.cause, `the new pool element of pool ${JSON.stringify(handle)}`);
      }
      const stored = started.record;
      try {
        this.#write((store) => store.putMember(stored));
      } catch (error) {
        await this.#stopMember(handle, stored.peId);
        throw error;
      }
      return this.#memberView(handle, stored.peId);
    });
  }

  patchMember(handle: string, peId: number, change: MemberChange): Promise<MemberView> {
    return this.#change(() => {
      const { drain, maintenance, ...values } = change;
      const record = this.#memberRecords.get(memberKey(handle, peId));
      if (record === undefined && this.#find(handle, peId) === undefined) {
        throw this.#unknownMember(handle, peId);
      }
      const policyChange = Object.keys(values).length > 0;
      if (policyChange && record === undefined) {
        throw ownedByAsap(handle, peId, "change the policy values of");
      }
      const oldMark = this.#marks.get(handle, peId);
      let next = record;
      if (record !== undefined) {
        next = {
          ...record,
          policy: { ...record.policy, ...values },
          ...(drain === undefined ? {} : { drain }),
          ...(maintenance === undefined ? {} : { maintenance }),
        };
        if (policyChange) {
          const result = this.#members.update(handle, peId, policyFromSettings(next.policy));
          if (result !== undefined && !result.ok) {
            throw refusal(result.cause, `the new policy values of ${describeMember(handle, peId)}`);
          }
        }
      }
      if (drain !== undefined || maintenance !== undefined) {
        this.#marks.set(handle, peId, change, this.#now());
      }
      if (record !== undefined && next !== undefined) {
        try {
          this.#write((store) => store.putMember(next));
        } catch (error) {
          if (policyChange) {
            this.#members.update(handle, peId, policyFromSettings(record.policy));
          }
          if (oldMark === undefined) this.#marks.delete(handle, peId);
          else this.#marks.set(handle, peId, oldMark, oldMark.changedAt);
          throw error;
        }
        this.#memberRecords.set(memberKey(handle, peId), next);
      }
      if (maintenance === true && oldMark?.maintenance !== true) {
        this.#moveSessionsOff(handle, peId);
      }
      return this.#memberView(handle, peId);
    });
  }

  deleteMember(handle: string, peId: number): Promise<void> {
    return this.#change(() => {
      if (!this.#memberRecords.has(memberKey(handle, peId))) {
        if (this.#find(handle, peId) !== undefined) throw ownedByAsap(handle, peId, "remove");
        throw this.#unknownMember(handle, peId);
      }
      this.#write((store) => store.deleteMember(handle, peId));
      return this.#stopMember(handle, peId);
    });
  }

  patchPoolSettings(handle: string, change: PoolSettingsChange): Promise<PoolSettingsView> {
    return this.#change(() => {
      const { policy } = this.#poolMembers(handle);
      if (!this.#poolExists(handle)) throw this.#unknownPool(handle);
      if (change.policy !== undefined && change.policy !== policy) {
        throw new AdminConflictError(
          `Pool ${JSON.stringify(handle)} uses policy ${policy}, not ${change.policy}: its ` +
            `members would have to register again with the other policy`,
          { causeCode: ErrorCauseCode.inconsistentPoolingPolicy },
        );
      }
      const next: PoolSettingsRecord = {
        ...(this.#poolRecords.get(handle) ?? { pool: handle }),
        ...change,
        pool: handle,
      };
      this.#write((store) => store.putPoolSettings(next));
      this.#configurePool(next);
      this.#poolRecords.set(handle, next);
      return this.#settingsView(handle);
    });
  }

  // ─── Sessions ───

  listSessions(): Promise<SessionView[]> {
    return this.#read(() =>
      this.#proxy.sessions().map((session) => ({
        id: session.id,
        client: session.client,
        pool: session.pool,
        peId: session.peId ?? null,
        bytesIn: session.bytesIn,
        bytesOut: session.bytesOut,
        failovers: session.failovers,
        ageMs: session.ageMs,
      }))
    );
  }

  failoverSession(id: number): Promise<void> {
    return this.#read(() => {
      if (this.#proxy.failover(id)) return;
      if (!this.#proxy.sessions().some((session) => session.id === id)) {
        throw new AdminNotFoundError("session", `There is no session ${id}`);
      }
      throw new AdminConflictError(
        `Session ${id} is not connected to a pool element: it is connecting or failing over`,
      );
    });
  }

  recentFailovers(): Promise<FailoverView[]> {
    return this.#read(() => this.#counters.recentFailovers());
  }

  closeSession(id: number): Promise<void> {
    return this.#read(() => {
      if (!this.#proxy.close(id)) {
        throw new AdminNotFoundError("session", `There is no session ${id}`);
      }
    });
  }

  // ─── Listeners ───

  listListeners(): Promise<ListenerView[]> {
    return this.#read(() => {
      const bound = new Map(this.#proxy.listeners().map((info) => [info.id, info]));
      return [...this.#listenerRecords.values()]
        .sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
        .map((record) => {
          const info = bound.get(record.id);
          return {
            ...record,
            address: info === undefined ? null : hostPort(info.hostname, info.port),
          };
        });
    });
  }

  addListener(listener: ListenerRecord): Promise<ListenerView> {
    return this.#change(() => {
      if (this.#listenerRecords.has(listener.id)) {
        throw new AdminConflictError(`There is a listener ${JSON.stringify(listener.id)} already`);
      }
      if (listener.kind !== "tcp" && listener.handleSuffix === undefined) {
        throw new AdminInputError([{
          field: "handleSuffix",
          message: `a ${listener.kind} listener needs the domain under which names name pools`,
        }]);
      }
      let info;
      try {
        info = this.#proxy.addListener(listener);
      } catch (error) {
        if (error instanceof ListenerExistsError) {
          throw new AdminConflictError(error.message, { cause: error });
        }
        if (error instanceof ListenError) {
          throw new AdminConflictError(
            `Cannot bind listener ${JSON.stringify(listener.id)} to ` +
              `${hostPort(listener.hostname, listener.port)}: ${error.cause.message}`,
            { cause: error },
          );
        }
        if (error instanceof RangeError) {
          throw new AdminInputError([{ field: "body", message: error.message }]);
        }
        throw error;
      }
      try {
        this.#write((store) => store.putListener(listener));
      } catch (error) {
        this.#proxy.removeListener(listener.id);
        throw error;
      }
      this.#listenerRecords.set(listener.id, listener);
      return { ...listener, address: hostPort(info.hostname, info.port) };
    });
  }

  removeListener(id: string): Promise<void> {
    return this.#change(() => {
      if (!this.#listenerRecords.has(id)) {
        throw new AdminNotFoundError("listener", `There is no listener ${JSON.stringify(id)}`);
      }
      this.#write((store) => store.deleteListener(id));
      this.#proxy.removeListener(id);
      this.#listenerRecords.delete(id);
    });
  }

  // ─── Registrar and monitoring ───

  registrarStatus(): Promise<RegistrarStatus> {
    return this.#read(() => {
      const handlespace = this.#registrar.handlespace;
      return {
        serverId: this.#registrar.serverId,
        peers: this.#enrpStatus().peers.map((peer) => ({ ...peer })),
        checksum: handlespace.checksum(this.#registrar.serverId),
        pools: handlespace.poolCount,
        poolElements: handlespace.elementCount,
      };
    });
  }

  metrics(): Promise<MetricsSnapshot> {
    return this.#read(() => {
      const sessions = this.#proxy.sessions();
      const totals = this.#counters.totals();
      let bytesIn = totals.bytesIn;
      let bytesOut = totals.bytesOut;
      for (const session of sessions) {
        bytesIn += session.bytesIn;
        bytesOut += session.bytesOut;
      }
      const poolElements: PoolElementCount[] = [];
      const counts = new SessionCounts(sessions);
      for (const handle of this.#poolHandles()) {
        const byState = new Map<MemberState, number>();
        for (const member of this.#poolMembers(handle, counts).members) {
          byState.set(member.state, (byState.get(member.state) ?? 0) + 1);
        }
        for (const [state, count] of byState) poolElements.push({ pool: handle, state, count });
      }
      return {
        sessions: sessions.length,
        // Ended sessions plus the open ones: every accepted client, so never below the gauge.
        sessionsTotal: totals.sessionsEnded + sessions.length,
        failoversTotal: totals.failoversTotal,
        bytesTotal: { in: bytesIn, out: bytesOut },
        poolElements,
        registrationsTotal: totals.registrationsTotal,
        handleResolutionsTotal: totals.handleResolutionsTotal,
        enrpMessagesTotal: { ...this.#enrpStatus().messagesReceived },
        errorsTotal: totals.errorsTotal,
      };
    });
  }

  readiness(): Promise<ReadinessCheck[]> {
    return this.#read(() => {
      const bound = new Set(this.#proxy.listeners().map((info) => info.id));
      const unbound = [...this.#listenerRecords.keys()].filter((id) => !bound.has(id));
      const stopping = this.#stopping();
      const listeners: ReadinessCheck = stopping
        ? { name: "listeners", ready: false, detail: "shutting down: listeners are closed" }
        : unbound.length > 0
        ? { name: "listeners", ready: false, detail: `not bound: ${unbound.join(", ")}` }
        : { name: "listeners", ready: true };
      const registrar: ReadinessCheck = this.#registrarStopped
        ? { name: "registrar", ready: false, detail: "the registrar has stopped" }
        : { name: "registrar", ready: true };
      const enrp = this.#enrpStatus();
      const enrpSync: ReadinessCheck = enrp.synchronized ? { name: "enrp-sync", ready: true } : {
        name: "enrp-sync",
        ready: false,
        detail: enrp.detail ?? "waiting for the first handle table from a peer",
      };
      return [listeners, registrar, enrpSync];
    });
  }

  // ─── Internals ───

  /** Runs a read; a throw becomes a rejection. */
  #read<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs a change after the ones before it have finished, so that store writes happen in the
   * order the API answers them and two changes of one member never interleave.
   */
  #change<T>(work: () => T | Promise<T>): Promise<T> {
    const run = this.#changes.then(work);
    this.#changes = run.catch(() => {});
    return run;
  }

  /** Writes to the store when there is one; a failure is counted and maps to a 409 or 500. */
  #write(write: (store: ConfigStore) => unknown): void {
    if (this.#store === undefined) return;
    try {
      write(this.#store);
    } catch (error) {
      this.#counters.countError("config-store");
      if (error instanceof ConfigStoreError && error.problem === "invalid-record") {
        throw new AdminConflictError(error.message, { cause: error });
      }
      this.#logger.error("Cannot write the change to the config store: {error}", { error });
      throw error;
    }
  }

  /**
   * Adds a static member from its record (with a free PE id when `pickId`), with its marks;
   * returns the record as added, or the registrar's refusal cause.
   */
  #startMember(record: StaticMemberRecord, pickId = false): StartedMember {
    const result = this.#members.add({
      pool: record.pool,
      hostname: record.hostname,
      port: record.port,
      policy: policyFromSettings(record.policy),
      ...(pickId ? {} : { peId: record.peId }),
      check: checkFromRecord(record.check),
    });
    if (!result.ok) return result;
    const added = { ...record, peId: result.peId };
    this.#memberRecords.set(memberKey(record.pool, result.peId), added);
    if (record.drain || record.maintenance) {
      this.#marks.set(record.pool, result.peId, record, this.#now());
    }
    return { ok: true, record: added };
  }

  /** Gives the proxy a pool's settings: the record over the flags' tuning. */
  #configurePool(record: PoolSettingsRecord): void {
    this.#proxy.setPoolSettings(
      record.pool,
      poolSettingsFromRecord(record, this.#poolTuning[record.pool]),
    );
  }

  /** Removes a static member, its marks and counts; it leaves the handlespace at once. */
  async #stopMember(pool: string, peId: number): Promise<void> {
    this.#memberRecords.delete(memberKey(pool, peId));
    this.#marks.delete(pool, peId);
    this.#counters.forgetMember(pool, peId);
    await this.#members.remove(pool, peId);
  }

  /** Refuses a PE id the pool has: 0x4, as the registrar would. */
  #checkFreePeId(pool: string, peId: number): void {
    if (this.#members.get(pool, peId) !== undefined || this.#find(pool, peId) !== undefined) {
      throw refusal(
        ErrorCauseCode.nonUniquePoolElementIdentifier,
        `PE id ${peId} in pool ${JSON.stringify(pool)}: the pool has a pool element with it`,
      );
    }
  }

  /** Fails over every session on a PE just put in maintenance. */
  #moveSessionsOff(pool: string, peId: number): void {
    const sessions = this.#proxy.sessions()
      .filter((session) => session.pool === pool && session.peId === peId);
    for (const session of sessions) this.#proxy.failover(session.id);
    if (sessions.length > 0) {
      this.#logger.info(
        "Pool element {peId} of pool {pool} is in maintenance: failing over {count} sessions",
        { pool, peId, count: sessions.length },
      );
    }
  }

  #find(pool: string, peId: number): PoolElementView | undefined {
    return this.#registrar.handlespace.find(ENCODER.encode(pool), peId);
  }

  #poolExists(handle: string): boolean {
    return this.#registrar.handlespace.pool(ENCODER.encode(handle)) !== undefined ||
      this.#members.list().some((member) => member.pool === handle);
  }

  /** Every pool: those of the handlespace and those with static members, sorted. */
  #poolHandles(): string[] {
    const handles = new Set<string>();
    for (const pool of this.#registrar.handlespace.pools()) {
      handles.add(DECODER.decode(pool.handle));
    }
    for (const member of this.#members.list()) handles.add(member.pool);
    return [...handles].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  }

  /**
   * A pool's policy and members by PE id: its PEs in the handlespace, and its static members
   * that are out of it (down). No members when the pool is unknown.
   */
  #poolMembers(
    handle: string,
    sessions = new SessionCounts(this.#proxy.sessions()),
  ): { policy: string; members: MemberView[] } {
    const pool = this.#registrar.handlespace.pool(ENCODER.encode(handle));
    const statics = this.#members.list().filter((member) => member.pool === handle);
    const firstStatic = statics[0];
    const policy = pool !== undefined
      ? poolPolicyName(pool)
      : firstStatic !== undefined
      ? policyView(firstStatic.policy, "").name
      : "";
    const members: MemberView[] = [];
    const listed = new Set<number>();
    for (const element of pool?.elements() ?? []) {
      listed.add(element.identifier);
      members.push(this.#elementView(handle, element, policy, sessions));
    }
    for (const member of statics) {
      if (!listed.has(member.peId)) members.push(this.#downView(member, sessions));
    }
    members.sort((a, b) => a.peId - b.peId);
    return { policy, members };
  }

  #memberView(pool: string, peId: number): MemberView {
    const member = this.#poolMembers(pool).members.find((candidate) => candidate.peId === peId);
    if (member === undefined) throw this.#unknownMember(pool, peId);
    return member;
  }

  #state(pool: string, peId: number, registered: boolean): MemberState {
    const mark = this.#marks.get(pool, peId);
    if (mark?.maintenance) return "maintenance";
    if (mark?.drain) return "draining";
    return registered ? "active" : "down";
  }

  #elementView(
    pool: string,
    element: PoolElementView,
    poolPolicy: string,
    sessions: SessionCounts,
  ): MemberView {
    const peId = element.identifier;
    const transport = element.userTransport;
    const record = this.#memberRecords.get(memberKey(pool, peId));
    const life = element.registrationLife;
    const lastUpdate = Math.max(
      element.lastUpdate,
      this.#marks.get(pool, peId)?.changedAt ?? 0,
      this.#members.get(pool, peId)?.changedAt ?? 0,
    );
    return {
      peId,
      addresses: "addresses" in transport ? [...transport.addresses] : [],
      port: element.port ?? 0,
      transportUse: element.transportUse === TransportUse.dataPlusControl
        ? "data-plus-control"
        : "data-only",
      policy: policyView(element.policy, poolPolicy),
      homeRegistrar: element.homeRegistrarId,
      registrationLifeMs: life === REGISTRATION_LIFE_INFINITE
        ? INFINITE_REGISTRATION_LIFE_MS
        : life,
      state: this.#state(pool, peId, true),
      static: record !== undefined,
      sessions: sessions.member(pool, peId),
      failovers: this.#counters.memberFailovers(pool, peId),
      lastUpdate: new Date(lastUpdate).toISOString(),
      ...(record === undefined ? {} : { check: record.check }),
    };
  }

  /** A static member out of the handlespace: its health check fails. */
  #downView(member: StaticMemberState, sessions: SessionCounts): MemberView {
    const record = this.#memberRecords.get(memberKey(member.pool, member.peId));
    const lastUpdate = Math.max(
      member.changedAt,
      this.#marks.get(member.pool, member.peId)?.changedAt ?? 0,
    );
    return {
      peId: member.peId,
      addresses: [member.hostname],
      port: member.port,
      transportUse: "data-only",
      policy: policyView(member.policy, ""),
      homeRegistrar: this.#registrar.serverId,
      registrationLifeMs: INFINITE_REGISTRATION_LIFE_MS,
      state: this.#state(member.pool, member.peId, false),
      static: true,
      sessions: sessions.member(member.pool, member.peId),
      failovers: this.#counters.memberFailovers(member.pool, member.peId),
      lastUpdate: new Date(lastUpdate).toISOString(),
      ...(record === undefined ? {} : { check: record.check }),
    };
  }

  #settingsView(handle: string): PoolSettingsView {
    const settings = this.#proxy.poolSettings(handle);
    const policy = this.#poolRecords.get(handle)?.policy;
    return {
      ...(policy === undefined ? {} : { policy }),
      failover: settings.failover,
      maxFailovers: settings.maxFailovers,
      replayBufferBytes: settings.replayBufferBytes,
      connectTimeoutMs: settings.connectTimeoutMs,
      idleTimeoutMs: settings.idleTimeoutMs,
      proxyProtocol: settings.proxyProtocol,
    };
  }

  #unknownPool(handle: string): AdminNotFoundError {
    return new AdminNotFoundError("pool", `There is no pool ${JSON.stringify(handle)}`);
  }

  #unknownMember(pool: string, peId: number): AdminNotFoundError {
    if (!this.#poolExists(pool)) return this.#unknownPool(pool);
    return new AdminNotFoundError("member", `There is no ${describeMember(pool, peId)}`);
  }
}
