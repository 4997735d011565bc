/** Checks a whole message's header and Length before its body is read (folder-private). */
import { ErrorCauseCode } from "./codes.ts";
import type { DecodeLimits } from "./decode_options.ts";
import { roundup4 } from "./header.ts";
import { WireReader } from "./reader.ts";
import { WireError } from "./wire_error.ts";

/**
 * Opens `bytes` as one message: a header, then Length - 4 bytes, then optional padding to
 * `roundup4(Length)` (DECISIONS.md: both forms are accepted). Returns a reader at offset 4
 * whose window ends at Length.
 *
 * @throws {WireError}
 */
export function openMessage(bytes: Uint8Array, limits: DecodeLimits, what: string): WireReader {
  const given = bytes.length;
  if (given < 4) {
    throw new WireError(
      `Cannot decode ${what} at offset 0: needs 4 bytes for the header, ${given} given`,
      ErrorCauseCode.invalidValues,
      0,
    );
  }
  const length = (bytes[2]! << 8) | bytes[3]!;
  const r = new WireReader(bytes, length, limits);
  if (length < 4) r.fail(what, `length ${length} is below the minimum 4`, 2);
  if (length > limits.maxMessageLength) {
    r.fail(
      what,
      `length ${length} exceeds the limit ${limits.maxMessageLength}`,
      2,
      ErrorCauseCode.lackOfResources,
    );
  }
  if (given < length) r.fail(what, `length ${length} exceeds the ${given} bytes given`, 2);
  const padded = roundup4(length);
  if (given !== length && given !== padded) {
    r.fail(
      what,
      `${given} bytes given for a message of length ${length}: expected ${length} or ${padded}`,
      given > padded ? padded : length,
    );
  }
  r.skip(4, what);
  return r;
}

/**
 * Throws the WireError for a message type nobody knows: cause 0x2 with the whole message as
 * its info, reported only when the type's top bits are 01 (RFC 5354 §4).
 */
export function unrecognizedMessage(bytes: Uint8Array, end: number, what: string): never {
  const type = bytes[0]!;
  throw new WireError(
    `Cannot decode ${what} at offset 0: unrecognized message type 0x${
      type.toString(16).padStart(2, "0")
    }`,
    ErrorCauseCode.unrecognizedMessage,
    0,
    bytes.subarray(0, end),
    { report: (type & 0xc0) === 0x40, messageType: type },
  );
}
