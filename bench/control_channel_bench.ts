/**
 * The control channel's failover stall, and its cost against DATA ONLY forwarding.
 *
 * 1. `stall`: `main.ts serve` and `main.ts example-pe echo` processes; one client plays
 *    ping-pong (a 256-byte chunk, then waits for its echo) through the proxy while the PE
 *    holding its session is SIGKILLed, `--kills` times (a replacement PE is started after each
 *    kill, so that two are always registered). Per kill it records the time from the SIGKILL
 *    to the next byte at the client (`next_byte_ms`) and to the echo of the first chunk the
 *    client wrote after the kill (`resumed_ms`: the session works again), and checks that the
 *    client got every byte once.
 * 2. `cost`: the same proxy, one session each: bulk echo (the client writes and reads 64 MiB
 *    through it) and ping-pong round trips, against a DATA ONLY echo pool element (the plain
 *    echo server of `bench/_asap_echo.ts`'s kind, in process) and a DATA PLUS CONTROL one
 *    (`servePeSessions` echo with a cookie every 16 KiB), with the proxy's CPU time per MiB and
 *    per round trip from /proc.
 *
 * Prints one JSON object per line.
 *
 * ```sh
 * deno run --allow-all bench/control_channel_bench.ts            # both, 20 kills
 * deno run --allow-all bench/control_channel_bench.ts --only stall --kills 20
 * deno run --allow-all bench/control_channel_bench.ts --only cost --replay-buffer 65536
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { echoService } from "../lib/asap/examples/echo_service.ts";
import { servePeSessions } from "../lib/asap/pe_session.ts";
import { registerPoolElement } from "../lib/asap/pool_element.ts";
import { TransportUse } from "../lib/wire/codes.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const POOL = "bench";
const LINE_MS = 20_000;

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    kills: { type: "string", default: "20" },
    "bulk-mib": { type: "string", default: "64" },
    "round-trips": { type: "string", default: "20000" },
    "replay-buffer": { type: "string" },
  },
});
const replayBuffer = values["replay-buffer"] === undefined
  ? ""
  : `,replay-buffer=${values["replay-buffer"]}`;

/** A `main.ts` child whose stderr lines can be awaited. */
class Child implements AsyncDisposable {
  readonly process: Deno.ChildProcess;
  readonly lines: string[] = [];
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  readonly #pump: Promise<void>;

  constructor(args: string[]) {
    const process = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, ...args, "--log-format", "text"],
      env: { NO_COLOR: "1", POOLGATE_NO_ADMIN: "true", POOLGATE_NO_STORE: "true" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.process = process;
    this.#pump = (async () => {
      let rest = "";
      for await (const text of process.stderr.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + text).split("\n");
        rest = parts.pop() ?? "";
        for (const line of parts) {
          this.lines.push(line);
          for (const waiter of this.#waiters.filter((w) => w.pattern.test(line))) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    })();
  }

  /** The first line, past or future, matching `pattern`. */
  line(pattern: RegExp): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    this.#waiters.push({ pattern, resolve });
    const timer = setTimeout(
      () => reject(new Error(`no line ${pattern} in ${LINE_MS} ms`)),
      LINE_MS,
    );
    return promise.finally(() => clearTimeout(timer));
  }

  /** Total CPU time (user + system) so far, in milliseconds. */
  cpuMs(): number {
    const fields = Deno.readTextFileSync(`/proc/${this.process.pid}/stat`).split(") ")[1]!.split(
      " ",
    );
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.process.kill("SIGKILL");
    } catch {
      // Gone already.
    }
    await this.process.status;
    await this.#pump;
  }
}

async function startServe(): Promise<{ child: Child; asap: string; port: number }> {
  const child = new Child([
    "serve",
    "--asap",
    "127.0.0.1:0",
    "--listen",
    `127.0.0.1:0=${POOL}`,
    "--pool",
    `${POOL}:max-failovers=1000${replayBuffer}`,
  ]);
  const asap = /serving ASAP on (\S+)/.exec(await child.line(/serving ASAP on /))![1]!;
  const port = Number(
    /Proxy listening on \S+:(\d+)/.exec(await child.line(/Proxy listening on /))![1],
  );
  return { child, asap, port };
}

async function startPe(asap: string): Promise<{ child: Child; peId: number }> {
  const child = new Child(["example-pe", "echo", "--pool", POOL, "--registrar", asap]);
  const line = await child.line(/PE (0x[0-9a-f]+) registered/);
  return { child, peId: Number.parseInt(/PE (0x[0-9a-f]+)/.exec(line)![1]!, 16) };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Failover stall over `kills` SIGKILLs of the PE holding one ping-pong session. */
async function stall(kills: number): Promise<void> {
  const serve = await startServe();
  const pes: Child[] = [];
  try {
    let holder = await startPe(serve.asap);
    pes.push(holder.child);
    const byId = new Map([[holder.peId, holder.child]]);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: serve.port });
    conn.setNoDelay(true);
    const spare = await startPe(serve.asap);
    pes.push(spare.child);
    byId.set(spare.peId, spare.child);
    const chunk = 256;
    const out = new Uint8Array(chunk);
    const buffer = new Uint8Array(64 * 1024);
    let sent = 0;
    let received = 0;
    let mismatch = false;
    let killedAt = 0;
    let firstAfterKill = 0;
    let writtenAfterKill = -1;
    let resumedAt = 0;
    const roundTrip = async () => {
      const offset = sent;
      for (let i = 0; i < chunk; i++) out[i] = (offset + i) % 251;
      if (killedAt > 0 && writtenAfterKill < 0) writtenAfterKill = offset;
      for (let at = 0; at < chunk;) at += await conn.write(out.subarray(at));
      sent += chunk;
      while (received < sent) {
        const n = await conn.read(buffer);
        if (n === null) {
          throw new Error(`the proxy closed the session:\n${serve.child.lines.join("\n")}`);
        }
        const now = performance.now();
        if (killedAt > 0 && firstAfterKill === 0) firstAfterKill = now;
        for (let i = 0; i < n; i++) if (buffer[i] !== (received + i) % 251) mismatch = true;
        received += n;
        if (writtenAfterKill >= 0 && resumedAt === 0 && received > writtenAfterKill) {
          resumedAt = now;
        }
      }
    };
    const nextByte: number[] = [];
    const resumed: number[] = [];
    for (let kill = 0; kill < kills; kill++) {
      for (let i = 0; i < 200; i++) await roundTrip(); // steady flow on the current PE
      killedAt = performance.now();
      firstAfterKill = 0;
      writtenAfterKill = -1;
      resumedAt = 0;
      byId.get(holder.peId)!.process.kill("SIGKILL");
      while (resumedAt === 0) await roundTrip();
      nextByte.push(firstAfterKill - killedAt);
      resumed.push(resumedAt - killedAt);
      killedAt = 0;
      const moved = await serve.child.line(
        new RegExp(`Session 1 moved from pool element ${holder.peId} to (\\d+)`),
      );
      holder = {
        child: byId.get(Number(/ to (\d+)/.exec(moved)![1]))!,
        peId: Number(/ to (\d+)/.exec(moved)![1]),
      };
      const replacement = await startPe(serve.asap);
      pes.push(replacement.child);
      byId.set(replacement.peId, replacement.child);
    }
    await conn.closeWrite();
    while ((await conn.read(buffer)) !== null) {
      // The proxy passes the PE's end on.
    }
    conn.close();
    const sortedNext = [...nextByte].sort((a, b) => a - b);
    const sortedResumed = [...resumed].sort((a, b) => a - b);
    console.log(JSON.stringify({
      bench: "control-channel-failover-stall",
      kills,
      next_byte_ms: {
        median: round(quantile(sortedNext, 0.5)),
        p90: round(quantile(sortedNext, 0.9)),
        worst: round(sortedNext.at(-1)!),
      },
      resumed_ms: {
        median: round(quantile(sortedResumed, 0.5)),
        p90: round(quantile(sortedResumed, 0.9)),
        worst: round(sortedResumed.at(-1)!),
      },
      bytes: received,
      exactly_once: !mismatch && received === sent,
    }));
  } finally {
    for (const pe of pes) await pe[Symbol.asyncDispose]();
    await serve.child[Symbol.asyncDispose]();
  }
}

/** A DATA ONLY echo server in process. */
function plainEcho(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        try {
          for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
            for (let at = 0; at < n;) at += await conn.write(buffer.subarray(at, n));
          }
          await conn.closeWrite();
        } catch {
          // The proxy went away.
        } finally {
          conns.delete(conn);
          conn.close();
        }
      })();
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      for (const conn of conns) conn.close();
      await loop.catch(() => {});
    },
  };
}

/** Bulk echo and ping-pong through the proxy to one PE of each transport use. */
async function cost(bulkMiB: number, roundTrips: number): Promise<void> {
  for (const kind of ["data-only", "data-plus-control"] as const) {
    const serve = await startServe();
    const plain = kind === "data-only" ? plainEcho() : undefined;
    const control = kind === "data-plus-control"
      ? servePeSessions({
        hostname: "127.0.0.1",
        port: 0,
        ...echoService({ cookieEveryBytes: 16 * 1024 }),
      })
      : undefined;
    const port = plain?.port ?? control!.addr.port;
    const registration = registerPoolElement({
      registrars: [{ hostname: "127.0.0.1", port: Number(serve.asap.split(":")[1]) }],
      poolHandle: POOL,
      transport: {
        port,
        transportUse: kind === "data-only" ? TransportUse.dataOnly : TransportUse.dataPlusControl,
      },
    });
    try {
      await new Promise<void>((resolve) =>
        registration.addEventListener("registered", () => resolve(), { once: true })
      );
      // Bulk: write and read concurrently.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: serve.port });
      conn.setNoDelay(true);
      const total = bulkMiB * 1024 * 1024;
      const block = new Uint8Array(64 * 1024).fill(7);
      let cpu0 = serve.child.cpuMs();
      let t0 = performance.now();
      const writer = (async () => {
        for (let at = 0; at < total; at += block.length) {
          for (let off = 0; off < block.length;) off += await conn.write(block.subarray(off));
        }
      })();
      const buffer = new Uint8Array(256 * 1024);
      for (let got = 0; got < total;) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error("closed");
        got += n;
      }
      await writer;
      const bulkMs = performance.now() - t0;
      const bulkCpu = serve.child.cpuMs() - cpu0;
      // Ping-pong: 64 bytes out, 64 back.
      const small = new Uint8Array(64);
      cpu0 = serve.child.cpuMs();
      t0 = performance.now();
      for (let i = 0; i < roundTrips; i++) {
        await conn.write(small);
        for (let got = 0; got < small.length;) got += (await conn.read(buffer)) ?? Infinity;
      }
      const rrMs = performance.now() - t0;
      const rrCpu = serve.child.cpuMs() - cpu0;
      conn.close();
      console.log(JSON.stringify({
        bench: "control-channel-cost",
        kind,
        bulk_mib_per_s: Math.round((bulkMiB * 2 * 1000 / bulkMs) * 10) / 10,
        bulk_proxy_cpu_ms_per_mib: round(bulkCpu / (bulkMiB * 2)),
        round_trips_per_s: Math.round(roundTrips * 1000 / rrMs),
        rr_proxy_cpu_us_per_round_trip: round(rrCpu * 1000 / roundTrips),
      }));
    } finally {
      await registration.close();
      await plain?.close();
      await control?.shutdown();
      await serve.child[Symbol.asyncDispose]();
    }
  }
}

if (values.only === undefined || values.only === "stall") await stall(Number(values.kills));
if (values.only === undefined || values.only === "cost") {
  await cost(Number(values["bulk-mib"]), Number(values["round-trips"]));
}
