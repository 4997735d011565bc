/**
 * The options of ENRP peering (RFC 5353) as {@linkcode RegistrarOptions.enrp} takes them, their
 * defaults, and the checks made when a registrar starts.
 *
 * RFC 5353 §4.2 names PEER-HEARTBEAT-CYCLE (30 s), MAX-TIME-LAST-HEARD (61 s) and
 * MAX-TIME-NO-RESPONSE (5 s); RSPLIB uses 2.444 s, 5 s and 5 s, and a takeover expiry of 5 s.
 * Poolgate's product goal is sub-second failover, so its defaults are far shorter: a dead peer
 * is noticed within about one second, or at once when its TCP connection breaks.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  type MessageConnector,
  type MessageLimits,
  requirePositiveInteger,
  type ResolvedMessageLimits,
  resolveMessageLimits,
} from "../transport/mod.ts";

/** Address the ENRP server listens on unless told otherwise: loopback, as the ASAP server. */
export const DEFAULT_ENRP_HOSTNAME = "127.0.0.1";
/**
 * ENRP's IANA port (enrp 9901/udp, enrp-sctp 9901/sctp). IANA assigns no TCP port to ENRP;
 * Poolgate uses 9901/tcp because it is the ENRP server channel everywhere else.
 */
export const DEFAULT_ENRP_PORT = 9901;
/** PEER-HEARTBEAT-CYCLE: period of the Presence every peer gets (RFC 5353 §3.4.2). */
export const DEFAULT_PEER_HEARTBEAT_CYCLE_MS = 250;
/** MAX-TIME-LAST-HEARD: silence after which a peer is probed with Presence R=1 (§3.4.3). */
export const DEFAULT_MAX_TIME_LAST_HEARD_MS = 750;
/** MAX-TIME-NO-RESPONSE: wait for the answer to a probe or a request (§3.4.3, §3.2.2.2). */
export const DEFAULT_MAX_TIME_NO_RESPONSE_MS = 250;
/**
 * Wait for every Init Takeover Ack before the takeover completes anyway (RFC 5353 names no such
 * timer; RSPLIB uses 5 s and then abandons the takeover, Poolgate completes it).
 */
export const DEFAULT_TAKEOVER_EXPIRY_MS = 500;
/** Pool elements in one Handle Table Response before the M bit says more follow (RSPLIB's 128). */
export const DEFAULT_HANDLE_TABLE_PAGE_SIZE = 128;
/** Peer registrars known at once (any state); a new one beyond is ignored until one is dropped. */
export const DEFAULT_MAX_PEERS = 64;
/** ENRP connections open at once, incoming and outgoing together. */
export const DEFAULT_MAX_ENRP_CONNECTIONS = 256;
/** Handle table downloads served at once; one more is rejected with the R bit (RFC 5353 §2.3). */
export const DEFAULT_MAX_HANDLE_TABLE_SESSIONS = 16;
/** The LogTape category ENRP peering logs to unless a logger is given. */
export const DEFAULT_ENRP_LOG_CATEGORY: readonly string[] = ["poolgate", "registrar", "enrp"];
/** Shortest timer accepted for the heartbeat and the thresholds, in milliseconds. */
export const MIN_ENRP_TIMER_MS = 10;

/** A peer registrar's ENRP address. */
export interface EnrpPeerAddress {
  /** Host name or IP address. */
  readonly hostname: string;
  /** TCP port of its ENRP server. */
  readonly port: number;
}

/** Options of ENRP peering; the message bounds apply to each ENRP connection. */
export interface EnrpOptions extends MessageLimits {
  /** Address the ENRP server listens on. @default {DEFAULT_ENRP_HOSTNAME} */
  hostname?: string;
  /** TCP port of the ENRP server; 0 picks a free one, readable at once. @default {DEFAULT_ENRP_PORT} */
  port?: number;
  /**
   * Peer registrars known in advance; the first that answers is the mentor (RFC 5353 §3.2.2.1).
   * With none, the registrar is alone and serves at once.
   * @default {[]}
   */
  peers?: readonly EnrpPeerAddress[];
  /** PEER-HEARTBEAT-CYCLE in milliseconds. @default {DEFAULT_PEER_HEARTBEAT_CYCLE_MS} */
  heartbeatCycleMs?: number;
  /** MAX-TIME-LAST-HEARD in milliseconds. @default {DEFAULT_MAX_TIME_LAST_HEARD_MS} */
  maxTimeLastHeardMs?: number;
  /** MAX-TIME-NO-RESPONSE in milliseconds. @default {DEFAULT_MAX_TIME_NO_RESPONSE_MS} */
  maxTimeNoResponseMs?: number;
  /** Takeover expiry in milliseconds. @default {DEFAULT_TAKEOVER_EXPIRY_MS} */
  takeoverExpiryMs?: number;
  /** Pool elements per Handle Table Response (fewer when 64 KiB is reached first). @default {DEFAULT_HANDLE_TABLE_PAGE_SIZE} */
  handleTablePageSize?: number;
  /** Peers known at once. @default {DEFAULT_MAX_PEERS} */
  maxPeers?: number;
  /** ENRP connections at once. @default {DEFAULT_MAX_ENRP_CONNECTIONS} */
  maxConnections?: number;
  /** Handle table downloads served at once. @default {DEFAULT_MAX_HANDLE_TABLE_SESSIONS} */
  maxHandleTableSessions?: number;
  /** Milliseconds a connection to a peer may take. @default {DEFAULT_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
  /** Opens connections to peers (tests). @default {Deno.connect with TCP_NODELAY} */
  connect?: MessageConnector;
  /** Where ENRP peering logs. @default {the registrar's logger's "enrp" child} */
  logger?: Logger;
}

/** {@linkcode EnrpOptions} after the checks, with every default filled in. */
export interface EnrpSettings {
  readonly hostname: string;
  readonly port: number;
  readonly peers: readonly EnrpPeerAddress[];
  readonly heartbeatCycleMs: number;
  readonly maxTimeLastHeardMs: number;
  readonly maxTimeNoResponseMs: number;
  readonly takeoverExpiryMs: number;
  readonly handleTablePageSize: number;
  readonly maxPeers: number;
  readonly maxConnections: number;
  readonly maxHandleTableSessions: number;
  readonly connectTimeoutMs: number;
  readonly connect: MessageConnector | undefined;
  readonly messageLimits: ResolvedMessageLimits;
  readonly logger: Logger | undefined;
}

const ACTION = "start ENRP peering";

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot ${ACTION} as '${name}' must be an integer from ${min} to ${max}: current value is ${value}`,
    );
  }
  return value;
}

function timer(name: string, value: number): number {
  return integerIn(name, value, MIN_ENRP_TIMER_MS, 0x7fffffff);
}

/**
 * Checks `options` and fills in the defaults.
 *
 * @throws {RangeError} when a value is out of range.
 */
export function resolveEnrpOptions(options: EnrpOptions): EnrpSettings {
  const peers = options.peers ?? [];
  for (const peer of peers) integerIn("peers[].port", peer.port, 1, 65535);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  requirePositiveInteger(ACTION, "connectTimeoutMs", connectTimeoutMs);
  return {
    hostname: options.hostname ?? DEFAULT_ENRP_HOSTNAME,
    port: integerIn("port", options.port ?? DEFAULT_ENRP_PORT, 0, 65535),
    peers,
    heartbeatCycleMs: timer(
      "heartbeatCycleMs",
      options.heartbeatCycleMs ?? DEFAULT_PEER_HEARTBEAT_CYCLE_MS,
    ),
    maxTimeLastHeardMs: timer(
      "maxTimeLastHeardMs",
      options.maxTimeLastHeardMs ?? DEFAULT_MAX_TIME_LAST_HEARD_MS,
    ),
    maxTimeNoResponseMs: timer(
      "maxTimeNoResponseMs",
      options.maxTimeNoResponseMs ?? DEFAULT_MAX_TIME_NO_RESPONSE_MS,
    ),
    takeoverExpiryMs: timer(
      "takeoverExpiryMs",
      options.takeoverExpiryMs ?? DEFAULT_TAKEOVER_EXPIRY_MS,
    ),
    handleTablePageSize: integerIn(
      "handleTablePageSize",
      options.handleTablePageSize ?? DEFAULT_HANDLE_TABLE_PAGE_SIZE,
      1,
      0xffff,
    ),
    maxPeers: integerIn("maxPeers", options.maxPeers ?? DEFAULT_MAX_PEERS, 1, 0xffff),
    maxConnections: integerIn(
      "maxConnections",
      options.maxConnections ?? DEFAULT_MAX_ENRP_CONNECTIONS,
      1,
      0x7fffffff,
    ),
    maxHandleTableSessions: integerIn(
      "maxHandleTableSessions",
      options.maxHandleTableSessions ?? DEFAULT_MAX_HANDLE_TABLE_SESSIONS,
      1,
      0xffff,
    ),
    connectTimeoutMs,
    connect: options.connect,
    messageLimits: resolveMessageLimits(options, ACTION),
    logger: options.logger,
  };
}
