/**
 * The frame check of a message on a byte stream (DECISIONS.md): the 4-byte header's Length
 * (u16 at offset 2) counts the header but not the final padding; the next message starts at
 * `roundup4(Length)`.
 *
 * Written here because lib/wire's MessageFramer had not been committed when the transport was
 * built; `readMessageLength` there reports offsets within its buffer, not within the stream.
 */
import { ErrorCauseCode } from "../wire/codes.ts";
import { HEADER_LENGTH, roundup4 } from "../wire/header.ts";
import { WireError } from "../wire/wire_error.ts";

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
  if (length < HEADER_LENGTH) {
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
