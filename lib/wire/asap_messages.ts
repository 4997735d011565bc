/**
 * ASAP messages (RFC 5352 §2.2) as a discriminated union on `type`.
 */
import type { AsapMessageType } from "./codes.ts";
import type { ErrorCause, PoolElementParameter, SctpOrTcpTransport } from "./parameters.ts";
import type { SelectionPolicy } from "./selection_policy.ts";

/** Fields every decoded message may carry. */
export interface MessageExtras {
  /**
   * Unrecognized parameters whose type bits say "report" (RFC 5354 §3), as complete TLVs (views
   * into the input), so that the receiver can answer with an Error carrying cause 0x1.
   */
  readonly unrecognizedParameters?: readonly Uint8Array[];
}

/** ASAP_REGISTRATION: a PE registers with its home registrar. */
export interface AsapRegistration extends MessageExtras {
  readonly type: typeof AsapMessageType.registration;
  readonly poolHandle: Uint8Array;
  readonly poolElement: PoolElementParameter;
}

/** ASAP_DEREGISTRATION: a PE leaves a pool. */
export interface AsapDeregistration extends MessageExtras {
  readonly type: typeof AsapMessageType.deregistration;
  readonly poolHandle: Uint8Array;
  readonly poolElementId: number;
}

/** ASAP_REGISTRATION_RESPONSE: accepted, or rejected (R bit) with the causes. */
export interface AsapRegistrationResponse extends MessageExtras {
  readonly type: typeof AsapMessageType.registrationResponse;
  readonly reject: boolean;
  readonly poolHandle: Uint8Array;
  readonly poolElementId: number;
  readonly errorCauses?: readonly ErrorCause[];
}

/** ASAP_DEREGISTRATION_RESPONSE. */
export interface AsapDeregistrationResponse extends MessageExtras {
  readonly type: typeof AsapMessageType.deregistrationResponse;
  readonly poolHandle: Uint8Array;
  readonly poolElementId: number;
  readonly errorCauses?: readonly ErrorCause[];
}

/** ASAP_HANDLE_RESOLUTION, with the Handle Resolution Option's item count when present. */
export interface AsapHandleResolution extends MessageExtras {
  readonly type: typeof AsapMessageType.handleResolution;
  readonly poolHandle: Uint8Array;
  /** Handle Resolution Option (0x803f); 0xffffffff asks for as many as possible. */
  readonly items?: number;
}

/** ASAP_HANDLE_RESOLUTION_RESPONSE: the pool's policy and PEs, or the causes (e.g. 0x9). */
export interface AsapHandleResolutionResponse extends MessageExtras {
  readonly type: typeof AsapMessageType.handleResolutionResponse;
  readonly poolHandle: Uint8Array;
  readonly policy?: SelectionPolicy;
  readonly poolElements: readonly PoolElementParameter[];
  readonly errorCauses?: readonly ErrorCause[];
}

/** ASAP_ENDPOINT_KEEP_ALIVE from a registrar to a PE; H asks the PE to adopt the sender as home. */
export interface AsapEndpointKeepAlive extends MessageExtras {
  readonly type: typeof AsapMessageType.endpointKeepAlive;
  readonly home: boolean;
  readonly serverId: number;
  readonly poolHandle: Uint8Array;
  /** RSPLIB's extension: the PE Identifier TLV (DECISIONS.md: Poolgate sends it). */
  readonly poolElementId?: number;
}

/** ASAP_ENDPOINT_KEEP_ALIVE_ACK from a PE. */
export interface AsapEndpointKeepAliveAck extends MessageExtras {
  readonly type: typeof AsapMessageType.endpointKeepAliveAck;
  readonly poolHandle: Uint8Array;
  readonly poolElementId: number;
}

/** ASAP_ENDPOINT_UNREACHABLE from a PU about a PE it could not reach. */
export interface AsapEndpointUnreachable extends MessageExtras {
  readonly type: typeof AsapMessageType.endpointUnreachable;
  readonly poolHandle: Uint8Array;
  readonly poolElementId: number;
}

/** ASAP_SERVER_ANNOUNCE: a registrar's ID and how to reach its ASAP endpoint. */
export interface AsapServerAnnounce extends MessageExtras {
  readonly type: typeof AsapMessageType.serverAnnounce;
  readonly serverId: number;
  readonly transports: readonly SctpOrTcpTransport[];
}

/** ASAP_COOKIE from a PE to a PU: an opaque state checkpoint. */
export interface AsapCookie extends MessageExtras {
  readonly type: typeof AsapMessageType.cookie;
  readonly cookie: Uint8Array;
}

/** ASAP_COOKIE_ECHO from a PU to a new PE: the last cookie, sent before anything else. */
export interface AsapCookieEcho extends MessageExtras {
  readonly type: typeof AsapMessageType.cookieEcho;
  readonly cookie: Uint8Array;
}

/** ASAP_BUSINESS_CARD: a pool handle and preferred failover targets. */
export interface AsapBusinessCard extends MessageExtras {
  readonly type: typeof AsapMessageType.businessCard;
  readonly poolHandle: Uint8Array;
  readonly poolElements: readonly PoolElementParameter[];
}

/** ASAP_ERROR: an Operation Error with one or more causes. */
export interface AsapError extends MessageExtras {
  readonly type: typeof AsapMessageType.error;
  readonly errorCauses: readonly ErrorCause[];
}

/** Any ASAP message. */
export type AsapMessage =
  | AsapRegistration
  | AsapDeregistration
  | AsapRegistrationResponse
  | AsapDeregistrationResponse
  | AsapHandleResolution
  | AsapHandleResolutionResponse
  | AsapEndpointKeepAlive
  | AsapEndpointKeepAliveAck
  | AsapEndpointUnreachable
  | AsapServerAnnounce
  | AsapCookie
  | AsapCookieEcho
  | AsapBusinessCard
  | AsapError;
