import assert from "node:assert/strict";
import { ErrorCauseCode, MessageFramer, roundup4, WireError } from "../../../lib/wire/mod.ts";
import { fromHex, vectorBytes, VECTORS } from "./_vectors.ts";

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// Feeds `stream` cut at `cuts` and returns every message the framer gave back.
function frame(stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const framer = new MessageFramer();
  const messages: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    messages.push(...framer.push(stream.subarray(from, cut)));
    from = cut;
  }
  assert.equal(framer.buffered, 0);
  return messages;
}

Deno.test("MessageFramer.push() returns each vector whole when it is split at every byte position", () => {
  for (const vector of VECTORS) {
    const bytes = vectorBytes(vector);
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(frame(bytes, [cut]), [bytes], `${vector.name} cut at ${cut}`);
    }
  }
});

Deno.test("MessageFramer.push() separates two vectors back to back at every split position", () => {
  for (let i = 0; i < VECTORS.length; i++) {
    const first = vectorBytes(VECTORS[i]!);
    const second = vectorBytes(VECTORS[(i + 1) % VECTORS.length]!);
    const stream = concat(first, second);
    for (let cut = 0; cut <= stream.length; cut++) {
      assert.deepEqual(frame(stream, [cut]), [first, second], `${VECTORS[i]!.name} cut at ${cut}`);
    }
  }
});

Deno.test("MessageFramer.push() frames the whole vector set fed one byte at a time", () => {
  const all = VECTORS.map(vectorBytes);
  const stream = concat(...all);
  const cuts = Array.from({ length: stream.length }, (_, i) => i);
  assert.deepEqual(frame(stream, cuts), all);
});

Deno.test("MessageFramer.push() takes roundup4(Length) bytes for an unaligned message", () => {
  // Length 17: 3 padding bytes follow, then the next header.
  const unaligned = fromHex("0c000011000d000d73746174653a343221000000");
  assert.equal(roundup4(17), unaligned.length);
  const messages = frame(concat(unaligned, fromHex("0500000d00090009506f6f6c31000000")), []);
  assert.equal(messages.length, 2);
  assert.equal(messages[1]![0], 0x05);
});

Deno.test("MessageFramer.push() rejects a Length below 4 or above the limit at its stream offset", () => {
  const framer = new MessageFramer({ maxMessageLength: 100 });
  assert.equal(framer.push(fromHex("0b000010000d000c73746174653a3432")).length, 1);
  let caught: unknown;
  try {
    framer.push(fromHex("0b00")); // header cut: nothing is known yet
    framer.push(fromHex("0065")); // Length 101
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof WireError);
  assert.equal(caught.causeCode, ErrorCauseCode.lackOfResources);
  assert.equal(caught.offset, 18);
  assert.equal(framer.buffered, 0, "nothing was allocated for the message");
  assert.throws(() => framer.push(new Uint8Array(4)), (e) => e === caught);

  const short = new MessageFramer();
  assert.throws(
    () => short.push(fromHex("01000002")),
    (e) => e instanceof WireError && e.causeCode === ErrorCauseCode.invalidValues && e.offset === 2,
  );
});

Deno.test("MessageFramer.buffered counts the bytes of a message not yet complete", () => {
  const framer = new MessageFramer();
  assert.deepEqual(framer.push(fromHex("0b0000")), []);
  assert.equal(framer.buffered, 3);
  assert.deepEqual(framer.push(fromHex("10000d")), []);
  assert.equal(framer.buffered, 6);
  assert.throws(() => new MessageFramer({ maxMessageLength: 3 }), RangeError);
});
