/**
 * Folder-private: user transports stored in a few typed-array fields when they are the common
 * case (SCTP, TCP, UDP or UDP-Lite with one IPv4 address), kept whole otherwise.
 */
import { ParameterType, type TransportUse } from "../wire/codes.ts";
import type { TransportParameter } from "../wire/parameters.ts";

/** The IPv4 dotted quad `text` as an unsigned 32-bit number, or -1 when it is not canonical. */
export function parseIpv4(text: string): number {
  const length = text.length;
  if (length < 7 || length > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      const d = c - 0x30;
      // no leading zeros: the stored form must print back to the same text
      if (d < 0 || d > 9 || (digits === 1 && octet === 0)) return -1;
      octet = octet * 10 + d;
      if (octet > 255) return -1;
      digits++;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

/** The dotted quad of an unsigned 32-bit IPv4 address. */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** The transport-use of a transport; transports without the field count as data only. */
export function transportUseOf(transport: TransportParameter): TransportUse {
  return "transportUse" in transport ? transport.transportUse : 0;
}

/** True when the transport carries the number of addresses its type allows (RFC 5354 §3.3–§3.7). */
export function hasValidAddresses(transport: TransportParameter): boolean {
  if (transport.type === ParameterType.opaqueTransport) return true;
  const count = transport.addresses.length;
  return transport.type === ParameterType.sctpTransport ? count >= 1 : count === 1;
}

/**
 * The IPv4 address of a transport that fits the compact form (SCTP/TCP/UDP/UDP-Lite, exactly one
 * canonical IPv4 address), or -1.
 */
export function compactAddressOf(transport: TransportParameter): number {
  if (
    transport.type === ParameterType.opaqueTransport ||
    transport.type === ParameterType.dccpTransport ||
    transport.addresses.length !== 1
  ) {
    return -1;
  }
  return parseIpv4(transport.addresses[0]!);
}

/** Rebuilds a compact transport. */
export function expandTransport(
  type: number,
  port: number,
  transportUse: TransportUse,
  ipv4: number,
): TransportParameter {
  const addresses = [formatIpv4(ipv4)];
  if (type === ParameterType.sctpTransport || type === ParameterType.tcpTransport) {
    return { type, port, transportUse, addresses };
  }
  return {
    type: type === ParameterType.udpTransport
      ? ParameterType.udpTransport
      : ParameterType.udpLiteTransport,
    port,
    addresses,
  };
}
