/** ASAP messages (RFC 5352 §2.2) on the wire: one decoder and one encoder with a switch per type. */
import { openMessage, unrecognizedMessage } from "./_envelope.ts";
import {
  expectIdentifier,
  expectParameter,
  expectPoolHandle,
  readErrorBody,
  readFinalOperationError,
  readPoolElements,
  writePoolElements,
} from "./_message_parts.ts";
import type {
  AsapBusinessCard,
  AsapEndpointKeepAlive,
  AsapHandleResolution,
  AsapHandleResolutionResponse,
  AsapMessage,
  AsapRegistrationResponse,
  AsapServerAnnounce,
} from "./asap_messages.ts";
import {
  readCookie,
  readHandleResolutionOption,
  readPoolElementIdentifier,
  writeHandleResolutionOption,
  writeOpaqueParameter,
  writePoolElementIdentifier,
  writePoolHandle,
} from "./basic_parameters.ts";
import { AsapMessageType, MessageFlag, ParameterType } from "./codes.ts";
import { type DecodeOptions, resolveDecodeOptions } from "./decode_options.ts";
import { writeOperationError } from "./error_causes.ts";
import type { ErrorCause, PoolElementParameter, SctpOrTcpTransport } from "./parameters.ts";
import { readPoolElement, writePoolElement } from "./pool_element.ts";
import { readSelectionPolicy, writeSelectionPolicy } from "./policy_parameter.ts";
import type { WireReader } from "./reader.ts";
import type { SelectionPolicy } from "./selection_policy.ts";
import { readSctpOrTcpTransport, writeTransportParameter } from "./transport_parameters.ts";
import { WireWriter } from "./writer.ts";

function readRegistrationResponse(r: WireReader, flags: number): AsapRegistrationResponse {
  const what = "ASAP Registration Response";
  const reject = (flags & MessageFlag.reject) !== 0;
  const poolHandle = expectPoolHandle(r, what);
  const poolElementId = expectIdentifier(r, what);
  const errorCauses = readFinalOperationError(r, what);
  const type = AsapMessageType.registrationResponse;
  return errorCauses === undefined
    ? { type, reject, poolHandle, poolElementId }
    : { type, reject, poolHandle, poolElementId, errorCauses };
}

function readHandleResolution(r: WireReader): AsapHandleResolution {
  const what = "ASAP Handle Resolution";
  const poolHandle = expectPoolHandle(r, what);
  const next = r.nextParameterType(what);
  if (next === -1) return { type: AsapMessageType.handleResolution, poolHandle };
  if (next !== ParameterType.handleResolutionOption) r.unexpected(next, what);
  const items = readHandleResolutionOption(r);
  r.expectEnd(what);
  return { type: AsapMessageType.handleResolution, poolHandle, items };
}

function readHandleResolutionResponse(r: WireReader): AsapHandleResolutionResponse {
  const what = "ASAP Handle Resolution Response";
  const type = AsapMessageType.handleResolutionResponse;
  const poolHandle = expectPoolHandle(r, what);
  let policy: SelectionPolicy | undefined;
  if (r.nextParameterType(what) === ParameterType.poolMemberSelectionPolicy) {
    policy = readSelectionPolicy(r);
  }
  const poolElements: PoolElementParameter[] = [];
  const next = readPoolElements(r, poolElements, what);
  let errorCauses: ErrorCause[] | undefined;
  if (next === ParameterType.operationError) {
    errorCauses = readFinalOperationError(r, what);
  } else if (next !== -1) {
    r.unexpected(next, what);
  }
  if (policy === undefined) {
    return errorCauses === undefined
      ? { type, poolHandle, poolElements }
      : { type, poolHandle, poolElements, errorCauses };
  }
  return errorCauses === undefined
    ? { type, poolHandle, policy, poolElements }
    : { type, poolHandle, policy, poolElements, errorCauses };
}

function readEndpointKeepAlive(r: WireReader, flags: number): AsapEndpointKeepAlive {
  const what = "ASAP Endpoint Keep-Alive";
  const type = AsapMessageType.endpointKeepAlive;
  const home = (flags & MessageFlag.home) !== 0;
  const serverId = r.u32(what);
  const poolHandle = expectPoolHandle(r, what);
  const next = r.nextParameterType(what);
  if (next === -1) return { type, home, serverId, poolHandle };
  if (next !== ParameterType.poolElementIdentifier) r.unexpected(next, what);
  const poolElementId = readPoolElementIdentifier(r);
  r.expectEnd(what);
  return { type, home, serverId, poolHandle, poolElementId };
}

function readServerAnnounce(r: WireReader): AsapServerAnnounce {
  const what = "ASAP Server Announce";
  const serverId = r.u32(what);
  const transports: SctpOrTcpTransport[] = [];
  for (let next = r.nextParameterType(what); next !== -1; next = r.nextParameterType(what)) {
    transports.push(readSctpOrTcpTransport(r, next));
  }
  return { type: AsapMessageType.serverAnnounce, serverId, transports };
}

function readCookieBody(r: WireReader, what: string): Uint8Array {
  expectParameter(r, ParameterType.cookie, what);
  const cookie = readCookie(r);
  r.expectEnd(what);
  return cookie;
}

function readBusinessCard(r: WireReader): AsapBusinessCard {
  const what = "ASAP Business Card";
  const poolHandle = expectPoolHandle(r, what);
  // RSPLIB puts a policy parameter after the handle; RFC 5352 §2.2.13 has none: read and drop.
  if (r.nextParameterType(what) === ParameterType.poolMemberSelectionPolicy) {
    readSelectionPolicy(r);
  }
  const poolElements: PoolElementParameter[] = [];
  const next = readPoolElements(r, poolElements, what);
  if (next !== -1 || poolElements.length === 0) r.unexpected(next, what);
  return { type: AsapMessageType.businessCard, poolHandle, poolElements };
}

function readAsapBody(r: WireReader, type: number, flags: number): AsapMessage {
  switch (type) {
    case AsapMessageType.registration: {
      const what = "ASAP Registration";
      const poolHandle = expectPoolHandle(r, what);
      expectParameter(r, ParameterType.poolElement, what);
      const poolElement = readPoolElement(r);
      r.expectEnd(what);
      return { type, poolHandle, poolElement };
    }
    case AsapMessageType.deregistration:
    case AsapMessageType.endpointKeepAliveAck:
    case AsapMessageType.endpointUnreachable: {
      const what = "ASAP message";
      const poolHandle = expectPoolHandle(r, what);
      const poolElementId = expectIdentifier(r, what);
      r.expectEnd(what);
      return { type, poolHandle, poolElementId };
    }
    case AsapMessageType.registrationResponse:
      return readRegistrationResponse(r, flags);
    case AsapMessageType.deregistrationResponse: {
      const what = "ASAP Deregistration Response";
      const poolHandle = expectPoolHandle(r, what);
      const poolElementId = expectIdentifier(r, what);
      const errorCauses = readFinalOperationError(r, what);
      return errorCauses === undefined
        ? { type, poolHandle, poolElementId }
        : { type, poolHandle, poolElementId, errorCauses };
    }
    case AsapMessageType.handleResolution:
      return readHandleResolution(r);
    case AsapMessageType.handleResolutionResponse:
      return readHandleResolutionResponse(r);
    case AsapMessageType.endpointKeepAlive:
      return readEndpointKeepAlive(r, flags);
    case AsapMessageType.serverAnnounce:
      return readServerAnnounce(r);
    case AsapMessageType.cookie:
    case AsapMessageType.cookieEcho:
      return { type, cookie: readCookieBody(r, "ASAP Cookie") };
    case AsapMessageType.businessCard:
      return readBusinessCard(r);
    case AsapMessageType.error:
      return { type, errorCauses: readErrorBody(r, "ASAP Error") };
    default:
      return unrecognizedMessage(r.input, r.end, "ASAP message");
  }
}

/**
 * Decodes one ASAP message: `bytes` holds exactly the message, with or without its final
 * padding. Pool handles, cookies, cause info and unrecognized parameters are views of `bytes`:
 * `slice()` what you keep.
 *
 * @throws {WireError} on malformed input, an unknown message type (cause 0x2) or an unknown
 * parameter whose action bits say stop (cause 0x1).
 * @throws {RangeError} when `options` holds an invalid limit.
 */
export function decodeAsapMessage(bytes: Uint8Array, options?: DecodeOptions): AsapMessage {
  const r = openMessage(bytes, resolveDecodeOptions(options), "ASAP message");
  const message = readAsapBody(r, bytes[0]!, bytes[1]!);
  const unrecognized = r.unrecognizedParameters;
  return unrecognized === undefined
    ? message
    : { ...message, unrecognizedParameters: unrecognized };
}

function asapFlags(m: AsapMessage): number {
  if (m.type === AsapMessageType.registrationResponse) return m.reject ? MessageFlag.reject : 0;
  if (m.type === AsapMessageType.endpointKeepAlive) return m.home ? MessageFlag.home : 0;
  return 0;
}

function writeAsapBody(w: WireWriter, m: AsapMessage): void {
  switch (m.type) {
    case AsapMessageType.registration:
      writePoolHandle(w, m.poolHandle);
      writePoolElement(w, m.poolElement);
      break;
    case AsapMessageType.deregistration:
    case AsapMessageType.endpointKeepAliveAck:
    case AsapMessageType.endpointUnreachable:
    case AsapMessageType.registrationResponse:
    case AsapMessageType.deregistrationResponse:
      writePoolHandle(w, m.poolHandle);
      writePoolElementIdentifier(w, m.poolElementId);
      if ("errorCauses" in m && m.errorCauses !== undefined) writeOperationError(w, m.errorCauses);
      break;
    case AsapMessageType.handleResolution:
      writePoolHandle(w, m.poolHandle);
      if (m.items !== undefined) writeHandleResolutionOption(w, m.items);
      break;
    case AsapMessageType.handleResolutionResponse:
      writePoolHandle(w, m.poolHandle);
      if (m.policy !== undefined) writeSelectionPolicy(w, m.policy);
      writePoolElements(w, m.poolElements);
      if (m.errorCauses !== undefined) writeOperationError(w, m.errorCauses);
      break;
    case AsapMessageType.endpointKeepAlive:
      w.u32(m.serverId, "server identifier");
      writePoolHandle(w, m.poolHandle);
      if (m.poolElementId !== undefined) writePoolElementIdentifier(w, m.poolElementId);
      break;
    case AsapMessageType.serverAnnounce:
      w.u32(m.serverId, "server identifier");
      for (const transport of m.transports) writeTransportParameter(w, transport);
      break;
    case AsapMessageType.cookie:
    case AsapMessageType.cookieEcho:
      writeOpaqueParameter(w, ParameterType.cookie, m.cookie);
      break;
    case AsapMessageType.businessCard:
      if (m.poolElements.length === 0) {
        throw new RangeError("Cannot encode ASAP Business Card as it has no pool element");
      }
      writePoolHandle(w, m.poolHandle);
      writePoolElements(w, m.poolElements);
      break;
    case AsapMessageType.error:
      writeOperationError(w, m.errorCauses);
      break;
    default:
      throw new TypeError(
        `Cannot encode ASAP message as its type ${(m as { type: unknown }).type} is unknown`,
      );
  }
}

/**
 * Encodes one ASAP message with Length excluding the final padding and the padding bytes
 * appended (DECISIONS.md). `unrecognizedParameters` is not sent.
 *
 * @throws {RangeError} when a field is out of range or the message exceeds 65535 bytes.
 * @throws {TypeError} when an address is not IP address text or the type is unknown.
 */
export function encodeAsapMessage(m: AsapMessage): Uint8Array {
  const w = new WireWriter();
  const mark = w.beginMessage(m.type, asapFlags(m));
  writeAsapBody(w, m);
  return w.finishMessage(mark, "ASAP message");
}
