/**
 * Hostile input on the ASAP port: garbage (framed and unframed), a truncated message, an
 * oversized Length and a slow drip, each on its own connection while another connection keeps
 * being served. Only the offending connection may suffer.
 */
import assert from "node:assert/strict";
import { startRegistrar } from "../../../lib/registrar/mod.ts";
import { AsapMessageType, encodeAsapMessage } from "../../../lib/wire/mod.ts";
import { withDeadline } from "../../_support/deadline.ts";
import {
  connectAsap,
  expectType,
  handle,
  nextChange,
  poolElement,
  registration,
  resolution,
} from "./_asap_client.ts";

const MAX_MESSAGE_LENGTH = 1024;
const PARTIAL_MESSAGE_TIMEOUT_MS = 300;

/** A seeded generator of bytes (xorshift32), so every run sends the same garbage. */
function garbage(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let written = 0; written < data.length;) written += await conn.write(data.subarray(written));
}

/** Reads until the registrar ends the connection; resolves with the bytes it sent. */
async function readUntilClosed(conn: Deno.Conn, ms: number, what: string): Promise<number> {
  const buffer = new Uint8Array(65536);
  let total = 0;
  const drained = (async () => {
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) total += n;
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    }
  })();
  await withDeadline(drained, ms, what);
  return total;
}

Deno.test("Registrar survives garbage, truncated, oversized and slow-drip input while serving others", async () => {
  await using registrar = startRegistrar({
    hostname: "127.0.0.1",
    port: 0,
    serverId: 1,
    maxMessageLength: MAX_MESSAGE_LENGTH,
    partialMessageTimeoutMs: PARTIAL_MESSAGE_TIMEOUT_MS,
  });
  const port = registrar.addr.port;
  await using good = await connectAsap(port);
  await good.request(registration("Steady", poolElement(1)));

  let attacking = true;
  let served = 0;
  const service = (async () => {
    while (attacking) {
      const answer = expectType(
        await good.request(resolution("Steady")),
        AsapMessageType.handleResolutionResponse,
      );
      assert.equal(answer.poolElements[0]?.identifier, 1);
      served++;
    }
  })();

  const unframed = (async () => {
    // Its first Length is 0x29f4, above the limit: the registrar closes this connection only.
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, garbage(4096, 0x1234567));
    await readUntilClosed(conn, 2000, "the registrar to close the garbage connection");
  })();

  const framed = (async () => {
    // Well-framed messages with random bodies: answered with Errors or dropped, never closed.
    await using peer = await connectAsap(port);
    const noise = garbage(64 * 16, 0x2468ace);
    for (let i = 0; i < 64; i++) {
      const message = noise.slice(i * 16, i * 16 + 16);
      message.set([0x40 + (i % 0x3f), 0, 0, 16]);
      await peer.sendBytes(message);
    }
    const answer = await peer.request(resolution("Steady"), 2000);
    // Errors for the noise come first; the resolution is answered after them.
    let next = answer;
    while (next.type === AsapMessageType.error) next = await peer.receive();
    assert.equal(next.type, AsapMessageType.handleResolutionResponse);
  })();

  const truncated = (async () => {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const removed = nextChange(registrar, "pe-removed", 2000);
    await writeAll(conn, encodeAsapMessage(registration("Cut", poolElement(2))));
    const reply = new Uint8Array(64);
    assert.ok((await conn.read(reply)) !== null);
    const whole = encodeAsapMessage(registration("Cut", poolElement(3)));
    await writeAll(conn, whole.subarray(0, whole.length - 9));
    await conn.closeWrite();
    await readUntilClosed(conn, 2000, "the registrar to close the truncated connection");
    const change = await removed;
    assert.equal(change.peId, 2);
    assert.equal(change.reason, "connection-closed");
    assert.equal(registrar.handlespace.find(handle("Cut"), 3), undefined);
  })();

  const oversized = (async () => {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, Uint8Array.of(0x01, 0, (MAX_MESSAGE_LENGTH + 4) >> 8, 4));
    const answered = await readUntilClosed(conn, 2000, "the registrar to refuse the Length");
    assert.equal(answered, 0);
  })();

  const slowDrip = (async () => {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const bytes = encodeAsapMessage(registration("Drip", poolElement(4)));
    const began = performance.now();
    const closed = readUntilClosed(conn, 3000, "the registrar to give up on the drip");
    for (let i = 0; i < bytes.length; i++) {
      try {
        await writeAll(conn, bytes.subarray(i, i + 1));
      } catch {
        break; // closed by the registrar, as expected
      }
      await new Promise((resolve) => setTimeout(resolve, 40)); // the attack's pacing, not a wait
      if (performance.now() - began > 2000) break;
    }
    await closed;
    const lasted = performance.now() - began;
    assert.ok(lasted < PARTIAL_MESSAGE_TIMEOUT_MS + 500, `the drip lasted ${lasted} ms`);
    assert.equal(registrar.handlespace.pool(handle("Drip")), undefined);
  })();

  await Promise.all([unframed, framed, truncated, oversized, slowDrip]);
  attacking = false;
  await service;
  assert.ok(served >= 10, `only ${served} resolutions were served during the attacks`);
  assert.ok(registrar.handlespace.find(handle("Steady"), 1) !== undefined);
  await using after = await connectAsap(port);
  assert.equal(
    (await after.request(resolution("Steady"))).type,
    AsapMessageType.handleResolutionResponse,
  );
});
