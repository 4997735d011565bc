/**
 * Folder-private: what the registrar needs of parameters beyond the message codec: single TLVs
 * as error cause information, the wire size of a Pool Element parameter, transport equality,
 * handle keys, and identifiers and handles as logs show them.
 */
import {
  ParameterType,
  type PoolElementParameter,
  roundup4,
  type SelectionPolicy,
  type TransportParameter,
} from "../wire/mod.ts";
import { policyValueCount, writeSelectionPolicy } from "../wire/policy_parameter.ts";
import { writeTransportParameter } from "../wire/transport_parameters.ts";
import { WireWriter } from "../wire/writer.ts";

/** Bytes an IPv4 / IPv6 Address parameter takes. */
const IPV4_ADDRESS_LENGTH = 8;
const IPV6_ADDRESS_LENGTH = 20;
/** Pool Element TLV header, PE Identifier, Home Registrar Identifier, Registration Life. */
const POOL_ELEMENT_FIXED_LENGTH = 16;

// lib/wire encodes parameters only inside messages: write one into a header-only message and
// take what follows the 4-byte header (the TLV with its padding).
function encodeParameter(write: (w: WireWriter) => void, what: string): Uint8Array {
  const w = new WireWriter(64);
  const mark = w.beginMessage(0, 0);
  write(w);
  return w.finishMessage(mark, what).slice(4);
}

/** The Pool Member Selection Policy TLV of `policy` (cause info of 0x5, RFC 5354 §3.12.6). */
export function encodePolicyParameter(policy: SelectionPolicy): Uint8Array {
  return encodeParameter((w) => writeSelectionPolicy(w, policy), "policy parameter");
}

/** The transport TLV of `transport` (cause info of 0x7, RFC 5354 §3.12.8). */
export function encodeTransportParameter(transport: TransportParameter): Uint8Array {
  return encodeParameter((w) => writeTransportParameter(w, transport), "transport parameter");
}

function addressesLength(addresses: readonly string[]): number {
  let length = 0;
  for (const address of addresses) {
    length += address.includes(":") ? IPV6_ADDRESS_LENGTH : IPV4_ADDRESS_LENGTH;
  }
  return length;
}

/** Bytes a transport TLV takes on the wire, padding included. */
export function transportWireLength(transport: TransportParameter): number {
  switch (transport.type) {
    case ParameterType.opaqueTransport:
      return roundup4(4 + transport.data.length);
    case ParameterType.dccpTransport:
      return 12 + addressesLength(transport.addresses);
    default:
      return 8 + addressesLength(transport.addresses);
  }
}

/** Bytes a policy TLV of `type` takes on the wire (its values are u32s, so no padding). */
export function policyWireLength(type: number, opaqueLength = 0): number {
  const count = policyValueCount(type);
  return 8 + (count < 0 ? roundup4(opaqueLength) : 4 * count);
}

/**
 * Bytes a Pool Element parameter without ASAP transport takes on the wire, padding included:
 * what one more PE adds to a Handle Resolution Response.
 */
export function poolElementWireLength(element: PoolElementParameter): number {
  const policy = element.policy;
  return POOL_ELEMENT_FIXED_LENGTH + transportWireLength(element.userTransport) +
    policyWireLength(policy.type, "opaque" in policy ? policy.opaque.length : 0);
}

/**
 * The fewest and most bytes one PE of a pool with these types takes in a Handle Resolution
 * Response; the most is Infinity where the size varies (SCTP multihoming, opaque transports).
 */
export function poolElementLengthBounds(
  transportType: number,
  policyType: number,
): { min: number; max: number } {
  const fixed = POOL_ELEMENT_FIXED_LENGTH + policyWireLength(policyType);
  switch (transportType) {
    case ParameterType.opaqueTransport:
      return { min: fixed + 4, max: Infinity };
    case ParameterType.sctpTransport:
      return { min: fixed + 8 + IPV4_ADDRESS_LENGTH, max: Infinity };
    default: {
      const header = transportType === ParameterType.dccpTransport ? 12 : 8;
      return {
        min: fixed + header + IPV4_ADDRESS_LENGTH,
        max: fixed + header + IPV6_ADDRESS_LENGTH,
      };
    }
  }
}

/** True when two user transports are the same (type, port, use, addresses, data). */
export function sameTransport(a: TransportParameter, b: TransportParameter): boolean {
  if (a.type !== b.type) return false;
  if (a.type === ParameterType.opaqueTransport || b.type === ParameterType.opaqueTransport) {
    return "data" in a && "data" in b && sameBytes(a.data, b.data);
  }
  if (a.port !== b.port || a.addresses.length !== b.addresses.length) return false;
  if (("transportUse" in a ? a.transportUse : 0) !== ("transportUse" in b ? b.transportUse : 0)) {
    return false;
  }
  if (("serviceCode" in a ? a.serviceCode : 0) !== ("serviceCode" in b ? b.serviceCode : 0)) {
    return false;
  }
  return a.addresses.every((address, i) => address === b.addresses[i]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A string that stands for the handle's bytes one to one, as a `Map` key. */
export function handleKey(handle: Uint8Array): string {
  let key = "";
  for (let i = 0; i < handle.length; i++) key += String.fromCharCode(handle[i]!);
  return key;
}

/** An identifier as the logs and Wireshark show it: 0x and eight hex digits. */
export function formatIdentifier(id: number): string {
  return `0x${id.toString(16).padStart(8, "0")}`;
}

const HANDLE_TEXT = new TextDecoder("utf-8", { fatal: true });

/** A pool handle for logs: its text when printable UTF-8, else hex. */
export function describeHandle(handle: Uint8Array): string {
  try {
    const text = HANDLE_TEXT.decode(handle);
    // deno-lint-ignore no-control-regex
    if (!/[\u0000-\u001f\u007f-\u009f]/.test(text)) return text;
  } catch {
    // Not UTF-8: shown in hex.
  }
  return `0x${Array.from(handle, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
