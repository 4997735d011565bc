/**
 * Folder-private: the seam between the registrar's handlespace bookkeeping (ownership, events,
 * expiry) and the protocol endpoints that act on it: {@linkcode RegistrarCore} for the ASAP
 * server, {@linkcode RegistrarPeerCore} for ENRP peering.
 */
import type { Logger } from "@logtape/logtape";
import type { Handlespace, RegisterResult } from "../handlespace/mod.ts";
import type { PoolElementParameter } from "../wire/mod.ts";
import type { PoolElementChangeReason } from "./registrar_events.ts";
import type { RegistrarSettings } from "./registrar_options.ts";

/** One PE this registrar owns, and who vouches for it. */
export interface OwnedPoolElement {
  /** The pool handle (the handlespace's copy). */
  readonly handle: Uint8Array;
  readonly peId: number;
  /** Whose liveness keeps the PE registered; changes when a re-registration moves it. */
  owner: PoolElementOwner;
}

/**
 * Who vouches for owned PEs: an ASAP connection (keep-alives) or the local API (health
 * checks). The registrar keeps `owned` up to date and calls the hooks after each change.
 */
export interface PoolElementOwner {
  /** The PEs it owns now. */
  readonly owned: Set<OwnedPoolElement>;
  /** False once the owner can no longer vouch (its connection closed). */
  readonly open: boolean;
  /** `pe` was just added to `owned`. */
  adopted(pe: OwnedPoolElement): void;
  /** The registration life of `pe` ran out and the PE was removed (RFC 5352 §2.2.4). */
  expired(pe: OwnedPoolElement): void;
  /** An Endpoint Unreachable names `pe`: check it now (RFC 5352 §3.5). */
  probe(pe: OwnedPoolElement): void;
}

/** Outcome of a deregistration request. */
export type DeregisterOutcome = "removed" | "unknown" | "not-owner";

/** What a protocol endpoint may do to the registrar's handlespace. */
export interface RegistrarCore {
  readonly settings: RegistrarSettings;
  readonly handlespace: Handlespace;
  readonly logger: Logger;
  /**
   * Registers or re-registers `element` with this registrar as home and `owner` as who vouches
   * for it; refuses with 0x4 a PE ID that another live owner holds with another user transport.
   */
  register(
    handle: Uint8Array,
    element: PoolElementParameter,
    owner: PoolElementOwner,
    reason: PoolElementChangeReason,
  ): RegisterResult;
  /** Removes a PE on its owner's request; other owners get "not-owner". */
  deregister(
    handle: Uint8Array,
    peId: number,
    owner: PoolElementOwner,
    reason: PoolElementChangeReason,
  ): DeregisterOutcome;
  /** Removes every PE `owner` owns (its connection closed or stopped answering). */
  releaseAll(owner: PoolElementOwner, reason: PoolElementChangeReason): void;
  /** Counts an Endpoint Unreachable report and removes the PE at MAX-BAD-PE-REPORT. */
  reportUnreachable(handle: Uint8Array, peId: number): void;
  /**
   * PEs of the pool that selections skip although registered: PEs owned by a peer whose
   * Endpoint Unreachable reports here reached MAX-BAD-PE-REPORT (only the owner removes them).
   */
  excluded(handle: Uint8Array): ReadonlySet<number> | undefined;
}

/** Why ENRP peering changes a PE it does not own. */
export type PeerChangeReason = "peer" | "audit";

/**
 * What ENRP peering may do to the registrar's handlespace (RFC 5353 §3.3, §3.5, §3.6). Nothing
 * done through it is announced again: Handle Updates go out only for changes made by ASAP and
 * the local API.
 */
export interface RegistrarPeerCore {
  readonly settings: RegistrarSettings;
  readonly handlespace: Handlespace;
  readonly logger: Logger;
  /**
   * Adds or updates a PE as its home registrar (`element.homeRegistrarId`) announced it, in a
   * Handle Update or a Handle Table entry. A PE this registrar owned moves to that home.
   */
  applyPeerElement(
    handle: Uint8Array,
    element: PoolElementParameter,
    reason: PeerChangeReason,
  ): RegisterResult;
  /** Removes a PE on its home's word (DEL_PE) or an audit; false when there was none. */
  removePeerElement(handle: Uint8Array, peId: number, reason: PeerChangeReason): boolean;
  /** Takeover (RFC 5353 §3.5.2): every PE homed at `from` gets `to` as home; returns how many. */
  rehome(from: number, to: number): number;
  /** True when a live owner here (an open ASAP connection, the local API) vouches for the PE. */
  vouchesFor(handle: Uint8Array, peId: number): boolean;
}
