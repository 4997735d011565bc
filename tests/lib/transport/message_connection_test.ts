import assert from "node:assert/strict";
import { ErrorCauseCode } from "../../../lib/wire/codes.ts";
import { WireError } from "../../../lib/wire/wire_error.ts";
import { MessageConnection } from "../../../lib/transport/message_connection.ts";
import { TransportError } from "../../../lib/transport/transport_error.ts";
import { withDeadline } from "../../_support/deadline.ts";
import { concat, frame, VECTOR_MESSAGES } from "./_messages.ts";
import { ScriptedStream } from "./_scripted_stream.ts";
import { captureTransportLogs } from "./_log_capture.ts";
import { readToEnd, tcpPair, writeAll } from "./_tcp.ts";

const DEADLINE_MS = 2000;

/** Reads every message until the end of the stream. */
async function readAll(conn: MessageConnection): Promise<Uint8Array[]> {
  const messages: Uint8Array[] = [];
  for await (const message of conn) messages.push(message);
  return messages;
}

/** Resolves to the error `readMessage()` rejects with, failing the test after a deadline. */
async function readFailure(conn: MessageConnection, what: string): Promise<unknown> {
  const read = conn.readMessage().then(
    (message) => assert.fail(`readMessage() returned ${message} instead of failing`),
    (error: unknown) => error,
  );
  return await withDeadline(read, DEADLINE_MS, what);
}

/** Splits `bytes` into chunks of `size` (the last one shorter). */
function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) {
    parts.push(bytes.subarray(offset, offset + size));
  }
  return parts;
}

Deno.test("MessageConnection yields each fixture message when bytes arrive 1 to 7 at a time", async () => {
  const stream = concat(VECTOR_MESSAGES);
  for (let size = 1; size <= 7; size += 1) {
    await using conn = new MessageConnection(new ScriptedStream(chunks(stream, size)));
    assert.deepEqual(await readAll(conn), VECTOR_MESSAGES, `chunk size ${size}`);
  }
});

Deno.test("MessageConnection yields two messages split at every byte position", async () => {
  // Length 17: the padding after the first message is on the wire but not in Length.
  const first = VECTOR_MESSAGES.find((message) => message[3] === 17);
  assert.ok(first !== undefined);
  const second = frame(9);
  const stream = concat([first, second]);
  for (let split = 1; split < stream.length; split += 1) {
    const parts = [stream.subarray(0, split), stream.subarray(split)];
    await using conn = new MessageConnection(new ScriptedStream(parts));
    assert.deepEqual(await readAll(conn), [first, second], `split at ${split}`);
  }
});

Deno.test("MessageConnection yields messages written back to back in one TCP write", async () => {
  await using pair = await tcpPair();
  await using conn = new MessageConnection(pair.server);
  await writeAll(pair.client, concat(VECTOR_MESSAGES));
  pair.client.closeWrite();
  const messages = await withDeadline(readAll(conn), DEADLINE_MS, "all messages");
  assert.deepEqual(messages, VECTOR_MESSAGES);
});

Deno.test("MessageConnection copies each message out of its read buffer", async () => {
  await using conn = new MessageConnection(
    new ScriptedStream([concat([frame(8, 1), frame(8, 2)])]),
  );
  const first = await conn.readMessage();
  const second = await conn.readMessage();
  assert.ok(first !== null && second !== null);
  assert.notEqual(first.buffer, second.buffer);
  assert.deepEqual(first, frame(8, 1));
});

Deno.test("MessageConnection.readMessage() rejects Length below 4 with a WireError and closes", async () => {
  const stream = new ScriptedStream([concat([frame(8), Uint8Array.of(0x0b, 0x00, 0x00, 0x03)])]);
  await using conn = new MessageConnection(stream);
  assert.deepEqual(await conn.readMessage(), frame(8));
  const error = await readFailure(conn, "the framing error");
  assert.ok(error instanceof WireError);
  assert.equal(error.causeCode, ErrorCauseCode.invalidValues);
  assert.equal(error.offset, 8 + 2);
  assert.match(error.message, /stream offset 8: length 3 is below the minimum 4/);
  assert.equal(conn.closed, true);
  assert.equal(conn.closeReason, error);
  assert.equal(stream.closed, true);
  await assert.rejects(conn.readMessage(), WireError);
});

Deno.test("MessageConnection.readMessage() rejects Length over the maximum from the header alone", async () => {
  // Only the header arrives: the error must not wait for (or allocate) the 200-byte body.
  const stream = new ScriptedStream([Uint8Array.of(0x0b, 0x00, 0x00, 200)], {
    endAfterChunks: false,
  });
  await using conn = new MessageConnection(stream, { maxMessageLength: 64 });
  const error = await readFailure(conn, "the framing error");
  assert.ok(error instanceof WireError);
  assert.equal(error.causeCode, ErrorCauseCode.lackOfResources);
  assert.match(error.message, /length 200 exceeds the maximum 64/);
  assert.equal(conn.closed, true);
});

Deno.test("MessageConnection closes with partial-message-timeout when a message drips in too slowly", async () => {
  await using pair = await tcpPair();
  await using logs = await captureTransportLogs();
  await using conn = new MessageConnection(pair.server, { partialMessageTimeoutMs: 150 });
  const message = frame(64);
  await writeAll(pair.client, message.subarray(0, 3));
  // Keep dripping one byte at a time: arriving bytes must not reset the deadline.
  let sent = 3;
  const drip = setInterval(() => {
    if (sent < message.length - 1) {
      pair.client.write(message.subarray(sent, ++sent)).catch(() => {});
    }
  }, 20);
  try {
    const error = await readFailure(conn, "the partial-message deadline");
    assert.ok(error instanceof TransportError);
    assert.equal(error.code, "partial-message-timeout");
    assert.match(error.message, /within 150 ms/);
  } finally {
    clearInterval(drip);
  }
  assert.equal(conn.closed, true);
  assert.equal(await readToEnd(pair.client).then((rest) => rest.length), 0);
  const warning = logs.records.find((record) => record.level === "warning");
  assert.equal(warning?.properties.peer, `127.0.0.1:${pair.client.localAddr.port}`);
});

Deno.test("MessageConnection closes with partial-message-timeout when a message stops half-way", async () => {
  const stream = new ScriptedStream([frame(16).subarray(0, 5)], { endAfterChunks: false });
  await using conn = new MessageConnection(stream, { partialMessageTimeoutMs: 50 });
  const error = await readFailure(conn, "the partial-message deadline");
  assert.ok(error instanceof TransportError);
  assert.equal(error.code, "partial-message-timeout");
  assert.match(error.message, /only 5 of its bytes arrived within 50 ms/);
  assert.equal(stream.closed, true);
});

Deno.test("MessageConnection.readMessage() returns null at the end of the stream between messages", async () => {
  await using conn = new MessageConnection(new ScriptedStream([frame(12)]));
  assert.deepEqual(await conn.readMessage(), frame(12));
  assert.equal(await conn.readMessage(), null);
  assert.equal(await conn.readMessage(), null);
});

Deno.test("MessageConnection.readMessage() throws UnexpectedEof when the stream ends inside a message", async () => {
  await using conn = new MessageConnection(new ScriptedStream([frame(12).subarray(0, 6)]));
  await assert.rejects(conn.readMessage(), Deno.errors.UnexpectedEof);
  assert.equal(conn.closed, true);
});

Deno.test("MessageConnection.readMessage() rejects a second concurrent read with TypeError", async () => {
  await using conn = new MessageConnection(new ScriptedStream([], { endAfterChunks: false }));
  const first = conn.readMessage();
  await assert.rejects(conn.readMessage(), TypeError);
  conn.close();
  assert.equal(await first, null);
});

Deno.test("MessageConnection.close() is idempotent, ends a pending read and makes send() reject", async () => {
  const stream = new ScriptedStream([], { endAfterChunks: false });
  const conn = new MessageConnection(stream);
  const pending = conn.readMessage();
  conn.close();
  conn.close();
  assert.equal(await pending, null);
  await conn.finished;
  await conn[Symbol.asyncDispose]();
  const error = await conn.send(frame(8)).catch((error: unknown) => error);
  assert.ok(error instanceof TransportError);
  assert.equal(error.code, "closed");
  assert.equal(conn.closeReason, undefined);
});

Deno.test("MessageConnection closes when its signal aborts", async () => {
  const controller = new AbortController();
  const stream = new ScriptedStream([], { endAfterChunks: false });
  await using conn = new MessageConnection(stream, { signal: controller.signal });
  const pending = conn.readMessage();
  controller.abort();
  assert.equal(await pending, null);
  assert.equal(stream.closed, true);
});

Deno.test("MessageConnection.send() writes queued messages in order and flush() waits for them", async () => {
  const stream = new ScriptedStream([], { endAfterChunks: false });
  await using conn = new MessageConnection(stream);
  const messages = [frame(8, 1), frame(17, 2), frame(4)];
  for (const message of messages) await conn.send(message);
  await conn.flush();
  assert.equal(conn.writeQueueBytes, 0);
  assert.deepEqual(concat(stream.written), concat(messages));
});

Deno.test("MessageConnection.send() holds the sender above the high-water mark until the queue drains", async () => {
  const stream = new ScriptedStream([], { endAfterChunks: false, holdWrites: true });
  await using conn = new MessageConnection(stream, {
    writeHighWaterBytes: 64,
    maxWriteQueueBytes: 1024,
  });
  await conn.send(frame(32));
  await conn.send(frame(32));
  let settled = false;
  const third = conn.send(frame(32)).then(() => {
    settled = true;
  });
  assert.equal(conn.writeQueueBytes, 96);
  // One turn of the event loop: a send() that did not wait would have settled by now.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(settled, false);
  stream.releaseWrites();
  await withDeadline(third, DEADLINE_MS, "the held send()");
  assert.equal(settled, true);
  await conn.flush();
  assert.deepEqual(concat(stream.written), concat([frame(32), frame(32), frame(32)]));
});

Deno.test("MessageConnection.send() closes the connection as a slow consumer beyond maxWriteQueueBytes", async () => {
  await using pair = await tcpPair();
  await using conn = new MessageConnection(pair.server, {
    writeHighWaterBytes: 4096,
    maxWriteQueueBytes: 16384,
  });
  // The peer never reads and the sender does not await: the queue fills up to its bound.
  const message = frame(1024);
  const sends: Promise<void>[] = [];
  for (let index = 0; index < 16; index += 1) sends.push(conn.send(message).catch(() => {}));
  assert.equal(conn.writeQueueBytes, 16384);
  const error = await conn.send(message).catch((error: unknown) => error);
  assert.ok(error instanceof TransportError);
  assert.equal(error.code, "slow-consumer");
  assert.equal(conn.closed, true);
  assert.equal(conn.closeReason, error);
  await Promise.all(sends);
});

Deno.test("MessageConnection.peer formats IPv6 peers in brackets", async () => {
  await using pair = await tcpPair("::1");
  await using conn = new MessageConnection(pair.server);
  assert.equal(conn.peer, `[::1]:${pair.client.localAddr.port}`);
});

Deno.test("MessageConnection rejects out-of-range bounds with RangeError and closes the stream", () => {
  const stream = new ScriptedStream([]);
  assert.throws(() => new MessageConnection(stream, { maxMessageLength: 3 }), {
    name: "RangeError",
    message:
      "Cannot open message connection as 'maxMessageLength' must be an integer from 4 to 65535: current value is 3",
  });
  assert.equal(stream.closed, true);
  assert.throws(
    () =>
      new MessageConnection(new ScriptedStream([]), {
        writeHighWaterBytes: 10,
        maxWriteQueueBytes: 5,
      }),
    RangeError,
  );
});
