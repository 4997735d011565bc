import assert from "node:assert/strict";
import { ErrorCauseCode, readMessageLength, roundup4, WireError } from "../../../lib/wire/mod.ts";

Deno.test("roundup4() rounds lengths up to the next multiple of 4", () => {
  assert.deepEqual([0, 1, 4, 5, 17, 65535].map(roundup4), [0, 4, 4, 8, 20, 65536]);
});

Deno.test("readMessageLength() reads the Length field at an offset", () => {
  assert.equal(readMessageLength(Uint8Array.of(9, 9, 0x01, 0x00, 0x00, 0x3c), 2), 60);
  assert.equal(readMessageLength(Uint8Array.of(0x0c, 0, 0, 17)), 17);
});

Deno.test("readMessageLength() rejects a short header and a Length below 4", () => {
  assert.throws(
    () => readMessageLength(Uint8Array.of(1, 0, 0)),
    (e) => e instanceof WireError && e.causeCode === ErrorCauseCode.invalidValues && e.offset === 0,
  );
  assert.throws(
    () => readMessageLength(Uint8Array.of(0, 0, 1, 0, 0, 3), 2),
    (e) => e instanceof WireError && e.offset === 4 && /below the minimum 4/.test(e.message),
  );
});
