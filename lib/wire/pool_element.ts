/**
 * The Pool Element parameter (RFC 5354 §3.10) and Server Information parameter (§3.11), shared
 * by Registration, Handle Resolution Response, Business Card, Handle Update, Handle Table
 * Response, Presence and List Response.
 */
import { ParameterType } from "./codes.ts";
import type { PoolElementParameter, ServerInformation } from "./parameters.ts";
import { readSelectionPolicy, writeSelectionPolicy } from "./policy_parameter.ts";
import type { WireReader } from "./reader.ts";
import {
  isTransportParameterType,
  readSctpOrTcpTransport,
  readTransportParameter,
  writeTransportParameter,
} from "./transport_parameters.ts";
import type { WireWriter } from "./writer.ts";

/**
 * Reads the Pool Element parameter at the cursor: identifiers, Registration Life (ms), user
 * transport, policy and the optional ASAP transport (SCTP or TCP).
 *
 * @throws {WireError}
 */
export function readPoolElement(r: WireReader): PoolElementParameter {
  const what = "Pool Element parameter";
  const outer = r.enterParameter(what);
  const identifier = r.u32(what);
  const homeRegistrarId = r.u32(what);
  const registrationLife = r.i32(what);
  let type = r.nextParameterType(what);
  if (!isTransportParameterType(type)) r.unexpected(type, what);
  const userTransport = readTransportParameter(r, type);
  type = r.nextParameterType(what);
  if (type !== ParameterType.poolMemberSelectionPolicy) r.unexpected(type, what);
  const policy = readSelectionPolicy(r);
  type = r.nextParameterType(what);
  let poolElement: PoolElementParameter;
  if (type === -1) {
    poolElement = { identifier, homeRegistrarId, registrationLife, userTransport, policy };
  } else {
    const asapTransport = readSctpOrTcpTransport(r, type);
    r.expectEnd(what);
    poolElement = {
      identifier,
      homeRegistrarId,
      registrationLife,
      userTransport,
      policy,
      asapTransport,
    };
  }
  r.leaveParameter(outer, what);
  return poolElement;
}

/**
 * Writes a Pool Element parameter.
 *
 * @throws {RangeError} when a field is out of range.
 * @throws {TypeError} when an address is not IP address text.
 */
export function writePoolElement(w: WireWriter, poolElement: PoolElementParameter): void {
  const mark = w.beginParameter(ParameterType.poolElement);
  w.u32(poolElement.identifier, "PE identifier");
  w.u32(poolElement.homeRegistrarId, "home registrar identifier");
  w.i32(poolElement.registrationLife, "registration life");
  writeTransportParameter(w, poolElement.userTransport);
  writeSelectionPolicy(w, poolElement.policy);
  if (poolElement.asapTransport !== undefined) {
    writeTransportParameter(w, poolElement.asapTransport);
  }
  w.endParameter(mark, "Pool Element parameter");
}

/** Reads the Server Information parameter at the cursor. @throws {WireError} */
export function readServerInformation(r: WireReader): ServerInformation {
  const what = "Server Information parameter";
  const outer = r.enterParameter(what);
  const serverId = r.u32(what);
  const transport = readSctpOrTcpTransport(r, r.nextParameterType(what));
  r.expectEnd(what);
  r.leaveParameter(outer, what);
  return { serverId, transport };
}

/** Writes a Server Information parameter. @throws {RangeError} @throws {TypeError} */
export function writeServerInformation(w: WireWriter, server: ServerInformation): void {
  const mark = w.beginParameter(ParameterType.serverInformation);
  w.u32(server.serverId, "server identifier");
  writeTransportParameter(w, server.transport);
  w.endParameter(mark, "Server Information parameter");
}
