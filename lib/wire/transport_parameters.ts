/**
 * Address and transport parameters (RFC 5354 §3.1–§3.7, §3.16): IPv4/IPv6 Address, DCCP, SCTP,
 * TCP, UDP, UDP-Lite and Opaque Transport.
 */
import { ParameterType, TransportUse } from "./codes.ts";
import { formatIpv4, formatIpv6, parseIpAddress, parseIpv4 } from "./ip_address.ts";
import type {
  DccpTransport,
  IpAddress,
  SctpOrTcpTransport,
  TransportParameter,
  UdpTransport,
} from "./parameters.ts";
import type { WireReader } from "./reader.ts";
import type { WireWriter } from "./writer.ts";

/** True for the parameter types that can be a pool element's user transport. */
export function isTransportParameterType(type: number): boolean {
  return (type >= ParameterType.dccpTransport && type <= ParameterType.udpLiteTransport) ||
    type === ParameterType.opaqueTransport;
}

function readAddress(r: WireReader, type: number): IpAddress {
  const ipv4 = type === ParameterType.ipv4Address;
  const what = ipv4 ? "IPv4 Address parameter" : "IPv6 Address parameter";
  const size = ipv4 ? 4 : 16;
  const outer = r.enterParameter(what);
  if (r.remaining() !== size) {
    r.fail(what, `length ${r.remaining() + 4} is not ${size + 4}`, r.offset - 2);
  }
  const at = r.skip(size, what);
  const text = ipv4 ? formatIpv4(r.input, at) : formatIpv6(r.input, at);
  r.leaveParameter(outer, what);
  return text;
}

// Reads the address TLVs that end a transport parameter: one, or 1..n for SCTP (multihoming).
function readAddresses(r: WireReader, what: string, multihomed: boolean): IpAddress[] {
  const addresses: IpAddress[] = [];
  for (let type = r.nextParameterType(what); type !== -1; type = r.nextParameterType(what)) {
    if (type !== ParameterType.ipv4Address && type !== ParameterType.ipv6Address) {
      r.unexpected(type, what);
    }
    if (addresses.length === 1 && !multihomed) r.fail(what, "more than one address");
    addresses.push(readAddress(r, type));
  }
  if (addresses.length === 0) r.fail(what, "no address");
  return addresses;
}

function readTransportUse(r: WireReader, what: string): TransportUse {
  const use = r.u16(what);
  if (use === TransportUse.dataOnly) return TransportUse.dataOnly;
  if (use === TransportUse.dataPlusControl) return TransportUse.dataPlusControl;
  return r.fail(what, `transport-use ${use} is neither 0 nor 1`, r.offset - 2);
}

/** Reads an SCTP or TCP Transport parameter whose type `type` was peeked. @throws {WireError} */
export function readSctpOrTcpTransport(r: WireReader, type: number): SctpOrTcpTransport {
  if (type !== ParameterType.sctpTransport && type !== ParameterType.tcpTransport) {
    return r.unexpected(type, "transport parameter");
  }
  const sctp = type === ParameterType.sctpTransport;
  const what = sctp ? "SCTP Transport parameter" : "TCP Transport parameter";
  const outer = r.enterParameter(what);
  const port = r.u16(what);
  const transportUse = readTransportUse(r, what);
  const addresses = readAddresses(r, what, sctp);
  r.leaveParameter(outer, what);
  return { type, port, transportUse, addresses };
}

function readUdpTransport(
  r: WireReader,
  type: typeof ParameterType.udpTransport | typeof ParameterType.udpLiteTransport,
): UdpTransport {
  const what = type === ParameterType.udpTransport
    ? "UDP Transport parameter"
    : "UDP-Lite Transport parameter";
  const outer = r.enterParameter(what);
  const port = r.u16(what);
  r.u16(what); // reserved: sent as 0, ignored on receipt
  const addresses = readAddresses(r, what, false);
  r.leaveParameter(outer, what);
  return { type, port, addresses };
}

function readDccpTransport(r: WireReader): DccpTransport {
  const what = "DCCP Transport parameter";
  const outer = r.enterParameter(what);
  const port = r.u16(what);
  r.u16(what); // reserved
  const serviceCode = r.u32(what);
  const addresses = readAddresses(r, what, false);
  r.leaveParameter(outer, what);
  return { type: ParameterType.dccpTransport, port, serviceCode, addresses };
}

/**
 * Reads the user transport parameter whose type `type` was peeked; Opaque Transport data is a
 * copy.
 *
 * @throws {WireError}
 */
export function readTransportParameter(r: WireReader, type: number): TransportParameter {
  switch (type) {
    case ParameterType.sctpTransport:
    case ParameterType.tcpTransport:
      return readSctpOrTcpTransport(r, type);
    case ParameterType.udpTransport:
    case ParameterType.udpLiteTransport:
      return readUdpTransport(r, type);
    case ParameterType.dccpTransport:
      return readDccpTransport(r);
    case ParameterType.opaqueTransport: {
      const what = "Opaque Transport parameter";
      const outer = r.enterParameter(what);
      const data = r.rest().slice();
      r.leaveParameter(outer, what);
      return { type, data };
    }
    default:
      return r.unexpected(type, "user transport parameter");
  }
}

/**
 * Writes an IPv4 or IPv6 Address parameter for `address`.
 *
 * @throws {TypeError} when `address` is neither IPv4 nor IPv6 text.
 */
export function writeAddress(w: WireWriter, address: IpAddress): void {
  let mark: number;
  if (address.includes(":")) {
    const bytes = parseIpAddress(address);
    if (bytes === undefined) throw badAddress(address);
    mark = w.beginParameter(ParameterType.ipv6Address);
    w.bytes(bytes);
  } else {
    // IPv4 is parsed straight into the message: no buffer of its own.
    mark = w.beginParameter(ParameterType.ipv4Address);
    const at = w.reserve(4); // before reading w.buffer: reserving may replace it
    if (!parseIpv4(address, w.buffer, at)) throw badAddress(address);
  }
  w.endParameter(mark, "address parameter");
}

function badAddress(address: string): TypeError {
  return new TypeError(`Cannot encode address '${address}' as it is neither IPv4 nor IPv6 text`);
}

function writeAddresses(w: WireWriter, addresses: readonly IpAddress[], multihomed: boolean): void {
  if (addresses.length === 0 || (!multihomed && addresses.length > 1)) {
    throw new RangeError(
      `Cannot encode transport parameter as it must have ${
        multihomed ? "at least one address" : "exactly one address"
      }: current count is ${addresses.length}`,
    );
  }
  for (const address of addresses) writeAddress(w, address);
}

/**
 * Writes a user transport, ASAP transport or server transport parameter.
 *
 * @throws {RangeError} when a field is out of range or the address count is wrong.
 * @throws {TypeError} when an address is not IP address text.
 */
export function writeTransportParameter(w: WireWriter, transport: TransportParameter): void {
  const mark = w.beginParameter(transport.type);
  switch (transport.type) {
    case ParameterType.sctpTransport:
    case ParameterType.tcpTransport:
      w.u16(transport.port, "transport port");
      w.u16(transport.transportUse, "transport-use");
      writeAddresses(w, transport.addresses, transport.type === ParameterType.sctpTransport);
      break;
    case ParameterType.udpTransport:
    case ParameterType.udpLiteTransport:
      w.u16(transport.port, "transport port");
      w.u16(0, "reserved");
      writeAddresses(w, transport.addresses, false);
      break;
    case ParameterType.dccpTransport:
      w.u16(transport.port, "transport port");
      w.u16(0, "reserved");
      w.u32(transport.serviceCode, "DCCP service code");
      writeAddresses(w, transport.addresses, false);
      break;
    case ParameterType.opaqueTransport:
      w.bytes(transport.data);
      break;
  }
  w.endParameter(mark, "transport parameter");
}
