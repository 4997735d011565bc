/**
 * What ENRP peering reports: the state of each peer registrar (for the admin API) and the
 * events "peer-up", "peer-down", "takeover" and "synchronized" on a typed `EventTarget`, which
 * tests await instead of sleeping.
 *
 * @module
 */
import { type TypedEventListener, TypedEventTarget } from "../typed_event_target.ts";

/**
 * A peer registrar's state as this registrar sees it:
 * - `up`: heard from within MAX-TIME-LAST-HEARD;
 * - `probing`: silent that long, a Presence with the R bit is out (RFC 5353 §3.4.3);
 * - `taking-over`: presumed dead, this registrar runs the takeover of its PEs (§3.5);
 * - `dead`: taken over (by this registrar or another), or being taken over by another.
 */
export type EnrpPeerState = "up" | "probing" | "taking-over" | "dead";

/** One peer registrar, as {@linkcode EnrpPeering.peers} lists it. */
export interface EnrpPeerStatus {
  /** Its Server Identifier. */
  readonly serverId: number;
  /** Its ENRP address as "HOST:PORT", when known (from its Server Information or the peer list). */
  readonly address: string | undefined;
  readonly state: EnrpPeerState;
  /** When a message from it last arrived (the clock's milliseconds); undefined if never. */
  readonly lastHeard: number | undefined;
  /** Pool elements this registrar's handlespace has with it as home. */
  readonly poolElements: number;
}

/** Detail of "peer-up": a peer was heard from for the first time, or again after being down. */
export interface PeerUpDetail {
  readonly serverId: number;
  readonly address: string | undefined;
}

/** Detail of "peer-down": a peer is presumed dead. */
export interface PeerDownDetail {
  readonly serverId: number;
  readonly address: string | undefined;
  /** Why: no answer to the probe, no Init Takeover Ack in time, or another registrar's takeover. */
  readonly reason: "no-response" | "no-takeover-ack" | "taken-over";
}

/** Detail of "takeover": the PEs of a dead registrar have a new home. */
export interface TakeoverDetail {
  /** The registrar taken over. */
  readonly targetServerId: number;
  /** Their new home: this registrar's ID when `local`. */
  readonly homeServerId: number;
  /** PEs re-homed in this registrar's handlespace. */
  readonly poolElements: number;
  /** True when this registrar won the arbitration and is the new home. */
  readonly local: boolean;
}

/** Detail of "synchronized": the first download of the handlespace is done (or not needed). */
export interface SynchronizedDetail {
  /** The mentor's Server Identifier; undefined when no mentor answered (alone). */
  readonly mentorServerId: number | undefined;
  /** PEs in the handlespace afterwards. */
  readonly poolElements: number;
}

/** Event type → its detail. */
export interface EnrpEventDetails {
  "peer-up": PeerUpDetail;
  "peer-down": PeerDownDetail;
  takeover: TakeoverDetail;
  synchronized: SynchronizedDetail;
}

/** A listener of one event type. */
export type EnrpEventListener<K extends keyof EnrpEventDetails> = TypedEventListener<
  EnrpEventDetails,
  K
>;

/** An `EventTarget` whose listeners are typed by {@linkcode EnrpEventDetails}. */
export class EnrpEventTarget extends TypedEventTarget<EnrpEventDetails> {}
