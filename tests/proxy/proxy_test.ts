/**
 * The session proxy against in-process servers: forwarding, half-close, connect failures,
 * removal events, PROXY protocol both ways, bounds, idle timeout, shutdown and the access log.
 * Tests with real killed processes are in proxy_process_test.ts.
 */
import assert from "node:assert/strict";
import type { Connector } from "../../proxy/connector.ts";
import { StaticMemberSource } from "../../proxy/static_member_source.ts";
import { withDeadline } from "../_support/deadline.ts";
import { capturePoolgateLogs } from "../_support/log_capture.ts";
import {
  collectProxyEvents,
  concat,
  connectTo,
  echoHandler,
  patternBytes,
  readExactly,
  readToEnd,
  RecordingSource,
  refusedPort,
  startTestProxy,
  startTestServer,
  TEST_POOL,
  testMember,
  type TestServer,
  waitForProxyEvent,
  writeAll,
} from "../_support/proxy_harness.ts";

const DEADLINE_MS = 5_000;

Deno.test("startProxy() forwards bytes both ways and ends the session when both sides close", async () => {
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  await using proxy = startTestProxy(source);
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  using client = await connectTo(proxy);
  const payload = patternBytes(300_000, 7);
  const echoed = readExactly(client, payload.length, DEADLINE_MS);
  await writeAll(client, payload);
  assert.deepEqual(await echoed, payload);
  assert.equal((await started).peId, 1);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  await client.closeWrite();
  const rest = await readToEnd(client, DEADLINE_MS);
  assert.equal(rest.bytes.length, 0);
  const end = await ended;
  assert.equal(end.reason, "completed");
  assert.equal(end.bytesIn, payload.length);
  assert.equal(end.bytesOut, payload.length);
  assert.deepEqual(end.pes, [1]);
  assert.equal(end.failovers, 0);
});

Deno.test("startProxy() passes a client half-close on, and the PE's reply after it still reaches the client", async () => {
  let peSawEof = false;
  await using pe = startTestServer(async (conn) => {
    const request = await readToEnd(conn, DEADLINE_MS);
    peSawEof = true;
    await writeAll(conn, concat([new TextEncoder().encode("reply to "), request.bytes]));
  });
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  await using proxy = startTestProxy(source);
  using client = await connectTo(proxy);
  await writeAll(client, new TextEncoder().encode("request"));
  await client.closeWrite();
  const reply = await readToEnd(client, DEADLINE_MS);
  assert.equal(new TextDecoder().decode(reply.bytes), "reply to request");
  assert.equal(reply.reset, false);
  assert.ok(peSawEof);
});

Deno.test("startProxy() passes a live PE's close on as a half-close, after a probe finds it alive", async () => {
  await using pe = startTestServer(async (conn) => {
    await writeAll(conn, new TextEncoder().encode("bye"));
    await conn.closeWrite();
    // Keep reading what the client sends after our FIN, then answer it.
    const rest = await readToEnd(conn, DEADLINE_MS);
    assert.equal(new TextDecoder().decode(rest.bytes), "still here");
  });
  const source = new RecordingSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  await using proxy = startTestProxy(source);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  assert.equal(new TextDecoder().decode(await readExactly(client, 3, DEADLINE_MS)), "bye");
  const eof = await readToEnd(client, DEADLINE_MS);
  assert.equal(eof.bytes.length, 0);
  await writeAll(client, new TextEncoder().encode("still here"));
  await client.closeWrite();
  const end = await ended;
  assert.equal(end.reason, "completed");
  assert.equal(end.failovers, 0);
  assert.deepEqual(source.reports, []);
  assert.equal(pe.accepted, 2, "the session and the FIN probe");
});

Deno.test("startProxy() takes a FIN as a crash when the probe is reset by the closing listener", async () => {
  // A dying process closes the session's socket (FIN) just before its listener; the probe's
  // handshake completes in the listener's queue and is reset when the listener closes.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using pe2 = startTestServer(echoHandler);
  const source = new RecordingSource({
    [TEST_POOL]: [testMember(1, listener.addr.port), testMember(2, pe2.port)],
  });
  let connects = 0;
  const connector: Connector = async (options) => {
    const conn = await Deno.connect(options);
    if (options.port === listener.addr.port && ++connects === 2) listener.close();
    return conn;
  };
  await using proxy = startTestProxy(source, { connect: connector });
  const failover = waitForProxyEvent(proxy, "failover", DEADLINE_MS);
  using client = await connectTo(proxy);
  const pe1 = await listener.accept();
  pe1.close();
  const moved = await failover;
  assert.deepEqual([moved.fromPeId, moved.toPeId, moved.cause], [1, 2, "dead-fin"]);
  await writeAll(client, new TextEncoder().encode("alive"));
  assert.equal(new TextDecoder().decode(await readExactly(client, 5, DEADLINE_MS)), "alive");
  assert.deepEqual(source.reports, [1]);
});

Deno.test("startProxy() with finProbe if-unanswered takes an answering PE's FIN as a close without a probe", async () => {
  await using pe = startTestServer(async (conn) => {
    await readExactly(conn, 4, DEADLINE_MS);
    await writeAll(conn, new TextEncoder().encode("pong"));
    await conn.closeWrite();
    await readToEnd(conn, DEADLINE_MS);
  });
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  await using proxy = startTestProxy(source, {
    pools: { [TEST_POOL]: { failover: "migrate", finProbe: "if-unanswered" } },
  });
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  await writeAll(client, new TextEncoder().encode("ping"));
  assert.equal(new TextDecoder().decode((await readToEnd(client, DEADLINE_MS)).bytes), "pong");
  client.close();
  assert.equal((await ended).failovers, 0);
  assert.equal(pe.accepted, 1, "no probe connection");
});

Deno.test("startProxy() passes an answering PE's FIN on once the client half-closes, without waiting for the probe", async () => {
  await using pe = startTestServer(async (conn) => {
    await readExactly(conn, 4, DEADLINE_MS);
    await writeAll(conn, new TextEncoder().encode("pong"));
    conn.close();
  });
  const source = new RecordingSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  // The probe never answers within the test: only the client's half-close can settle the FIN.
  let connects = 0;
  const probing = Promise.withResolvers<void>();
  const connector: Connector = (options) => {
    if (++connects === 1) return Deno.connect(options);
    probing.resolve();
    return new Promise((_, reject) => {
      options.signal.addEventListener("abort", () => reject(options.signal.reason), { once: true });
    });
  };
  await using proxy = startTestProxy(source, {
    connect: connector,
    pools: { [TEST_POOL]: { failover: "migrate", connectTimeoutMs: 600_000 } },
  });
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  await writeAll(client, new TextEncoder().encode("ping"));
  assert.equal(new TextDecoder().decode(await readExactly(client, 4, DEADLINE_MS)), "pong");
  await withDeadline(probing.promise, DEADLINE_MS, "the FIN probe to start");
  await client.closeWrite();
  const eof = await readToEnd(client, DEADLINE_MS);
  assert.deepEqual([eof.bytes.length, eof.reset], [0, false]);
  const end = await ended;
  assert.deepEqual([end.reason, end.failovers], ["completed", 0]);
  assert.deepEqual(source.reports, []);
});
Deno.test("startProxy() skips connect-refused PEs without losing a byte and reports them", async () => {
  await using pe = startTestServer(echoHandler);
  const dead1 = refusedPort();
  const dead2 = refusedPort();
  const source = new RecordingSource({
    [TEST_POOL]: [testMember(1, dead1), testMember(2, dead2), testMember(3, pe.port)],
  }, { quarantineMs: 0 });
  // Sever mode: connect failures are retried in every mode.
  await using proxy = startTestProxy(source, { pools: { [TEST_POOL]: { failover: "sever" } } });
  const failovers = collectProxyEvents(proxy, "failover", 2, DEADLINE_MS);
  using client = await connectTo(proxy);
  const payload = patternBytes(50_000, 3);
  const echoed = readExactly(client, payload.length, DEADLINE_MS);
  await writeAll(client, payload);
  assert.deepEqual(await echoed, payload);
  assert.deepEqual(
    (await failovers).map(({ fromPeId, toPeId, cause }) => [fromPeId, toPeId, cause]),
    [[1, 2, "connect-refused"], [2, 3, "connect-refused"]],
  );
  assert.deepEqual(source.reports, [1, 2]);
  assert.deepEqual(proxy.sessions().map((s) => [s.peId, s.failovers]), [[3, 2]]);
});

Deno.test("startProxy() moves to the next PE when a connect times out", async () => {
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({
    [TEST_POOL]: [testMember(1, 9), testMember(2, pe.port)],
  });
  // PE 1 never answers: the injected connector waits for the abort.
  const connector: Connector = (options) =>
    options.port === 9
      ? new Promise((_, reject) => {
        options.signal.addEventListener("abort", () => reject(options.signal.reason), {
          once: true,
        });
      })
      : Deno.connect(options);
  await using proxy = startTestProxy(source, {
    connect: connector,
    pools: { [TEST_POOL]: { failover: "sever", connectTimeoutMs: 50 } },
  });
  const failover = waitForProxyEvent(proxy, "failover", DEADLINE_MS);
  using client = await connectTo(proxy);
  await writeAll(client, new TextEncoder().encode("ping"));
  assert.equal(new TextDecoder().decode(await readExactly(client, 4, DEADLINE_MS)), "ping");
  const { fromPeId, toPeId, cause } = await failover;
  assert.deepEqual([fromPeId, toPeId, cause], [1, 2, "connect-failed"]);
});

Deno.test("startProxy() moves the sessions of a PE the member source removes (migrate)", async () => {
  await using pe1 = startTestServer(echoHandler);
  await using pe2 = startTestServer(echoHandler);
  const source = new RecordingSource({
    [TEST_POOL]: [testMember(1, pe1.port), testMember(2, pe2.port)],
  });
  await using proxy = startTestProxy(source);
  const starts = collectProxyEvents(proxy, "session-start", 2, DEADLINE_MS);
  using a = await connectTo(proxy);
  using b = await connectTo(proxy);
  const [first] = await starts;
  const onPe1 = first?.peId === 1 ? a : b;
  await writeAll(onPe1, new TextEncoder().encode("one"));
  assert.equal(new TextDecoder().decode(await readExactly(onPe1, 3, DEADLINE_MS)), "one");
  const failover = waitForProxyEvent(proxy, "failover", DEADLINE_MS);
  assert.ok(source.remove(TEST_POOL, 1, "deregistered"));
  const moved = await failover;
  assert.deepEqual([moved.fromPeId, moved.toPeId, moved.cause], [1, 2, "removed"]);
  await writeAll(onPe1, new TextEncoder().encode("two"));
  assert.equal(new TextDecoder().decode(await readExactly(onPe1, 3, DEADLINE_MS)), "two");
  assert.deepEqual(proxy.sessions().map((s) => s.peId), [2, 2]);
  assert.deepEqual(source.reports, [], "a removal is not a failure the proxy saw");
});

Deno.test("startProxy() moves on when the PE leaves the pool while the session connects to it", async () => {
  await using pe1 = startTestServer(echoHandler);
  await using pe2 = startTestServer(echoHandler);
  const source = new RecordingSource({
    [TEST_POOL]: [testMember(1, pe1.port), testMember(2, pe2.port)],
  });
  // The connect to PE 1 completes only after PE 1 has been removed: the removal event finds no
  // session on PE 1 yet, as when a hung PE's kernel completes the handshake after its removal.
  const connecting = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const connector: Connector = async (options) => {
    if (options.port !== pe1.port) return await Deno.connect(options);
    connecting.resolve();
    await release.promise;
    return await Deno.connect(options);
  };
  await using proxy = startTestProxy(source, { connect: connector });
  const failover = waitForProxyEvent(proxy, "failover", DEADLINE_MS);
  using client = await connectTo(proxy);
  await withDeadline(connecting.promise, DEADLINE_MS, "the connect to PE 1");
  assert.ok(source.remove(TEST_POOL, 1, "keep-alive timeout"));
  release.resolve();
  const moved = await failover;
  assert.deepEqual([moved.fromPeId, moved.toPeId, moved.cause], [1, 2, "removed"]);
  await writeAll(client, new TextEncoder().encode("ping"));
  assert.equal(new TextDecoder().decode(await readExactly(client, 4, DEADLINE_MS)), "ping");
  assert.deepEqual(proxy.sessions().map((s) => s.peId), [2]);
  assert.deepEqual(source.reports, [], "a removal is not a failure the proxy saw");
});

Deno.test("startProxy() closes the client of a removed PE under sever", async () => {
  await using pe1 = startTestServer(echoHandler);
  await using pe2 = startTestServer(echoHandler);
  const source = new StaticMemberSource({
    [TEST_POOL]: [testMember(1, pe1.port), testMember(2, pe2.port)],
  });
  await using proxy = startTestProxy(source, { pools: {} });
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  using client = await connectTo(proxy);
  assert.equal((await started).peId, 1);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  source.remove(TEST_POOL, 1);
  assert.equal((await readToEnd(client, DEADLINE_MS)).bytes.length, 0);
  const end = await ended;
  assert.equal(end.reason, "pe-failed");
  assert.deepEqual(end.pes, [1]);
});

Deno.test("startProxy() closes the client within the connect timeout when every PE is gone", async () => {
  let peConn: Deno.TcpConn | undefined;
  const { promise: peConnected, resolve } = Promise.withResolvers<void>();
  await using pe = startTestServer(async (conn) => {
    peConn = conn;
    resolve();
    await readToEnd(conn, DEADLINE_MS).catch(() => {});
  });
  const source = new RecordingSource({
    [TEST_POOL]: [
      testMember(1, pe.port),
      testMember(2, refusedPort()),
      testMember(3, refusedPort()),
    ],
  }, { quarantineMs: 0 });
  const connectTimeoutMs = 500;
  await using proxy = startTestProxy(source, {
    pools: { [TEST_POOL]: { failover: "migrate", connectTimeoutMs } },
  });
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  await peConnected;
  // The PE "dies": its port closes, then its connection ends with a FIN.
  pe.closeListener();
  const t0 = performance.now();
  peConn?.close();
  const rest = await readToEnd(client, DEADLINE_MS);
  const elapsed = performance.now() - t0;
  assert.equal(rest.bytes.length, 0);
  assert.ok(elapsed < connectTimeoutMs, `closed after ${elapsed} ms`);
  const end = await ended;
  assert.equal(end.reason, "no-pe");
  assert.deepEqual(end.pes, [1]);
  assert.deepEqual(source.reports, [1, 2, 3]);
});

Deno.test("startProxy() closes the session after maxFailovers PE changes", async () => {
  const source = new StaticMemberSource({
    [TEST_POOL]: [1, 2, 3, 4].map((id) => testMember(id, refusedPort())),
  }, { quarantineMs: 0 });
  await using proxy = startTestProxy(source, { pools: { [TEST_POOL]: { maxFailovers: 2 } } });
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  assert.equal((await readToEnd(client, DEADLINE_MS)).bytes.length, 0);
  const end = await ended;
  assert.equal(end.reason, "max-failovers");
  assert.equal(end.failovers, 2);
  assert.deepEqual(end.pes, []);
});

Deno.test("startProxy() closes a client over maxSessions at once and keeps the others", async () => {
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  await using proxy = startTestProxy(source, { maxSessions: 2 });
  const starts = collectProxyEvents(proxy, "session-start", 2, DEADLINE_MS);
  using a = await connectTo(proxy);
  using b = await connectTo(proxy);
  await starts;
  const rejected = waitForProxyEvent(proxy, "session-rejected", DEADLINE_MS);
  using c = await connectTo(proxy);
  assert.equal((await rejected).reason, "max-sessions");
  assert.equal((await readToEnd(c, DEADLINE_MS)).bytes.length, 0);
  for (const conn of [a, b]) {
    await writeAll(conn, new TextEncoder().encode("ok"));
    assert.equal(new TextDecoder().decode(await readExactly(conn, 2, DEADLINE_MS)), "ok");
  }
});

Deno.test("startProxy() never moves a session begun on a DATA ONLY member to a DATA PLUS CONTROL one", async () => {
  // No cookie to resume from: the control channel (docs/data_channel.md) is passed over.
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({
    [TEST_POOL]: [testMember(1, pe.port), testMember(2, pe.port, 1)],
  });
  await using proxy = startTestProxy(source);
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using _client = await connectTo(proxy);
  const { peId, sessionId } = await started;
  assert.equal(peId, 1);
  assert.ok(proxy.failover(sessionId));
  const end = await ended;
  assert.deepEqual([end.pes, end.reason], [[1], "no-pe"]);
});

Deno.test("startProxy() closes a session idle for idleTimeoutMs", async () => {
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  await using proxy = startTestProxy(source, { pools: { [TEST_POOL]: { idleTimeoutMs: 200 } } });
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  const t0 = performance.now();
  assert.equal((await readToEnd(client, DEADLINE_MS)).bytes.length, 0);
  const elapsed = performance.now() - t0;
  assert.equal((await ended).reason, "idle-timeout");
  assert.ok(elapsed >= 150 && elapsed < 1_000, `closed after ${elapsed} ms`);
});

Deno.test("SessionProxy.sessions() lists sessions; failover() moves one and close() ends one", async () => {
  await using pe1 = startTestServer(echoHandler);
  await using pe2 = startTestServer(echoHandler);
  const source = new StaticMemberSource({
    [TEST_POOL]: [testMember(1, pe1.port), testMember(2, pe2.port)],
  });
  await using proxy = startTestProxy(source);
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  using client = await connectTo(proxy);
  const { sessionId } = await started;
  await writeAll(client, new TextEncoder().encode("abc"));
  await readExactly(client, 3, DEADLINE_MS);
  const [info] = proxy.sessions();
  assert.equal(info?.id, sessionId);
  assert.equal(info?.pool, TEST_POOL);
  assert.equal(info?.peId, 1);
  assert.equal(info?.bytesIn, 3);
  assert.equal(info?.bytesOut, 3);
  assert.match(info?.client ?? "", /^127\.0\.0\.1:\d+$/);
  const failover = waitForProxyEvent(proxy, "failover", DEADLINE_MS);
  assert.ok(proxy.failover(sessionId));
  assert.equal((await failover).cause, "admin");
  await writeAll(client, new TextEncoder().encode("def"));
  assert.equal(new TextDecoder().decode(await readExactly(client, 3, DEADLINE_MS)), "def");
  assert.equal(proxy.sessions()[0]?.peId, 2);
  assert.equal(proxy.failover(999), false);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  assert.ok(proxy.close(sessionId));
  assert.equal((await ended).reason, "closed");
  assert.equal((await readToEnd(client, DEADLINE_MS)).bytes.length, 0);
  assert.deepEqual(proxy.sessions(), []);
});

Deno.test("SessionProxy.shutdown() stops accepting, lets sessions finish, then resolves finished", async () => {
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  const proxy = startTestProxy(source);
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  using client = await connectTo(proxy);
  await started;
  let finished = false;
  proxy.finished.then(() => finished = true);
  const shutdown = proxy.shutdown({ drainMs: DEADLINE_MS });
  assert.equal(proxy.shutdown(), shutdown, "idempotent");
  // The listener is closed: refused, or reset when the connect raced the close.
  await assert.rejects(
    connectTo(proxy),
    (error) =>
      error instanceof Deno.errors.ConnectionRefused ||
      error instanceof Deno.errors.ConnectionReset,
  );
  // The session still works while draining.
  await writeAll(client, new TextEncoder().encode("drain"));
  assert.equal(new TextDecoder().decode(await readExactly(client, 5, DEADLINE_MS)), "drain");
  assert.equal(finished, false);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  await client.closeWrite();
  assert.equal((await ended).reason, "completed");
  await withDeadline(shutdown, DEADLINE_MS, "shutdown");
  await proxy.finished;
  assert.equal(finished, true);
});

Deno.test("SessionProxy.shutdown() closes the sessions left when drainMs is over", async () => {
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  const controller = new AbortController();
  const proxy = startTestProxy(source, { signal: controller.signal, drainMs: 100 });
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  using client = await connectTo(proxy);
  await started;
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  controller.abort();
  assert.equal((await ended).reason, "shutdown");
  assert.equal((await readToEnd(client, DEADLINE_MS)).bytes.length, 0);
  await withDeadline(proxy.finished, DEADLINE_MS, "finished");
});

Deno.test("startProxy() writes one access log line per session, with the peer", async () => {
  await using logs = await capturePoolgateLogs();
  const { records } = logs;
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({
    [TEST_POOL]: [testMember(1, refusedPort()), testMember(2, pe.port)],
  });
  await using proxy = startTestProxy(source);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  using client = await connectTo(proxy);
  await writeAll(client, new TextEncoder().encode("hello"));
  await readExactly(client, 5, DEADLINE_MS);
  await client.closeWrite();
  await readToEnd(client, DEADLINE_MS);
  const end = await ended;
  const access = records.filter((r) => r.category.join(".") === "poolgate.access");
  assert.equal(access.length, 1);
  const properties = access[0]?.properties ?? {};
  assert.equal(properties.client, end.client);
  assert.equal(properties.peer, end.client);
  assert.equal(properties.pool, TEST_POOL);
  assert.deepEqual(properties.pes, [2]);
  assert.equal(properties.bytesIn, 5);
  assert.equal(properties.bytesOut, 5);
  assert.equal(properties.failovers, 1);
  assert.equal(typeof properties.durationMs, "number");
  assert.equal(properties.reason, "completed");
  const refused = records.find((r) => String(r.rawMessage).startsWith("Cannot connect"));
  assert.equal(refused?.properties.peer, end.client);
});

Deno.test("startProxy() rejects out-of-range options naming the field", () => {
  const source = new StaticMemberSource();
  assert.throws(
    () => startTestProxy(source, { maxSessions: 0 }),
    new RangeError(
      "Cannot configure proxy as 'maxSessions' must be a positive integer: current value is 0",
    ),
  );
  assert.throws(
    () => startTestProxy(source, { pools: { [TEST_POOL]: { maxFailovers: -1 } } }),
    /'maxFailovers' must be a non-negative integer/,
  );
});

/** A PE that records everything a connection sends until its end. */
function startRecordingServer(): { server: TestServer; received: Promise<Uint8Array> } {
  const { promise, resolve } = Promise.withResolvers<Uint8Array>();
  const server = startTestServer(async (conn) => {
    resolve((await readToEnd(conn, DEADLINE_MS)).bytes);
  });
  return { server, received: promise };
}

const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

Deno.test("startProxy() sends the pool's PROXY v1 header to the PE before the client's bytes", async () => {
  const { server, received } = startRecordingServer();
  await using _pe = server;
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, server.port)] });
  await using proxy = startTestProxy(source, { pools: { [TEST_POOL]: { proxyProtocol: "v1" } } });
  using client = await connectTo(proxy);
  await writeAll(client, new TextEncoder().encode("data"));
  await client.closeWrite();
  assert.equal(
    new TextDecoder().decode(await withDeadline(received, DEADLINE_MS, "the PE's bytes")),
    `PROXY TCP4 127.0.0.1 127.0.0.1 ${client.localAddr.port} ${proxy.addr.port}\r\ndata`,
  );
});

Deno.test("startProxy() sends the pool's PROXY v2 header to the PE before the client's bytes", async () => {
  const { server, received } = startRecordingServer();
  await using _pe = server;
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, server.port)] });
  await using proxy = startTestProxy(source, { pools: { [TEST_POOL]: { proxyProtocol: "v2" } } });
  using client = await connectTo(proxy);
  await writeAll(client, new TextEncoder().encode("data"));
  await client.closeWrite();
  const clientPort = client.localAddr.port;
  const proxyPort = proxy.addr.port;
  assert.deepEqual(
    await withDeadline(received, DEADLINE_MS, "the PE's bytes"),
    Uint8Array.of(
      ...V2_SIGNATURE,
      0x21, // version 2, PROXY
      0x11, // TCP over IPv4
      0x00,
      0x0c, // 12 address bytes
      ...[127, 0, 0, 1, 127, 0, 0, 1], // source, destination
      clientPort >> 8,
      clientPort & 0xff,
      proxyPort >> 8,
      proxyPort & 0xff,
      ...new TextEncoder().encode("data"),
    ),
  );
});

Deno.test("startProxy() takes the client from a load balancer's PROXY header and passes it on", async () => {
  const { server, received } = startRecordingServer();
  await using _pe = server;
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, server.port)] });
  await using proxy = startTestProxy(source, {
    listeners: [{ hostname: "127.0.0.1", port: 0, pool: TEST_POOL, acceptProxyProtocol: true }],
    pools: { [TEST_POOL]: { proxyProtocol: "v1" } },
  });
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  using lb = await connectTo(proxy);
  // v2 header for 192.0.2.10:56324 -> 198.51.100.1:443, and the client's first bytes after it.
  await writeAll(
    lb,
    Uint8Array.of(
      ...V2_SIGNATURE,
      0x21,
      0x11,
      0x00,
      0x0c,
      ...[192, 0, 2, 10, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb],
      ...new TextEncoder().encode("data"),
    ),
  );
  await lb.closeWrite();
  assert.equal((await started).client, "192.0.2.10:56324");
  assert.equal(
    new TextDecoder().decode(await withDeadline(received, DEADLINE_MS, "the PE's bytes")),
    "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\ndata",
  );
});

Deno.test("startProxy() closes a client whose PROXY header is malformed or late, and only that one", async () => {
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({ [TEST_POOL]: [testMember(1, pe.port)] });
  await using proxy = startTestProxy(source, {
    listeners: [{ hostname: "127.0.0.1", port: 0, pool: TEST_POOL, acceptProxyProtocol: true }],
    proxyHeaderTimeoutMs: 100,
  });
  const ends = collectProxyEvents(proxy, "session-end", 2, DEADLINE_MS);
  using good = await connectTo(proxy);
  using bad = await connectTo(proxy);
  using late = await connectTo(proxy);
  await writeAll(bad, new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
  await writeAll(good, new TextEncoder().encode("PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\nok"));
  assert.equal(new TextDecoder().decode(await readExactly(good, 2, DEADLINE_MS)), "ok");
  assert.equal((await readToEnd(bad, DEADLINE_MS)).bytes.length, 0);
  assert.equal((await readToEnd(late, DEADLINE_MS)).bytes.length, 0);
  assert.deepEqual((await ends).map((end) => [end.reason, end.pes]), [
    ["bad-proxy-header", []],
    ["bad-proxy-header", []],
  ]);
  assert.deepEqual(proxy.sessions().map((s) => s.client), ["192.0.2.1:1000"]);
});
