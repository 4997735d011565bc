import assert from "node:assert/strict";
import {
  DataChannelDecoder,
  Decoded,
  encodeHello,
  MAX_DATA_PAYLOAD,
} from "../../lib/asap/data_channel.ts";
import { INITIAL_REPLAY_STORAGE_BYTES, ReplayBuffer } from "../../proxy/control_session_replay.ts";

function sequence(from: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (from + i) % 251);
}

/** The data payloads of framed bytes, joined, as a pool element would read them. */
function unframe(framed: Uint8Array): Uint8Array {
  const decoder = new DataChannelDecoder({ peer: "proxy" });
  const stream = new Uint8Array(8 + framed.length);
  stream.set(encodeHello({ version: 1, resume: false }));
  stream.set(framed, 8);
  decoder.feed(stream);
  const out: number[] = [];
  for (let kind = decoder.next(); kind !== Decoded.none; kind = decoder.next()) {
    if (kind === Decoded.data) out.push(...stream.subarray(decoder.dataStart, decoder.dataEnd));
    else assert.equal(kind, Decoded.hello);
  }
  return Uint8Array.from(out);
}

Deno.test("ReplayBuffer keeps bytes by stream offset across wraps, discards and growth", () => {
  const replay = new ReplayBuffer(100);
  assert.equal(replay.storageBytes, 100);
  let end = 0;
  for (let round = 0; round < 50; round++) {
    const length = 1 + ((round * 37) % 60);
    const take = Math.min(length, replay.room);
    replay.append(sequence(end, take));
    end += take;
    assert.equal(replay.end, end);
    assert.deepEqual(replay.slice(), sequence(replay.base, replay.length));
    replay.discardTo(replay.base + Math.floor(replay.length / 2));
  }
  assert.throws(() => replay.append(new Uint8Array(replay.room + 1)), RangeError);
  assert.throws(() => replay.discardTo(replay.base - 1), RangeError);
  assert.throws(() => replay.slice(replay.base, replay.end + 1), RangeError);
});

Deno.test("ReplayBuffer grows its storage by doubling up to its capacity", () => {
  const capacity = 5 * INITIAL_REPLAY_STORAGE_BYTES;
  const replay = new ReplayBuffer(capacity);
  assert.equal(replay.storageBytes, INITIAL_REPLAY_STORAGE_BYTES);
  replay.append(sequence(0, INITIAL_REPLAY_STORAGE_BYTES - 10));
  replay.discardTo(INITIAL_REPLAY_STORAGE_BYTES - 20); // the head moves near the end
  replay.append(sequence(INITIAL_REPLAY_STORAGE_BYTES - 10, 3 * INITIAL_REPLAY_STORAGE_BYTES));
  assert.equal(replay.storageBytes, 4 * INITIAL_REPLAY_STORAGE_BYTES);
  assert.deepEqual(replay.slice(), sequence(replay.base, replay.length));
  replay.append(sequence(replay.end, replay.room));
  assert.equal(replay.storageBytes, capacity);
  assert.equal(replay.room, 0);
  assert.deepEqual(replay.slice(), sequence(replay.base, capacity));
  assert.throws(() => new ReplayBuffer(0), RangeError);
});

Deno.test("ReplayBuffer.writeFrames() frames any held range, wrapped or not, in framedLength() bytes", () => {
  const capacity = 3 * MAX_DATA_PAYLOAD;
  const replay = new ReplayBuffer(capacity);
  replay.append(sequence(0, capacity));
  replay.discardTo(MAX_DATA_PAYLOAD + 123);
  replay.append(sequence(capacity, MAX_DATA_PAYLOAD + 100)); // wraps
  for (
    const [from, to] of [
      [replay.base, replay.end],
      [replay.base + 5, replay.base + 5],
      [replay.end - 300, replay.end],
      [replay.base, replay.base + MAX_DATA_PAYLOAD + 1],
    ] as const
  ) {
    const framed = new Uint8Array(replay.framedLength(from, to));
    assert.equal(replay.writeFrames(framed, 0, from, to), framed.length);
    assert.deepEqual(unframe(framed), sequence(from, to - from), `${from}..${to}`);
  }
});
