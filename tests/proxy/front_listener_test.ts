import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { ListenError } from "../../lib/transport/listen_error.ts";
import { ListenerExistsError } from "../../proxy/front_listener.ts";
import { type ProxyOptions, type SessionProxy, startProxy } from "../../proxy/proxy.ts";
import { StaticMemberSource } from "../../proxy/static_member_source.ts";
import { withDeadline } from "../_support/deadline.ts";
import { capturePoolgateLogs } from "../_support/log_capture.ts";
import { needsPrograms } from "../_support/external_program.ts";
import { startNamedHttpServer } from "../_support/http_name_server.ts";
import {
  echoHandler,
  readExactly,
  readToEnd,
  RecordingSource,
  refusedPort,
  startTestServer,
  testMember,
  waitForProxyEvent,
  writeAll,
} from "../_support/proxy_harness.ts";
import { createSelfSignedCertificate, startTlsEchoServer } from "../_support/tls_echo_server.ts";
import {
  clientHelloFixture,
  clientHelloMessage,
  extension,
  handshakeRecords,
  serverNameExtension,
} from "./_client_hello.ts";

const DEADLINE_MS = 5_000;
const SUFFIX = ".pool.example";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A proxy with a `tls` and an `http` listener on 127.0.0.1 port 0 (ids "tls" and "http"). */
function startFrontProxy(
  source: StaticMemberSource,
  options: Partial<ProxyOptions> = {},
): SessionProxy {
  return startProxy({
    listeners: [
      { id: "tls", kind: "tls", hostname: "127.0.0.1", port: 0, handleSuffix: SUFFIX },
      { id: "http", kind: "http", hostname: "127.0.0.1", port: 0, handleSuffix: SUFFIX },
    ],
    memberSource: source,
    drainMs: 0,
    ...options,
  });
}

function portOf(proxy: SessionProxy, id: string): number {
  const info = proxy.listeners().find((listener) => listener.id === id);
  if (info === undefined) throw new Error(`No listener ${id}`);
  return info.port;
}

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Log records of the "poolgate" categories while `run` runs. */
async function withLogs(run: (records: LogRecord[]) => Promise<void>): Promise<void> {
  await using logs = await capturePoolgateLogs();
  await run(logs.records);
}

function refusalLog(records: readonly LogRecord[], peer: string) {
  const record = records.find((r) =>
    String(r.rawMessage).startsWith("Refusing client") && r.properties.peer === peer
  );
  assert.ok(record, `no refusal logged for ${peer}`);
  return record.properties;
}

/** One HTTP/1.1 response read off `conn`: status, body and what was read past it kept. */
class ResponseReader {
  readonly #conn: Deno.Conn;
  #buffered = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) throw new Error("The stream ended inside a response");
    const grown = new Uint8Array(this.#buffered.length + n);
    grown.set(this.#buffered);
    grown.set(chunk.subarray(0, n), this.#buffered.length);
    this.#buffered = grown;
  }

  /** Reads the next response with a Content-Length. */
  read(): Promise<{ status: number; body: string }> {
    const next = async () => {
      let end: number;
      while ((end = decoder.decode(this.#buffered).indexOf("\r\n\r\n")) < 0) await this.#fill();
      const head = decoder.decode(this.#buffered.subarray(0, end));
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? "0");
      while (this.#buffered.length < end + 4 + length) await this.#fill();
      const body = decoder.decode(this.#buffered.subarray(end + 4, end + 4 + length));
      this.#buffered = this.#buffered.slice(end + 4 + length);
      return { status: Number(head.split(" ")[1]), body };
    };
    return withDeadline(next(), DEADLINE_MS, "an HTTP response");
  }
}

function get(host: string, extra = ""): Uint8Array {
  return encoder.encode(`GET / HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`);
}

/** Sends `bytes` (then a FIN with `end`), reads to the end: the refusal a front end answers with. */
async function refusalFor(port: number, bytes: Uint8Array, end = false) {
  using conn = await connect(port);
  const peer = `127.0.0.1:${conn.localAddr.port}`;
  await writeAll(conn, bytes);
  if (end) await conn.closeWrite();
  const { bytes: reply } = await readToEnd(conn, DEADLINE_MS);
  return { peer, reply };
}

function alert(description: number): number[] {
  return [21, 3, 3, 0, 2, 2, description];
}

function httpStatus(reply: Uint8Array): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(decoder.decode(reply))?.[1]);
}

Deno.test({
  name:
    "SessionProxy tls listener passes the ClientHello to the pool its SNI names: Deno's TLS client completes the handshake with the PE's certificate",
  ...needsPrograms("openssl"),
  async fn() {
    await using echoCert = await createSelfSignedCertificate(["echo.pool.example"]);
    await using otherCert = await createSelfSignedCertificate(["other.pool.example"]);
    await using echoPe = startTlsEchoServer(echoCert);
    await using otherPe = startTlsEchoServer(otherCert);
    const source = new StaticMemberSource({
      echo: [testMember(1, echoPe.port)],
      other: [testMember(2, otherPe.port)],
    });
    await using proxy = startFrontProxy(source);
    const port = portOf(proxy, "tls");
    for (const [name, cert] of [["echo", echoCert], ["other", otherCert]] as const) {
      const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
      const tcp = await connect(port);
      // Upper case as typed: the pool is matched ignoring ASCII case.
      using tls = await Deno.startTls(tcp, {
        hostname: `${name.toUpperCase()}${SUFFIX}`,
        caCerts: [cert.cert],
      });
      await withDeadline(tls.handshake(), DEADLINE_MS, "the TLS handshake");
      await writeAll(tls, encoder.encode(`hello ${name}`));
      assert.equal(
        decoder.decode(await readExactly(tls, 6 + name.length, DEADLINE_MS)),
        `hello ${name}`,
      );
      await tls.closeWrite();
      await readToEnd(tls, DEADLINE_MS);
      const end = await ended;
      assert.equal(end.pool, name);
      assert.equal(end.reason, "completed");
    }
    assert.equal(echoPe.handshakes, 1);
    assert.equal(otherPe.handshakes, 1);
  },
});

Deno.test("SessionProxy http listener keeps a keep-alive connection with the pool its first Host names", async () => {
  await using web = startNamedHttpServer("web-1");
  await using api = startNamedHttpServer("api-1");
  const source = new StaticMemberSource({
    web: [testMember(1, web.port)],
    api: [testMember(2, api.port)],
  });
  await using proxy = startFrontProxy(source);
  using client = await connect(portOf(proxy, "http"));
  const reader = new ResponseReader(client);
  const host = `Web.pool.example:${portOf(proxy, "http")}`;
  await writeAll(client, get(host));
  const first = await reader.read();
  // The second request names another pool: the connection stays with the first one's.
  await writeAll(client, get(`api${SUFFIX}`));
  const second = await reader.read();
  assert.equal(first.status, 200);
  const [name, seenHost, pePort] = first.body.trim().split(" ");
  assert.deepEqual([name, seenHost], ["web-1", host]);
  assert.equal(second.body.trim(), `web-1 api${SUFFIX} ${pePort}`);
  assert.deepEqual(proxy.sessions().map((s) => s.pool), ["web"]);

  using other = await connect(portOf(proxy, "http"));
  await writeAll(other, get(`api${SUFFIX}`));
  assert.match((await new ResponseReader(other).read()).body, /^api-1 /);
});

Deno.test("SessionProxy tls listener refuses with the right alert, each refusal logged with the peer", async () => {
  await withLogs(async (records) => {
    await using pe = startTestServer(echoHandler);
    const source = new StaticMemberSource({ echo: [testMember(1, pe.port)] });
    await using proxy = startFrontProxy(source, {
      pools: { empty: {} },
      maxFrontBytes: 1024,
      frontTimeoutMs: 300,
    });
    const port = portOf(proxy, "tls");
    const hello = (name: string) =>
      handshakeRecords(clientHelloMessage({ extensions: [serverNameExtension(name)] }));
    const cases: [string, Uint8Array, number[], string][] = [
      ["unknown pool", hello(`nope${SUFFIX}`), alert(112), "unknown-pool"],
      ["other domain", hello("echo.other.example"), alert(112), "wrong-domain"],
      ["IP literal", hello("127.0.0.1"), alert(112), "wrong-domain"],
      ["no SNI", clientHelloFixture("openssl_no_sni"), alert(109), "no-host"],
      ["garbage", encoder.encode("GET / HTTP/1.1\r\n\r\n"), alert(10), "malformed"],
      [
        "oversized",
        handshakeRecords(clientHelloMessage({
          extensions: [serverNameExtension(`echo${SUFFIX}`), extension(21, new Uint8Array(2000))],
        })),
        alert(40),
        "too-large",
      ],
      ["pool without PE", hello(`empty${SUFFIX}`), [], "no-pe"],
      // Part of a record header, then nothing: cut off at frontTimeoutMs without an alert.
      ["slow", Uint8Array.of(22, 3, 1), [], "timeout"],
    ];
    for (const [what, bytes, expected, reason] of cases) {
      const { peer, reply } = await refusalFor(port, bytes);
      assert.deepEqual([...reply], expected, what);
      const logged = refusalLog(records, peer);
      assert.equal(logged.reason, reason, what);
      assert.equal(logged.listener, "tls", what);
    }
    assert.equal(
      refusalLog(records, (await refusalFor(port, hello(`nope${SUFFIX}`))).peer).host,
      `nope${SUFFIX}`,
    );
    assert.equal(proxy.sessions().length, 0);
  });
});

Deno.test("SessionProxy http listener refuses with 404, 421, 400, 431, 408 and 503, each logged with the peer", async () => {
  await withLogs(async (records) => {
    await using pe = startNamedHttpServer("web-1");
    const source = new StaticMemberSource({ web: [testMember(1, pe.port)] });
    await using proxy = startFrontProxy(source, {
      pools: { empty: {} },
      knownPool: (pool) => pool === "down",
      maxFrontBytes: 1024,
      frontTimeoutMs: 300,
    });
    const port = portOf(proxy, "http");
    const cases: [string, Uint8Array, number | undefined, string, boolean?][] = [
      ["unknown pool", get(`nope${SUFFIX}`), 404, "unknown-pool"],
      ["other domain", get("web.other.example"), 421, "wrong-domain"],
      ["no Host", encoder.encode("GET / HTTP/1.1\r\n\r\n"), 400, "no-host"],
      ["garbage", Uint8Array.of(22, 3, 1, 0, 5, 1, 0, 0, 1, 0), 400, "malformed"],
      ["oversized", get(`web${SUFFIX}`, `X-Pad: ${"a".repeat(2000)}\r\n`), 431, "too-large"],
      ["pool without PE", get(`empty${SUFFIX}`), 503, "no-pe"],
      ["known pool without PE", get(`down${SUFFIX}`), 503, "no-pe"],
      ["slow", encoder.encode("GET / HTTP/1.1\r\nHost: web"), 408, "timeout"],
      // Nothing at all (a port check, a browser's preconnect): closed without a 408.
      ["silent", new Uint8Array(0), undefined, "timeout"],
      // A FIN inside the head: nobody to answer.
      ["closed", encoder.encode("GET / HTTP/1.1\r\n"), undefined, "closed", true],
    ];
    for (const [what, bytes, status, reason, end] of cases) {
      const { peer, reply } = await refusalFor(port, bytes, end);
      if (status === undefined) assert.equal(reply.length, 0, what);
      else assert.equal(httpStatus(reply), status, what);
      assert.equal(refusalLog(records, peer).reason, reason, what);
    }
    assert.equal(proxy.sessions().length, 0);
  });
});

Deno.test("SessionProxy tls and http listeners read a load balancer's PROXY header before the ClientHello or request, and pass the client on", async () => {
  const received: Uint8Array[] = [];
  const got = Promise.withResolvers<void>();
  await using pe = startTestServer(async (conn) => {
    const { bytes } = await readToEnd(conn, DEADLINE_MS);
    // FIN probes of the session connect too, and send nothing.
    if (bytes.length > 0) received.push(bytes);
    if (received.length === 2) got.resolve();
  });
  const source = new StaticMemberSource({ echo: [testMember(1, pe.port)] });
  await using proxy = startProxy({
    listeners: ["tls", "http"].map((kind) => ({
      id: kind,
      kind: kind === "tls" ? "tls" : "http",
      hostname: "127.0.0.1",
      port: 0,
      handleSuffix: SUFFIX,
      acceptProxyProtocol: true,
    })),
    memberSource: source,
    pools: { echo: { proxyProtocol: "v1" } },
    drainMs: 0,
  });
  const hello = clientHelloFixture("deno");
  const request = get(`echo${SUFFIX}`);
  const starts: string[] = [];
  proxy.addEventListener("session-start", (event) => starts.push(event.detail.client));
  for (const [i, [id, bytes]] of ([["tls", hello], ["http", request]] as const).entries()) {
    using lb = await connect(portOf(proxy, id));
    const header = `PROXY TCP4 192.0.2.10 198.51.100.1 5600${i} 443\r\n`;
    // The header and the first bytes in separate writes, as a load balancer may send them.
    await writeAll(lb, encoder.encode(header));
    await writeAll(lb, bytes);
    await lb.closeWrite();
    await readToEnd(lb, DEADLINE_MS);
  }
  await withDeadline(got.promise, DEADLINE_MS, "both PEs' bytes");
  const expected = [hello, request].map((bytes, i) => [
    ...encoder.encode(`PROXY TCP4 192.0.2.10 198.51.100.1 5600${i} 443\r\n`),
    ...bytes,
  ]);
  assert.deepEqual(received.map((bytes) => [...bytes]), expected);
  assert.deepEqual(starts, ["192.0.2.10:56000", "192.0.2.10:56001"]);

  // A connection without the header is closed without a reply.
  const { reply } = await refusalFor(portOf(proxy, "http"), request);
  assert.equal(reply.length, 0);
});

Deno.test("SessionProxy http listener: connect failures and a migrate failover behind the front lose no request", async () => {
  await using a = startNamedHttpServer("a");
  await using b = startNamedHttpServer("b");
  const source = new RecordingSource({
    web: [testMember(9, refusedPort()), testMember(1, a.port), testMember(2, b.port)],
  });
  await using proxy = startFrontProxy(source, { pools: { web: { failover: "migrate" } } });
  using client = await connect(portOf(proxy, "http"));
  const reader = new ResponseReader(client);
  // The front end selects the refused PE first; the session moves on with the request intact.
  await writeAll(client, get(`web${SUFFIX}`));
  assert.match((await reader.read()).body, /^a /);
  assert.deepEqual(source.reports, [9]);
  const failover = waitForProxyEvent(proxy, "failover", DEADLINE_MS);
  source.remove("web", 1);
  assert.equal((await failover).cause, "removed");
  await writeAll(client, get(`web${SUFFIX}`));
  assert.match((await reader.read()).body, /^b /);
});

Deno.test("SessionProxy.addListener() binds at once and serves; removeListener() refuses new clients while sessions go on", async () => {
  await using pe = startTestServer(echoHandler);
  const source = new StaticMemberSource({ echo: [testMember(1, pe.port)] });
  await using proxy = startProxy({ memberSource: source, drainMs: 0 });
  assert.deepEqual(proxy.listeners(), []);

  const tcp = proxy.addListener({ kind: "tcp", hostname: "127.0.0.1", port: 0, pool: "echo" });
  const http = proxy.addListener({
    id: "front-http",
    kind: "http",
    hostname: "127.0.0.1",
    port: 0,
    handleSuffix: SUFFIX,
    acceptProxyProtocol: false,
  });
  assert.notEqual(tcp.port, 0);
  assert.deepEqual(tcp, {
    id: `tcp-127.0.0.1-${tcp.port}`,
    kind: "tcp",
    hostname: "127.0.0.1",
    port: tcp.port,
    pool: "echo",
    acceptProxyProtocol: false,
  });
  assert.deepEqual(proxy.listeners(), [tcp, http]);
  assert.deepEqual(http.handleSuffix, SUFFIX);

  using session = await connect(http.port);
  const request = get(`echo${SUFFIX}`);
  await writeAll(session, request);
  assert.deepEqual(await readExactly(session, request.length, DEADLINE_MS), request);

  assert.throws(
    () => proxy.addListener({ id: "front-http", kind: "tcp", port: 0, pool: "echo" }),
    ListenerExistsError,
  );
  const taken: [Parameters<SessionProxy["addListener"]>[0], string][] = [
    [
      { kind: "tcp", hostname: "127.0.0.1", port: tcp.port, pool: "x" },
      "front listener for pool x",
    ],
    [
      { id: "web-http", kind: "http", hostname: "127.0.0.1", port: tcp.port, handleSuffix: SUFFIX },
      `front listener "web-http" for http host names *${SUFFIX}`,
    ],
  ];
  for (const [spec, role] of taken) {
    assert.throws(() => proxy.addListener(spec), (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.equal(error.role, role);
      assert.deepEqual(error.address, { hostname: "127.0.0.1", port: tcp.port });
      assert.ok(error.cause instanceof Deno.errors.AddrInUse);
      assert.equal(
        error.message,
        `Cannot listen on 127.0.0.1:${tcp.port} (${role}): ${error.cause.message}`,
      );
      return true;
    });
  }
  const bad: [string, Parameters<SessionProxy["addListener"]>[0]][] = [
    ["port", { kind: "tcp", port: 70000, pool: "echo" }],
    ["pool", { kind: "tcp", port: 0 }],
    ["pool", { kind: "tls", port: 0, pool: "echo", handleSuffix: SUFFIX }],
    ["handleSuffix", { kind: "http", port: 0 }],
    ["handleSuffix", { kind: "http", port: 0, handleSuffix: "pool.example" }],
    ["handleSuffix", { kind: "tcp", port: 0, pool: "echo", handleSuffix: SUFFIX }],
    ["kind", { kind: "udp" as "tcp", port: 0, pool: "echo" }],
    ["id", { id: "", kind: "tcp", port: 0, pool: "echo" }],
  ];
  for (const [field, spec] of bad) {
    assert.throws(() => proxy.addListener(spec), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, new RegExp(`'${field}'`));
      return true;
    });
  }
  assert.equal(proxy.listeners().length, 2);

  assert.equal(proxy.removeListener("front-http"), true);
  assert.equal(proxy.removeListener("front-http"), false);
  // The listener is closed: refused, or reset when the connect raced the close.
  await assert.rejects(
    connect(http.port),
    (error) =>
      error instanceof Deno.errors.ConnectionRefused ||
      error instanceof Deno.errors.ConnectionReset,
  );
  // The session accepted before goes on.
  await writeAll(session, encoder.encode("still here"));
  assert.equal(decoder.decode(await readExactly(session, 10, DEADLINE_MS)), "still here");
  assert.deepEqual(proxy.listeners(), [tcp]);
  // The id is free again.
  const again = proxy.addListener({ ...http, port: 0 });
  assert.equal(again.id, "front-http");
});

Deno.test("SessionProxy.setPoolSettings() applies to sessions that start afterwards; running ones keep theirs", async () => {
  const received: string[] = [];
  await using pe = startTestServer(async (conn) => {
    const index = received.push("") - 1;
    const buffer = new Uint8Array(1024);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      received[index] += decoder.decode(buffer.subarray(0, n));
      await writeAll(conn, buffer.subarray(0, n));
    }
  });
  const source = new StaticMemberSource({ echo: [testMember(1, pe.port)] });
  await using proxy = startProxy({
    listeners: [{ kind: "tcp", hostname: "127.0.0.1", port: 0, pool: "echo" }],
    memberSource: source,
    drainMs: 0,
  });
  assert.equal(proxy.poolSettings("echo").proxyProtocol, "off");
  using before = await connect(proxy.addr.port);
  await writeAll(before, encoder.encode("one"));
  await readExactly(before, 3, DEADLINE_MS);

  proxy.setPoolSettings("echo", { proxyProtocol: "v1", failover: "migrate" });
  assert.equal(proxy.poolSettings("echo").proxyProtocol, "v1");
  assert.equal(proxy.poolSettings("echo").maxFailovers, 3);
  assert.throws(() => proxy.setPoolSettings("echo", { maxFailovers: -1 }), RangeError);
  assert.equal(proxy.poolSettings("echo").failover, "migrate");

  using after = await connect(proxy.addr.port);
  const header = `PROXY TCP4 127.0.0.1 127.0.0.1 ${after.localAddr.port} ${proxy.addr.port}\r\n`;
  await writeAll(after, encoder.encode("two"));
  // The PE echoes the header the proxy sent it too.
  await readExactly(after, header.length + 3, DEADLINE_MS);
  await writeAll(before, encoder.encode("three"));
  assert.equal(decoder.decode(await readExactly(before, 5, DEADLINE_MS)), "three");
  assert.deepEqual(received, ["onethree", `${header}two`]);
});

Deno.test("SessionProxy.shutdown() closes connections still sending their ClientHello, which count against maxSessions", async () => {
  const source = new StaticMemberSource();
  const proxy = startFrontProxy(source, { maxSessions: 1 });
  using slow = await connect(portOf(proxy, "tls"));
  await writeAll(slow, Uint8Array.of(22, 3, 1));
  const rejected = waitForProxyEvent(proxy, "session-rejected", DEADLINE_MS);
  using second = await connect(portOf(proxy, "tls"));
  assert.equal((await rejected).reason, "max-sessions");
  assert.equal((await readToEnd(second, DEADLINE_MS)).bytes.length, 0);
  await withDeadline(proxy.shutdown(), DEADLINE_MS, "shutdown");
  assert.equal((await readToEnd(slow, DEADLINE_MS)).bytes.length, 0);
  assert.throws(
    () => proxy.addListener({ kind: "tcp", port: 0, pool: "echo" }),
    Deno.errors.BadResource,
  );
});
