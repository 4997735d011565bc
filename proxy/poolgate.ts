/**
 * One Poolgate instance: the embedded registrar, the static members it owns and checks, the
 * session proxy selecting from its handlespace, the counters behind the metrics, and the admin
 * API over all of them, changes kept in the config store. `main.ts serve` builds one from flags
 * and the store; tests build one in-process.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { type Registrar, type RegistrarOptions, startRegistrar } from "../lib/registrar/mod.ts";
import { formatAddress } from "../lib/transport/format_address.ts";
import { ListenError } from "../lib/transport/listen_error.ts";
import type { HealthCheckConnect } from "../lib/health/mod.ts";
import { type AdminServer, startAdminServer } from "./admin/admin_server.ts";
import type { ConfigSnapshot, ConfigStore } from "./config_store.ts";
import { MetricsCounters } from "./metrics_counters.ts";
import {
  type EnrpStatus,
  NO_ENRP_STATUS,
  PoolgateAdminBackend,
  type PoolTuning,
} from "./poolgate_admin_backend.ts";
import { type SessionProxy, startProxy } from "./proxy.ts";
import { RegistrarMemberSource, SelectionMarks } from "./registrar_member_source.ts";
import { StaticMembers } from "./static_members.ts";

/** Where the admin API of {@linkcode startPoolgate} listens, and its token. */
export interface PoolgateAdminOptions {
  /** Address to bind; anything but loopback needs `token`. */
  readonly hostname: string;
  /** TCP port; 0 picks a free one (see `admin.addr`). */
  readonly port: number;
  /** Bearer token every request but the probes must carry; never logged. */
  readonly token?: string;
  /**
   * When the address is taken, start without the admin API and log a warning instead of
   * failing (for a default address the operator did not ask for). @default {false}
   */
  readonly optional?: boolean;
}

/** Options of {@linkcode startPoolgate}. */
export interface PoolgateOptions {
  /** The embedded registrar (ASAP address, timers, bounds). */
  readonly registrar?: RegistrarOptions;
  /**
   * What to start with: static members (with their drain and maintenance marks), pool settings
   * and front listeners, as the config store keeps them (stored records merged over flags).
   * @default {nothing}
   */
  readonly config?: ConfigSnapshot;
  /** Per-pool proxy settings the store has no field for (`finProbe`), from flags. */
  readonly poolTuning?: Readonly<Record<string, PoolTuning>>;
  /**
   * Where the admin API's changes are written before it answers; without one they last until
   * the process ends. Poolgate does not close it.
   */
  readonly store?: ConfigStore;
  /** Serve the admin API; without this option there is none. */
  readonly admin?: PoolgateAdminOptions;
  /**
   * ENRP peers, first synchronisation and message counts for the admin API (the registrar's
   * ENRP peering). @default {no peers: synchronized}
   */
  readonly enrpStatus?: () => EnrpStatus;
  /** Most sessions at once (proxy default when absent). */
  readonly maxSessions?: number;
  /** Bytes of each of a session's two read buffers (proxy default when absent). */
  readonly bufferSize?: number;
  /** How long sessions may go on after a shutdown begins (proxy default when absent). */
  readonly drainMs?: number;
  /** Longest wait for a ClientHello or request head (proxy default when absent). */
  readonly frontTimeoutMs?: number;
  /** Most bytes of a ClientHello or request head (proxy default when absent). */
  readonly maxFrontBytes?: number;
  /** @default {getLogger(["poolgate"])} */
  readonly logger?: Logger;
  /** Opens health-check connections (tests). */
  readonly healthCheckConnect?: HealthCheckConnect;
}

/** A running Poolgate instance. */
export interface Poolgate extends AsyncDisposable {
  readonly registrar: Registrar;
  readonly proxy: SessionProxy;
  readonly members: StaticMembers;
  /** Drain and maintenance marks the proxy's selection skips. */
  readonly marks: SelectionMarks;
  readonly counters: MetricsCounters;
  /** What the admin API acts on (also without an admin server). */
  readonly backend: PoolgateAdminBackend;
  /** The admin API server, when `options.admin` was given. */
  readonly admin: AdminServer | undefined;
  /** Resolves when every component has stopped. */
  readonly finished: Promise<void>;
  /**
   * Fails readiness, stops accepting and drains sessions, stops the admin API, withdraws static
   * members, stops the registrar; idempotent.
   */
  shutdown(): Promise<void>;
}

/** Starts the admin API server; undefined when an optional one finds its address taken. */
function startAdmin(
  options: PoolgateAdminOptions,
  backend: PoolgateAdminBackend,
  logger: Logger,
): AdminServer | undefined {
  const { optional, ...serverOptions } = options;
  try {
    return startAdminServer({ ...serverOptions, backend, logger: logger.getChild("admin") });
  } catch (error) {
    const taken = error instanceof ListenError && error.cause instanceof Deno.errors.AddrInUse;
    if (!optional || !taken) throw error;
    logger.warn("No admin API: {address} is taken ({error})", {
      address: formatAddress({ transport: "tcp", ...error.address }),
      error: error.cause.message,
    });
    return undefined;
  }
}

/**
 * Starts the registrar, the proxy, the configuration (pool settings, static members,
 * listeners) and the admin API, in that order, binding every socket synchronously; on a
 * failure the parts already started are stopped again.
 *
 * @throws {RangeError} for a bad option or a static member the registrar refuses;
 *   `ListenError` naming the address and its role when a socket cannot bind;
 *   `AdminServerError` for an admin address off loopback without a token.
 */
export function startPoolgate(options: PoolgateOptions = {}): Poolgate {
  const logger = options.logger ?? getLogger(["poolgate"]);
  const registrar = startRegistrar({
    ...options.registrar,
    logger: options.registrar?.logger ?? logger.getChild("registrar"),
  });
  const members = new StaticMembers({
    registrar,
    logger: logger.getChild("members"),
    ...(options.healthCheckConnect ? { connect: options.healthCheckConnect } : {}),
  });
  const marks = new SelectionMarks();
  const counters = new MetricsCounters({
    registrar,
    keepOnRemoval: (pool, peId) => members.get(pool, peId) !== undefined,
  });
  let stopping = false;
  let proxy: SessionProxy | undefined;
  let backend: PoolgateAdminBackend | undefined;
  let admin: AdminServer | undefined;
  try {
    proxy = startProxy({
      memberSource: new RegistrarMemberSource(registrar, {
        skip: marks.skips,
        onSelect: counters.countResolution,
      }),
      // A tls or http client asking for a pool whose static members are all down is told "no
      // pool element" rather than "no such pool".
      knownPool: (pool) => members.list().some((member) => member.pool === pool),
      ...(options.maxSessions === undefined ? {} : { maxSessions: options.maxSessions }),
      ...(options.bufferSize === undefined ? {} : { bufferSize: options.bufferSize }),
      ...(options.drainMs === undefined ? {} : { drainMs: options.drainMs }),
      ...(options.frontTimeoutMs === undefined ? {} : { frontTimeoutMs: options.frontTimeoutMs }),
      ...(options.maxFrontBytes === undefined ? {} : { maxFrontBytes: options.maxFrontBytes }),
      logger: logger.getChild("proxy"),
    });
    counters.observeProxy(proxy);
    backend = new PoolgateAdminBackend({
      registrar,
      proxy,
      members,
      marks,
      counters,
      ...(options.store === undefined ? {} : { store: options.store }),
      ...(options.poolTuning === undefined ? {} : { poolTuning: options.poolTuning }),
      enrpStatus: options.enrpStatus ?? enrpStatusOf(registrar),
      stopping: () => stopping,
      logger: logger.getChild("admin"),
    });
    backend.apply(options.config ?? { members: [], poolSettings: [], listeners: [] });
    if (options.admin !== undefined) admin = startAdmin(options.admin, backend, logger);
  } catch (error) {
    backend?.close();
    counters.close();
    void Promise.all([proxy?.shutdown({ drainMs: 0 }), members.close()])
      .then(() => registrar.shutdown());
    throw error;
  }
  const started = { proxy, backend };
  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopped ??= (async () => {
      stopping = true;
      // The admin API stays up while sessions drain, so operators can watch them go.
      await started.proxy.shutdown();
      await admin?.shutdown();
      await members.close();
      await registrar.shutdown();
      started.backend.close();
      counters.close();
    })();
    return stopped;
  };
  // A component that stops by itself (its signal, a fatal error) takes the others with it.
  const finished = Promise.race([
    proxy.finished,
    registrar.finished,
    ...(admin === undefined ? [] : [admin.finished]),
  ]).then(shutdown);
  return {
    registrar,
    proxy,
    members,
    marks,
    counters,
    backend,
    admin,
    finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/** The registrar's ENRP peering as the admin API shows it; no peers when ENRP is off. */
function enrpStatusOf(registrar: Registrar): () => EnrpStatus {
  return () => {
    const enrp = registrar.enrp;
    if (enrp === undefined) return NO_ENRP_STATUS;
    return {
      peers: enrp.peers().map((peer) => ({
        serverId: peer.serverId,
        address: peer.address ?? "",
        state: peer.state,
      })),
      synchronized: enrp.synchronized,
      ...(enrp.synchronized ? {} : { detail: "the first handle table download is not done" }),
      messagesReceived: enrp.messagesReceived(),
    };
  };
}
