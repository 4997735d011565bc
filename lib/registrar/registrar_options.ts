/**
 * The options of {@linkcode startRegistrar}, their defaults, and the checks made when a
 * registrar starts.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Handlespace, HandlespaceOptions, RandomSource } from "../handlespace/mod.ts";
import { DEFAULT_MAX_CONNECTIONS } from "../transport/message_server.ts";
import {
  type MessageLimits,
  type ResolvedMessageLimits,
  resolveMessageLimits,
} from "../transport/message_limits.ts";
import type { EnrpOptions } from "./enrp_options.ts";
import type { PoolElementChangeDetail } from "./registrar_events.ts";

/** Address the ASAP server listens on unless told otherwise: loopback, so nothing is exposed by accident. */
export const DEFAULT_REGISTRAR_HOSTNAME = "127.0.0.1";
/** IANA's ASAP port (asap-tcp 3863/tcp, RFC 5352 §8.2). */
export const DEFAULT_ASAP_PORT = 3863;
/** Silence on a PE's connection before the registrar sends an Endpoint Keep-Alive. */
export const DEFAULT_KEEP_ALIVE_INTERVAL_MS = 500;
/** Wait for any answer to an Endpoint Keep-Alive before the connection's PEs are removed. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 1000;
/** Smallest keep-alive interval and timeout accepted. */
export const MIN_KEEP_ALIVE_MS = 100;
/** MAX-BAD-PE-REPORT (RFC 5352 §3.5 names it without a value; RSPLIB and rspsim use 3). */
export const DEFAULT_MAX_BAD_PE_REPORTS = 3;
/** PEs in a Handle Resolution Response without a Handle Resolution Option (RSPLIB's 3). */
export const DEFAULT_HANDLE_RESOLUTION_ITEMS = 3;
/** The LogTape category the registrar logs to unless a logger is given. */
export const DEFAULT_REGISTRAR_LOG_CATEGORY: readonly string[] = ["poolgate", "registrar"];
export { DEFAULT_MAX_CONNECTIONS };

/** The handlespace bounds a registrar applies when it creates its own handlespace. */
export type HandlespaceBounds = Pick<
  HandlespaceOptions,
  | "maxPools"
  | "maxPoolElementsPerPool"
  | "maxPoolElements"
  | "maxPoolHandleLength"
  | "maxHomeRegistrars"
>;

/** Options of {@linkcode startRegistrar}; the message bounds apply to each ASAP connection. */
export interface RegistrarOptions extends MessageLimits, HandlespaceBounds {
  /** Address the ASAP server listens on. @default {DEFAULT_REGISTRAR_HOSTNAME} */
  hostname?: string;
  /** TCP port of the ASAP server; 0 picks a free one, readable at once from `addr.port`. @default {DEFAULT_ASAP_PORT} */
  port?: number;
  /** This registrar's Server Identifier (non-zero u32). @default a random non-zero u32 */
  serverId?: number;
  /**
   * The handlespace to serve, shared with the in-process proxy; when absent the registrar
   * creates one with the {@linkcode HandlespaceBounds} given here (which may not be combined
   * with a handlespace of one's own).
   */
  handlespace?: Handlespace;
  /**
   * The clock, in milliseconds: registration lives, keep-alive silences and the handlespace's
   * times are read from it.
   * @default {() => performance.timeOrigin + performance.now()} (wall time that never steps back)
   */
  now?: () => number;
  /** Uniform random numbers in [0, 1): the server ID and a created handlespace's random policies. @default {Math.random} */
  random?: RandomSource;
  /** Where the registrar logs; connection records carry `peer`. @default {getLogger(DEFAULT_REGISTRAR_LOG_CATEGORY)} */
  logger?: Logger;
  /** Shuts the registrar down when it aborts. */
  signal?: AbortSignal;
  /**
   * Milliseconds a connection owning PEs may stay silent before the registrar sends an
   * Endpoint Keep-Alive on it (at least {@linkcode MIN_KEEP_ALIVE_MS}).
   * @default {DEFAULT_KEEP_ALIVE_INTERVAL_MS}
   */
  keepAliveIntervalMs?: number;
  /**
   * Milliseconds the registrar waits for any message after an Endpoint Keep-Alive before it
   * removes every PE of that connection and closes it (at least {@linkcode MIN_KEEP_ALIVE_MS}).
   * @default {DEFAULT_KEEP_ALIVE_TIMEOUT_MS}
   */
  keepAliveTimeoutMs?: number;
  /**
   * MAX-BAD-PE-REPORT: Endpoint Unreachable reports (since the PE's last registration) at which
   * the registrar removes the PE (RFC 5352 §3.5).
   * @default {DEFAULT_MAX_BAD_PE_REPORTS}
   */
  maxBadPeReports?: number;
  /**
   * PEs in a Handle Resolution Response when the request has no Handle Resolution Option (or
   * asks for 0).
   * @default {DEFAULT_HANDLE_RESOLUTION_ITEMS}
   */
  handleResolutionItems?: number;
  /** ASAP connections served at once. @default {DEFAULT_MAX_CONNECTIONS} */
  maxConnections?: number;
  /**
   * Whether a PE's home registrar (another server's ID) is gone, so that a re-registration of
   * its PE ID from here may take the PE over although its user transport changed
   * (DECISIONS.md). ENRP peering answers it from its peer table.
   * @default {() => false}
   */
  isRegistrarGone?: (serverId: number) => boolean;
  /**
   * Called synchronously after each change of a PE this registrar owns (added, updated,
   * removed), before the event is dispatched: where ENRP peering sends its Handle Updates.
   */
  onOwnPoolElementChange?: (change: PoolElementChangeDetail) => void;
  /**
   * ENRP peering (RFC 5353): when given, the registrar joins a registrar set over TCP, replicates
   * its handlespace and takes over the PEs of dead peers; see `docs/enrp.md`. The peering then
   * answers `isRegistrarGone` unless that is given too.
   */
  enrp?: EnrpOptions;
}

/** {@linkcode RegistrarOptions} after the checks, with every default filled in. */
export interface RegistrarSettings {
  readonly hostname: string;
  readonly port: number;
  readonly serverId: number;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxBadPeReports: number;
  readonly handleResolutionItems: number;
  readonly maxConnections: number;
  readonly messageLimits: ResolvedMessageLimits;
  readonly now: () => number;
  readonly random: RandomSource;
  /** What a handlespace the registrar creates gets: the bounds given, and `random`. */
  readonly handlespaceOptions: HandlespaceOptions;
}

const ACTION = "start registrar";
const HANDLESPACE_BOUNDS = [
  "maxPools",
  "maxPoolElementsPerPool",
  "maxPoolElements",
  "maxPoolHandleLength",
  "maxHomeRegistrars",
] as const satisfies readonly (keyof HandlespaceBounds)[];

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot ${ACTION} as '${name}' must be an integer from ${min} to ${max}: current value is ${value}`,
    );
  }
  return value;
}

function monotonicWallClock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Checks `options` and fills in the defaults (the server ID drawn from `random` when absent).
 *
 * @throws {RangeError} when a value is out of range.
 * @throws {TypeError} when a handlespace and handlespace bounds are both given.
 */
export function resolveRegistrarOptions(options: RegistrarOptions): RegistrarSettings {
  const random = options.random ?? Math.random;
  const serverId = options.serverId ?? 1 + Math.floor(random() * 0xfffffffe);
  const handlespaceOptions: HandlespaceOptions = { random };
  for (const name of HANDLESPACE_BOUNDS) {
    const value = options[name];
    if (value === undefined) continue;
    if (options.handlespace !== undefined) {
      throw new TypeError(
        `Cannot ${ACTION} as '${name}' applies only to a handlespace the registrar creates, and 'handlespace' is given`,
      );
    }
    handlespaceOptions[name] = value;
  }
  return {
    hostname: options.hostname ?? DEFAULT_REGISTRAR_HOSTNAME,
    port: integerIn("port", options.port ?? DEFAULT_ASAP_PORT, 0, 65535),
    serverId: integerIn("serverId", serverId, 1, 0xffffffff),
    keepAliveIntervalMs: integerIn(
      "keepAliveIntervalMs",
      options.keepAliveIntervalMs ?? DEFAULT_KEEP_ALIVE_INTERVAL_MS,
      MIN_KEEP_ALIVE_MS,
      0x7fffffff,
    ),
    keepAliveTimeoutMs: integerIn(
      "keepAliveTimeoutMs",
      options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      MIN_KEEP_ALIVE_MS,
      0x7fffffff,
    ),
    maxBadPeReports: integerIn(
      "maxBadPeReports",
      options.maxBadPeReports ?? DEFAULT_MAX_BAD_PE_REPORTS,
      1,
      0xffff,
    ),
    handleResolutionItems: integerIn(
      "handleResolutionItems",
      options.handleResolutionItems ?? DEFAULT_HANDLE_RESOLUTION_ITEMS,
      1,
      0xffffffff,
    ),
    maxConnections: integerIn(
      "maxConnections",
      options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      1,
      0x7fffffff,
    ),
    messageLimits: resolveMessageLimits(options, ACTION),
    now: options.now ?? monotonicWallClock,
    random,
    handlespaceOptions,
  };
}
