/** The assertion every malformed-input test makes: class, cause code, offset, message form. */
import assert from "node:assert/strict";
import { WireError } from "../../../lib/wire/mod.ts";

/** Asserts that decoding `bytes` throws a WireError with this cause and offset. */
export function assertWireError(
  decode: () => unknown,
  causeCode: number,
  offset: number,
  message?: RegExp,
): WireError {
  let caught: unknown;
  try {
    decode();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof WireError, `expected a WireError, got ${caught}`);
  assert.equal(caught.causeCode, causeCode, caught.message);
  assert.equal(caught.offset, offset, caught.message);
  assert.match(caught.message, /^Cannot decode .* at offset \d+: /);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}
