/**
 * The ENRP flags `registrar` and `serve` share: where ENRP listens, the peers known in advance,
 * the RFC 5353 thresholds and the bounds. ENRP runs when `--enrp` or `--peer` is given.
 *
 * @module
 */
import {
  DEFAULT_ENRP_HOSTNAME,
  DEFAULT_ENRP_PORT,
  DEFAULT_HANDLE_TABLE_PAGE_SIZE,
  DEFAULT_MAX_ENRP_CONNECTIONS,
  DEFAULT_MAX_HANDLE_TABLE_SESSIONS,
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_TIME_LAST_HEARD_MS,
  DEFAULT_MAX_TIME_NO_RESPONSE_MS,
  DEFAULT_PEER_HEARTBEAT_CYCLE_MS,
  DEFAULT_TAKEOVER_EXPIRY_MS,
  type EnrpOptions,
  MIN_ENRP_TIMER_MS,
} from "../lib/registrar/mod.ts";
import { type FlagValues, option, optionalOption, repeatable } from "./flags.ts";
import {
  formatDuration,
  formatHostPort,
  integerIn,
  parseDuration,
  parseHostPort,
} from "./values.ts";

/** The address ENRP listens on when only `--peer` turns it on. */
export const DEFAULT_ENRP_ADDRESS = formatHostPort({
  hostname: DEFAULT_ENRP_HOSTNAME,
  port: DEFAULT_ENRP_PORT,
});

/** A duration flag of at least {@linkcode MIN_ENRP_TIMER_MS}. */
function timer(description: string, fallbackMs: number) {
  return option((text) => {
    const ms = parseDuration(text);
    if (ms < MIN_ENRP_TIMER_MS) throw new RangeError(`expected at least ${MIN_ENRP_TIMER_MS}ms`);
    return ms;
  }, { description, valueName: "DURATION", default: formatDuration(fallbackMs) });
}

/** A count flag from 1 to `max`. */
function bound(description: string, max: number, fallback: number) {
  return option(integerIn(1, max), { description, valueName: "N", default: String(fallback) });
}

/** The ENRP flags. */
export const ENRP_FLAGS = {
  enrp: optionalOption((text) => parseHostPort(text), {
    description:
      `Address the ENRP server listens on over TCP (IANA assigns ENRP no TCP port; ${DEFAULT_ENRP_ADDRESS} when only --peer is given); ENRP runs when this or --peer is given`,
    valueName: "HOST:PORT",
  }),
  peer: repeatable((text) => parseHostPort(text), {
    description: "A peer registrar's ENRP address; the first that answers is the mentor",
    valueName: "HOST:PORT",
  }),
  "heartbeat-cycle": timer(
    "PEER-HEARTBEAT-CYCLE: time between Presence messages to each peer",
    DEFAULT_PEER_HEARTBEAT_CYCLE_MS,
  ),
  "max-time-last-heard": timer(
    "MAX-TIME-LAST-HEARD: a peer silent this long is probed (Presence R=1)",
    DEFAULT_MAX_TIME_LAST_HEARD_MS,
  ),
  "max-time-no-response": timer(
    "MAX-TIME-NO-RESPONSE: wait for the answer to a probe or a request to a peer",
    DEFAULT_MAX_TIME_NO_RESPONSE_MS,
  ),
  "takeover-expiry": timer(
    "Wait for every Init Takeover Ack; then the takeover completes anyway",
    DEFAULT_TAKEOVER_EXPIRY_MS,
  ),
  "handle-table-page-size": bound(
    "PEs in one Handle Table Response before the M bit",
    0xffff,
    DEFAULT_HANDLE_TABLE_PAGE_SIZE,
  ),
  "max-peers": bound("Peer registrars known at once", 0xffff, DEFAULT_MAX_PEERS),
  "max-enrp-connections": bound(
    "ENRP connections open at once",
    0x7fffffff,
    DEFAULT_MAX_ENRP_CONNECTIONS,
  ),
  "max-handle-table-sessions": bound(
    "Handle table downloads served at once",
    0xffff,
    DEFAULT_MAX_HANDLE_TABLE_SESSIONS,
  ),
};

/** ENRP's options from its flags; undefined when neither `--enrp` nor `--peer` is given. */
export function enrpOptions(values: FlagValues<typeof ENRP_FLAGS>): EnrpOptions | undefined {
  if (values.enrp === undefined && values.peer.length === 0) return undefined;
  const address = values.enrp ?? { hostname: DEFAULT_ENRP_HOSTNAME, port: DEFAULT_ENRP_PORT };
  return {
    hostname: address.hostname,
    port: address.port,
    peers: values.peer,
    heartbeatCycleMs: values["heartbeat-cycle"],
    maxTimeLastHeardMs: values["max-time-last-heard"],
    maxTimeNoResponseMs: values["max-time-no-response"],
    takeoverExpiryMs: values["takeover-expiry"],
    handleTablePageSize: values["handle-table-page-size"],
    maxPeers: values["max-peers"],
    maxConnections: values["max-enrp-connections"],
    maxHandleTableSessions: values["max-handle-table-sessions"],
  };
}
