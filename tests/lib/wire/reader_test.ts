import assert from "node:assert/strict";
import { ErrorCauseCode, WireError } from "../../../lib/wire/mod.ts";
import { DEFAULT_DECODE_LIMITS } from "../../../lib/wire/decode_options.ts";
import { WireReader } from "../../../lib/wire/reader.ts";
import { fromHex } from "./_vectors.ts";

function reader(hex: string): WireReader {
  const bytes = fromHex(hex);
  return new WireReader(bytes, bytes.length, DEFAULT_DECODE_LIMITS);
}

Deno.test("WireReader.enterParameter() bounds reads by the TLV's Length", () => {
  // TLV 0x0009 Length 6 (2 value bytes, 2 padding), then a second TLV.
  const r = reader("00090006abcd0000" + "000e000800000001");
  const outer = r.enterParameter("Pool Handle parameter");
  assert.equal(r.u16("value"), 0xabcd);
  assert.throws(
    () => r.u8("value"),
    (e) => e instanceof WireError && e.offset === 6 && /needs 1 bytes, 0 left/.test(e.message),
  );
  r.leaveParameter(outer, "Pool Handle parameter");
  assert.equal(r.offset, 8);
  assert.equal(r.nextParameterType("message"), 0x000e);
});

Deno.test("WireReader.leaveParameter() rejects unread value bytes", () => {
  const r = reader("000e000800000001");
  const outer = r.enterParameter("PE Identifier parameter");
  r.u16("half");
  assert.throws(
    () => r.leaveParameter(outer, "PE Identifier parameter"),
    (e) =>
      e instanceof WireError && e.causeCode === ErrorCauseCode.invalidValues && e.offset === 6 &&
      /2 bytes left over/.test(e.message),
  );
});

Deno.test("WireReader.nextParameterType() returns -1 at the end and rejects a cut header", () => {
  assert.equal(reader("").nextParameterType("message"), -1);
  assert.throws(
    () => reader("0009").nextParameterType("message"),
    (e) => e instanceof WireError && e.offset === 0 && /parameter header, 2 left/.test(e.message),
  );
});

Deno.test("WireReader.done() rejects trailing bytes", () => {
  const r = reader("0000000100");
  r.u32("value");
  assert.throws(() => r.done("message"), (e) => e instanceof WireError && e.offset === 4);
});
