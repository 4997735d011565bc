/**
 * Transparent failover with state over the DATA PLUS CONTROL data channel, end to end with real
 * processes: `main.ts serve` (embedded registrar and proxy) and `main.ts example-pe echo|sum`
 * pool elements registered over ASAP, killed with SIGKILL or stopped with SIGSTOP while clients
 * stream through the proxy. Every client must get back exactly the bytes the service produces
 * for what it sent: none missing, none twice.
 */
import assert from "node:assert/strict";
import { echoService, encodeEchoCookie } from "../../lib/asap/examples/echo_service.ts";
import { registerPoolElement } from "../../lib/asap/pool_element.ts";
import { servePeSessions } from "../../lib/asap/pe_session.ts";
import {
  DataChannelDecoder,
  Decoded,
  encodeControlFrame,
  encodeHello,
  FRAME_HEADER_LENGTH,
  FrameType,
  writeFrameHeader,
} from "../../lib/asap/data_channel.ts";
import { AsapMessageType, PolicyType, TransportUse } from "../../lib/wire/codes.ts";
import { withDeadline } from "../_support/deadline.ts";
import { type PoolgateProcess, spawnPoolgate } from "../_support/poolgate_process.ts";

const START_MS = 20_000;
const DEADLINE_MS = 20_000;
const POOL = "echo";
const encoder = new TextEncoder();

/** `main.ts serve` with one listener for {@linkcode POOL}. */
interface Serve extends AsyncDisposable {
  readonly process: PoolgateProcess;
  /** The registrar's ASAP address as HOST:PORT. */
  readonly asap: string;
  readonly listenPort: number;
  /** Resolves with the pool element a session moved to from `fromPeId`. */
  movedFrom(sessionId: number, fromPeId: number): Promise<number>;
  /** Lines saying a session moved, so far. */
  moves(): number;
}

async function startServe(args: readonly string[] = []): Promise<Serve> {
  // No admin API (its port is fixed) and no config store (the user's): set through the
  // environment, which a serve without those flags ignores.
  const env = { POOLGATE_NO_ADMIN: "true", POOLGATE_NO_STORE: "true" };
  const process = spawnPoolgate([
    "serve",
    "--asap",
    "127.0.0.1:0",
    "--listen",
    `127.0.0.1:0=${POOL}`,
    "--log-format",
    "text",
    ...args,
  ], { env });
  try {
    // Values in text log lines are quoted or bare depending on the formatter's version: `"?`.
    const asapLine = await process.waitForLine(/serving ASAP on "?([^"\s]+)/, START_MS);
    const listenLine = await process.waitForLine(/Proxy listening on "?[^"\s]+:(\d+)/, START_MS);
    const asap = /serving ASAP on "?([^"\s]+)/.exec(asapLine)![1]!;
    const listenPort = Number(/Proxy listening on "?[^"\s]+:(\d+)/.exec(listenLine)![1]);
    return {
      process,
      asap,
      listenPort,
      async movedFrom(sessionId, fromPeId) {
        const line = await process.waitForLine(
          new RegExp(`Session ${sessionId} moved from pool element ${fromPeId} to (\\d+)`),
          DEADLINE_MS,
        );
        return Number(/ to (\d+)/.exec(line)![1]);
      },
      moves: () =>
        process.stderrLines.filter((line) => / moved from pool element /.test(line)).length,
      [Symbol.asyncDispose]: () => process[Symbol.asyncDispose](),
    };
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
}

/** One `main.ts example-pe` process, registered. */
interface Pe extends AsyncDisposable {
  readonly process: PoolgateProcess;
  readonly peId: number;
  kill(signal: Deno.Signal): void;
}

async function startPe(
  service: "echo" | "sum",
  serve: Serve,
  args: readonly string[] = [],
): Promise<Pe> {
  const process = spawnPoolgate([
    "example-pe",
    service,
    "--pool",
    POOL,
    "--registrar",
    serve.asap,
    "--log-format",
    "text",
    ...args,
  ]);
  try {
    const line = await process.waitForLine(/PE "?(0x[0-9a-f]+)"? registered in pool/, START_MS);
    const peId = Number.parseInt(/PE "?(0x[0-9a-f]+)/.exec(line)![1]!, 16);
    return {
      process,
      peId,
      kill: (signal) => process.child.kill(signal),
      [Symbol.asyncDispose]: () => process[Symbol.asyncDispose](),
    };
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
}

/** A pool of PE processes the test adds to and kills; disposing kills the rest. */
class PeFleet implements AsyncDisposable {
  readonly #all: Pe[] = [];

  async start(service: "echo" | "sum", serve: Serve, args: readonly string[] = []): Promise<Pe> {
    const pe = await startPe(service, serve, args);
    this.#all.push(pe);
    return pe;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.#all.map((pe) => pe[Symbol.asyncDispose]()));
  }
}

/** Byte `i` of the counter sequence: 32-bit big-endian counters 0, 1, 2, … */
function counterByte(i: number): number {
  return ((i >>> 2) >>> (8 * (3 - (i & 3)))) & 0xff;
}

function counterBytes(from: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = counterByte(from + i);
  return out;
}

/** Bytes received by a group of clients, awaitable. */
class Progress {
  total = 0;
  #waiters: { target: number; resolve: () => void }[] = [];

  add(count: number): void {
    this.total += count;
    const ready = this.#waiters.filter((waiter) => waiter.target <= this.total);
    this.#waiters = this.#waiters.filter((waiter) => waiter.target > this.total);
    for (const waiter of ready) waiter.resolve();
  }

  reach(target: number): Promise<void> {
    if (this.total >= target) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ target, resolve });
    return promise;
  }
}

/** Connects a client to the proxy's listener. */
function dial(serve: Serve): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: serve.listenPort });
}

/**
 * A client streaming the counter sequence through the proxy and checking each byte that comes
 * back against it on arrival. At most `window` bytes are unanswered at once; writing goes on
 * until `stop()` or `total` bytes.
 */
class CounterClient implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  sent = 0;
  received = 0;
  /** The first difference from the expected stream, if any. */
  mismatch: string | undefined;
  readonly done: Promise<void>;
  readonly #window: number;
  readonly #chunk: number;
  readonly #total: number;
  #stopped = false;
  #readDone = false;
  #waiters: { count: number; resolve: () => void }[] = [];
  #expect: (received: number, bytes: Uint8Array) => string | undefined;
  #progress: Progress | undefined;

  constructor(
    conn: Deno.TcpConn,
    options: {
      total?: number;
      window?: number;
      chunk?: number;
      source?: (from: number, length: number) => Uint8Array;
      expect?: (received: number, bytes: Uint8Array) => string | undefined;
      progress?: Progress;
    } = {},
  ) {
    this.#progress = options.progress;
    this.conn = conn;
    this.#total = options.total ?? Number.MAX_SAFE_INTEGER;
    this.#window = options.window ?? 64 * 1024;
    this.#chunk = options.chunk ?? 4096;
    const source = options.source ?? counterBytes;
    this.#expect = options.expect ?? ((at, bytes) => {
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] !== counterByte(at + i)) {
          return `byte ${at + i} is ${bytes[i]}, expected ${counterByte(at + i)}`;
        }
      }
      return undefined;
    });
    this.done = Promise.all([this.#write(source), this.#read()]).then(() => {});
    // A test that fails early disposes of the client; the rejection is not lost, only not fatal.
    this.done.catch(() => {});
  }

  /** Closes the connection (if the stream is not over) and waits for both directions. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Closed when the stream ended.
    }
    await this.done.catch(() => {});
  }

  static async connect(serve: Serve, options: ConstructorParameters<typeof CounterClient>[1] = {}) {
    return new CounterClient(await dial(serve), options);
  }

  /** Resolves once `count` bytes have come back. */
  receivedAtLeast(count: number): Promise<void> {
    if (this.received >= count) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ count, resolve });
    return promise;
  }

  /** Stops writing: the client half-closes once its last chunk is written. */
  stop(): void {
    this.#stopped = true;
    this.#wake();
  }

  async #write(source: (from: number, length: number) => Uint8Array): Promise<void> {
    try {
      while (!this.#stopped && this.sent < this.#total) {
        if (this.sent - this.received >= this.#window) {
          await this.receivedAtLeast(this.sent - this.#window + 1);
          continue;
        }
        const chunk = source(this.sent, Math.min(this.#chunk, this.#total - this.sent));
        for (let at = 0; at < chunk.length;) at += await this.conn.write(chunk.subarray(at));
        this.sent += chunk.length;
      }
      if (!this.#readDone) await this.conn.closeWrite();
    } catch (error) {
      // The stream ended under the writer (the proxy closed it): the reader tells the rest.
      if (!this.#readDone) throw error;
    }
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (let n = await this.conn.read(buffer); n !== null; n = await this.conn.read(buffer)) {
        this.mismatch ??= this.#expect(this.received, buffer.subarray(0, n));
        this.received += n;
        this.#progress?.add(n);
        this.#wake();
      }
    } finally {
      this.#readDone = true;
      this.#stopped = true;
      try {
        this.conn.close();
      } catch {
        // Closed by dispose.
      }
      for (const waiter of this.#waiters) waiter.resolve();
      this.#waiters = [];
    }
  }

  #wake(): void {
    const ready = this.#waiters.filter((waiter) => waiter.count <= this.received || this.#stopped);
    this.#waiters = this.#waiters.filter((waiter) => !ready.includes(waiter));
    for (const waiter of ready) waiter.resolve();
  }
}

Deno.test("serve moves an echo session across repeated SIGKILLs: the client gets every byte once", async () => {
  await using serve = await startServe(["--pool", `${POOL}:max-failovers=50`]);
  await using fleet = new PeFleet();
  let holder = await fleet.start("echo", serve, ["--cookie-every", "8192"]);
  await using client = await CounterClient.connect(serve, { window: 128 * 1024 });
  await withDeadline(client.receivedAtLeast(64 * 1024), DEADLINE_MS, "the first echo");
  const spare = await Promise.all([fleet.start("echo", serve), fleet.start("echo", serve)]);
  const pes = new Map<number, Pe>([holder, ...spare].map((pe) => [pe.peId, pe]));
  const kills = 4;
  for (let kill = 0; kill < kills; kill++) {
    const before = client.received;
    holder.kill("SIGKILL");
    pes.delete(holder.peId);
    const next = await serve.movedFrom(1, holder.peId);
    holder = pes.get(next) ?? assert.fail(`moved to unknown PE ${next}`);
    // A replacement, so that a pool element is always free to move to.
    const replacement = await fleet.start("echo", serve);
    pes.set(replacement.peId, replacement);
    await withDeadline(
      client.receivedAtLeast(before + 256 * 1024),
      DEADLINE_MS,
      `bytes after kill ${kill + 1}`,
    );
    assert.equal(client.mismatch, undefined);
  }
  client.stop();
  await withDeadline(client.done, DEADLINE_MS, "the end of the stream");
  assert.equal(client.mismatch, undefined);
  assert.equal(client.received, client.sent);
  assert.ok(client.sent > 1024 * 1024, `sent ${client.sent}`);
  assert.equal(serve.moves(), kills);
});

/** Lines "1\n", "2\n", … as the sum client sends them, and the running sums it expects. */
function sumTraffic(lines: number) {
  const request = encoder.encode(
    Array.from({ length: lines }, (_, i) => `${i + 1}\n`).join(""),
  );
  const expected = encoder.encode(
    Array.from({ length: lines }, (_, i) => `${((i + 1) * (i + 2)) / 2}\n`).join(""),
  );
  return { request, expected };
}

Deno.test("serve keeps the sum service's running sum across a SIGKILL: the state travels in cookies", async () => {
  await using serve = await startServe();
  await using fleet = new PeFleet();
  const first = await fleet.start("sum", serve, ["--cookie-every", "1000", "--log-level", "debug"]);
  // The session is on the only PE before the second one joins.
  const conn = await dial(serve);
  await first.process.waitForLine(/Session 1 started/, DEADLINE_MS);
  await fleet.start("sum", serve);
  const { request, expected } = sumTraffic(100_000);
  await using client = new CounterClient(conn, {
    total: request.length,
    window: 2048,
    chunk: 700,
    source: (from, length) => request.subarray(from, from + length),
    expect: (at, bytes) => {
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] !== expected[at + i]) return `answer byte ${at + i} differs`;
      }
      return undefined;
    },
  });
  await withDeadline(client.receivedAtLeast(expected.length / 4), DEADLINE_MS, "a quarter");
  first.kill("SIGKILL");
  await serve.movedFrom(1, first.peId);
  await withDeadline(client.done, DEADLINE_MS, "every answer");
  assert.equal(client.mismatch, undefined);
  assert.equal(client.received, expected.length);
  assert.ok(client.received > expected.length / 4);
});

Deno.test("serve moves a session off a SIGSTOPped PE once the registrar drops it, exactly once", async () => {
  await using serve = await startServe([
    "--keep-alive-interval",
    "100ms",
    "--keep-alive-timeout",
    "300ms",
  ]);
  await using fleet = new PeFleet();
  const stopped = await fleet.start("echo", serve, ["--cookie-every", "4096"]);
  await using client = await CounterClient.connect(serve, { window: 64 * 1024 });
  await withDeadline(client.receivedAtLeast(256 * 1024), DEADLINE_MS, "the first echo");
  await fleet.start("echo", serve);
  stopped.kill("SIGSTOP");
  const before = client.received;
  await serve.movedFrom(1, stopped.peId);
  await withDeadline(client.receivedAtLeast(before + 512 * 1024), DEADLINE_MS, "more echo");
  client.stop();
  await withDeadline(client.done, DEADLINE_MS, "the end of the stream");
  assert.equal(client.mismatch, undefined);
  assert.equal(client.received, client.sent);
  assert.match(
    serve.process.stderrLines.find((line) => /lost pool element/.test(line)) ?? "",
    /removed/,
  );
});

/** xorshift32: the test's only randomness, seeded. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

const SESSIONS = 1000;

/** What the proxy logged about the sessions that did not get their whole echo, for a failure. */
function diagnose(serve: Serve, clients: readonly CounterClient[], perSession: number): string {
  const bad = clients.filter((client) =>
    client.mismatch !== undefined || client.received !== perSession
  );
  const lines = serve.process.stderrLines;
  const reasons = new Map<string, number>();
  for (const line of lines) {
    const reason = / (\S+) peer=\S+ sessionId=\d+$/.exec(line)?.[1];
    if (reason !== undefined && / poolgate·access: /.test(line)) {
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
  }
  const details = bad.slice(0, 3).map((client) => {
    const port = (client.conn.localAddr as Deno.NetAddr).port;
    const id = lines.map((line) =>
      new RegExp(`peer=127\\.0\\.0\\.1:${port} sessionId=(\\d+)`).exec(line)?.[1]
    )
      .find((found) => found !== undefined);
    const story = lines.filter((line) =>
      line.includes(`peer=127.0.0.1:${port}`) ||
      (id !== undefined && line.includes(`Session ${id} `))
    );
    return `client :${port} sent ${client.sent} received ${client.received} mismatch ${client.mismatch}\n  ${
      story.join("\n  ")
    }`;
  });
  return `${bad.length} sessions short; end reasons ${JSON.stringify([...reasons])}\n${
    details.join("\n")
  }`;
}

Deno.test(`serve moves ${SESSIONS} concurrent sessions while PEs are killed at random: no byte lost or twice`, async () => {
  await using serve = await startServe(["--pool", `${POOL}:max-failovers=100`]);
  await using fleet = new PeFleet();
  const peArgs = ["--cookie-every", "2048"];
  const alive: Pe[] = await Promise.all(
    Array.from({ length: 4 }, () => fleet.start("echo", serve, peArgs)),
  );
  const perSession = 128 * 1024;
  const progress = new Progress();
  const clients: CounterClient[] = [];
  await using _clients = {
    [Symbol.asyncDispose]: async () => {
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
    },
  };
  for (let i = 0; i < SESSIONS; i++) {
    clients.push(
      await CounterClient.connect(serve, {
        total: perSession,
        window: 4096,
        chunk: 1024,
        progress,
      }),
    );
  }
  const all = Promise.all(clients.map((client) => client.done));
  const next = random(0x5eed);
  const totalBytes = SESSIONS * perSession;
  const kills = 6;
  let peakKiB = 0;
  try {
    for (let kill = 1; kill <= kills; kill++) {
      // A kill after each seventh of the traffic.
      await withDeadline(
        progress.reach((totalBytes * kill) / (kills + 1)),
        DEADLINE_MS * 2,
        `progress ${kill}`,
      );
      peakKiB = Math.max(peakKiB, rssKiB(serve.process.child.pid));
      const victim = alive.splice(Math.floor(next() * alive.length), 1)[0]!;
      victim.kill("SIGKILL");
      // Restarted: the next kill comes once the replacement is registered.
      alive.push(await fleet.start("echo", serve, peArgs));
    }
    await withDeadline(all, DEADLINE_MS * 3, "every session's echo");
  } catch (error) {
    throw new Error(`${error}\n${diagnose(serve, clients, perSession)}`);
  }
  peakKiB = Math.max(peakKiB, rssKiB(serve.process.child.pid));
  const bad = clients.filter((client) =>
    client.mismatch !== undefined || client.received !== perSession
  );
  assert.equal(bad.length, 0, diagnose(serve, clients, perSession));
  assert.ok(serve.moves() >= SESSIONS / 4, `only ${serve.moves()} sessions moved`);
  // Two 64 KiB buffers and a replay buffer per session, and the runtime: well under 1 GiB.
  assert.ok(peakKiB < 600 * 1024, `proxy RSS peaked at ${peakKiB} KiB`);
  console.log(
    `${SESSIONS} sessions, ${kills} kills, ${serve.moves()} moves, proxy peak RSS ${
      Math.round(peakKiB / 1024)
    } MiB`,
  );
});

Deno.test("serve tries the failover targets of a PE's Business Card first", async () => {
  await using serve = await startServe();
  await using fleet = new PeFleet();
  // By priority the session goes to A, and from A to B; A's card names C.
  await fleet.start("echo", serve, ["--pe-id", "0xb2", "--policy", "prio:priority=5"]);
  await fleet.start("echo", serve, ["--pe-id", "0xc3", "--policy", "prio:priority=1"]);
  const a = await fleet.start("echo", serve, [
    "--pe-id",
    "0xa1",
    "--policy",
    "prio:priority=10",
    "--prefer",
    "0xc3",
  ]);
  await using client = await CounterClient.connect(serve, { window: 16 * 1024 });
  await withDeadline(client.receivedAtLeast(64 * 1024), DEADLINE_MS, "the first echo");
  a.kill("SIGKILL");
  assert.equal(await serve.movedFrom(1, 0xa1), 0xc3);
  const before = client.received;
  await withDeadline(client.receivedAtLeast(before + 64 * 1024), DEADLINE_MS, "more echo");
  client.stop();
  await withDeadline(client.done, DEADLINE_MS, "the end of the stream");
  assert.equal(client.mismatch, undefined);
  assert.equal(client.received, client.sent);
});

const POISON = 0xee;

/** How a misbehaving PE ends its part of a session, after echoing correctly for a while. */
const BAD_ENDINGS: Record<string, (echoed: number) => Uint8Array> = {
  "an unknown frame type": () => concat([Uint8Array.of(0x7f, 0, 0, 8), poison(8)]),
  "a data frame longer than 64 KiB": () =>
    concat([Uint8Array.of(0x00, 0xff, 0xff, 0xff), poison(64)]),
  "a cookie whose produced count is forged": (echoed) =>
    concat([cookieFrame(echoed, echoed + 4096), dataFrameOf(poison(4096))]),
  "a cookie claiming more client bytes than it was sent": (echoed) =>
    concat([cookieFrame(echoed + 1_000_000, echoed), dataFrameOf(poison(16))]),
  "a Cookie Echo, which only the proxy sends": (echoed) =>
    concat([
      encodeControlFrame({
        type: FrameType.cookie,
        position: { consumed: echoed, produced: echoed },
        message: { type: AsapMessageType.cookieEcho, cookie: encodeEchoCookie(echoed) },
      }),
      dataFrameOf(poison(16)),
    ]),
  "a garbled ASAP message": () => {
    // An ASAP Error whose Operation Error parameter claims 64 bytes of a 12-byte message.
    const garbled = Uint8Array.of(0x0e, 0, 0, 12, 0x00, 0x0c, 0x00, 0x40, 0, 0, 0, 0);
    return concat([Uint8Array.of(0x01, 0, 0, 12), garbled, dataFrameOf(poison(16))]);
  },
};

function poison(length: number): Uint8Array {
  return new Uint8Array(length).fill(POISON);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function dataFrameOf(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  writeFrameHeader(out, 0, FrameType.data, payload.length);
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

function cookieFrame(consumed: number, produced: number): Uint8Array {
  return encodeControlFrame({
    type: FrameType.cookie,
    position: { consumed, produced },
    message: { type: AsapMessageType.cookie, cookie: encodeEchoCookie(consumed) },
  });
}

/**
 * An in-process PE that speaks the channel by hand: it echoes with a valid cookie after each
 * read, then, once `after` bytes are echoed, sends `ending` and waits for the proxy to close.
 */
function startMisbehavingPe(
  serve: Serve,
  ending: (echoed: number) => Uint8Array,
  after: number,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedByProxy = Promise.withResolvers<boolean>();
  const served = (async () => {
    const conn = await listener.accept();
    const write = async (bytes: Uint8Array) => {
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    };
    try {
      await write(encodeHello({ version: 1, resume: false }));
      const decoder = new DataChannelDecoder({ peer: "proxy" });
      const buffer = new Uint8Array(64 * 1024);
      let echoed = 0;
      let misbehaved = false;
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        if (misbehaved) continue;
        decoder.feed(buffer.subarray(0, n));
        for (let kind = decoder.next(); kind !== Decoded.none; kind = decoder.next()) {
          if (kind !== Decoded.data) continue;
          await write(dataFrameOf(buffer.subarray(decoder.dataStart, decoder.dataEnd)));
          echoed += decoder.dataEnd - decoder.dataStart;
        }
        await write(cookieFrame(echoed, echoed));
        if (echoed >= after) {
          misbehaved = true;
          await write(ending(echoed));
        }
      }
      closedByProxy.resolve(true);
    } catch {
      closedByProxy.resolve(true);
    } finally {
      conn.close();
    }
  })();
  const registration = registerPoolElement({
    registrars: [hostPort(serve.asap)],
    poolHandle: POOL,
    transport: { port: listener.addr.port, transportUse: TransportUse.dataPlusControl },
    policy: { type: PolicyType.priority, priority: 10 },
  });
  return {
    registration,
    closedByProxy: closedByProxy.promise,
    async [Symbol.asyncDispose]() {
      listener.close();
      await registration.close();
      await served.catch(() => {});
    },
  };
}

function hostPort(text: string): { hostname: string; port: number } {
  const colon = text.lastIndexOf(":");
  return { hostname: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
}

Deno.test("serve fails a session over when its PE sends a forged or garbled frame, and none of it reaches the client", async () => {
  await using serve = await startServe(["--pool", `${POOL}:max-failovers=50`]);
  // The well-behaved PE, in process too, below the misbehaving ones by priority.
  await using server = servePeSessions({
    hostname: "127.0.0.1",
    port: 0,
    ...echoService({ cookieEveryBytes: 2048 }),
  });
  await using good = registerPoolElement({
    registrars: [hostPort(serve.asap)],
    poolHandle: POOL,
    transport: { port: server.addr.port, transportUse: TransportUse.dataPlusControl },
    policy: { type: PolicyType.priority, priority: 1 },
  });
  await withDeadline(nextRegistered(good), DEADLINE_MS, "the good PE's registration");
  let sessionId = 0;
  for (const [what, ending] of Object.entries(BAD_ENDINGS)) {
    await using bad = startMisbehavingPe(serve, ending, 32 * 1024);
    await withDeadline(nextRegistered(bad.registration), DEADLINE_MS, "the bad PE's registration");
    sessionId += 1;
    await using client = await CounterClient.connect(serve, {
      total: 256 * 1024,
      window: 16 * 1024,
    });
    await withDeadline(client.done, DEADLINE_MS, `the stream after ${what}`);
    assert.equal(client.mismatch, undefined, what);
    assert.equal(client.received, client.sent, what);
    assert.ok(await withDeadline(bad.closedByProxy, DEADLINE_MS, "the proxy to close the bad PE"));
    assert.equal(
      await serve.movedFrom(sessionId, bad.registration.poolElementId),
      good.poolElementId,
      what,
    );
  }
});

function nextRegistered(registration: ReturnType<typeof registerPoolElement>): Promise<void> {
  if (registration.registered) return Promise.resolve();
  return new Promise((resolve) => {
    registration.addEventListener("registered", () => resolve(), { once: true });
  });
}
