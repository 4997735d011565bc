/**
 * Wire codec speed on one core: decode and encode rates of an ASAP Registration, an ASAP
 * Handle Resolution Response with 3 PEs and an ENRP Handle Table Response with 128 PEs, as
 * JSON lines (messages/s and MB/s, with the target where one is set).
 *
 *   deno run bench/wire_bench.ts [--seconds T]
 */
import { parseArgs } from "node:util";
import {
  type AsapMessage,
  AsapMessageType,
  decodeAsapMessage,
  decodeEnrpMessage,
  encodeAsapMessage,
  encodeEnrpMessage,
  type EnrpMessage,
  EnrpMessageType,
  ParameterType,
  PolicyType,
  type PoolElementParameter,
  TransportUse,
} from "../lib/wire/mod.ts";

/** Seconds each measurement runs, after a warm-up of a fifth of that. */
export const DEFAULT_BENCH_SECONDS = 1;

const { values } = parseArgs({ args: Deno.args, options: { seconds: { type: "string" } } });
const seconds = Number(values.seconds ?? DEFAULT_BENCH_SECONDS);

function poolElement(i: number, withAsapTransport: boolean): PoolElementParameter {
  const element: PoolElementParameter = {
    identifier: 0x10000000 + i,
    homeRegistrarId: 0x11,
    registrationLife: 30000,
    userTransport: {
      type: ParameterType.tcpTransport,
      port: 7000 + i,
      transportUse: TransportUse.dataOnly,
      addresses: [`10.0.${i >> 8}.${i & 0xff}`],
    },
    policy: { type: PolicyType.leastUsed, load: i * 0x1000000 },
  };
  return withAsapTransport
    ? {
      ...element,
      asapTransport: {
        type: ParameterType.sctpTransport,
        port: 3863,
        transportUse: TransportUse.dataOnly,
        addresses: [`10.0.${i >> 8}.${i & 0xff}`],
      },
    }
    : element;
}

const handle = (name: string) => new TextEncoder().encode(name);

const registration: AsapMessage = {
  type: AsapMessageType.registration,
  poolHandle: handle("EchoPool"),
  poolElement: poolElement(1, false),
};
const resolutionResponse: AsapMessage = {
  type: AsapMessageType.handleResolutionResponse,
  poolHandle: handle("EchoPool"),
  policy: { type: PolicyType.leastUsed, load: 0 },
  poolElements: [0, 1, 2].map((i) => poolElement(i, false)),
};
const handleTable: EnrpMessage = {
  type: EnrpMessageType.handleTableResponse,
  senderServerId: 0x11,
  receiverServerId: 0x22,
  reject: false,
  more: true,
  entries: [0, 1, 2, 3].map((pool) => ({
    poolHandle: handle(`Pool-${pool}`),
    poolElements: Array.from({ length: 32 }, (_, i) => poolElement(pool * 32 + i, true)),
  })),
};

// The last decoded message is kept, so that it escapes and is really allocated.
let last: unknown;
function keep(message: { type: number }): number {
  last = message;
  return message.type;
}

// The last 64 are kept: the young-generation GC then copies them, as when a registrar holds
// what it decoded.
const held: unknown[] = new Array(64);
let heldAt = 0;
function hold(message: { type: number }): number {
  held[heldAt++ & 63] = message;
  return message.type;
}

// Runs `operation` for `seconds` (after a warm-up) and returns operations per second.
function rate(operation: () => number): number {
  let sink = 0;
  const warmUpEnd = performance.now() + seconds * 200;
  while (performance.now() < warmUpEnd) sink += operation();
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 256; i++) sink += operation();
    count += 256;
    now = performance.now();
  }
  if (sink === -1) console.log(sink, last, held); // keeps the results alive
  return count / ((now - start) / 1000);
}

function report(
  name: string,
  operation: "decode" | "encode",
  bytes: number,
  perSecond: number,
  target?: { metric: "messages/s" | "MB/s"; value: number },
): void {
  const mbPerSecond = (perSecond * bytes) / 1e6;
  const line: Record<string, unknown> = {
    bench: "wire",
    metric: `${operation}_${name}`,
    value: Math.round(perSecond),
    unit: "messages/s",
    mbPerSecond: Math.round(mbPerSecond * 10) / 10,
    messageBytes: bytes,
  };
  if (target !== undefined) {
    const actual = target.metric === "MB/s" ? mbPerSecond : perSecond;
    line.target = `${target.value} ${target.metric}`;
    line.meetsTarget = actual >= target.value;
  }
  console.log(JSON.stringify(line));
}

const registrationBytes = encodeAsapMessage(registration);
const resolutionBytes = encodeAsapMessage(resolutionResponse);
const tableBytes = encodeEnrpMessage(handleTable);

report(
  "registration",
  "decode",
  registrationBytes.length,
  rate(() => keep(decodeAsapMessage(registrationBytes))),
  { metric: "messages/s", value: 1_000_000 },
);
report(
  "registration",
  "encode",
  registrationBytes.length,
  rate(() => encodeAsapMessage(registration).length),
);
report(
  "handle_resolution_response_3pe",
  "decode",
  resolutionBytes.length,
  rate(() => keep(decodeAsapMessage(resolutionBytes))),
);
report(
  "handle_resolution_response_3pe",
  "encode",
  resolutionBytes.length,
  rate(() => encodeAsapMessage(resolutionResponse).length),
);
report(
  "handle_table_response_128pe",
  "decode",
  tableBytes.length,
  rate(() => keep(decodeEnrpMessage(tableBytes))),
  { metric: "MB/s", value: 200 },
);
report(
  "handle_table_response_128pe_64_held",
  "decode",
  tableBytes.length,
  rate(() => hold(decodeEnrpMessage(tableBytes))),
  { metric: "MB/s", value: 200 },
);
report(
  "handle_table_response_128pe",
  "encode",
  tableBytes.length,
  rate(() => encodeEnrpMessage(handleTable).length),
);
