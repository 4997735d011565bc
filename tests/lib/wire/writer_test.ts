import assert from "node:assert/strict";
import { WireWriter } from "../../../lib/wire/writer.ts";
import { toHex } from "./_wireshark_fields.ts";

Deno.test("WireWriter.endParameter() counts nested padding except after the last nested TLV", () => {
  const w = new WireWriter(4); // small, so the buffer grows on the way
  const message = w.beginMessage(0x01, 0x00);
  const outer = w.beginParameter(0x000a);
  const first = w.beginParameter(0x0009);
  w.bytes(Uint8Array.of(1, 2, 3, 4, 5)); // Length 9, 3 padding bytes that the outer counts
  w.endParameter(first, "first");
  const last = w.beginParameter(0x000d);
  w.bytes(Uint8Array.of(6)); // Length 5, 3 padding bytes that neither counts
  w.endParameter(last, "last");
  w.endParameter(outer, "outer");
  assert.equal(
    toHex(w.finishMessage(message, "message")),
    // header: Length 25 | outer: Length 21 | first: 9 + pad | last: 5 + pad
    "01000019" + "000a0015" + "000900090102030405000000" + "000d000506000000",
  );
});

Deno.test("WireWriter.finishMessage() counts everything when the message ends on a fixed field", () => {
  const w = new WireWriter();
  const mark = w.beginMessage(0x07, 0x01);
  w.u32(0xcafe, "server identifier");
  assert.equal(toHex(w.finishMessage(mark, "message")), "070100080000cafe");
});

Deno.test("WireWriter rejects values out of their field's range", () => {
  const w = new WireWriter();
  assert.throws(
    () => w.u16(65536, "port"),
    /Cannot encode port as it must be an integer from 0 to 65535: current value is 65536/,
  );
  assert.throws(() => w.u32(-1, "load"), RangeError);
  assert.throws(() => w.u32(1.5, "load"), RangeError);
  assert.throws(() => w.i32(2 ** 31, "registration life"), RangeError);
  assert.throws(() => w.u8(256, "flags"), RangeError);
  assert.throws(() => w.beginParameter(0x10000), RangeError);
  w.i32(-1, "registration life");
  assert.equal(w.length, 4);
});
