/**
 * Parameter values of RFC 5354 that messages nest: addresses, transports, pool elements,
 * server information and error causes.
 */
import type { ErrorCauseCode, ParameterType, TransportUse } from "./codes.ts";
import type { SelectionPolicy } from "./selection_policy.ts";

/**
 * An IP address in its textual form: dotted quad for an IPv4 Address parameter, RFC 5952
 * text for an IPv6 Address parameter.
 */
export type IpAddress = string;

/** SCTP or TCP transport: port, transport-use and addresses (SCTP: 1..n, TCP: exactly 1). */
export interface SctpOrTcpTransport {
  readonly type: typeof ParameterType.sctpTransport | typeof ParameterType.tcpTransport;
  readonly port: number;
  readonly transportUse: TransportUse;
  readonly addresses: readonly IpAddress[];
}

/** UDP or UDP-Lite transport: port and exactly one address (the second field is reserved). */
export interface UdpTransport {
  readonly type: typeof ParameterType.udpTransport | typeof ParameterType.udpLiteTransport;
  readonly port: number;
  readonly addresses: readonly IpAddress[];
}

/** DCCP transport: port, service code and exactly one address. */
export interface DccpTransport {
  readonly type: typeof ParameterType.dccpTransport;
  readonly port: number;
  readonly serviceCode: number;
  readonly addresses: readonly IpAddress[];
}

/** Opaque Transport (RFC 5354 §3.16): an arbitrary byte string (a copy). */
export interface OpaqueTransport {
  readonly type: typeof ParameterType.opaqueTransport;
  readonly data: Uint8Array;
}

/** A user transport parameter of a pool element. */
export type TransportParameter =
  | SctpOrTcpTransport
  | UdpTransport
  | DccpTransport
  | OpaqueTransport;

/** A Pool Element parameter (RFC 5354 §3.10). Registration Life is in milliseconds (DECISIONS.md). */
export interface PoolElementParameter {
  readonly identifier: number;
  readonly homeRegistrarId: number;
  /** Milliseconds; {@linkcode REGISTRATION_LIFE_INFINITE} (-1) never expires. */
  readonly registrationLife: number;
  readonly userTransport: TransportParameter;
  readonly policy: SelectionPolicy;
  /** The PE's ASAP endpoint as its home registrar sees it (ENRP Handle Update and Handle Table). */
  readonly asapTransport?: SctpOrTcpTransport;
}

/** A Server Information parameter (RFC 5354 §3.11): an ENRP server's ID and transport. */
export interface ServerInformation {
  readonly serverId: number;
  readonly transport: SctpOrTcpTransport;
}

/** One error cause of an Operation Error parameter (RFC 5354 §3.12); unknown codes are kept. */
export interface ErrorCause {
  readonly code: ErrorCauseCode | number;
  /** The cause information (an offending TLV or message), empty when the cause has none. */
  readonly info: Uint8Array;
}
