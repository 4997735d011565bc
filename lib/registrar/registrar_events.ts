/**
 * The events a running registrar dispatches, as a typed `EventTarget`, so that the in-process
 * proxy reacts to pool changes without polling and tests wait on them instead of sleeping.
 *
 * @module
 */
import { type TypedEventListener, TypedEventTarget } from "../typed_event_target.ts";
import type { PoolElementParameter } from "../wire/mod.ts";

/** Why a pool element (PE) was added, updated or removed. */
export type PoolElementChangeReason =
  /** An ASAP Registration: a new PE, or a re-registration with new values (RFC 5352 §3.1). */
  | "registration"
  /** {@linkcode Registrar.registerLocal} or {@linkcode Registrar.deregisterLocal}. */
  | "local"
  /** An ASAP Deregistration from the PE itself (RFC 5352 §3.2). */
  | "deregistration"
  /** No answer to an Endpoint Keep-Alive within the timeout (RFC 5352 §3.4). */
  | "keep-alive-timeout"
  /** The PE's ASAP connection closed, or broke a framing rule and was closed. */
  | "connection-closed"
  /** The registration life ran out without a re-registration (RFC 5352 §3.2). */
  | "expiry"
  /** Endpoint Unreachable reports reached MAX-BAD-PE-REPORT (RFC 5352 §3.5). */
  | "unreachable"
  /** The registrar shut down and closed the PE's connection. */
  | "shutdown"
  /** A Handle Update or Handle Table entry from the PE's home registrar (RFC 5353 §3.3). */
  | "peer"
  /** ENRP takeover: the PE's dead home was replaced (RFC 5353 §3.5.2). */
  | "takeover"
  /** The audit found the PE gone from its home's own list (RFC 5353 §3.6.3). */
  | "audit";

/** Detail of "pe-added", "pe-updated" and "pe-removed" events. */
export interface PoolElementChangeDetail {
  /** The pool handle (the handlespace's copy: do not modify). */
  readonly handle: Uint8Array;
  /** The PE identifier. */
  readonly peId: number;
  readonly reason: PoolElementChangeReason;
  /** The PE as it is now, or as it was when removed (a snapshot). */
  readonly element: PoolElementParameter;
  /** True when this registrar is the PE's home (its owner). */
  readonly own: boolean;
}

/** Event type → its detail. */
export interface RegistrarEventDetails {
  "pe-added": PoolElementChangeDetail;
  "pe-updated": PoolElementChangeDetail;
  "pe-removed": PoolElementChangeDetail;
}

/** A listener of one event type. */
export type RegistrarEventListener<K extends keyof RegistrarEventDetails> = TypedEventListener<
  RegistrarEventDetails,
  K
>;

/** An `EventTarget` whose listeners are typed by {@linkcode RegistrarEventDetails}. */
export class RegistrarEventTarget extends TypedEventTarget<RegistrarEventDetails> {}
