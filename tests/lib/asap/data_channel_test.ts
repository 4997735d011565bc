import assert from "node:assert/strict";
import {
  type ControlFrame,
  DataChannelDecoder,
  DataChannelError,
  type DataChannelPeer,
  dataFramesLength,
  Decoded,
  decodeHello,
  encodeControlFrame,
  encodeHello,
  FrameType,
  MAX_CONTROL_PAYLOAD,
  MAX_DATA_PAYLOAD,
  writeDataFrames,
  writeFrameHeader,
} from "../../../lib/asap/data_channel.ts";
import { encodeAsapMessage } from "../../../lib/wire/asap_codec.ts";
import {
  AsapMessageType,
  ErrorCauseCode,
  ParameterType,
  PolicyType,
  TransportUse,
} from "../../../lib/wire/codes.ts";
import type { PoolElementParameter } from "../../../lib/wire/parameters.ts";

const encoder = new TextEncoder();

function bytes(...parts: (number | Uint8Array | readonly number[])[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else out.push(...part);
  }
  return Uint8Array.from(out);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function dataFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(dataFramesLength(payload.length));
  writeDataFrames(out, 0, payload);
  return out;
}

const PE: PoolElementParameter = {
  identifier: 0x11223344,
  homeRegistrarId: 0,
  registrationLife: 30_000,
  userTransport: {
    type: ParameterType.tcpTransport,
    port: 7000,
    transportUse: TransportUse.dataPlusControl,
    addresses: ["127.0.0.1"],
  },
  policy: { type: PolicyType.roundRobin },
};

/** What a decoder reported, with data joined and control frames copied out. */
interface Decoded_ {
  hello: { version: number; resume: boolean } | undefined;
  data: Uint8Array;
  frames: ControlFrame[];
  /** Data bytes seen before each control frame. */
  dataBefore: number[];
}

/** Feeds `stream` to a decoder in the pieces `cuts` gives, collecting what it reports. */
function decodeAll(peer: DataChannelPeer, stream: Uint8Array, cuts: readonly number[]): Decoded_ {
  const decoder = new DataChannelDecoder({ peer });
  const data: Uint8Array[] = [];
  let dataLength = 0;
  const frames: ControlFrame[] = [];
  const dataBefore: number[] = [];
  let hello: Decoded_["hello"];
  let start = 0;
  for (const end of [...cuts, stream.length]) {
    // A copy per feed: views into earlier feeds must not be needed after `next()` moved on.
    const piece = stream.slice(start, end);
    start = end;
    decoder.feed(piece);
    for (let kind = decoder.next(); kind !== Decoded.none; kind = decoder.next()) {
      if (kind === Decoded.hello) hello = decoder.hello;
      else if (kind === Decoded.data) {
        data.push(piece.slice(decoder.dataStart, decoder.dataEnd));
        dataLength += decoder.dataEnd - decoder.dataStart;
      } else {
        const frame = decoder.frame;
        frames.push(
          frame.type === FrameType.cookie
            ? { ...frame, message: { ...frame.message, cookie: frame.message.cookie.slice() } }
            : frame,
        );
        dataBefore.push(dataLength);
      }
    }
  }
  return { hello, data: concat(data), frames, dataBefore };
}

Deno.test("encodeHello() writes magic, version, flags and two zero bytes", () => {
  assert.deepEqual(
    encodeHello({ version: 1, resume: true }),
    bytes(
      [0x50, 0x47, 0x44, 0x43], // "PGDC"
      0x01, // version 1
      0x01, // flags: resume
      [0x00, 0x00], // reserved
    ),
  );
  assert.deepEqual(decodeHello(encodeHello({ version: 1, resume: false })), {
    version: 1,
    resume: false,
  });
});

Deno.test("decodeHello() accepts a later version and ignores unknown flags and reserved bytes", () => {
  assert.deepEqual(decodeHello(bytes([0x50, 0x47, 0x44, 0x43], 7, 0xfe, [0xab, 0xcd])), {
    version: 7,
    resume: false,
  });
});

Deno.test("decodeHello() rejects a wrong magic and version 0 with the offset", () => {
  assert.throws(
    () => decodeHello(bytes([0x50, 0x47, 0x44, 0x44], 1, 0, [0, 0])),
    (error) => error instanceof DataChannelError && error.offset === 3,
  );
  assert.throws(
    () => decodeHello(bytes([0x50, 0x47, 0x44, 0x43], 0, 0, [0, 0])),
    (error) => error instanceof DataChannelError && error.offset === 4,
  );
  assert.throws(() => decodeHello(bytes(0x50)), DataChannelError);
});

Deno.test("encodeControlFrame() lays out a cookie frame field by field", () => {
  const cookie = encoder.encode("abc");
  const frame = encodeControlFrame({
    type: FrameType.cookie,
    position: { consumed: 0x0102030405, produced: 7 },
    message: { type: AsapMessageType.cookie, cookie },
  });
  assert.deepEqual(
    frame,
    bytes(
      0x02, // frame type: cookie
      [0x00, 0x00, 0x1c], // payload length 28 = 16 + 12
      [0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05], // consumed
      [0, 0, 0, 0, 0, 0, 0, 0x07], // produced
      [0x0b, 0x00, 0x00, 0x0b], // ASAP Cookie, flags 0, Length 11 (padding not counted)
      [0x00, 0x0d, 0x00, 0x07], // Cookie parameter, length 7
      [0x61, 0x62, 0x63, 0x00], // "abc" + 1 byte of padding
    ),
  );
});

Deno.test("encodeControlFrame() frames an end as a bare header and an ASAP message as its bytes", () => {
  assert.deepEqual(encodeControlFrame({ type: FrameType.end }), bytes(0x03, [0, 0, 0]));
  const error = {
    type: AsapMessageType.error,
    errorCauses: [{ code: ErrorCauseCode.invalidValues, info: new Uint8Array(0) }],
  } as const;
  const message = encodeAsapMessage(error);
  assert.deepEqual(
    encodeControlFrame({ type: FrameType.asap, message: error }),
    bytes(0x01, [0, 0, message.length], message),
  );
});

Deno.test("encodeControlFrame() refuses negative or unsafe counts", () => {
  for (const consumed of [-1, 1.5, 2 ** 53]) {
    assert.throws(
      () =>
        encodeControlFrame({
          type: FrameType.cookie,
          position: { consumed, produced: 0 },
          message: { type: AsapMessageType.cookie, cookie: new Uint8Array(1) },
        }),
      RangeError,
    );
  }
});

Deno.test("writeDataFrames() splits at 64 KiB and dataFramesLength() counts the headers", () => {
  const data = new Uint8Array(MAX_DATA_PAYLOAD * 2 + 5).map((_, i) => i % 251);
  const framed = dataFrame(data);
  assert.equal(framed.length, data.length + 3 * 4);
  assert.deepEqual(framed.subarray(0, 4), bytes(0x00, [0x01, 0x00, 0x00]));
  assert.deepEqual(
    framed.subarray(4 + MAX_DATA_PAYLOAD, 8 + MAX_DATA_PAYLOAD),
    bytes(0, [1, 0, 0]),
  );
  assert.deepEqual(framed.subarray(framed.length - 9, framed.length - 5), bytes(0, [0, 0, 5]));
  assert.equal(dataFramesLength(0), 0);
  assert.throws(
    () => writeFrameHeader(new Uint8Array(4), 0, FrameType.data, MAX_DATA_PAYLOAD + 1),
    RangeError,
  );
  assert.throws(() => writeFrameHeader(new Uint8Array(4), 0, FrameType.end, 1), RangeError);
});

/** A PE's side of a channel: hello, data, a cookie, a Business Card, more data, the end. */
function peStream(): { stream: Uint8Array; data: Uint8Array } {
  const first = encoder.encode("hello, client\n");
  const second = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
  const stream = concat([
    encodeHello({ version: 1, resume: false }),
    dataFrame(first),
    encodeControlFrame({
      type: FrameType.cookie,
      position: { consumed: 3, produced: first.length },
      message: { type: AsapMessageType.cookie, cookie: encoder.encode("state-1") },
    }),
    encodeControlFrame({
      type: FrameType.asap,
      message: {
        type: AsapMessageType.businessCard,
        poolHandle: encoder.encode("echo"),
        poolElements: [PE],
      },
    }),
    dataFrame(second),
    encodeControlFrame({ type: FrameType.end }),
  ]);
  return { stream, data: concat([first, second]) };
}

function checkPeStream(result: Decoded_, data: Uint8Array): void {
  assert.deepEqual(result.hello, { version: 1, resume: false });
  assert.deepEqual(result.data, data);
  assert.deepEqual(result.frames.map((frame) => frame.type), [
    FrameType.cookie,
    FrameType.asap,
    FrameType.end,
  ]);
  assert.deepEqual(result.dataBefore, [14, 14, data.length]);
  const [cookie, card] = result.frames;
  assert.ok(cookie?.type === FrameType.cookie);
  assert.deepEqual(cookie.position, { consumed: 3, produced: 14 });
  assert.deepEqual(cookie.message.cookie, encoder.encode("state-1"));
  assert.ok(card?.type === FrameType.asap && card.message.type === AsapMessageType.businessCard);
  assert.equal(card.message.poolElements[0]?.identifier, PE.identifier);
}

Deno.test("DataChannelDecoder reads a whole stream fed at once", () => {
  const { stream, data } = peStream();
  checkPeStream(decodeAll("pool-element", stream, []), data);
});

Deno.test("DataChannelDecoder gives the same result for a stream split at every byte position", () => {
  const { stream, data } = peStream();
  // Every split point of the control part (the 70 000-byte payload is split every 997 bytes).
  const controlEnd = stream.length - 70_000 - 8;
  for (let cut = 1; cut < controlEnd; cut++) {
    checkPeStream(decodeAll("pool-element", stream, [cut]), data);
  }
  const cuts: number[] = [];
  for (let cut = 1; cut < stream.length; cut += 997) cuts.push(cut);
  checkPeStream(decodeAll("pool-element", stream, cuts), data);
});

Deno.test("DataChannelDecoder reads a stream fed one byte at a time", () => {
  const { stream, data } = peStream();
  const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
  checkPeStream(decodeAll("pool-element", stream, cuts), data);
});

Deno.test("DataChannelDecoder reads the proxy's resumption: hello with resume, Cookie Echo, replay, end", () => {
  const stream = concat([
    encodeHello({ version: 1, resume: true }),
    encodeControlFrame({
      type: FrameType.cookie,
      position: { consumed: 100, produced: 90 },
      message: { type: AsapMessageType.cookieEcho, cookie: encoder.encode("state") },
    }),
    dataFrame(encoder.encode("replayed")),
    encodeControlFrame({ type: FrameType.end }),
  ]);
  const result = decodeAll("proxy", stream, [5, 30]);
  assert.deepEqual(result.hello, { version: 1, resume: true });
  assert.deepEqual(result.data, encoder.encode("replayed"));
  const [echo] = result.frames;
  assert.ok(echo?.type === FrameType.cookie);
  assert.equal(echo.message.type, AsapMessageType.cookieEcho);
  assert.deepEqual(echo.position, { consumed: 100, produced: 90 });
});

const HELLO = encodeHello({ version: 1, resume: false });

/** Asserts that decoding `frame` after a hello fails with a DataChannelError at `offset`. */
function assertRejected(peer: DataChannelPeer, frame: Uint8Array, offset: number): void {
  assert.throws(
    () => decodeAll(peer, concat([HELLO, frame]), []),
    (error) => {
      assert.ok(error instanceof DataChannelError, String(error));
      assert.equal(error.offset, offset, error.message);
      return true;
    },
  );
}

Deno.test("DataChannelDecoder rejects an unknown frame type at the frame's offset", () => {
  assertRejected("pool-element", bytes(0x04, [0, 0, 0]), 8);
  assertRejected("pool-element", bytes(0xff, [0, 0, 1], 0), 8);
});

Deno.test("DataChannelDecoder rejects lengths out of range before reading the payload", () => {
  assertRejected("pool-element", bytes(0x00, [0, 0, 0]), 9); // empty data frame
  assertRejected("pool-element", bytes(0x00, [0x01, 0x00, 0x01]), 9); // 64 KiB + 1
  assertRejected("pool-element", bytes(0x03, [0, 0, 1], 0), 9); // end with a payload
  assertRejected("pool-element", bytes(0x01, [0, 0, 3]), 9); // ASAP shorter than a header
  assertRejected("pool-element", bytes(0x02, [0, 0, 19]), 9); // cookie without room for ASAP
  const tooLong = MAX_CONTROL_PAYLOAD + 1;
  assertRejected(
    "pool-element",
    bytes(0x02, [tooLong >> 16, (tooLong >> 8) & 0xff, tooLong & 0xff]),
    9,
  );
});

Deno.test("DataChannelDecoder rejects ASAP messages a side may not send", () => {
  const cookie = encoder.encode("x");
  const echoFromPe = encodeControlFrame({
    type: FrameType.cookie,
    position: { consumed: 0, produced: 0 },
    message: { type: AsapMessageType.cookieEcho, cookie },
  });
  assertRejected("pool-element", echoFromPe, 8);
  const cookieFromProxy = encodeControlFrame({
    type: FrameType.cookie,
    position: { consumed: 0, produced: 0 },
    message: { type: AsapMessageType.cookie, cookie },
  });
  assertRejected("proxy", cookieFromProxy, 8);
  const card = encodeControlFrame({
    type: FrameType.asap,
    message: {
      type: AsapMessageType.businessCard,
      poolHandle: encoder.encode("p"),
      poolElements: [PE],
    },
  });
  assertRejected("proxy", card, 8);
  // A Cookie without its position, in an ASAP frame.
  const bare = encodeAsapMessage({ type: AsapMessageType.cookie, cookie });
  assertRejected("pool-element", bytes(0x01, [0, 0, bare.length], bare), 8);
});

Deno.test("DataChannelDecoder rejects a garbled ASAP message with its offset in the stream", () => {
  // An ASAP Error whose Operation Error parameter claims more bytes than the message has.
  const garbled = bytes([0x0e, 0x00, 0x00, 0x0c], [0x00, 0x0c, 0x00, 0x40], [0, 0, 0, 0]);
  assertRejected("pool-element", bytes(0x01, [0, 0, garbled.length], garbled), 8 + 4 + 6);
  // A message whose Length does not fill its frame.
  const short = bytes([0x0e, 0x00, 0x00, 0x04], [0, 0, 0, 0]);
  assertRejected("pool-element", bytes(0x01, [0, 0, short.length], short), 8 + 4 + 2);
});

Deno.test("DataChannelDecoder rejects counts above 2^53 - 1 and a bad hello", () => {
  const frame = encodeControlFrame({
    type: FrameType.cookie,
    position: { consumed: 0, produced: 0 },
    message: { type: AsapMessageType.cookie, cookie: encoder.encode("x") },
  });
  frame.fill(0xff, 4, 12);
  assertRejected("pool-element", frame, 12);
  assert.throws(
    () => decodeAll("pool-element", encoder.encode("HTTP/1.1 200 OK\r\n"), []),
    DataChannelError,
  );
});

Deno.test("DataChannelDecoder is unusable after an error and refuses a feed before the last is decoded", () => {
  const decoder = new DataChannelDecoder({ peer: "pool-element" });
  decoder.feed(concat([HELLO, bytes(0x09, [0, 0, 0])]));
  assert.equal(decoder.next(), Decoded.hello);
  assert.throws(() => decoder.next(), DataChannelError);
  assert.throws(() => decoder.next(), TypeError);
  const other = new DataChannelDecoder({ peer: "pool-element" });
  other.feed(HELLO);
  assert.throws(() => other.feed(HELLO), TypeError);
});
