import assert from "node:assert/strict";
import {
  ClientHelloError,
  type ClientHelloErrorReason,
  type ClientHelloResult,
  DEFAULT_MAX_CLIENT_HELLO_BYTES,
  readClientHelloServerName,
  tlsAlert,
  TlsAlertDescription,
} from "../../proxy/tls_client_hello.ts";
import { readConnectionPrefix } from "../../proxy/pool_hostname.ts";
import { needsPrograms } from "../_support/external_program.ts";
import { withDeadline } from "../_support/deadline.ts";
import {
  clientHelloFixture,
  clientHelloMessage,
  concat,
  extension,
  handshakeOf,
  handshakeRecords,
  serverNameExtension,
} from "./_client_hello.ts";

function assertOk(result: ClientHelloResult, serverName: string | undefined, consumed: number) {
  assert.deepEqual(result, { status: "ok", serverName, consumed });
}

function assertRefused(
  result: ClientHelloResult,
  reason: ClientHelloErrorReason,
  alert: number,
  offset?: number,
): ClientHelloError {
  assert.equal(result.status, "error", `expected ${reason}, got ${JSON.stringify(result)}`);
  const { error } = result;
  assert.ok(error instanceof ClientHelloError);
  assert.equal(error.name, "ClientHelloError");
  assert.equal(error.reason, reason, error.message);
  assert.equal(error.alertDescription, alert, error.message);
  if (offset !== undefined) assert.equal(error.offset, offset, error.message);
  return error;
}

/** Asserts "need-more" for every proper prefix of `bytes`, then `expected` for all of it. */
function assertEverySplit(bytes: Uint8Array, serverName: string | undefined, consumed: number) {
  for (let end = 0; end < consumed; end++) {
    const result = readClientHelloServerName(bytes.subarray(0, end));
    assert.equal(result.status, "need-more", `prefix of ${end} bytes: ${JSON.stringify(result)}`);
  }
  assertOk(readClientHelloServerName(bytes), serverName, consumed);
}

Deno.test("readClientHelloServerName() reads the server name of ClientHellos captured from OpenSSL and Deno", () => {
  for (const name of ["openssl", "deno"] as const) {
    const bytes = clientHelloFixture(name);
    assertOk(readClientHelloServerName(bytes), "echo.pool.example", bytes.length);
  }
});

Deno.test("readClientHelloServerName() answers need-more at every split point of the captured ClientHellos", () => {
  for (const name of ["openssl", "deno", "openssl_no_sni", "deno_ip_literal"] as const) {
    const bytes = clientHelloFixture(name);
    const serverName = name === "openssl" || name === "deno" ? "echo.pool.example" : undefined;
    assertEverySplit(bytes, serverName, bytes.length);
  }
});

Deno.test("readClientHelloServerName() returns an undefined server name for ClientHellos without SNI", () => {
  for (const name of ["openssl_no_sni", "deno_ip_literal"] as const) {
    const bytes = clientHelloFixture(name);
    assertOk(readClientHelloServerName(bytes), undefined, bytes.length);
  }
  // RFC 5246 §7.4.1.2: a TLS 1.0-1.2 ClientHello may carry no extensions block at all.
  const bare = handshakeRecords(clientHelloMessage({ version: 0x0301, extensions: undefined }));
  assertOk(readClientHelloServerName(bare), undefined, bare.length);
  const empty = handshakeRecords(clientHelloMessage({ extensions: [] }));
  assertOk(readClientHelloServerName(empty), undefined, empty.length);
});

Deno.test("readClientHelloServerName() reports consumed without the bytes that follow the ClientHello", () => {
  const hello = clientHelloFixture("openssl");
  // A TLS 1.3 client may send early data right behind its ClientHello.
  const earlyData = [23, 3, 3, 0, 3, 1, 2, 3];
  assertOk(readClientHelloServerName(concat(hello, earlyData)), "echo.pool.example", hello.length);
});

Deno.test("readClientHelloServerName() reassembles a ClientHello split into many records", () => {
  const message = handshakeOf(clientHelloFixture("openssl"));
  for (const fragmentBytes of [1, 2, 3, 7, 100, 317]) {
    const records = handshakeRecords(message, fragmentBytes, 0x0303);
    assertOk(readClientHelloServerName(records), "echo.pool.example", records.length);
  }
  assertEverySplit(
    handshakeRecords(message, 7),
    "echo.pool.example",
    handshakeRecords(message, 7).length,
  );
});

Deno.test("readClientHelloServerName() lower-cases the host name", () => {
  const bytes = handshakeRecords(
    clientHelloMessage({ extensions: [serverNameExtension("Echo.POOL.Example")] }),
  );
  assertOk(readClientHelloServerName(bytes), "echo.pool.example", bytes.length);
});

Deno.test("readClientHelloServerName() refuses bytes that do not open a TLS record with not-tls", () => {
  const hello = clientHelloFixture("openssl");
  const http = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: echo.pool.example\r\n\r\n");
  assertRefused(readClientHelloServerName(http), "not-tls", 10, 0);
  assertRefused(readClientHelloServerName(concat([0], hello)), "not-tls", 10, 0);
  assertRefused(readClientHelloServerName(concat(http.subarray(0, 3), hello)), "not-tls", 10, 0);
  // SSL 2.0 compatible ClientHello: high bit set, no room for SNI.
  assertRefused(readClientHelloServerName(Uint8Array.of(0x80, 0x2e, 1, 3, 1)), "not-tls", 10, 0);
  assertRefused(readClientHelloServerName(Uint8Array.of(22, 2)), "not-tls", 10, 1);
  assert.equal(readClientHelloServerName(Uint8Array.of(22)).status, "need-more");
  assert.equal(readClientHelloServerName(Uint8Array.of(22, 3)).status, "need-more");
});

Deno.test("readClientHelloServerName() refuses inconsistent lengths and fields as malformed", () => {
  const message = handshakeOf(clientHelloFixture("openssl"));
  const decodeError = TlsAlertDescription.decodeError;
  const cases: [string, Uint8Array, number, number?][] = [
    ["empty record", Uint8Array.of(22, 3, 1, 0, 0), decodeError, 3],
    ["record over 2^14", Uint8Array.of(22, 3, 1, 0x40, 1), TlsAlertDescription.recordOverflow, 3],
    [
      "ServerHello instead of ClientHello",
      handshakeRecords(concat([2], message.subarray(1))),
      TlsAlertDescription.unexpectedMessage,
      5,
    ],
    [
      "alert record inside the ClientHello",
      concat(handshakeRecords(message.subarray(0, 10)), [21, 3, 3, 0, 2, 2, 40]),
      TlsAlertDescription.unexpectedMessage,
      15,
    ],
    [
      "record continuing after the ClientHello",
      handshakeRecords(concat(message, [1, 0, 0, 0])),
      decodeError,
      5 + message.length,
    ],
    [
      "handshake length too short for the body",
      handshakeRecords(concat([1, 0, 0, 40], message.subarray(4, 44))),
      decodeError,
    ],
    [
      "legacy_version not 3.x",
      handshakeRecords(clientHelloMessage({ version: 0x0203 })),
      decodeError,
      9,
    ],
    [
      "session id over 32 bytes",
      handshakeRecords(clientHelloMessage({ sessionIdLength: 33 })),
      decodeError,
      43,
    ],
    [
      "odd cipher_suites length",
      handshakeRecords(patch(clientHelloMessage(), 4 + 35 + 32, [0, 3])),
      decodeError,
    ],
    [
      "empty compression methods",
      handshakeRecords(clientHelloMessage({ compressionMethods: [] })),
      decodeError,
    ],
    [
      "extensions length past the end",
      handshakeRecords(
        withExtensionsLength(clientHelloMessage({ extensions: [extension(5, [])] }), 9),
      ),
      decodeError,
    ],
    [
      "extension length past the end",
      handshakeRecords(clientHelloMessage({ extensions: [Uint8Array.of(0, 5, 0, 9, 1)] })),
      decodeError,
    ],
    [
      "repeated extension",
      handshakeRecords(
        clientHelloMessage({ extensions: [extension(10, [0, 0]), extension(10, [0, 0])] }),
      ),
      TlsAlertDescription.illegalParameter,
    ],
    [
      "server_name list length short of the extension",
      handshakeRecords(
        clientHelloMessage({ extensions: [extension(0, [0, 3, 0, 0, 1, 0x61, 0])] }),
      ),
      decodeError,
    ],
    [
      "empty server_name extension",
      handshakeRecords(clientHelloMessage({ extensions: [extension(0, [])] })),
      decodeError,
    ],
    [
      "name_type other than host_name",
      handshakeRecords(clientHelloMessage({ extensions: [serverNameExtension("a.example", 1)] })),
      decodeError,
    ],
    [
      "two host names",
      handshakeRecords(
        clientHelloMessage({
          extensions: [extension(0, [0, 8, 0, 0, 1, 0x61, 0, 0, 1, 0x62])],
        }),
      ),
      decodeError,
    ],
    [
      "empty host_name",
      handshakeRecords(clientHelloMessage({ extensions: [serverNameExtension("")] })),
      decodeError,
    ],
  ];
  for (const [what, bytes, alert, offset] of cases) {
    const error = assertRefused(readClientHelloServerName(bytes), "malformed", alert, offset);
    assert.match(error.message, /^Cannot read ClientHello at offset \d+: /, what);
  }
});

/** Overwrites the extensions length of a message whose extensions take 4 bytes. */
function withExtensionsLength(message: Uint8Array, length: number): Uint8Array {
  return patch(message, message.length - 6, [length >> 8, length & 0xff]);
}

function patch(bytes: Uint8Array, at: number, values: number[]): Uint8Array {
  const copy = bytes.slice();
  copy.set(values, at);
  return copy;
}

Deno.test("readClientHelloServerName() refuses an oversized ClientHello as soon as its length arrives", () => {
  // A handshake header announcing 20,000 bytes: refused after 9 bytes, nothing allocated for it.
  const header = Uint8Array.of(22, 3, 1, 1, 0, 1, 0, 0x4e, 0x20);
  assertRefused(readClientHelloServerName(header), "too-large", 40, 6);
  assert.ok(20_000 > DEFAULT_MAX_CLIENT_HELLO_BYTES);

  const hello = clientHelloFixture("openssl");
  const options = { maxClientHelloBytes: hello.length - 1 };
  assertRefused(readClientHelloServerName(hello.subarray(0, 5), options), "too-large", 40, 0);
  assertOk(
    readClientHelloServerName(hello, { maxClientHelloBytes: hello.length }),
    "echo.pool.example",
    hello.length,
  );
  // Record headers count: one-byte records take six bytes each.
  const dribble = handshakeRecords(handshakeOf(hello), 1);
  const error = assertRefused(
    readClientHelloServerName(dribble, { maxClientHelloBytes: 1000 }),
    "too-large",
    40,
  );
  assert.ok(error.offset < 1000);
});

Deno.test("readClientHelloServerName() refuses server names that are not valid DNS host names", () => {
  const invalid: (string | Uint8Array)[] = [
    "echo.pööl.example",
    "echo_1.pool.example",
    "echo.pool.example.",
    ".echo.pool.example",
    "echo..pool.example",
    "-echo.pool.example",
    "echo-.pool.example",
    "127.0.0.1",
    "echo pool",
    `${"a".repeat(64)}.example`,
    `${"a.".repeat(126)}ab`,
    Uint8Array.of(0x61, 0, 0x62),
  ];
  for (const name of invalid) {
    const bytes = handshakeRecords(clientHelloMessage({ extensions: [serverNameExtension(name)] }));
    assertRefused(readClientHelloServerName(bytes), "invalid-server-name", 112);
  }
  for (
    const name of [`${"a".repeat(63)}.example`, `${"a.".repeat(125)}abc`, "xn--bcher-kva.example"]
  ) {
    const bytes = handshakeRecords(clientHelloMessage({ extensions: [serverNameExtension(name)] }));
    assertOk(readClientHelloServerName(bytes), name, bytes.length);
  }
});

Deno.test("readClientHelloServerName() refuses an SSL 3.0 ClientHello with unsupported-version", () => {
  const bytes = handshakeRecords(clientHelloMessage({ version: 0x0300 }), 16384, 0x0300);
  assertRefused(readClientHelloServerName(bytes), "unsupported-version", 70, 9);
});

Deno.test("readClientHelloServerName() rejects a maxClientHelloBytes that is not a positive integer", () => {
  for (const maxClientHelloBytes of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => readClientHelloServerName(new Uint8Array(0), { maxClientHelloBytes }),
      RangeError,
    );
  }
});

Deno.test("tlsAlert() builds a fatal alert record", () => {
  assert.deepEqual(
    tlsAlert(TlsAlertDescription.unrecognizedName),
    Uint8Array.of(21, 3, 3, 0, 2, 2, 112),
  );
  assert.deepEqual(tlsAlert(40), Uint8Array.of(21, 3, 3, 0, 2, 2, 40));
  for (const description of [-1, 256, 1.5]) assert.throws(() => tlsAlert(description), RangeError);
});

/** Accepts one connection, reads its ClientHello, answers with an alert and closes it. */
async function serveOneClientHello(
  listener: Deno.Listener,
  alert: number,
): Promise<{ result: ClientHelloResult; bytes: Uint8Array }> {
  const conn = await listener.accept();
  try {
    const prefix = await readConnectionPrefix(conn, readClientHelloServerName, {
      timeoutMs: 10_000,
    });
    await conn.write(tlsAlert(alert));
    return prefix;
  } finally {
    conn.close();
  }
}

Deno.test({
  name:
    "readClientHelloServerName() reads the SNI of a live openssl s_client, which reports the alert",
  ...needsPrograms("openssl"),
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = new Deno.Command("openssl", {
      args: [
        "s_client",
        "-connect",
        `127.0.0.1:${listener.addr.port}`,
        "-servername",
        "echo.pool.example",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const { result, bytes } = await withDeadline(
      serveOneClientHello(listener, TlsAlertDescription.unrecognizedName),
      15_000,
      "the ClientHello of openssl s_client",
    );
    assert.equal(result.status, "ok");
    assert.equal(result.serverName, "echo.pool.example");
    assert.ok(result.consumed <= bytes.length);
    const output = await withDeadline(client, 15_000, "openssl s_client to exit");
    assert.notEqual(output.code, 0);
    assert.match(new TextDecoder().decode(output.stderr), /unrecognized name|alert number 112/);
  },
});

Deno.test("readClientHelloServerName() reads the SNI Deno's TLS client sends, which reports the alert", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // Deno.connectTls has no serverName option and sends no SNI for an IP literal; startTls over a
  // TCP connection to 127.0.0.1 sends its `hostname` as SNI without resolving it.
  const client = (async () => {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const tls = await Deno.startTls(tcp, { hostname: "echo.pool.example" });
    try {
      await tls.handshake();
      return undefined;
    } catch (error) {
      return error;
    } finally {
      tls.close();
    }
  })();
  const { result } = await withDeadline(
    serveOneClientHello(listener, TlsAlertDescription.unrecognizedName),
    15_000,
    "the ClientHello of Deno.startTls",
  );
  assert.equal(result.status, "ok");
  assert.equal(result.serverName, "echo.pool.example");
  const error = await withDeadline(client, 15_000, "the Deno TLS client to fail");
  assert.ok(error instanceof Error);
  assert.match(error.message, /UnrecognisedName/);
});

Deno.test("readClientHelloServerName() finds no SNI when Deno connects to an IP literal", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = (async () => {
    const tls = await Deno.connectTls({ hostname: "127.0.0.1", port: listener.addr.port });
    try {
      await tls.handshake();
    } catch {
      // The alert ends the handshake: expected.
    } finally {
      tls.close();
    }
  })();
  const { result } = await withDeadline(
    serveOneClientHello(listener, TlsAlertDescription.handshakeFailure),
    15_000,
    "the ClientHello of Deno.connectTls",
  );
  await withDeadline(client, 15_000, "the Deno TLS client to fail");
  assert.equal(result.status, "ok");
  assert.equal(result.serverName, undefined);
});
