/**
 * Registrar benchmark, end to end over loopback TCP: registrations and handle resolutions per
 * second against `main.ts registrar` (its own process), with 10,000 PEs in the pool, over one
 * pipelined connection and over 16; p50/p99 latency. The same client drives, in the same run,
 * a minimal Deno echo (bench/_asap_echo.ts) that answers each message with one of the size the
 * registrar answers with, and every registrar line is followed by its ratio to the echo.
 *
 *   deno run --allow-all bench/registrar_bench.ts [--pes 10000] [--resolutions 30000] [--window 32]
 *
 * JSON lines: {"bench":"registrar","target":"registrar"|"echo","op":...,"connections":N,
 * "window":W,"ops":N,"opsPerSec":R,"p50Ms":..,"p99Ms":..}, then {"bench":"registrar","op":...,
 * "connections":N,"ratioToEcho":R}. Ops: "register" (new PEs), "reregister" (new load for PEs
 * already there), "resolve" (Handle Resolution without option: 3 PEs by least used).
 */
import { parseArgs } from "node:util";
import { connectMessage, type MessageConnection } from "../lib/transport/mod.ts";
import {
  type AsapMessage,
  AsapMessageType,
  encodeAsapMessage,
  ParameterType,
  PolicyType,
  TransportUse,
} from "../lib/wire/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pes: { type: "string", default: "10000" },
    resolutions: { type: "string", default: "30000" },
    window: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" },
  },
});
const PES = Number(values.pes);
const RESOLUTIONS = Number(values.resolutions);
const WINDOW = Number(values.window);
const ROUNDS = Number(values.rounds);
const CONNECTION_COUNTS = [1, 16] as const;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ECHO = new URL("./_asap_echo.ts", import.meta.url).pathname;
const ENCODER = new TextEncoder();

/** A child process that printed its port; `stop()` ends it by its pid. */
interface Server {
  readonly port: number;
  stop(): Promise<void>;
}

async function startServer(args: string[], port: RegExp, from: "stdout" | "stderr") {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const other = from === "stdout" ? child.stderr : child.stdout;
  const drainOther = other.pipeTo(new WritableStream());
  const reader = (from === "stdout" ? child.stdout : child.stderr)
    .pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let found: RegExpExecArray | null = null;
  while (found === null) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Cannot start ${args.join(" ")}: ${text}`);
    text += value;
    found = port.exec(text);
  }
  const drain = (async () => {
    while (!(await reader.read()).done) {
      // Keep the pipe flowing.
    }
  })();
  return {
    port: Number(found[1]),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Promise.all([drain, drainOther]);
    },
  } satisfies Server;
}

function poolElementFor(id: number, load: number) {
  return {
    identifier: id,
    homeRegistrarId: 0,
    registrationLife: 3_600_000,
    userTransport: {
      type: ParameterType.tcpTransport,
      port: 10_000 + (id % 50_000),
      transportUse: TransportUse.dataOnly,
      addresses: ["127.0.0.1"],
    },
    policy: { type: PolicyType.leastUsed, load },
  } as const;
}

function registrations(pool: string, load: number): Uint8Array[] {
  const poolHandle = ENCODER.encode(pool);
  return Array.from({ length: PES }, (_, i) =>
    encodeAsapMessage({
      type: AsapMessageType.registration,
      poolHandle,
      poolElement: poolElementFor(i + 1, (load * (i + 1)) >>> 0),
    }));
}

/** What the registrar answers, by request type: the echo answers with as many bytes. */
function answers(pool: string): Map<number, { type: number; size: number }> {
  const poolHandle = ENCODER.encode(pool);
  const element = { ...poolElementFor(1, 0), homeRegistrarId: 1 };
  const answers: [number, AsapMessage][] = [
    [AsapMessageType.registration, {
      type: AsapMessageType.registrationResponse,
      reject: false,
      poolHandle,
      poolElementId: 1,
    }],
    [AsapMessageType.handleResolution, {
      type: AsapMessageType.handleResolutionResponse,
      poolHandle,
      policy: { type: PolicyType.leastUsed, load: 0 },
      poolElements: [element, element, element],
    }],
  ];
  return new Map(
    answers.map(([type, answer]) => [
      type,
      { type: answer.type, size: encodeAsapMessage(answer).length },
    ]),
  );
}

interface Run {
  readonly seconds: number;
  readonly latencies: Float64Array;
}

/**
 * Sends `requests` spread over `connections`, each keeping `WINDOW` requests in flight, and
 * times each answer; `check` throws on a wrong answer.
 */
async function drive(
  connections: readonly MessageConnection[],
  requests: readonly Uint8Array[],
  check: (answer: Uint8Array) => void,
): Promise<Run> {
  const latencies = new Float64Array(requests.length);
  let recorded = 0;
  const began = performance.now();
  await Promise.all(connections.map(async (connection, c) => {
    const mine: Uint8Array[] = [];
    for (let i = c; i < requests.length; i += connections.length) mine.push(requests[i]!);
    const sentAt = new Float64Array(mine.length);
    let sent = 0;
    const fill = (done: number) => {
      while (sent < mine.length && sent - done < WINDOW) {
        sentAt[sent] = performance.now();
        void connection.send(mine[sent++]!);
      }
    };
    fill(0);
    for (let done = 0; done < mine.length;) {
      const answer = await connection.readMessage();
      if (answer === null) throw new Error("The server closed a connection");
      if (answer[0] === AsapMessageType.endpointKeepAlive) continue;
      check(answer);
      latencies[recorded++] = performance.now() - sentAt[done]!;
      fill(++done);
    }
  }));
  return { seconds: (performance.now() - began) / 1000, latencies };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Prints the median rate of `runs` with the latency percentiles of all; returns the rate. */
function report(target: string, op: string, connections: number, runs: readonly Run[]): number {
  const rates = runs.map((run) => run.latencies.length / run.seconds).sort((a, b) => a - b);
  const opsPerSec = rates[Math.floor(rates.length / 2)]!;
  const sorted = new Float64Array(runs.reduce((sum, run) => sum + run.latencies.length, 0));
  let at = 0;
  for (const run of runs) {
    sorted.set(run.latencies, at);
    at += run.latencies.length;
  }
  sorted.sort();
  console.log(JSON.stringify({
    bench: "registrar",
    target,
    op,
    connections,
    window: WINDOW,
    rounds: runs.length,
    opsPerRound: runs[0]!.latencies.length,
    opsPerSec: Math.round(opsPerSec),
    p50Ms: Number(percentile(sorted, 0.5).toFixed(3)),
    p99Ms: Number(percentile(sorted, 0.99).toFixed(3)),
  }));
  return opsPerSec;
}

/** Checks an answer by type and size: a refusal or an Unknown Pool Handle has another size. */
function expect({ type, size }: { type: number; size: number }): (answer: Uint8Array) => void {
  return (answer) => {
    if (answer[0] !== type || answer.length !== size) {
      throw new Error(`Unexpected answer: type ${answer[0]}, ${answer.length} bytes`);
    }
  };
}

async function connect(port: number, count: number): Promise<MessageConnection[]> {
  return await Promise.all(
    Array.from({ length: count }, () => connectMessage({ hostname: "127.0.0.1", port })),
  );
}

/** Every pool handle has this length, so that answers have the same size in all. */
const poolOf = (connections: number, round: string) =>
  `bench-${String(connections).padStart(2, "0")}-${round}`;
const sizes = answers(poolOf(1, "0"));
const registrar = await startServer(
  [
    ...["run", "--allow-all", MAIN, "registrar", "--asap", "127.0.0.1:0", "--log-format", "json"],
    // Busy connections are never silent; a long interval keeps Keep-Alives out of idle gaps.
    ...["--keep-alive-interval", "10m", "--max-connections", "100"],
  ],
  /listening on \\?"?127\.0\.0\.1:(\d+)/,
  "stderr",
);
const echo = await startServer(
  [
    ...["run", "--allow-net", ECHO],
    ...[...sizes].map(([request, answer]) => `--reply=${request}:${answer.type}:${answer.size}`),
  ],
  /^(\d+)/m,
  "stdout",
);

interface Targets {
  readonly registrar: MessageConnection[];
  readonly echo: MessageConnection[];
}

/** Runs the requests of each round on both targets, alternating. */
async function measure(
  targets: Targets,
  rounds: number,
  requestsOfRound: (round: number) => Uint8Array[],
  check: (answer: Uint8Array) => void,
): Promise<{ registrar: Run[]; echo: Run[] }> {
  const runs: { registrar: Run[]; echo: Run[] } = { registrar: [], echo: [] };
  for (let round = 0; round < rounds; round++) {
    const requests = requestsOfRound(round);
    runs.registrar.push(await drive(targets.registrar, requests, check));
    runs.echo.push(await drive(targets.echo, requests, check));
  }
  return runs;
}

/** Measures `ROUNDS` rounds and prints both targets' lines and the ratio line. */
async function compare(
  op: string,
  targets: Targets,
  requestsOfRound: (round: number) => Uint8Array[],
  check: (answer: Uint8Array) => void,
): Promise<void> {
  const runs = await measure(targets, ROUNDS, requestsOfRound, check);
  const count = targets.registrar.length;
  const real = report("registrar", op, count, runs.registrar);
  const base = report("echo", op, count, runs.echo);
  console.log(JSON.stringify({
    bench: "registrar",
    op,
    connections: count,
    ratioToEcho: Number((real / base).toFixed(3)),
  }));
}

try {
  const registered = expect(sizes.get(AsapMessageType.registration)!);
  const resolved = expect(sizes.get(AsapMessageType.handleResolution)!);
  for (const count of CONNECTION_COUNTS) {
    const targets: Targets = {
      registrar: await connect(registrar.port, count),
      echo: await connect(echo.port, count),
    };
    try {
      // Warm-up (not reported): both servers and the client get their code compiled.
      const warm = poolOf(count, "w");
      await measure(targets, 1, () => registrations(warm, 1).slice(0, 2000), registered);
      const warmResolution = encodeAsapMessage({
        type: AsapMessageType.handleResolution,
        poolHandle: ENCODER.encode(warm),
      });
      await measure(targets, 1, () => Array.from({ length: 5000 }, () => warmResolution), resolved);
      // Each round of "register" fills a fresh pool with PES new PEs; the last one is kept.
      let pool = "";
      await compare("register", targets, (round) => {
        pool = poolOf(count, String(round));
        return registrations(pool, 0x10001);
      }, registered);
      await compare(
        "reregister",
        targets,
        (round) => registrations(pool, 0x20003 + round),
        registered,
      );
      const resolution = encodeAsapMessage({
        type: AsapMessageType.handleResolution,
        poolHandle: ENCODER.encode(pool),
      });
      const resolutions = Array.from({ length: RESOLUTIONS }, () => resolution);
      await compare("resolve", targets, () => resolutions, resolved);
    } finally {
      for (const connection of [...targets.registrar, ...targets.echo]) connection.close();
    }
  }
} finally {
  await Promise.all([registrar.stop(), echo.stop()]);
}
