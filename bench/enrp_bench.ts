/**
 * ENRP benchmark over loopback TCP with three `main.ts registrar` processes (A, B, C) in one
 * registrar set, default ENRP timers unless told:
 *
 * - "propagation": a registration at A (a new pool each time), timed from sending it until both
 *   B and C resolve the pool over ASAP (each polled with one Handle Resolution at a time);
 *   p50/p99 over `--registrations`.
 * - "updates": `--updates` registrations pipelined into A (window 64), then one marker PE; Handle
 *   Updates per second = count / time until B and C both resolve the marker (A sends its Handle
 *   Updates to each peer in order, so the marker arrives last). Also A's own registration rate.
 * - "takeover": B owns `--takeover-pes` PEs registered over one connection that never re-homes;
 *   B is killed (SIGKILL: the survivors see the connections close) or stopped (SIGSTOP: only
 *   silence tells); the time from the signal until a survivor logs the takeover, and until the
 *   other one logs it has re-homed them too.
 *
 *   deno run --allow-all bench/enrp_bench.ts [--registrations 1000] [--updates 20000]
 *     [--takeover-pes 10000] [--timers "--heartbeat-cycle 250ms ..."]
 *
 * JSON lines: {"bench":"enrp","op":"propagation","registrations":N,"p50Ms":..,"p99Ms":..,
 * "maxMs":..}, {"bench":"enrp","op":"updates","updates":N,"updatesPerSec":R,
 * "registrationsPerSec":R}, {"bench":"enrp","op":"takeover","signal":"SIGKILL"|"SIGSTOP",
 * "pes":N,"detectMs":..,"winnerMs":..,"otherMs":..}.
 */
import { parseArgs } from "node:util";
import { connectMessage, type MessageConnection } from "../lib/transport/mod.ts";
import {
  type AsapMessage,
  AsapMessageType,
  decodeAsapMessage,
  encodeAsapMessage,
  ParameterType,
  PolicyType,
  TransportUse,
} from "../lib/wire/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    registrations: { type: "string", default: "1000" },
    updates: { type: "string", default: "20000" },
    "takeover-pes": { type: "string", default: "10000" },
    timers: { type: "string", default: "" },
  },
});
const REGISTRATIONS = Number(values.registrations);
const UPDATES = Number(values.updates);
const TAKEOVER_PES = Number(values["takeover-pes"]);
const TIMERS = values.timers.split(/\s+/).filter((word) => word !== "");
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ENCODER = new TextEncoder();
const WINDOW = 64;

/** A registrar process: its ports, its log lines as they come, and its pid. */
interface Instance {
  readonly child: Deno.ChildProcess;
  readonly serverId: number;
  readonly asapPort: number;
  readonly enrpPort: number;
  /** Resolves with performance.now() when a log line matching `pattern` arrives. */
  when(pattern: RegExp): Promise<number>;
  stop(): Promise<void>;
}

async function startInstance(serverId: number, args: string[]): Promise<Instance> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN,
      "registrar",
      "--asap",
      "127.0.0.1:0",
      "--enrp",
      "127.0.0.1:0",
      "--id",
      String(serverId),
      "--log-format",
      "text",
      // The bench's ASAP client answers no Keep-Alive: it must not lose its PEs to one.
      "--keep-alive-interval",
      "10m",
      "--keep-alive-timeout",
      "10m",
      ...TIMERS,
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const waiters: { pattern: RegExp; resolve: (at: number) => void }[] = [];
  const lines: string[] = [];
  void (async () => {
    let rest = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      const at = performance.now();
      const parts = (rest + text).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        for (const waiter of waiters.splice(0)) {
          if (waiter.pattern.test(line)) waiter.resolve(at);
          else waiters.push(waiter);
        }
      }
    }
  })();
  const when = (pattern: RegExp) => {
    if (lines.some((line) => pattern.test(line))) return Promise.resolve(performance.now());
    return new Promise<number>((resolve) => waiters.push({ pattern, resolve }));
  };
  const port = async (pattern: RegExp) => {
    await when(pattern);
    return Number(pattern.exec(lines.find((line) => pattern.test(line)) ?? "")?.[1]);
  };
  const asapPort = await port(/Registrar .*listening on "?127\.0\.0\.1:(\d+)/);
  const enrpPort = await port(/ENRP server .*listening on "?127\.0\.0\.1:(\d+)/);
  return {
    child,
    serverId,
    asapPort,
    enrpPort,
    when,
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await child.status;
    },
  };
}

/** One ASAP connection with pipelined requests answered in order. */
class AsapClient {
  readonly connection: MessageConnection;
  readonly #pending: ((message: AsapMessage) => void)[] = [];

  constructor(connection: MessageConnection) {
    this.connection = connection;
    void (async () => {
      try {
        for await (const bytes of connection) {
          const message = decodeAsapMessage(bytes);
          if (message.type === AsapMessageType.endpointKeepAlive) continue;
          this.#pending.shift()?.(message);
        }
      } catch {
        // Closed.
      }
    })();
  }

  static async open(port: number): Promise<AsapClient> {
    return new AsapClient(await connectMessage({ hostname: "127.0.0.1", port }));
  }

  request(message: AsapMessage): Promise<AsapMessage> {
    const answer = new Promise<AsapMessage>((resolve) => this.#pending.push(resolve));
    void this.connection.send(encodeAsapMessage(message));
    return answer;
  }

  close(): void {
    this.connection.close();
  }
}

function registration(pool: string, id: number): AsapMessage {
  return {
    type: AsapMessageType.registration,
    poolHandle: ENCODER.encode(pool),
    poolElement: {
      identifier: id,
      homeRegistrarId: 0,
      registrationLife: 600_000,
      userTransport: {
        type: ParameterType.tcpTransport,
        port: 10_000 + (id % 50_000),
        transportUse: TransportUse.dataOnly,
        addresses: ["127.0.0.1"],
      },
      policy: { type: PolicyType.roundRobin },
    },
  };
}

/** Resolves `pool` at `client` until the registrar knows it. */
async function resolveUntilKnown(client: AsapClient, pool: string): Promise<number> {
  const poolHandle = ENCODER.encode(pool);
  for (;;) {
    const answer = await client.request({ type: AsapMessageType.handleResolution, poolHandle });
    if (
      answer.type === AsapMessageType.handleResolutionResponse && answer.poolElements.length > 0
    ) {
      return performance.now();
    }
  }
}

/** Registers `count` PEs of `pool` over `client`, `WINDOW` at a time. */
async function registerMany(client: AsapClient, pool: string, count: number, firstId: number) {
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const request = client.request(registration(pool, firstId + i));
    inFlight.add(request);
    void request.then(() => inFlight.delete(request));
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

async function startSet(): Promise<[Instance, Instance, Instance]> {
  const a = await startInstance(0xa, []);
  const b = await startInstance(0xb, ["--peer", `127.0.0.1:${a.enrpPort}`]);
  const c = await startInstance(0xc, ["--peer", `127.0.0.1:${a.enrpPort}`]);
  await Promise.all([b.when(/Downloaded the handlespace/), c.when(/Downloaded the handlespace/)]);
  // Until every pair has met (C is introduced to B through A's peer list).
  await Promise.all([b.when(/Peer registrar "?0x0000000c/), c.when(/Peer registrar "?0x0000000b/)]);
  return [a, b, c];
}

async function propagation(a: Instance, b: Instance, c: Instance): Promise<void> {
  const [atA, atB, atC] = await Promise.all([a, b, c].map((i) => AsapClient.open(i.asapPort)));
  const times: number[] = [];
  for (let i = 0; i < REGISTRATIONS; i++) {
    const pool = `Propagation${i}`;
    const start = performance.now();
    const registered = atA!.request(registration(pool, 1 + i));
    const [, seenB, seenC] = await Promise.all([
      registered,
      resolveUntilKnown(atB!, pool),
      resolveUntilKnown(atC!, pool),
    ]);
    times.push(Math.max(seenB, seenC) - start);
  }
  times.sort((x, y) => x - y);
  console.log(JSON.stringify({
    bench: "enrp",
    op: "propagation",
    registrations: REGISTRATIONS,
    p50Ms: round(percentile(times, 0.5)),
    p99Ms: round(percentile(times, 0.99)),
    maxMs: round(times.at(-1)!),
  }));
  for (const client of [atA, atB, atC]) client!.close();
}

async function updates(a: Instance, b: Instance, c: Instance): Promise<void> {
  const [atA, atB, atC] = await Promise.all([a, b, c].map((i) => AsapClient.open(i.asapPort)));
  const start = performance.now();
  await registerMany(atA!, "Updates", UPDATES, 1);
  const registeredAt = performance.now();
  await atA!.request(registration("UpdatesDone", 1));
  const [seenB, seenC] = await Promise.all([
    resolveUntilKnown(atB!, "UpdatesDone"),
    resolveUntilKnown(atC!, "UpdatesDone"),
  ]);
  const seconds = (Math.max(seenB, seenC) - start) / 1000;
  console.log(JSON.stringify({
    bench: "enrp",
    op: "updates",
    updates: UPDATES + 1,
    updatesPerSec: Math.round((UPDATES + 1) / seconds),
    registrationsPerSec: Math.round(UPDATES / ((registeredAt - start) / 1000)),
  }));
  for (const client of [atA, atB, atC]) client!.close();
}

async function takeover(signal: "SIGKILL" | "SIGSTOP"): Promise<void> {
  const [a, b, c] = await startSet();
  try {
    const owner = await AsapClient.open(b.asapPort);
    await registerMany(owner, "Takeover", TAKEOVER_PES, 1);
    await owner.request(registration("TakeoverDone", 1));
    const [atA, atC] = await Promise.all([a, c].map((i) => AsapClient.open(i.asapPort)));
    await Promise.all([
      resolveUntilKnown(atA!, "TakeoverDone"),
      resolveUntilKnown(atC!, "TakeoverDone"),
    ]);
    const target = /0x0000000b/;
    const down = Promise.race([a, c].map((i) => i.when(/Peer registrar "?0x0000000b"? is down/)));
    const winner = Promise.race(
      [a, c].map((i) => i.when(new RegExp(`Took over \\d+ PEs of registrar "?${target.source}`))),
    );
    const other = Promise.race(
      [a, c].map((i) => i.when(new RegExp(`took over \\d+ PEs of registrar "?${target.source}`))),
    );
    const start = performance.now();
    b.child.kill(signal);
    const [downAt, winnerAt, otherAt] = await Promise.all([down, winner, other]);
    console.log(JSON.stringify({
      bench: "enrp",
      op: "takeover",
      signal,
      pes: TAKEOVER_PES + 1,
      detectMs: round(downAt - start),
      winnerMs: round(winnerAt - start),
      otherMs: round(otherAt - start),
    }));
    owner.close();
    atA!.close();
    atC!.close();
  } finally {
    await Promise.all([a, b, c].map((i) => i.stop()));
  }
}

const [a, b, c] = await startSet();
try {
  await propagation(a, b, c);
  await updates(a, b, c);
} finally {
  await Promise.all([a, b, c].map((i) => i.stop()));
}
await takeover("SIGKILL");
await takeover("SIGSTOP");
