import assert from "node:assert/strict";
import type { MessageConnection } from "../../../lib/transport/message_connection.ts";
import { ListenError } from "../../../lib/transport/listen_error.ts";
import {
  DEFAULT_MESSAGE_SERVER_ROLE,
  type MessageServer,
  startMessageServer,
} from "../../../lib/transport/message_server.ts";
import { WireError } from "../../../lib/wire/wire_error.ts";
import { withDeadline } from "../../_support/deadline.ts";
import { captureTransportLogs } from "./_log_capture.ts";
import { concat, frame } from "./_messages.ts";
import { readToEnd, writeAll } from "./_tcp.ts";

const DEADLINE_MS = 2000;

/** Echoes every message back until the peer ends the stream. */
async function echo(conn: MessageConnection): Promise<void> {
  for await (const message of conn) await conn.send(message);
}

function startEchoServer(options: { maxConnections?: number } = {}): MessageServer {
  return startMessageServer({ hostname: "127.0.0.1", port: 0, onConnection: echo, ...options });
}

/** A raw client connection to `server`; disposing closes it unless the server did first. */
async function connectRaw(server: MessageServer): Promise<Deno.TcpConn & AsyncDisposable> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  return Object.assign(conn, {
    [Symbol.asyncDispose]() {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      return Promise.resolve();
    },
  });
}

/** Sends `message` and reads the echo of exactly its length. */
async function roundTrip(conn: Deno.TcpConn, message: Uint8Array): Promise<Uint8Array> {
  await writeAll(conn, message);
  const reply = new Uint8Array(message.length);
  let length = 0;
  while (length < reply.length) {
    const count = await conn.read(reply.subarray(length));
    if (count === null) throw new Error(`Stream ended after ${length} bytes of the echo`);
    length += count;
  }
  return reply;
}

Deno.test("startMessageServer() binds at once and serves messages through onConnection", async () => {
  await using server = startEchoServer();
  assert.notEqual(server.addr.port, 0);
  await using client = await connectRaw(server);
  const messages = concat([frame(8, 1), frame(17, 2), frame(64, 3)]);
  assert.deepEqual(await withDeadline(roundTrip(client, messages), DEADLINE_MS, "echo"), messages);
});

Deno.test("startMessageServer() closes only a connection that sends garbage, and logs its peer", async () => {
  await using logs = await captureTransportLogs();
  await using server = startEchoServer();
  await using live = await connectRaw(server);
  await using garbage = await connectRaw(server);
  await roundTrip(live, frame(8));
  await writeAll(garbage, Uint8Array.of(0xde, 0xad, 0x00, 0x01));
  assert.equal((await withDeadline(readToEnd(garbage), DEADLINE_MS, "garbage closed")).length, 0);
  assert.deepEqual(await withDeadline(roundTrip(live, frame(12)), DEADLINE_MS, "echo"), frame(12));
  const warning = logs.records.find((record) => record.properties.error instanceof WireError);
  assert.ok(warning !== undefined);
  assert.equal(warning.level, "warning");
  assert.equal(warning.properties.peer, `127.0.0.1:${garbage.localAddr.port}`);
  // Logged once, by the connection: the handler rethrew the same error.
  assert.equal(logs.records.filter((record) => record.level === "error").length, 0);
});

Deno.test("startMessageServer() closes connections beyond maxConnections at once", async () => {
  await using logs = await captureTransportLogs();
  await using server = startEchoServer({ maxConnections: 2 });
  await using first = await connectRaw(server);
  await using second = await connectRaw(server);
  await roundTrip(first, frame(8));
  await roundTrip(second, frame(8));
  assert.equal(server.connectionCount, 2);
  await using third = await connectRaw(server);
  await writeAll(third, frame(8));
  assert.equal((await withDeadline(readToEnd(third), DEADLINE_MS, "refusal")).length, 0);
  const refusal = logs.records.find((record) => record.level === "warning");
  assert.equal(refusal?.properties.peer, `127.0.0.1:${third.localAddr.port}`);
  // Once one connection ends, a new one is served again. The server drops the first one only
  // after reading its end, so an attempt that races ahead of that is refused: try again then.
  first.close();
  const reply = await withDeadline(
    (async () => {
      for (;;) {
        await using attempt = await connectRaw(server);
        const echoed = await roundTrip(attempt, frame(8)).catch(() => undefined);
        if (echoed !== undefined) return echoed;
      }
    })(),
    DEADLINE_MS,
    "a connection served after one closed",
  );
  assert.deepEqual(reply, frame(8));
});

Deno.test("MessageServer.shutdown() closes the listener and every connection, idempotently", async () => {
  const handlersDone: string[] = [];
  const server = startMessageServer({
    hostname: "127.0.0.1",
    port: 0,
    onConnection: async (conn) => {
      await echo(conn);
      handlersDone.push(conn.peer);
    },
  });
  await using first = await connectRaw(server);
  await using second = await connectRaw(server);
  await roundTrip(first, frame(8));
  await roundTrip(second, frame(8));
  const shutdown = server.shutdown();
  assert.equal(server.shutdown(), shutdown);
  await withDeadline(shutdown, DEADLINE_MS, "shutdown");
  await server.finished;
  assert.equal(handlersDone.length, 2);
  assert.equal(server.connectionCount, 0);
  assert.equal((await readToEnd(first)).length, 0);
  assert.equal((await readToEnd(second)).length, 0);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("startMessageServer() shuts down when its signal aborts", async () => {
  const controller = new AbortController();
  const server = startMessageServer({
    hostname: "127.0.0.1",
    port: 0,
    onConnection: echo,
    signal: controller.signal,
  });
  controller.abort();
  await withDeadline(server.finished, DEADLINE_MS, "finished");
});

Deno.test("startMessageServer() logs a failing handler with the peer and closes its connection", async () => {
  await using logs = await captureTransportLogs();
  await using server = startMessageServer({
    hostname: "127.0.0.1",
    port: 0,
    onConnection: () => Promise.reject(new Error("handler bug")),
  });
  await using client = await connectRaw(server);
  assert.equal((await withDeadline(readToEnd(client), DEADLINE_MS, "close")).length, 0);
  const record = logs.records.find((record) => record.level === "error");
  assert.equal(record?.properties.peer, `127.0.0.1:${client.localAddr.port}`);
});

Deno.test("startMessageServer() rejects out-of-range options with RangeError", () => {
  assert.throws(
    () => startMessageServer({ port: 0, maxConnections: 0, onConnection: echo }),
    {
      name: "RangeError",
      message:
        "Cannot start message server as 'maxConnections' must be a positive integer: current value is 0",
    },
  );
  assert.throws(
    () => startMessageServer({ port: 0, maxMessageLength: 70000, onConnection: echo }),
    RangeError,
  );
});

Deno.test("startMessageServer() on a taken port throws a ListenError naming the address and its role", () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = { hostname: "127.0.0.1", port: taken.addr.port };
  for (const [role, expected] of [[undefined, DEFAULT_MESSAGE_SERVER_ROLE], ["ASAP", "ASAP"]]) {
    assert.throws(
      () => startMessageServer({ ...address, onConnection: echo, ...(role ? { role } : {}) }),
      (error: unknown) => {
        assert.ok(error instanceof ListenError);
        assert.equal(error.name, "ListenError");
        assert.deepEqual(error.address, address);
        assert.equal(error.role, expected);
        assert.ok(error.cause instanceof Deno.errors.AddrInUse);
        assert.equal(
          error.message,
          `Cannot listen on 127.0.0.1:${taken.addr.port} (${expected}): ${error.cause.message}`,
        );
        return true;
      },
    );
  }
});

Deno.test("ListenError writes an IPv6 address in brackets", () => {
  const error = new ListenError({ hostname: "::1", port: 3863 }, "ASAP", new Error("in use"));
  assert.equal(error.message, "Cannot listen on [::1]:3863 (ASAP): in use");
});
