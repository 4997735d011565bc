/**
 * ENRP messages (RFC 5353 §2) on the wire: the header, the sender's and receiver's server IDs,
 * then per-type fields and parameters.
 */
import { openMessage, unrecognizedMessage } from "./_envelope.ts";
import {
  expectParameter,
  expectPoolHandle,
  readErrorBody,
  readPoolElements,
  writePoolElements,
} from "./_message_parts.ts";
import {
  readPoolElementChecksum,
  writePoolElementChecksum,
  writePoolHandle,
} from "./basic_parameters.ts";
import { EnrpMessageType, MessageFlag, ParameterType, UpdateAction } from "./codes.ts";
import { type DecodeOptions, resolveDecodeOptions } from "./decode_options.ts";
import type {
  EnrpHandleTableResponse,
  EnrpHandleUpdate,
  EnrpMessage,
  EnrpPresence,
  HandleTableEntry,
} from "./enrp_messages.ts";
import { writeOperationError } from "./error_causes.ts";
import type { PoolElementParameter, ServerInformation } from "./parameters.ts";
import {
  readPoolElement,
  readServerInformation,
  writePoolElement,
  writeServerInformation,
} from "./pool_element.ts";
import type { WireReader } from "./reader.ts";
import { WireWriter } from "./writer.ts";

function readPresence(
  r: WireReader,
  flags: number,
  senderServerId: number,
  receiverServerId: number,
): EnrpPresence {
  const what = "ENRP Presence";
  const type = EnrpMessageType.presence;
  const replyRequired = (flags & MessageFlag.replyRequired) !== 0;
  expectParameter(r, ParameterType.poolElementChecksum, what);
  const checksum = readPoolElementChecksum(r);
  const next = r.nextParameterType(what);
  if (next === -1) return { type, senderServerId, receiverServerId, replyRequired, checksum };
  if (next !== ParameterType.serverInformation) r.unexpected(next, what);
  const serverInformation = readServerInformation(r);
  r.expectEnd(what);
  return { type, senderServerId, receiverServerId, replyRequired, checksum, serverInformation };
}

function readHandleTableResponse(
  r: WireReader,
  flags: number,
  senderServerId: number,
  receiverServerId: number,
): EnrpHandleTableResponse {
  const what = "ENRP Handle Table Response";
  const entries: HandleTableEntry[] = [];
  let next = r.nextParameterType(what);
  while (next === ParameterType.poolHandle) {
    const poolHandle = expectPoolHandle(r, what);
    const poolElements: PoolElementParameter[] = [];
    next = readPoolElements(r, poolElements, what);
    // RFC 5353 §2.3: every pool handle is followed by at least one Pool Element.
    if (poolElements.length === 0) r.unexpected(next, what);
    entries.push({ poolHandle, poolElements });
  }
  if (next !== -1) r.unexpected(next, what);
  return {
    type: EnrpMessageType.handleTableResponse,
    senderServerId,
    receiverServerId,
    reject: (flags & MessageFlag.reject) !== 0,
    more: (flags & MessageFlag.more) !== 0,
    entries,
  };
}

function readHandleUpdate(
  r: WireReader,
  flags: number,
  senderServerId: number,
  receiverServerId: number,
): EnrpHandleUpdate {
  const what = "ENRP Handle Update";
  const code = r.u16(what);
  if (code !== UpdateAction.addPoolElement && code !== UpdateAction.deletePoolElement) {
    r.fail(what, `update action ${code} is neither 0 nor 1`, r.offset - 2);
  }
  r.u16(what); // reserved
  const poolHandle = expectPoolHandle(r, what);
  expectParameter(r, ParameterType.poolElement, what);
  const poolElement = readPoolElement(r);
  r.expectEnd(what);
  return {
    type: EnrpMessageType.handleUpdate,
    senderServerId,
    receiverServerId,
    takeoverSuggested: (flags & MessageFlag.takeoverSuggested) !== 0,
    action: code,
    poolHandle,
    poolElement,
  };
}

function readEnrpBody(r: WireReader, type: number, flags: number): EnrpMessage {
  const what = "ENRP message";
  const senderServerId = r.u32(what);
  const receiverServerId = r.u32(what);
  switch (type) {
    case EnrpMessageType.presence:
      return readPresence(r, flags, senderServerId, receiverServerId);
    case EnrpMessageType.handleTableRequest:
      r.expectEnd(what);
      return {
        type,
        senderServerId,
        receiverServerId,
        ownChildrenOnly: (flags & MessageFlag.ownChildrenOnly) !== 0,
      };
    case EnrpMessageType.handleTableResponse:
      return readHandleTableResponse(r, flags, senderServerId, receiverServerId);
    case EnrpMessageType.handleUpdate:
      return readHandleUpdate(r, flags, senderServerId, receiverServerId);
    case EnrpMessageType.listRequest:
      r.expectEnd(what);
      return { type, senderServerId, receiverServerId };
    case EnrpMessageType.listResponse: {
      const servers: ServerInformation[] = [];
      for (let next = r.nextParameterType(what); next !== -1; next = r.nextParameterType(what)) {
        if (next !== ParameterType.serverInformation) r.unexpected(next, what);
        servers.push(readServerInformation(r));
      }
      const reject = (flags & MessageFlag.reject) !== 0;
      return { type, senderServerId, receiverServerId, reject, servers };
    }
    case EnrpMessageType.initTakeover:
    case EnrpMessageType.initTakeoverAck:
    case EnrpMessageType.takeoverServer: {
      const targetServerId = r.u32(what);
      r.expectEnd(what);
      return { type, senderServerId, receiverServerId, targetServerId };
    }
    case EnrpMessageType.error:
      return { type, senderServerId, receiverServerId, errorCauses: readErrorBody(r, what) };
    default:
      return unrecognizedMessage(r.input, r.end, what);
  }
}

/**
 * Decodes one ENRP message: `bytes` holds exactly the message, with or without its final
 * padding. Pool handles, cause info and unrecognized parameters are views of `bytes`: `slice()`
 * what you keep.
 *
 * @throws {WireError} on malformed input, an unknown message type (cause 0x2) or an unknown
 * parameter whose action bits say stop (cause 0x1).
 * @throws {RangeError} when `options` holds an invalid limit.
 */
export function decodeEnrpMessage(bytes: Uint8Array, options?: DecodeOptions): EnrpMessage {
  const r = openMessage(bytes, resolveDecodeOptions(options), "ENRP message");
  const type = bytes[0]!;
  // An unknown type is reported before its body is read, whatever the body holds.
  if (type < EnrpMessageType.presence || type > EnrpMessageType.error) {
    unrecognizedMessage(bytes, r.end, "ENRP message");
  }
  const message = readEnrpBody(r, type, bytes[1]!);
  const unrecognized = r.unrecognizedParameters;
  return unrecognized === undefined
    ? message
    : { ...message, unrecognizedParameters: unrecognized };
}

function enrpFlags(m: EnrpMessage): number {
  switch (m.type) {
    case EnrpMessageType.presence:
      return m.replyRequired ? MessageFlag.replyRequired : 0;
    case EnrpMessageType.handleTableRequest:
      return m.ownChildrenOnly ? MessageFlag.ownChildrenOnly : 0;
    case EnrpMessageType.handleTableResponse:
      return (m.reject ? MessageFlag.reject : 0) | (m.more ? MessageFlag.more : 0);
    case EnrpMessageType.handleUpdate:
      return m.takeoverSuggested ? MessageFlag.takeoverSuggested : 0;
    case EnrpMessageType.listResponse:
      return m.reject ? MessageFlag.reject : 0;
    default:
      return 0;
  }
}

function writeEnrpBody(w: WireWriter, m: EnrpMessage): void {
  switch (m.type) {
    case EnrpMessageType.presence:
      writePoolElementChecksum(w, m.checksum);
      if (m.serverInformation !== undefined) writeServerInformation(w, m.serverInformation);
      break;
    case EnrpMessageType.handleTableRequest:
    case EnrpMessageType.listRequest:
      break;
    case EnrpMessageType.handleTableResponse:
      for (const entry of m.entries) {
        if (entry.poolElements.length === 0) {
          throw new RangeError(
            "Cannot encode ENRP Handle Table Response as an entry has no pool element",
          );
        }
        writePoolHandle(w, entry.poolHandle);
        writePoolElements(w, entry.poolElements);
      }
      break;
    case EnrpMessageType.handleUpdate:
      w.u16(m.action, "update action");
      w.u16(0, "reserved");
      writePoolHandle(w, m.poolHandle);
      writePoolElement(w, m.poolElement);
      break;
    case EnrpMessageType.listResponse:
      for (const server of m.servers) writeServerInformation(w, server);
      break;
    case EnrpMessageType.initTakeover:
    case EnrpMessageType.initTakeoverAck:
    case EnrpMessageType.takeoverServer:
      w.u32(m.targetServerId, "target server identifier");
      break;
    case EnrpMessageType.error:
      writeOperationError(w, m.errorCauses);
      break;
    default:
      throw new TypeError(
        `Cannot encode ENRP message as its type ${(m as { type: unknown }).type} is unknown`,
      );
  }
}

/**
 * Encodes one ENRP message with Length excluding the final padding and the padding bytes
 * appended (DECISIONS.md). `unrecognizedParameters` is not sent.
 *
 * @throws {RangeError} when a field is out of range or the message exceeds 65535 bytes.
 * @throws {TypeError} when an address is not IP address text or the type is unknown.
 */
export function encodeEnrpMessage(m: EnrpMessage): Uint8Array {
  const w = new WireWriter();
  const mark = w.beginMessage(m.type, enrpFlags(m));
  w.u32(m.senderServerId, "sender server identifier");
  w.u32(m.receiverServerId, "receiver server identifier");
  writeEnrpBody(w, m);
  return w.finishMessage(mark, "ENRP message");
}
