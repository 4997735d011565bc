import assert from "node:assert/strict";
import { connectMessage } from "../../../lib/transport/connect_message.ts";
import { startMessageServer } from "../../../lib/transport/message_server.ts";
import { TransportError } from "../../../lib/transport/transport_error.ts";
import { withDeadline } from "../../_support/deadline.ts";
import { frame } from "./_messages.ts";

const DEADLINE_MS = 2000;

Deno.test("connectMessage() exchanges messages with a message server over IPv4 and IPv6", async () => {
  for (const hostname of ["127.0.0.1", "::1"]) {
    await using server = startMessageServer({
      hostname,
      port: 0,
      onConnection: async (conn) => {
        for await (const message of conn) await conn.send(message);
      },
    });
    await using conn = await connectMessage({ hostname, port: server.addr.port });
    const expectedPeer = hostname === "::1"
      ? `[::1]:${server.addr.port}`
      : `127.0.0.1:${server.addr.port}`;
    assert.equal(conn.peer, expectedPeer);
    await conn.send(frame(13));
    assert.deepEqual(await withDeadline(conn.readMessage(), DEADLINE_MS, "echo"), frame(13));
  }
});

Deno.test("connectMessage() rejects with ConnectionRefused when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  await assert.rejects(
    connectMessage({ hostname: "127.0.0.1", port: listener.addr.port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("connectMessage() rejects with connect-timeout when the connect does not finish in time", async () => {
  // A connector that, like Deno.connect to a black hole, settles only when its signal aborts.
  const connect = ({ signal }: { signal: AbortSignal }) =>
    new Promise<never>((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  const error = await connectMessage({ port: 3863, timeoutMs: 50, connect }).catch((e) => e);
  assert.ok(error instanceof TransportError);
  assert.equal(error.code, "connect-timeout");
  assert.equal(error.message, "Cannot connect to 127.0.0.1:3863 within 50 ms");
});

Deno.test("connectMessage() rejects with the abort reason when its signal aborts", async () => {
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  await assert.rejects(connectMessage({ port: 3863, signal: controller.signal }), /stop/);
});
