/**
 * The session proxy against real legacy echo servers in their own processes, so that SIGKILL
 * and SIGSTOP are real: failover under `migrate` and `sever`, a hung pool element removed by the
 * member source, and a stress run with pool elements killed and restarted under load.
 */
import assert from "node:assert/strict";
import type { SessionEndDetail } from "../../proxy/proxy_events.ts";
import { StaticMemberSource } from "../../proxy/static_member_source.ts";
import { withDeadline } from "../_support/deadline.ts";
import { type EchoProcess, startEchoProcess } from "../_support/echo_process.ts";
import {
  connectTo,
  patternBytes,
  readExactly,
  readToEnd,
  RecordingSource,
  startTestProxy,
  TEST_POOL,
  testMember,
  waitForProxyEvent,
  writeAll,
} from "../_support/proxy_harness.ts";

const DEADLINE_MS = 10_000;
/** Never in the payloads below (their bytes are < 0x80): marks the start of checked data. */
const MARKER = Uint8Array.of(0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8);

/** Two echo PE processes and a client whose session is on PE 1; disposing stops them all. */
async function sessionOnPe1(failover: "migrate" | "sever") {
  const pe1 = await startEchoProcess();
  const pe2 = await startEchoProcess();
  const source = new RecordingSource({
    [TEST_POOL]: [testMember(1, pe1.port), testMember(2, pe2.port)],
  });
  const proxy = startTestProxy(source, { pools: { [TEST_POOL]: { failover } } });
  const started = waitForProxyEvent(proxy, "session-start", DEADLINE_MS);
  const client = await connectTo(proxy);
  assert.equal((await started).peId, 1);
  return {
    pe1,
    source,
    proxy,
    client,
    async [Symbol.asyncDispose]() {
      client.close();
      await proxy.shutdown();
      await pe1[Symbol.asyncDispose]();
      await pe2[Symbol.asyncDispose]();
    },
  };
}

/** Payload bytes below 0x80, so that {@linkcode MARKER} cannot occur in them. */
function payload(count: number, seed: number): Uint8Array {
  return patternBytes(count, seed).map((byte) => byte & 0x7f);
}

/** Reads into one growing record; `received(n)` resolves once n bytes have arrived. */
function recordReads(conn: Deno.Conn) {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const done = (async () => {
    const buffer = new Uint8Array(64 * 1024);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      chunks.push(buffer.slice(0, n));
      total += n;
      for (const waiter of waiters.filter((w) => w.count <= total)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  })();
  return {
    done,
    received(count: number): Promise<void> {
      if (total >= count) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ count, resolve });
      return promise;
    },
    bytes(): Uint8Array {
      const out = new Uint8Array(total);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      return out;
    },
  };
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("startProxy() keeps a client connected when its echo PE is killed mid-stream (migrate)", async () => {
  await using session = await sessionOnPe1("migrate");
  const { pe1, source, proxy, client } = session;
  const reads = recordReads(client);
  const stream = payload(2 * 1024 * 1024, 11);
  const failover = waitForProxyEvent(proxy, "failover", DEADLINE_MS);
  // The writer goes on while the PE is killed once a quarter of the stream has come back.
  const writing = (async () => {
    for (let at = 0; at < stream.length; at += 16 * 1024) {
      await writeAll(client, stream.subarray(at, at + 16 * 1024));
    }
  })();
  await withDeadline(reads.received(stream.length / 4), DEADLINE_MS, "a quarter of the echo");
  pe1.kill("SIGKILL");
  const moved = await failover;
  assert.deepEqual([moved.fromPeId, moved.toPeId], [1, 2]);
  assert.ok(["dead-fin", "reset"].includes(moved.cause), moved.cause);
  await withDeadline(writing, DEADLINE_MS, "the writer");
  // Later bytes flow through PE 2, byte for byte.
  const after = payload(64 * 1024, 12);
  await writeAll(client, MARKER);
  await writeAll(client, after);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  await client.closeWrite();
  await withDeadline(reads.done, DEADLINE_MS, "the end of the echo");
  const echoed = reads.bytes();
  const mark = indexOf(echoed, MARKER);
  assert.ok(mark >= 0, "the marker came back");
  assert.deepEqual(echoed.subarray(mark + MARKER.length), after);
  // Bytes lost with PE 1 are one gap in the stream, never garbage: what came back is a prefix
  // of the stream (echoed by PE 1) and then its whole tail (echoed by PE 2).
  const before = echoed.subarray(0, mark);
  let prefix = 0;
  while (prefix < before.length && before[prefix] === stream[prefix]) prefix++;
  const lost = stream.length - before.length;
  assert.ok(lost >= 0, "nothing duplicated");
  assert.deepEqual(before.subarray(prefix), stream.subarray(prefix + lost));
  const end = await ended;
  assert.equal(end.reason, "completed");
  assert.deepEqual(end.pes, [1, 2]);
  assert.equal(end.failovers, 1);
  assert.deepEqual(source.reports, [1]);
});

Deno.test("startProxy() closes the client at once when its echo PE is killed (sever)", async () => {
  await using session = await sessionOnPe1("sever");
  const { pe1, source, proxy, client } = session;
  const data = payload(100_000, 5);
  const echo = readExactly(client, data.length, DEADLINE_MS);
  await writeAll(client, data);
  assert.deepEqual(await echo, data);
  const ended = waitForProxyEvent(proxy, "session-end", DEADLINE_MS);
  const t0 = performance.now();
  pe1.kill("SIGKILL");
  const rest = await readToEnd(client, DEADLINE_MS);
  const elapsed = performance.now() - t0;
  assert.equal(rest.bytes.length, 0);
  assert.ok(elapsed < 500, `closed ${elapsed} ms after the kill`);
  const end = await ended;
  assert.equal(end.reason, "pe-failed");
  assert.deepEqual(end.pes, [1]);
  assert.deepEqual(source.reports, [1]);
});

Deno.test("startProxy() moves a session off a hung (SIGSTOP) PE once the member source removes it", async () => {
  await using session = await sessionOnPe1("migrate");
  const { pe1, source, proxy, client } = session;
  const before = payload(1000, 1);
  const echoed = readExactly(client, before.length, DEADLINE_MS);
  await writeAll(client, before);
  assert.deepEqual(await echoed, before);
  pe1.kill("SIGSTOP");
  const failover = waitForProxyEvent(proxy, "failover", DEADLINE_MS);
  source.remove(TEST_POOL, 1, "keep-alive timeout");
  const moved = await failover;
  assert.deepEqual([moved.fromPeId, moved.toPeId, moved.cause], [1, 2, "removed"]);
  const after = payload(10_000, 2);
  const echo = readExactly(client, after.length, DEADLINE_MS);
  await writeAll(client, after);
  assert.deepEqual(await echo, after);
  assert.deepEqual(source.reports, []);
});

/** Checks a session's echo: runs of the counting pattern, broken only where bytes were lost. */
function countBreaks(bytes: Uint8Array): number {
  let breaks = 0;
  for (let i = 1; i < bytes.length; i++) {
    if (bytes[i] !== ((bytes[i - 1] ?? 0) + 1) % 251) breaks++;
  }
  return breaks;
}

Deno.test("startProxy() survives 1,000 concurrent sessions while PEs are killed, hung and restarted", async () => {
  const CLIENTS = 1_000;
  // Every session holds at most two reused buffers of the default 64 KiB: 1,000 of them stay
  // well under this, however long the chaos runs.
  const RSS_BOUND_BYTES = 768 * 1024 * 1024;
  let peakRss = 0;
  const RUN_MS = 6_000;
  const source = new StaticMemberSource({}, { quarantineMs: 200 });
  const pes = new Map<number, EchoProcess>();
  const retired: EchoProcess[] = [];
  /** What the chaos did to each PE it picked, for a failure's message. */
  const fates = new Map<number, string>();
  let nextPeId = 1;
  async function addPe(): Promise<void> {
    const process = await startEchoProcess();
    const peId = nextPeId++;
    pes.set(peId, process);
    source.add(TEST_POOL, testMember(peId, process.port));
  }
  await Promise.all([addPe(), addPe(), addPe(), addPe()]);
  const proxy = startTestProxy(source, {
    pools: { [TEST_POOL]: { failover: "migrate", maxFailovers: 8 } },
  });
  const ends = new Map<string, SessionEndDetail>();
  proxy.addEventListener("session-end", (event) => ends.set(event.detail.client, event.detail));
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const t0 = performance.now();
  async function runClient(index: number) {
    // A third of the clients arrive during the chaos, to meet dead and hung PEs on connect.
    if (index % 3 === 0) await new Promise((resolve) => setTimeout(resolve, index * 3));
    const conn = await connectTo(proxy);
    const name = `127.0.0.1:${conn.localAddr.port}`;
    const reads = recordReads(conn);
    let sent = 0;
    let closedEarly = false;
    const chunkSize = 256 + (index % 8) * 256;
    try {
      while (performance.now() - t0 < RUN_MS) {
        const chunk = Uint8Array.from({ length: chunkSize }, (_, i) => (sent + i) % 251);
        await writeAll(conn, chunk);
        sent += chunk.length;
        // Load shaping, not synchronisation: about 8 writes a second per client.
        await new Promise((resolve) => setTimeout(resolve, 120));
      }
      await conn.closeWrite();
    } catch {
      closedEarly = true;
    }
    try {
      await withDeadline(reads.done.catch(() => {}), DEADLINE_MS, `the end of client ${index}`);
    } catch (error) {
      const session = proxy.sessions().find((info) => info.client === name);
      const pe = session?.peId === undefined ? undefined : fates.get(session.peId) ?? "alive";
      throw new Error(
        `${error}; its session: ${JSON.stringify(session)}, its PE: ${pe}, sent ${sent}, ` +
          `echoed ${reads.bytes().length}`,
      );
    }
    conn.close();
    return { name, sent, echoed: reads.bytes(), closedEarly };
  }
  const clients = Promise.all(Array.from({ length: CLIENTS }, (_, i) => runClient(i)));
  // Chaos: every 600 ms one PE is killed or hung (and removed, as keep-alives would) and a
  // fresh one joins, until the clients stop writing.
  let kills = 0;
  while (performance.now() - t0 < RUN_MS - 1_000) {
    await new Promise((resolve) => setTimeout(resolve, 600));
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
    const ids = [...pes.keys()];
    const victim = ids[Math.floor(random() * ids.length)] ?? 0;
    const process = pes.get(victim);
    if (process === undefined) continue;
    pes.delete(victim);
    retired.push(process);
    fates.set(victim, kills % 3 === 2 ? "SIGSTOPped" : "SIGKILLed");
    if (kills % 3 === 2) {
      process.kill("SIGSTOP");
      source.remove(TEST_POOL, victim, "keep-alive timeout");
    } else {
      process.kill("SIGKILL");
      // A registrar would take it out after a few reports or a missed keep-alive.
      setTimeout(() => source.remove(TEST_POOL, victim, "keep-alive timeout"), 100);
    }
    kills++;
    await addPe();
  }
  const results = await withDeadline(clients, RUN_MS + DEADLINE_MS, "the clients");
  await withDeadline(proxy.shutdown({ drainMs: 2_000 }), DEADLINE_MS, "shutdown");
  for (const process of [...retired, ...pes.values()]) await process[Symbol.asyncDispose]();

  assert.ok(kills >= 5, `${kills} PEs killed or hung`);
  assert.equal(ends.size, CLIENTS, "every session ended and was logged");
  const reasons = new Map<string, number>();
  let moved = 0;
  for (const result of results) {
    const end = ends.get(result.name);
    assert.ok(end !== undefined, `session of ${result.name}`);
    reasons.set(end.reason, (reasons.get(end.reason) ?? 0) + 1);
    assert.ok(
      ["completed", "no-pe", "max-failovers", "pe-closed"].includes(end.reason),
      `${result.name}: ${end.reason}`,
    );
    if (end.failovers > 0) moved++;
    // Lost bytes leave gaps; nothing is duplicated, reordered or corrupted.
    assert.ok(result.echoed.length <= result.sent);
    assert.ok(countBreaks(result.echoed) <= end.failovers, `${result.name} breaks`);
    if (end.reason === "completed" && end.failovers === 0) {
      assert.equal(result.echoed.length, result.sent, `${result.name} lost nothing`);
    }
  }
  assert.ok(moved > 0, "some sessions moved");
  assert.ok(peakRss < RSS_BOUND_BYTES, `peak RSS ${peakRss} bytes`);
  console.log(
    `stress: ${kills} PEs killed/hung, ${moved} sessions moved, peak RSS ${
      Math.round(peakRss / 2 ** 20)
    } MiB, reasons`,
    reasons,
  );
});
