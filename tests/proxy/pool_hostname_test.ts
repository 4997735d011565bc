import assert from "node:assert/strict";
import {
  ConnectionPrefixError,
  type ConnectionPrefixErrorReason,
  decodeHostname,
  poolHandleFromHostname,
  type PrefixSource,
  readConnectionPrefix,
} from "../../proxy/pool_hostname.ts";
import { readClientHelloServerName } from "../../proxy/tls_client_hello.ts";
import { readHttpHost } from "../../proxy/http_request_head.ts";
import { withDeadline } from "../_support/deadline.ts";
import { clientHelloFixture, concat } from "./_client_hello.ts";

const encoder = new TextEncoder();

Deno.test("decodeHostname() lower-cases valid DNS host names and refuses the rest", () => {
  assert.equal(decodeHostname(encoder.encode("Echo.Pool.EXAMPLE")), "echo.pool.example");
  assert.equal(decodeHostname(encoder.encode("a-1.0a.example")), "a-1.0a.example");
  assert.equal(decodeHostname(encoder.encode("localhost")), "localhost");
  assert.equal(decodeHostname(encoder.encode("1.2.3.a")), "1.2.3.a");
  for (
    const name of [
      "",
      ".",
      "a.",
      ".a",
      "a..b",
      "-a.example",
      "a-.example",
      "a_b.example",
      "a b",
      "1.2.3.4",
      "example.123",
      "pööl.example",
      `${"a".repeat(64)}.example`,
      `${"a.".repeat(126)}ab`,
    ]
  ) {
    assert.equal(decodeHostname(encoder.encode(name)), undefined, name);
  }
});

Deno.test("poolHandleFromHostname() maps <handle><suffix> to the pool handle, ignoring ASCII case", () => {
  assert.equal(poolHandleFromHostname("echo.pool.example", ".pool.example"), "echo");
  assert.equal(poolHandleFromHostname("ECHO.Pool.Example", ".POOL.example"), "echo");
  assert.equal(poolHandleFromHostname("a.b.pool.example", ".pool.example"), "a.b");
  assert.equal(poolHandleFromHostname("pool.example", ".pool.example"), undefined);
  assert.equal(poolHandleFromHostname(".pool.example", ".pool.example"), undefined);
  assert.equal(poolHandleFromHostname("echo.other.example", ".pool.example"), undefined);
  assert.equal(poolHandleFromHostname("echopool.example", ".pool.example"), undefined);
  assert.equal(poolHandleFromHostname("x..pool.example", ".pool.example"), undefined);
  // Only ASCII folds: U+212A KELVIN SIGN is not "k".
  assert.equal(poolHandleFromHostname("echo.\u212Aool.example", ".kool.example"), undefined);
  for (const suffix of ["", ".", "pool.example"]) {
    assert.throws(() => poolHandleFromHostname("echo.pool.example", suffix), TypeError);
  }
});

/** A source that answers each read with the next of `chunks` (split to fit), then end of stream. */
function chunkSource(chunks: Uint8Array[]): PrefixSource & { reads: number } {
  const queue = chunks.map((chunk) => chunk.slice());
  return {
    reads: 0,
    read(buffer: Uint8Array): Promise<number | null> {
      this.reads++;
      const chunk = queue.shift();
      if (chunk === undefined) return Promise.resolve(null);
      const count = Math.min(chunk.length, buffer.length);
      buffer.set(chunk.subarray(0, count));
      if (count < chunk.length) queue.unshift(chunk.subarray(count));
      return Promise.resolve(count);
    },
  };
}

async function assertPrefixError(
  promise: Promise<unknown>,
  reason: ConnectionPrefixErrorReason,
): Promise<ConnectionPrefixError> {
  const error = await promise.then(
    () => assert.fail(`expected ${reason}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ConnectionPrefixError, String(error));
  assert.equal(error.name, "ConnectionPrefixError");
  assert.equal(error.reason, reason, error.message);
  return error;
}

Deno.test("readConnectionPrefix() calls parse on the whole prefix after each read", async () => {
  const hello = clientHelloFixture("openssl");
  const chunks = [
    hello.subarray(0, 1),
    hello.subarray(1, 100),
    hello.subarray(100),
    Uint8Array.of(9),
  ];
  const source = chunkSource(chunks);
  const seen: number[] = [];
  const { result, bytes } = await readConnectionPrefix(source, (prefix) => {
    seen.push(prefix.length);
    return readClientHelloServerName(prefix);
  });
  assert.deepEqual(seen, [1, 100, hello.length]);
  assert.deepEqual(result, {
    status: "ok",
    serverName: "echo.pool.example",
    consumed: hello.length,
  });
  assert.deepEqual(bytes, hello);
  assert.equal(source.reads, 3);
});

Deno.test("readConnectionPrefix() grows its buffer and keeps the bytes after the prefix", async () => {
  const head = `GET / HTTP/1.1\r\nHost: echo.pool.example\r\nX-Pad: ${"p".repeat(5000)}\r\n\r\n`;
  const all = encoder.encode(`${head}body`);
  const { result, bytes } = await readConnectionPrefix(chunkSource([all]), readHttpHost);
  assert.equal(result.status, "ok");
  assert.equal(result.headEnd, head.length);
  assert.deepEqual(bytes, all);
});

Deno.test("readConnectionPrefix() returns every byte a real TCP client sent, past the ClientHello", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sent = concat(clientHelloFixture("deno"), [23, 3, 3, 0, 1, 0]);
  const client = (async () => {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    for (let written = 0; written < sent.length;) {
      written += await conn.write(sent.subarray(written));
    }
    // Hold the connection open until the server has read and closed it.
    await conn.read(new Uint8Array(1));
  })();
  using conn = await listener.accept();
  const { result, bytes } = await withDeadline(
    readConnectionPrefix(conn, readClientHelloServerName, { timeoutMs: 10_000 }),
    15_000,
    "the prefix",
  );
  assert.equal(result.status, "ok");
  assert.equal(result.serverName, "echo.pool.example");
  assert.deepEqual(bytes, sent.subarray(0, bytes.length));
  assert.ok(bytes.length >= result.consumed);
  await conn.closeWrite();
  await withDeadline(client, 15_000, "the client to finish");
});

Deno.test("readConnectionPrefix() reports a stream that ends before a verdict as closed", async () => {
  const hello = clientHelloFixture("openssl");
  const error = await assertPrefixError(
    readConnectionPrefix(chunkSource([hello.subarray(0, 10)]), readClientHelloServerName),
    "closed",
  );
  assert.deepEqual(error.bytes, hello.subarray(0, 10));
  const empty = await assertPrefixError(
    readConnectionPrefix(chunkSource([]), readHttpHost),
    "closed",
  );
  assert.equal(empty.bytes.length, 0);
});

Deno.test("readConnectionPrefix() stops at maxBytes when the parser still needs more", async () => {
  const hello = clientHelloFixture("openssl");
  const error = await assertPrefixError(
    readConnectionPrefix(chunkSource([hello]), readClientHelloServerName, { maxBytes: 100 }),
    "too-large",
  );
  assert.deepEqual(error.bytes, hello.subarray(0, 100));
});

Deno.test("readConnectionPrefix() times out a client that sends part of its prefix and stops", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const sent = encoder.encode("GET / HT");
  await client.write(sent);
  const conn = await listener.accept();
  const error = await assertPrefixError(
    readConnectionPrefix(conn, readHttpHost, { timeoutMs: 100 }),
    "timeout",
  );
  assert.deepEqual(error.bytes, sent.subarray(0, error.bytes.length));
  // The caller closes the connection; the read left pending then fails without a trace.
  conn.close();
  client.close();
});

Deno.test("readConnectionPrefix() cuts off a slow drip at the total time limit", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const hello = clientHelloFixture("openssl");
  // One byte every 2 ms: each read is prompt, but the whole ClientHello would take over 600 ms.
  const client = (async () => {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    try {
      for (const byte of hello) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        await conn.write(Uint8Array.of(byte));
      }
    } catch {
      // The server hung up on the drip: expected.
    }
  })();
  const conn = await listener.accept();
  const error = await assertPrefixError(
    readConnectionPrefix(conn, readClientHelloServerName, { timeoutMs: 150 }),
    "timeout",
  );
  conn.close();
  await withDeadline(client, 15_000, "the dripping client to stop");
  assert.ok(error.bytes.length > 1, `only ${error.bytes.length} bytes arrived`);
  assert.ok(error.bytes.length < hello.length);
  assert.deepEqual(error.bytes, hello.subarray(0, error.bytes.length));
});

Deno.test("readConnectionPrefix() rejects with the signal's reason when aborted", async () => {
  const never: PrefixSource = { read: () => new Promise(() => {}) };
  const controller = new AbortController();
  const reading = readConnectionPrefix(never, readHttpHost, { signal: controller.signal });
  const reason = new Error("shutting down");
  controller.abort(reason);
  await assert.rejects(reading, (error) => error === reason);
  await assert.rejects(
    readConnectionPrefix(never, readHttpHost, { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
});

Deno.test("readConnectionPrefix() rejects options that are not positive integers", async () => {
  for (
    const options of [{ maxBytes: 0 }, { timeoutMs: -1 }, { maxBytes: 1.5 }, { timeoutMs: NaN }]
  ) {
    await assert.rejects(readConnectionPrefix(chunkSource([]), readHttpHost, options), RangeError);
  }
});
