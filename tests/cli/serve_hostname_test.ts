import assert from "node:assert/strict";
import { runCli } from "../../cli/command.ts";
import { serveCommand } from "../../cli/serve.ts";
import { withDeadline } from "../_support/deadline.ts";
import { needsPrograms } from "../_support/external_program.ts";
import { startNamedHttpServer } from "../_support/http_name_server.ts";
import { type PoolgateProcess, spawnPoolgate } from "../_support/poolgate_process.ts";
import { readToEnd, writeAll } from "../_support/proxy_harness.ts";
import {
  createSelfSignedCertificate,
  type SelfSignedCertificate,
  startTlsEchoServer,
} from "../_support/tls_echo_server.ts";

const DEADLINE_MS = 10_000;
const SUFFIX = ".pool.example";
const decoder = new TextDecoder();

interface LogLine {
  readonly message: string;
  readonly logger: string;
  readonly properties: Record<string, unknown>;
}

/** The `serve` front listeners' ports by kind, from their "Proxy listening" lines. */
async function frontPorts(proc: PoolgateProcess): Promise<{ tls: number; http: number }> {
  const ports: Record<string, number> = {};
  for (const kind of ["tls", "http"]) {
    const line = await proc.waitForLine(
      new RegExp(`Proxy listening on .*"kind":"${kind}"`),
      20_000,
    );
    const { properties } = JSON.parse(line) as LogLine;
    ports[kind] = Number(String(properties.listen).split(":").at(-1));
  }
  return { tls: ports.tls ?? 0, http: ports.http ?? 0 };
}

async function logLine(proc: PoolgateProcess, pattern: RegExp): Promise<LogLine> {
  return JSON.parse(await proc.waitForLine(pattern, DEADLINE_MS)) as LogLine;
}

/**
 * Runs `openssl s_client` against the TLS listener asking for `name`, verifying the server's
 * certificate against `cert`; `line` is queued on its stdin at once (s_client sends it once the
 * handshake is done), and the client is stopped once the line has come back.
 */
async function sClient(port: number, name: string, cert: SelfSignedCertificate, line: string) {
  const child = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      name,
      "-CAfile",
      cert.certFile,
      "-verify_return_error",
      "-verify_hostname",
      name,
      // Keep the connection when stdin ends; the test stops s_client itself.
      "-ign_eof",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  // Queued before the handshake ends, so no write can meet a client that has already exited.
  await stdin.write(new TextEncoder().encode(`${line}\n`));
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  const reader = child.stdout.getReader();
  const read = async () => {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      stdout += decoder.decode(chunk.value, { stream: true });
      if (stdout.includes("Verify return code:") && stdout.includes(`\n${line}\n`)) break;
    }
  };
  try {
    await withDeadline(read(), DEADLINE_MS, `openssl s_client for ${name}`);
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone: the connection ended.
    }
    await stdin.close().catch(() => {});
    reader.releaseLock();
    await child.stdout.cancel();
  }
  const status = await withDeadline(child.status, DEADLINE_MS, "openssl s_client to exit");
  return { code: status.code, stdout, stderr: await stderr };
}

async function curl(args: string[]): Promise<string> {
  // --noproxy: the machine may have an HTTP proxy configured; these requests are local.
  const { stdout, stderr, success } = await new Deno.Command("curl", {
    args: ["-sS", "--noproxy", "*", "--max-time", "10", ...args],
    stdin: "null",
  }).output();
  assert.ok(success, decoder.decode(stderr));
  return decoder.decode(stdout);
}

Deno.test({
  name:
    "main.ts serve --listen-tls and --listen-http: openssl s_client and curl reach the pool their host name names",
  ...needsPrograms("openssl", "curl"),
  async fn() {
    await using cert = await createSelfSignedCertificate([`echo${SUFFIX}`]);
    await using tlsPe = startTlsEchoServer(cert);
    await using httpPe = startNamedHttpServer("web-1");
    await using proc = spawnPoolgate([
      "serve",
      "--asap",
      "127.0.0.1:0",
      "--listen-tls",
      "127.0.0.1:0",
      "--listen-http",
      "127.0.0.1:0",
      "--handle-suffix",
      SUFFIX,
      "--member",
      `echo=127.0.0.1:${tlsPe.port}`,
      "--member",
      `web=127.0.0.1:${httpPe.port}`,
      "--front-timeout",
      "300ms",
      "--log-format",
      "json",
    ]);
    const ports = await frontPorts(proc);

    // TLS: the handshake verifies the PE's own certificate, so the ClientHello reached it as sent.
    const tls = await sClient(ports.tls, `echo${SUFFIX}`, cert, "hello through SNI");
    assert.match(tls.stdout, /Verify return code: 0 \(ok\)/);
    assert.match(tls.stdout, /\nhello through SNI\n/);
    assert.equal(tlsPe.handshakes, 1);
    assert.equal(
      (await logLine(proc, /"logger":"poolgate.access".*"pool":"echo"/)).properties.reason,
      "completed",
    );

    const unknown = await sClient(ports.tls, `nope${SUFFIX}`, cert, "unused");
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unrecognized name|alert number 112/);
    const refusedTls = await logLine(proc, /Refusing client.*"kind":"tls","reason":"unknown-pool"/);
    assert.match(String(refusedTls.properties.peer), /^127\.0\.0\.1:\d+$/);

    // HTTP: two requests over one keep-alive connection, both to the PE of pool "web".
    const resolve = (name: string) => ["--resolve", `${name}${SUFFIX}:${ports.http}:127.0.0.1`];
    const url = (name: string, path: string) => `http://${name}${SUFFIX}:${ports.http}${path}`;
    const bodies = (await curl([...resolve("web"), url("web", "/a"), url("web", "/b")]))
      .trim().split("\n");
    assert.equal(bodies.length, 2);
    const [first, second] = bodies.map((body) => body.split(" "));
    assert.deepEqual(first?.slice(0, 2), ["web-1", `web${SUFFIX}:${ports.http}`]);
    assert.deepEqual(second, first, "the second request came over the same PE connection");
    const access = await logLine(proc, /"logger":"poolgate.access".*"pool":"web"/);
    assert.equal(access.properties.reason, "completed");

    const status = await curl([
      ...resolve("nope"),
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      url("nope", "/"),
    ]);
    assert.equal(status, "404");
    await logLine(proc, /Refusing client.*"kind":"http","reason":"unknown-pool"/);

    // --front-timeout: a request head that stops half-way gets 408 after 300 ms.
    using slow = await Deno.connect({ hostname: "127.0.0.1", port: ports.http });
    await writeAll(slow, new TextEncoder().encode("GET / HTTP/1.1\r\nHost: web"));
    const { bytes } = await readToEnd(slow, DEADLINE_MS);
    assert.match(decoder.decode(bytes), /^HTTP\/1\.1 408 /);
  },
});

Deno.test("main.ts serve refuses host-name listener flags that do not fit, with one line and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--listen-tls", "8443"], /^--listen-tls and --listen-http need --handle-suffix/],
    [["--handle-suffix", SUFFIX], /^--handle-suffix applies to --listen-tls and --listen-http/],
    [["--listen-http", "8080=web"], /^Invalid value for --listen-http: "8080=web": expected/],
    [["--handle-suffix", "pool.example"], /^Invalid value for --handle-suffix/],
    [["--handle-suffix", ".pool..example"], /^Invalid value for --handle-suffix/],
    [["--max-front-bytes", "10"], /^Invalid value for --max-front-bytes/],
    [["--front-timeout", "soon"], /^Invalid value for --front-timeout/],
  ];
  for (const [args, expected] of cases) {
    const lines: string[] = [];
    const code = await runCli(["serve", ...args], [serveCommand], {
      stdout: (text) => lines.push(text),
      stderr: (text) => lines.push(text),
      env: () => undefined,
    });
    assert.equal(code, 2, args.join(" "));
    assert.equal(lines.length, 1, lines.join(""));
    assert.match(lines[0] ?? "", expected);
  }
});
