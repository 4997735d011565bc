/**
 * Control-channel sessions in process: the proxy with a static member source and pool elements
 * built with the PE library, for the bounds and modes that need no process to die (the
 * SIGKILL/SIGSTOP scenarios are in control_channel_test.ts).
 */
import assert from "node:assert/strict";
import {
  DataChannelDecoder,
  Decoded,
  encodeControlFrame,
  encodeHello,
  FrameType,
} from "../../lib/asap/data_channel.ts";
import { echoService } from "../../lib/asap/examples/echo_service.ts";
import { type PeSessionServer, servePeSessions } from "../../lib/asap/pe_session.ts";
import { AsapMessageType } from "../../lib/wire/codes.ts";
import type { PoolSettings } from "../../proxy/settings.ts";
import { StaticMemberSource } from "../../proxy/static_member_source.ts";
import {
  connectTo,
  echoHandler,
  patternBytes,
  readExactly,
  readToEnd,
  startTestProxy,
  startTestServer,
  TEST_POOL,
  testMember,
  waitForProxyEvent,
  writeAll,
} from "../_support/proxy_harness.ts";
import { withDeadline } from "../_support/deadline.ts";

const DEADLINE_MS = 10_000;

function echoPe(cookieEveryBytes: number): PeSessionServer {
  return servePeSessions({ hostname: "127.0.0.1", port: 0, ...echoService({ cookieEveryBytes }) });
}

/** A PE that echoes but never sends a cookie. */
function cookielessPe(): PeSessionServer {
  return servePeSessions({
    hostname: "127.0.0.1",
    port: 0,
    restore: () => undefined,
    async serve(session) {
      const buffer = new Uint8Array(16 * 1024);
      for (let n = await session.read(buffer); n !== null; n = await session.read(buffer)) {
        await session.write(buffer.subarray(0, n));
      }
    },
  });
}

function proxyFor(members: ReturnType<typeof testMember>[], settings: PoolSettings = {}) {
  const source = new StaticMemberSource({ [TEST_POOL]: members });
  // startTestProxy sets failover=migrate; these tests want the pool's own defaults.
  return startTestProxy(source, { pools: { [TEST_POOL]: settings } });
}

Deno.test("ControlSession holds the client back while the replay buffer is full and goes on once a cookie frees it", async () => {
  await using pe = echoPe(1024);
  await using proxy = proxyFor([testMember(1, pe.addr.port, 1)], { replayBufferBytes: 4096 });
  using client = await connectTo(proxy);
  const payload = patternBytes(1024 * 1024, 7);
  const [, echoed] = await Promise.all([
    writeAll(client, payload).then(() => client.closeWrite()),
    readToEnd(client, DEADLINE_MS),
  ]);
  assert.deepEqual(echoed.bytes, payload);
});

Deno.test("ControlSession closes a session whose replay buffer no cookie frees within replayStallTimeoutMs", async () => {
  await using pe = cookielessPe();
  await using proxy = proxyFor([testMember(1, pe.addr.port, 1)], {
    replayBufferBytes: 4096,
    replayStallTimeoutMs: 200,
  });
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  const writing = writeAll(client, new Uint8Array(64 * 1024)).catch(() => {});
  const t0 = performance.now();
  const end = await ended;
  const elapsed = performance.now() - t0;
  assert.equal(end.reason, "replay-overflow");
  // Nothing past the buffer was read from the client, so nothing past it was echoed.
  assert.equal(end.bytesIn, 4096);
  assert.ok(end.bytesOut <= 4096);
  assert.ok(elapsed >= 150, `closed after ${elapsed} ms`);
  client.close();
  await writing;
});

Deno.test("ControlSession keeps waiting for room through cookies that free nothing", async () => {
  // A hand-made PE: once it has the 1024 bytes the proxy's full replay buffer holds, it sends
  // cookies at position 0, which free nothing, and nothing else.
  let cookiesSentAt = 0;
  await using pe = startTestServer(async (conn) => {
    conn.setNoDelay(true);
    await writeAll(conn, encodeHello({ version: 1, resume: false }));
    const decoder = new DataChannelDecoder({ peer: "proxy" });
    const buffer = new Uint8Array(64 * 1024);
    let received = 0;
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      decoder.feed(buffer.subarray(0, n));
      for (let kind = decoder.next(); kind !== Decoded.none; kind = decoder.next()) {
        if (kind === Decoded.data) received += decoder.dataEnd - decoder.dataStart;
      }
      if (received === 1024 && cookiesSentAt === 0) {
        cookiesSentAt = performance.now();
        const cookie = encodeControlFrame({
          type: FrameType.cookie,
          position: { consumed: 0, produced: 0 },
          message: { type: AsapMessageType.cookie, cookie: new Uint8Array(1) },
        });
        for (let i = 0; i < 3; i++) await writeAll(conn, cookie);
      }
    }
  });
  await using proxy = proxyFor([testMember(1, pe.port, 1)], {
    replayBufferBytes: 1024,
    replayStallTimeoutMs: 300,
  });
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  const writing = writeAll(client, new Uint8Array(8192)).catch(() => {});
  const end = await ended;
  const elapsed = performance.now() - cookiesSentAt;
  assert.equal(end.reason, "replay-overflow");
  assert.ok(cookiesSentAt > 0 && elapsed >= 150, `closed ${elapsed} ms after the cookies`);
  client.close();
  await writing;
});

Deno.test("ControlSession stops holding the client back for cookies once the PE has ended its output", async () => {
  // The PE says goodbye first, then takes an upload many times the replay buffer: no cookie
  // can follow its end frame, and none is needed, since a failure now ends the session.
  const consumed = Promise.withResolvers<number>();
  await using pe = servePeSessions({
    hostname: "127.0.0.1",
    port: 0,
    restore: () => undefined,
    async serve(session) {
      await session.write(new TextEncoder().encode("send it all"));
      await session.end();
      const buffer = new Uint8Array(16 * 1024);
      let total = 0;
      for (let n = await session.read(buffer); n !== null; n = await session.read(buffer)) {
        total += n;
      }
      consumed.resolve(total);
    },
  });
  await using proxy = proxyFor([testMember(1, pe.addr.port, 1)], {
    replayBufferBytes: 4096,
    replayStallTimeoutMs: 600_000,
  });
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  const greeting = await readToEnd(client, DEADLINE_MS);
  assert.equal(new TextDecoder().decode(greeting.bytes), "send it all");
  const upload = 256 * 1024;
  await writeAll(client, patternBytes(upload, 3));
  await client.closeWrite();
  const end = await ended;
  assert.deepEqual([end.reason, end.bytesIn], ["completed", upload]);
  assert.equal(await withDeadline(consumed.promise, DEADLINE_MS, "the PE's end of input"), upload);
});

Deno.test("ControlSession migrates by default and severs when the pool says failover=sever", async () => {
  for (
    const [settings, expected] of [[{}, "migrated"], [{ failover: "sever" }, "pe-failed"]] as const
  ) {
    const pe1 = echoPe(512);
    await using pe2 = echoPe(512);
    await using proxy = proxyFor(
      [testMember(1, pe1.addr.port, 1), testMember(2, pe2.addr.port, 1)],
      settings,
    );
    const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
    const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
    using client = await connectTo(proxy);
    await writeAll(client, patternBytes(2000, 3));
    assert.deepEqual(await readExactly(client, 2000, DEADLINE_MS), patternBytes(2000, 3));
    assert.equal((await started).peId, 1);
    // A PE library shutdown closes its channels without an end frame: a failure to the proxy.
    await pe1.shutdown();
    if (expected === "migrated") {
      await writeAll(client, patternBytes(3000, 4));
      assert.deepEqual(await readExactly(client, 3000, DEADLINE_MS), patternBytes(3000, 4));
      await client.closeWrite();
      assert.equal((await readToEnd(client, DEADLINE_MS)).bytes.length, 0);
      const end = await ended;
      assert.deepEqual([end.reason, end.pes], ["completed", [1, 2]]);
    } else {
      const end = await ended;
      assert.deepEqual([end.reason, end.pes], ["pe-failed", [1]]);
    }
  }
});

Deno.test("ControlSession never moves a session to a DATA ONLY member, which could not restore its state", async () => {
  await using pe1 = echoPe(512);
  await using legacy = startTestServer(echoHandler);
  await using proxy = proxyFor([testMember(1, pe1.addr.port, 1), testMember(2, legacy.port)]);
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using _client = await connectTo(proxy);
  const { sessionId, peId } = await started;
  assert.equal(peId, 1);
  assert.ok(proxy.failover(sessionId));
  const end = await withDeadline(ended, DEADLINE_MS, "the end");
  assert.deepEqual([end.reason, end.pes], ["no-pe", [1]]);
  assert.equal(legacy.accepted, 0);
});
