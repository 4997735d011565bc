/**
 * The 4-byte message header shared by ASAP and ENRP (RFC 5354 §4): Type u8, Flags u8,
 * Length u16, where Length counts the header but not the final padding.
 */
import { ErrorCauseCode } from "./codes.ts";
import { WireError } from "./wire_error.ts";

/** Bytes in a message header and in a parameter (TLV) header. */
export const HEADER_LENGTH = 4;

/** Rounds `length` up to the next multiple of 4: where the next TLV or message starts. */
export function roundup4(length: number): number {
  return (length + 3) & ~3;
}

/**
 * Reads the Length field of the message header at `offset` (for a stream framer): the message
 * occupies `roundup4(Length)` bytes on a byte stream (DECISIONS.md).
 *
 * @throws {WireError} when fewer than 4 bytes are there, or Length is below 4.
 */
export function readMessageLength(header: Uint8Array, offset = 0): number {
  if (offset < 0 || header.length - offset < HEADER_LENGTH) {
    throw new WireError(
      `Cannot decode message header at offset ${offset}: needs 4 bytes, ${
        Math.max(0, header.length - offset)
      } available`,
      ErrorCauseCode.invalidValues,
      offset,
    );
  }
  const length = (header[offset + 2]! << 8) | header[offset + 3]!;
  if (length < HEADER_LENGTH) {
    throw new WireError(
      `Cannot decode message header at offset ${offset}: length ${length} is below the minimum 4`,
      ErrorCauseCode.invalidValues,
      offset + 2,
    );
  }
  return length;
}
