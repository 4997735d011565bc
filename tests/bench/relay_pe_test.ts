/**
 * `bench/relay_pe.ts`, the control-channel backend of the proxy benchmarks, end to end with real
 * processes: `main.ts serve` (embedded registrar and proxy), a relay registered with it over
 * ASAP, and a plain TCP server the relay connects to per session. The client's bytes must reach
 * the server and the server's the client byte for byte, through a DATA PLUS CONTROL pool element,
 * with half-closes passed on both ways; the relay must exit once poolgate is gone.
 */
import assert from "node:assert/strict";
import { poolDetailSchema } from "../../proxy/admin/admin_schemas.ts";
import { withDeadline } from "../_support/deadline.ts";
import { concat, patternBytes, readToEnd, writeAll } from "../_support/proxy_harness.ts";
import { listenerPort, type ServeProcess, sessionPeId, startServe } from "../cli/_serve_admin.ts";

const RELAY = new URL("../../bench/relay_pe.ts", import.meta.url).pathname;
const POOL = "bench";
const START_MS = 20_000;
const DEADLINE_MS = 10_000;
const encoder = new TextEncoder();

/** A `bench/relay_pe.ts` child, registered. */
interface RelayProcess extends AsyncDisposable {
  readonly peId: number;
  readonly status: Promise<Deno.CommandStatus>;
  readonly lines: string[];
}

/** Starts a relay to `backendPort` registering with `serve`'s registrar; resolves once registered. */
async function startRelay(serve: ServeProcess, backendPort: number): Promise<RelayProcess> {
  const asapLine = serve.proc.stderrLines.find((line) => /serving ASAP on/.test(line)) ?? "{}";
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      RELAY,
      ...["--pool", POOL, "--registrar", String(JSON.parse(asapLine).properties.asap)],
      ...["--backend", `127.0.0.1:${backendPort}`, "--log-format", "json"],
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const registered = Promise.withResolvers<number>();
  const pump = (async () => {
    let rest = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        const peId = /PE (0x[0-9a-f]+) registered in pool/.exec(line)?.[1];
        if (peId !== undefined) registered.resolve(Number.parseInt(peId, 16));
      }
    }
    registered.reject(new Error(`the relay exited unregistered:\n${lines.join("\n")}`));
  })();
  const status = child.status;
  const dispose = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await status;
    await pump;
  };
  try {
    const peId = await withDeadline(registered.promise, START_MS, "the relay's registration");
    return { peId, status, lines, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** `serve` with one listener for {@linkcode POOL} and no member but the relay it starts. */
async function startProxy(): Promise<ServeProcess & { port: number }> {
  const serve = await startServe(["--listen", `127.0.0.1:0=${POOL}`]);
  try {
    return Object.assign(serve, { port: await listenerPort(serve, "tcp-127.0.0.1-0") });
  } catch (error) {
    await serve[Symbol.asyncDispose]();
    throw error;
  }
}

/** Warnings and errors `serve` has logged so far. */
function warnings(serve: ServeProcess): string[] {
  return serve.proc.stderrLines.filter((line) => /"level":"(WARN|ERROR)"/.test(line));
}

/**
 * Asserts that the session ended completed, on the relay alone, and that `serve` logged no
 * warning past the `before` it had at start-up (a stall, a bad frame, a lost pool element).
 */
async function assertCompleted(
  serve: ServeProcess,
  relay: RelayProcess,
  before: number,
): Promise<void> {
  const line = await serve.proc.waitForLine(/"logger":"poolgate.access"/, DEADLINE_MS);
  const { reason, pes } = JSON.parse(line).properties;
  assert.equal(reason, "completed", line);
  assert.deepEqual(pes, [relay.peId]);
  assert.deepEqual(warnings(serve).slice(before), []);
}

Deno.test("relay_pe.ts relays 4 replay buffers' worth byte-exact both ways over DATA PLUS CONTROL, passes the client's half-close on, and exits when poolgate dies", async () => {
  // An echo server that answers the client's FIN with a trailer: it only comes if the relay
  // passed the half-close on, and only arrives if the relay still relays the other way.
  using backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const firstBytes = Promise.withResolvers<void>();
  const served = (async () => {
    using conn = await backend.accept();
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      chunks.push(buffer.slice(0, n));
      firstBytes.resolve();
      // Echoed before the next read: the relay's backpressure is the server's.
      await writeAll(conn, buffer.subarray(0, n));
    }
    const received = concat(chunks);
    await writeAll(conn, encoder.encode(`received ${received.length}\n`));
    return received;
  })();
  const serve = await startProxy();
  try {
    await using relay = await startRelay(serve, backend.addr.port);
    // 1 MiB is four times the proxy's default replay buffer: without cookies the upload stalls.
    const payload = patternBytes(1024 * 1024, 1);
    const before = warnings(serve).length;
    using client = await Deno.connect({ hostname: "127.0.0.1", port: serve.port });
    const answer = readToEnd(client, DEADLINE_MS);
    await writeAll(client, payload.subarray(0, 1000));
    // Bytes at the backend went through the relay: the session is on it now.
    await withDeadline(firstBytes.promise, DEADLINE_MS, "the first bytes at the backend");
    assert.equal(await sessionPeId(serve, client), relay.peId);
    const pool = poolDetailSchema.parse((await serve.request("GET", `/v1/pools/${POOL}`)).body);
    assert.deepEqual(pool.members.map((m) => [m.peId, m.transportUse]), [
      [relay.peId, "data-plus-control"],
    ]);

    await writeAll(client, payload.subarray(1000));
    await client.closeWrite();
    const { bytes: got } = await answer;
    const expected = concat([payload, encoder.encode(`received ${payload.length}\n`)]);
    assert.equal(got.length, expected.length);
    assert.ok(got.every((byte, i) => byte === expected[i]), "the client got the echo byte-exact");
    const received = await withDeadline(served, DEADLINE_MS, "the backend's end");
    assert.ok(
      received.length === payload.length && received.every((byte, i) => byte === payload[i]),
      "the backend got the client's bytes byte-exact",
    );
    await assertCompleted(serve, relay, before);

    await serve[Symbol.asyncDispose](); // SIGKILL: the registrar's connection drops with it.
    const status = await withDeadline(relay.status, DEADLINE_MS, "the relay's exit after poolgate");
    assert.equal(status.code, 0, relay.lines.join("\n"));
  } finally {
    await serve[Symbol.asyncDispose]();
  }
});

Deno.test("relay_pe.ts passes the backend's half-close on while the client goes on sending", async () => {
  // A server that greets and half-closes at once, then takes what the client sends.
  using backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    using conn = await backend.accept();
    await writeAll(conn, encoder.encode("hello\n"));
    await conn.closeWrite();
    return (await readToEnd(conn, DEADLINE_MS)).bytes;
  })();
  await using serve = await startProxy();
  await using relay = await startRelay(serve, backend.addr.port);
  const before = warnings(serve).length;
  using client = await Deno.connect({ hostname: "127.0.0.1", port: serve.port });
  const greeting = await readToEnd(client, DEADLINE_MS);
  assert.equal(new TextDecoder().decode(greeting.bytes), "hello\n");
  // Less than the replay buffer: after its end frame the relay can send no cookie (the library
  // refuses one after end(), and the proxy reads no frame after an end frame).
  const payload = patternBytes(100 * 1024, 2);
  await writeAll(client, payload);
  await client.closeWrite();
  assert.deepEqual(await withDeadline(served, DEADLINE_MS, "the backend's end"), payload);
  await assertCompleted(serve, relay, before);
});
