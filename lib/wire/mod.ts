/**
 * The RSerPool wire codec: every ASAP message of RFC 5352 §2.2 (0x01–0x0e), every ENRP message
 * of RFC 5353 §2 (0x01–0x0a), the parameters and error causes of RFC 5354 §3 (0x0001–0x0010,
 * causes 0x0–0xa) with the Handle Resolution Option 0x803f of draft-dreibholz-rserpool-asap-hropt,
 * and the member selection policies of RFC 5356 §7 with RSPLIB's private ones. Pure: no I/O,
 * timers or clocks.
 *
 * Wire rules, as `shared/spec/DECISIONS.md` settles them:
 * - Encoders write a message's Length without its final padding (RFC 5354 §4) and still send
 *   the padding; an enclosing TLV's Length covers its nested TLVs' padding except after the last
 *   one (RFC 5354 §2). Decoders accept both that and RSPLIB's form (padding counted), and
 *   nothing in between. On a byte stream the next message starts at
 *   {@linkcode roundup4}(Length): {@linkcode MessageFramer} and {@linkcode readMessageLength}.
 * - Registration Life is in milliseconds; -1 never expires.
 * - Decoders throw only {@linkcode WireError}, carrying the error cause to answer with, the byte
 *   offset, and `report`. Bounds: {@linkcode DEFAULT_MAX_MESSAGE_LENGTH},
 *   {@linkcode DEFAULT_MAX_POOL_HANDLE_LENGTH}, {@linkcode DEFAULT_MAX_PARAMETERS}, each
 *   overridable through {@linkcode DecodeOptions}.
 * - Unknown parameter types follow their top two bits (RFC 5354 §3): 00 throws cause 0x1
 *   Unrecognized Parameter with `report: false` (discard silently), 01 throws it with
 *   `report: true` (discard and answer), 10 skips the parameter, 11 skips it and lists the TLV in
 *   the message's `unrecognizedParameters` so the receiver can answer with cause 0x1. Types are
 *   compared on all 16 bits, as Wireshark does (RSPLIB masks the action bits off).
 * - Unknown message types throw cause 0x2 Unrecognized Message with the whole message as
 *   `causeInfo`, the type as `messageType`, and `report` true only when the type's top bits
 *   are 01 (RFC 5354 §4); the endpoint decides what to send.
 * - A known parameter in a place its message does not allow, a missing mandatory one, a wrong
 *   length or value: cause 0x3 Invalid Values. Exceeding a limit: cause 0x6 Lack of Resources
 *   (an over-long pool handle: Invalid Values, as RSPLIB).
 * - Pool handles, cookies, cause info and unrecognized TLVs are views of the decoded buffer
 *   (zero copy): `slice()` what you keep. Opaque transports and opaque policies are copies.
 * - Unknown policy types are kept as {@linkcode OpaqueSelectionPolicy}; a known type must have
 *   exactly its values. PLU-DPF and PLUD-DPF (0xb0002004/5), which RSPLIB names but gives no
 *   wire layout, use LUD-DPF's.
 * - A Business Card's policy parameter (RSPLIB sends one; RFC 5352 §2.2.13 has none) is read
 *   and dropped. Unused flag bits are ignored on receipt and sent as 0.
 *
 * @example
 * ```ts
 * import { decodeAsapMessage, encodeAsapMessage, AsapMessageType } from "./mod.ts";
 * const bytes = encodeAsapMessage({
 *   type: AsapMessageType.handleResolution,
 *   poolHandle: new TextEncoder().encode("EchoPool"),
 * });
 * const message = decodeAsapMessage(bytes);
 * ```
 *
 * @module
 */

export { decodeAsapMessage, encodeAsapMessage } from "./asap_codec.ts";
export { decodeEnrpMessage, encodeEnrpMessage } from "./enrp_codec.ts";
export { WireError, type WireErrorOptions } from "./wire_error.ts";
export {
  type DecodeOptions,
  DEFAULT_MAX_MESSAGE_LENGTH,
  DEFAULT_MAX_PARAMETERS,
  DEFAULT_MAX_POOL_HANDLE_LENGTH,
} from "./decode_options.ts";
export { HEADER_LENGTH, readMessageLength, roundup4 } from "./header.ts";
export { MessageFramer, type MessageFramerOptions } from "./framer.ts";
export { type JsonObject, type JsonValue, messageToJson } from "./message_json.ts";
export {
  asapMessageName,
  enrpMessageName,
  errorCauseName,
  policyName,
  transportName,
} from "./code_names.ts";
export { formatIpv4, formatIpv6, parseIpAddress } from "./ip_address.ts";
export * from "./codes.ts";
export type * from "./asap_messages.ts";
export type * from "./enrp_messages.ts";
export type * from "./parameters.ts";
export * from "./selection_policy.ts";
