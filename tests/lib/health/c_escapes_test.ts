import assert from "node:assert/strict";
import { parseCEscapes } from "../../../lib/health/c_escapes.ts";

Deno.test("parseCEscapes() turns each C escape into its byte", () => {
  assert.deepEqual(
    parseCEscapes("a\\n\\r\\t\\\\\\0\\x7f\\xFFz"),
    Uint8Array.from([0x61, 0x0a, 0x0d, 0x09, 0x5c, 0x00, 0x7f, 0xff, 0x7a]),
  );
});

Deno.test("parseCEscapes() encodes text without escapes as UTF-8", () => {
  assert.deepEqual(parseCEscapes(""), new Uint8Array());
  assert.deepEqual(parseCEscapes("PING é"), new TextEncoder().encode("PING é"));
});

Deno.test("parseCEscapes() rejects an unknown escape with its index", () => {
  assert.throws(() => parseCEscapes("ab\\q"), {
    name: "RangeError",
    message: /unknown escape "\\q" at index 2/,
  });
});

Deno.test("parseCEscapes() rejects \\x without two hex digits", () => {
  for (const text of ["\\x", "\\x4", "\\x4g", "x\\xg0"]) {
    assert.throws(() => parseCEscapes(text), {
      name: "RangeError",
      message: /needs two hex digits/,
    });
  }
});

Deno.test("parseCEscapes() rejects a trailing backslash", () => {
  assert.throws(() => parseCEscapes("ping\\"), { name: "RangeError", message: /lone "\\"/ });
});
