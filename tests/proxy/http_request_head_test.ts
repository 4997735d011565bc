import assert from "node:assert/strict";
import {
  DEFAULT_MAX_HEADER_BYTES,
  httpErrorResponse,
  type HttpErrorStatus,
  HttpHeadError,
  type HttpHeadErrorReason,
  type HttpHeadResult,
  type HttpRequestHead,
  readHttpHost,
} from "../../proxy/http_request_head.ts";
import { readConnectionPrefix } from "../../proxy/pool_hostname.ts";
import { needsPrograms } from "../_support/external_program.ts";
import { withDeadline } from "../_support/deadline.ts";
import { clientHelloFixture } from "./_client_hello.ts";

const encoder = new TextEncoder();

/** The head curl 7.88.1 sent for `curl -s -H 'Host: echo.pool.example' http://127.0.0.1:PORT/`. */
const CURL_HEAD = "GET / HTTP/1.1\r\n" +
  "Host: echo.pool.example\r\n" +
  "User-Agent: curl/7.88.1\r\n" +
  "Accept: */*\r\n" +
  "\r\n";

function parse(text: string, options?: { maxHeaderBytes: number }): HttpHeadResult {
  return readHttpHost(encoder.encode(text), options);
}

function assertHost(
  result: HttpHeadResult,
  host: string,
  port?: number,
): asserts result is HttpRequestHead {
  assert.equal(result.status, "ok", JSON.stringify(result));
  assert.equal(result.host, host);
  assert.equal(result.port, port);
}

function assertRefused(
  result: HttpHeadResult,
  reason: HttpHeadErrorReason,
  status: number,
  what: string,
): HttpHeadError {
  assert.equal(
    result.status,
    "error",
    `${what}: expected ${reason}, got ${JSON.stringify(result)}`,
  );
  const { error } = result;
  assert.ok(error instanceof HttpHeadError);
  assert.equal(error.name, "HttpHeadError");
  assert.equal(error.reason, reason, `${what}: ${error.message}`);
  assert.equal(error.status, status, what);
  assert.match(error.message, /^Cannot read HTTP request head at offset \d+: /, what);
  return error;
}

Deno.test("readHttpHost() reads the head curl sends", () => {
  const result = parse(CURL_HEAD);
  assert.deepEqual(result, {
    status: "ok",
    host: "echo.pool.example",
    port: undefined,
    method: "GET",
    target: "/",
    version: "HTTP/1.1",
    headEnd: CURL_HEAD.length,
  });
});

Deno.test("readHttpHost() answers need-more at every split point before the head ends", () => {
  const body = "0123456789";
  const post = "POST /submit?x=1 HTTP/1.1\r\nhost: Echo.Pool.Example:8080\r\n" +
    `Content-Length: ${body.length}\r\n\r\n${body}`;
  for (const text of [CURL_HEAD, post]) {
    const bytes = encoder.encode(text);
    const headEnd = text.indexOf("\r\n\r\n") + 4;
    for (let end = 0; end < headEnd; end++) {
      const result = readHttpHost(bytes.subarray(0, end));
      assert.equal(result.status, "need-more", `prefix of ${end} bytes: ${JSON.stringify(result)}`);
    }
    for (let end = headEnd; end <= bytes.length; end++) {
      const result = readHttpHost(bytes.subarray(0, end));
      assert.equal(result.status, "ok");
      assert.equal(result.headEnd, headEnd);
    }
  }
  assertHost(parse(post), "echo.pool.example", 8080);
});

Deno.test("readHttpHost() normalizes the forms of Host", () => {
  const cases: [string, string, number?][] = [
    ["Echo.Pool.Example", "echo.pool.example"],
    ["echo.pool.example:8080", "echo.pool.example", 8080],
    ["echo.pool.example:", "echo.pool.example"],
    ["echo.pool.example.", "echo.pool.example"],
    ["  echo.pool.example\t", "echo.pool.example"],
    ["127.0.0.1:80", "127.0.0.1", 80],
    ["[::1]:8443", "[::1]", 8443],
    ["[2001:DB8:0:0:0:0:0:1]", "[2001:db8::1]"],
    ["[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]"],
    ["xn--bcher-kva.example:65535", "xn--bcher-kva.example", 65535],
  ];
  for (const [value, host, port] of cases) {
    assertHost(parse(`GET / HTTP/1.1\r\nHost: ${value}\r\n\r\n`), host, port);
  }
});

Deno.test("readHttpHost() accepts each request-target form with its method", () => {
  const cases: [string, string][] = [
    ["GET http://Echo.pool.example:80/a?b HTTP/1.1", "echo.pool.example"],
    ["GET https://echo.pool.example HTTP/1.1", "echo.pool.example"],
    ["CONNECT echo.pool.example:443 HTTP/1.1", "echo.pool.example"],
    ["OPTIONS * HTTP/1.1", "echo.pool.example"],
  ];
  for (const [line, host] of cases) {
    const result = parse(`${line}\r\nHost: echo.pool.example\r\n\r\n`);
    assertHost(result, host);
    assert.equal(result.target, line.split(" ")[1]);
  }
  // RFC 9112 §3.2: an HTTP/1.0 request without Host may name its host in the target.
  assertHost(parse("GET http://echo.pool.example:81/ HTTP/1.0\r\n\r\n"), "echo.pool.example", 81);
  // RFC 9112 §2.2: empty lines before the request-line are ignored.
  const result = parse(`\r\n\r\n${CURL_HEAD}`);
  assertHost(result, "echo.pool.example");
  assert.equal(result.headEnd, CURL_HEAD.length + 4);
  // RFC 9110 §2.5: a later HTTP/1.x minor version is read as the highest one known.
  assertHost(parse("GET / HTTP/1.2\r\nHost: a.example\r\n\r\n"), "a.example");
});

Deno.test("readHttpHost() refuses heads that parsers could read differently as malformed", () => {
  const head = (lines: string) => `GET / HTTP/1.1\r\n${lines}\r\n`;
  const cases: [string, string][] = [
    ["obs-fold", head("Host: a.example\r\nX-Long: one\r\n two\r\n")],
    ["obs-fold of Host", head("Host: a.\r\n example\r\n")],
    ["whitespace before the first field", head(" Host: a.example\r\n")],
    ["two Host lines", head("Host: a.example\r\nHost: a.example\r\n")],
    ["two Host lines, other case", head("Host: a.example\r\nhOST: b.example\r\n")],
    ["whitespace before the colon", head("Host : a.example\r\n")],
    ["bare LF", "GET / HTTP/1.1\nHost: a.example\n\n"],
    ["bare LF after a field", head("Host: a.example\nX: y\r\n")],
    ["bare CR in a value", head("Host: a.example\r\nX: a\rb\r\n")],
    ["NUL in a value", head("Host: a.example\r\nX: a\0b\r\n")],
    ["DEL in a value", head("Host: a.example\r\nX: a\x7fb\r\n")],
    ["field name with a slash", head("Host: a.example\r\nX/Y: 1\r\n")],
    ["empty field name", head("Host: a.example\r\n: 1\r\n")],
    ["Host list", head("Host: a.example, b.example\r\n")],
    ["Host with an underscore", head("Host: a_b.example\r\n")],
    ["Host with a space", head("Host: a example\r\n")],
    ["Host with userinfo", head("Host: user@a.example\r\n")],
    ["Host non-ASCII", head("Host: pööl.example\r\n")],
    ["Host port too big", head("Host: a.example:65536\r\n")],
    ["Host port not a number", head("Host: a.example:8o\r\n")],
    ["Host IPv6 unbracketed", head("Host: ::1\r\n")],
    ["Host IPv6 zone", head("Host: [fe80::1%25eth0]\r\n")],
    ["Host IPv6 invalid", head("Host: [1:2:3:4:5:6:7:8:9]\r\n")],
    ["two spaces in the request-line", "GET  / HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["tab in the request-line", "GET\t/ HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["space in the target", "GET /a b HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["fragment in the target", "GET /a#b HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["lower-case HTTP-name", "GET / http/1.1\r\nHost: a.example\r\n\r\n"],
    ["no version", "GET /\r\nHost: a.example\r\n\r\n"],
    ["version with a letter", "GET / HTTP/1.x\r\nHost: a.example\r\n\r\n"],
    ["space after the version", "GET / HTTP/1.1 \r\nHost: a.example\r\n\r\n"],
    ["asterisk with GET", "GET * HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["CONNECT without port", "CONNECT a.example HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["CONNECT with a path", "CONNECT / HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["target of no form", "GET a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["target with another scheme", "GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["target with userinfo", "GET http://u@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n"],
    ["target naming another host", "GET http://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n"],
  ];
  for (const [what, text] of cases) assertRefused(parse(text), "malformed", 400, what);
});

Deno.test("readHttpHost() refuses a malformed prefix before the head is complete", () => {
  // A TLS ClientHello sent to the HTTP port: refused at its first byte.
  const error = assertRefused(
    readHttpHost(clientHelloFixture("openssl").subarray(0, 1)),
    "malformed",
    400,
    "ClientHello",
  );
  assert.equal(error.offset, 0);
  assertRefused(
    parse("GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n"),
    "malformed",
    400,
    "second Host",
  );
  assertRefused(parse("GET / HTTP/1.1\r\n X"), "malformed", 400, "obs-fold");
  assertRefused(parse("GET / HTTP/2"), "unsupported-version", 505, "HTTP/2");
});

Deno.test("readHttpHost() refuses requests without a host with no-host", () => {
  const cases: [string, string][] = [
    ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"],
    ["empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"],
    ["blank Host", "GET / HTTP/1.1\r\nHost: \t \r\n\r\n"],
    ["HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"],
    ["HTTP/1.1 absolute-form without Host", "GET http://a.example/ HTTP/1.1\r\n\r\n"],
  ];
  for (const [what, text] of cases) assertRefused(parse(text), "no-host", 400, what);
});

Deno.test("readHttpHost() refuses HTTP versions other than 1.x with unsupported-version", () => {
  const cases: [string, string][] = [
    ["HTTP/2 prior knowledge", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
    ["HTTP/0.9 style version", "GET / HTTP/0.9\r\nHost: a.example\r\n\r\n"],
    ["HTTP/3", "GET / HTTP/3.0\r\nHost: a.example\r\n\r\n"],
  ];
  for (const [what, text] of cases) assertRefused(parse(text), "unsupported-version", 505, what);
});

Deno.test("readHttpHost() refuses a head over maxHeaderBytes with too-large", () => {
  const big = `GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: ${
    "p".repeat(DEFAULT_MAX_HEADER_BYTES)
  }\r\n\r\n`;
  const error = assertRefused(parse(big), "too-large", 431, "default limit");
  assert.equal(error.offset, DEFAULT_MAX_HEADER_BYTES);
  // Refused as soon as the limit is reached, without waiting for the rest of the head.
  assertRefused(parse(big.slice(0, DEFAULT_MAX_HEADER_BYTES)), "too-large", 431, "prefix");
  assert.equal(parse(big.slice(0, DEFAULT_MAX_HEADER_BYTES - 1)).status, "need-more");
  // A head of exactly the limit passes.
  assertHost(parse(CURL_HEAD, { maxHeaderBytes: CURL_HEAD.length }), "echo.pool.example");
  assertRefused(
    parse(CURL_HEAD, { maxHeaderBytes: CURL_HEAD.length - 1 }),
    "too-large",
    431,
    "one over",
  );
  const lines = `GET / HTTP/1.1\r\n${"\r\n".repeat(10)}`;
  assertRefused(
    parse(`\r\n`.repeat(20) + lines, { maxHeaderBytes: 32 }),
    "too-large",
    431,
    "empty lines",
  );
  for (const maxHeaderBytes of [0, -1, 2.5]) {
    assert.throws(() => readHttpHost(new Uint8Array(0), { maxHeaderBytes }), RangeError);
  }
});

Deno.test("httpErrorResponse() builds a complete response that closes the connection", () => {
  const text = new TextDecoder().decode(httpErrorResponse(421, "No pool named nope"));
  assert.equal(
    text,
    "HTTP/1.1 421 Misdirected Request\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      "Content-Length: 19\r\n" +
      "Connection: close\r\n" +
      "\r\n" +
      "No pool named nope\n",
  );
  const utf8 = httpErrorResponse(503, "pööl");
  assert.match(new TextDecoder().decode(utf8), /Content-Length: 7\r\n/);
  // A status from untyped code, outside the union, is refused at run time.
  const teapot: number = 418;
  assert.throws(() => httpErrorResponse(teapot as HttpErrorStatus, "teapot"), RangeError);
});

/** Accepts one connection, reads its request head, answers with `response` and closes it. */
async function serveOneRequest(
  listener: Deno.Listener,
  response: Uint8Array,
): Promise<{ result: HttpHeadResult; bytes: Uint8Array }> {
  const conn = await listener.accept();
  try {
    const prefix = await readConnectionPrefix(conn, readHttpHost, {
      maxBytes: DEFAULT_MAX_HEADER_BYTES,
      timeoutMs: 10_000,
    });
    for (let written = 0; written < response.length;) {
      written += await conn.write(response.subarray(written));
    }
    return prefix;
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "readHttpHost() reads the Host a live curl sends, and curl reads httpErrorResponse()",
  ...needsPrograms("curl"),
  async fn() {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = new Deno.Command("curl", {
      args: [
        "-s",
        "-w",
        "%{http_code}",
        "-H",
        "Host: echo.pool.example",
        `http://127.0.0.1:${listener.addr.port}/`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const { result, bytes } = await withDeadline(
      serveOneRequest(listener, httpErrorResponse(421, "No pool named echo")),
      15_000,
      "curl's request",
    );
    assertHost(result, "echo.pool.example");
    assert.equal(result.method, "GET");
    assert.equal(result.target, "/");
    assert.equal(result.headEnd, bytes.length);
    const output = await withDeadline(client, 15_000, "curl to exit");
    assert.equal(new TextDecoder().decode(output.stdout), "No pool named echo\n421");
  },
});

Deno.test("readHttpHost() reads the Host Deno's fetch sends, and fetch reads httpErrorResponse()", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  // fetch does not let a script set Host: it sends the URL's authority.
  const response = fetch(`http://127.0.0.1:${port}/x?y=1`);
  const { result } = await withDeadline(
    serveOneRequest(listener, httpErrorResponse(503, "No pool element available")),
    15_000,
    "fetch's request",
  );
  assertHost(result, "127.0.0.1", port);
  assert.equal(result.target, "/x?y=1");
  const answer = await withDeadline(response, 15_000, "the fetch response");
  assert.equal(answer.status, 503);
  assert.equal(answer.statusText, "Service Unavailable");
  assert.equal(answer.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await answer.text(), "No pool element available\n");
});

Deno.test("readHttpHost() reads the absolute-form request Deno's fetch sends through a proxy", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = Deno.createHttpClient({
    proxy: { url: `http://127.0.0.1:${listener.addr.port}` },
  });
  const response = fetch("http://echo.pool.example/a/b?c=d", { client });
  const { result } = await withDeadline(
    serveOneRequest(listener, httpErrorResponse(404, "No such pool")),
    15_000,
    "fetch's proxied request",
  );
  assertHost(result, "echo.pool.example");
  assert.equal(result.target, "http://echo.pool.example/a/b?c=d");
  const answer = await withDeadline(response, 15_000, "the fetch response");
  assert.equal(answer.status, 404);
  assert.equal(await answer.text(), "No such pool\n");
});
