/**
 * Stream framing arithmetic for RSerPool messages on a byte stream (DECISIONS.md): a 4-byte
 * header whose Length (u16 at offset 2) counts the header but not the final padding; the next
 * message starts at `roundup4(Length)`.
 *
 * Written here because lib/wire's MessageFramer had not landed when the transport was built:
 * fold into `roundup4`/`readMessageLength` from lib/wire once it has.
 */
import { ErrorCauseCode } from "../wire/codes.ts";
import { WireError } from "../wire/wire_error.ts";

/** Bytes in an ASAP/ENRP message header. */
export const MESSAGE_HEADER_LENGTH = 4;

/** Rounds `length` up to a multiple of 4. */
export function roundup4(length: number): number {
  return (length + 3) & ~3;
}

/**
 * The bytes the message whose header starts at `buffer[start]` occupies on the stream, padding
 * included; `streamOffset` is that header's offset in the whole stream, for the error.
 *
 * @throws {WireError} when Length is below 4 (Invalid Values) or above `maxMessageLength`
 * (Lack of Resources), before anything is allocated for the body.
 */
export function frameLength(
  buffer: Uint8Array,
  start: number,
  streamOffset: number,
  maxMessageLength: number,
): number {
  const length = ((buffer[start + 2] ?? 0) << 8) | (buffer[start + 3] ?? 0);
  if (length < MESSAGE_HEADER_LENGTH) {
    throw new WireError(
      `Cannot frame message at stream offset ${streamOffset}: length ${length} is below the minimum 4`,
      ErrorCauseCode.invalidValues,
      streamOffset + 2,
    );
  }
  if (length > maxMessageLength) {
    throw new WireError(
      `Cannot frame message at stream offset ${streamOffset}: length ${length} exceeds the maximum ${maxMessageLength}`,
      ErrorCauseCode.lackOfResources,
      streamOffset + 2,
    );
  }
  return roundup4(length);
}
