/**
 * Handlespace micro-benchmark: the hsbench workload of shared/bench/rsplib-hs/WORKLOAD.md run
 * against Poolgate's handlespace, printing JSON lines in hsbench's format ("impl":"poolgate"), so
 * that `tomd.sh` puts both implementations side by side. See bench/README.md, "Handlespace".
 *
 *   deno run --v8-flags=--expose-gc --allow-all bench/handlespace_bench.ts [options]
 *
 * Options (as hsbench): --policy NAME[,..] --pes N[,..] --ops reg,rereg,hres1,hres3,dereg
 * --min-time SEC (0.5) --no-mem --mem-only --list; --params N prints the workload.
 */
import { parseArgs } from "node:util";
import { ParameterType, PolicyType, TransportUse } from "../lib/wire/codes.ts";
import type { PoolElementParameter } from "../lib/wire/parameters.ts";
import type { KnownSelectionPolicy } from "../lib/wire/selection_policy.ts";
import { Handlespace, type PoolElementView, seededRandom } from "../lib/handlespace/mod.ts";
import {
  HOME_REGISTRAR_ID,
  mulberry32,
  POOL_HANDLE,
  REGISTRATION_LIFE_MS,
  SEED_PES,
  SEED_REREG,
  type WorkloadElement,
  workloadElements,
  workloadLines,
} from "./handlespace/workload.ts";

/** The nine policies of the workload, hsbench's names and order. */
const POLICIES: readonly { name: string; type: number }[] = [
  { name: "RoundRobin", type: PolicyType.roundRobin },
  { name: "WeightedRoundRobin", type: PolicyType.weightedRoundRobin },
  { name: "Random", type: PolicyType.random },
  { name: "WeightedRandom", type: PolicyType.weightedRandom },
  { name: "Priority", type: PolicyType.priority },
  { name: "LeastUsed", type: PolicyType.leastUsed },
  { name: "LeastUsedDegradation", type: PolicyType.leastUsedDegradation },
  { name: "PriorityLeastUsed", type: PolicyType.priorityLeastUsed },
  { name: "RandomizedLeastUsed", type: PolicyType.randomizedLeastUsed },
];
const OPS = ["reg", "rereg", "hres1", "hres3", "dereg"] as const;
type Op = typeof OPS[number];
/** "Current time" of every call: hsbench passes a constant 1 000 000 µs. */
const NOW_MS = 1000;
const HANDLE = new TextEncoder().encode(POOL_HANDLE);

/** The wire policy of `type` with the workload's values, as a decoder would produce it. */
function policyOf(type: number, weight: number, load: number, degradation: number) {
  let policy: KnownSelectionPolicy;
  switch (type) {
    case PolicyType.roundRobin:
    case PolicyType.random:
      policy = { type };
      break;
    case PolicyType.weightedRoundRobin:
    case PolicyType.weightedRandom:
      policy = { type, weight };
      break;
    case PolicyType.priority:
      policy = { type, priority: weight };
      break;
    case PolicyType.leastUsed:
    case PolicyType.randomizedLeastUsed:
      policy = { type, load };
      break;
    case PolicyType.priorityLeastUsed:
      policy = { type, load, loadDegradation: degradation };
      break;
    default:
      policy = { type: PolicyType.leastUsedDegradation, load, loadDegradation: degradation };
  }
  return policy;
}

/** Builds a fresh Pool Element parameter (as the ASAP decoder would) and registers it. */
function register(
  hs: Handlespace,
  type: number,
  p: WorkloadElement,
  weight: number,
  load: number,
): void {
  const element: PoolElementParameter = {
    identifier: p.id,
    homeRegistrarId: HOME_REGISTRAR_ID,
    registrationLife: REGISTRATION_LIFE_MS,
    userTransport: {
      type: ParameterType.tcpTransport,
      port: p.port,
      transportUse: TransportUse.dataOnly,
      addresses: [p.address],
    },
    policy: policyOf(type, weight, load, p.loadDegradation),
  };
  const result = hs.register(HANDLE, element, HOME_REGISTRAR_ID, NOW_MS);
  if (!result.ok) throw new Error(`registration of PE ${p.id} refused with cause ${result.cause}`);
}

function registerAll(hs: Handlespace, type: number, pes: readonly WorkloadElement[]): void {
  for (const p of pes) register(hs, type, p, p.weight, p.load);
}

function deregisterAll(hs: Handlespace, pes: readonly WorkloadElement[]): void {
  for (const p of pes) {
    if (!hs.deregister(HANDLE, p.id)) throw new Error(`deregistration of PE ${p.id} failed`);
  }
}

function checkCount(hs: Handlespace, expect: number, where: string): void {
  if (hs.elementCount !== expect) {
    throw new Error(`${where}: handlespace has ${hs.elementCount} PEs, expected ${expect}`);
  }
}

function emit(policy: string, n: number, op: Op, ops: number, ms: number): void {
  const secs = ms / 1000;
  console.log(
    `{"impl":"poolgate","policy":"${policy}","pes":${n},"op":"${op}","ops_per_s":${
      Math.round(ops / secs)
    },"ops":${ops},"secs":${secs.toFixed(3)}}`,
  );
}

/** WORKLOAD.md §4 for one policy and N. */
function benchOne(
  policy: { name: string; type: number },
  pes: readonly WorkloadElement[],
  want: ReadonlySet<Op>,
  minMs: number,
): void {
  const n = pes.length;
  const type = policy.type;
  // RSPLIB draws from /dev/urandom; any PRNG will do (WORKLOAD.md §3).
  const hs = new Handlespace({ random: seededRandom(0x52535033) });
  // warm-up
  registerAll(hs, type, pes);
  checkCount(hs, n, "warm-up");
  deregisterAll(hs, pes);
  checkCount(hs, 0, "warm-up");

  if (want.has("reg") || want.has("dereg")) {
    let treg = 0;
    let tdereg = 0;
    let rounds = 0;
    do {
      const t0 = performance.now();
      registerAll(hs, type, pes);
      const t1 = performance.now();
      deregisterAll(hs, pes);
      const t2 = performance.now();
      treg += t1 - t0;
      tdereg += t2 - t1;
      rounds++;
    } while ((want.has("reg") && treg < minMs) || (want.has("dereg") && tdereg < minMs));
    checkCount(hs, 0, "dereg");
    if (want.has("reg")) emit(policy.name, n, "reg", rounds * n, treg);
    if (want.has("dereg")) emit(policy.name, n, "dereg", rounds * n, tdereg);
  }

  if (want.has("rereg")) {
    registerAll(hs, type, pes);
    const next = mulberry32(SEED_REREG);
    const batch = Math.min(n, 4096);
    let k = 0;
    let i = 0;
    let t: number;
    const t0 = performance.now();
    do {
      for (let b = 0; b < batch; b++) {
        const load = next();
        const weight = 1 + (next() % n);
        register(hs, type, pes[i]!, weight, load);
        if (++i === n) i = 0;
      }
      k += batch;
      t = performance.now() - t0;
    } while (t < minMs);
    checkCount(hs, n, "rereg");
    emit(policy.name, n, "rereg", k, t);
    deregisterAll(hs, pes);
  }

  for (const [op, items] of [["hres1", 1], ["hres3", 3]] as const) {
    if (!want.has(op)) continue;
    const expect = Math.min(items, n);
    const out: PoolElementView[] = [];
    registerAll(hs, type, pes);
    let k = 0;
    let t: number;
    const t0 = performance.now();
    do {
      for (let b = 0; b < 4096; b++) {
        if (hs.selectInto(HANDLE, items, NOW_MS, out) !== expect) {
          throw new Error(`handle resolution returned ${out.length} PEs, expected ${expect}`);
        }
      }
      k += 4096;
      t = performance.now() - t0;
    } while (t < minMs);
    emit(policy.name, n, op, k, t);
    deregisterAll(hs, pes);
  }
}

/** "VmRSS:"/"VmHWM:" of this process in KiB. */
function procStatusKib(key: string): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n").find((l) =>
    l.startsWith(key)
  );
  return line === undefined ? -1 : parseInt(line.slice(key.length), 10);
}

/** The memory line of WORKLOAD.md §5, measured in this (fresh) process. */
function memChild(policy: { name: string; type: number }, n: number): void {
  const gc: unknown = Reflect.get(globalThis, "gc");
  if (typeof gc !== "function") {
    throw new Error("run with --v8-flags=--expose-gc for memory figures");
  }
  const pes = workloadElements(n);
  // Run the registration path on a throwaway handlespace until V8 has optimised it: bytecode,
  // feedback and optimised code live on the heap, and they are code, not per-PE data (RSPLIB's
  // code is not in malloc either).
  const warmup = workloadElements(2000);
  for (let round = 0; round < 5; round++) {
    const warm = new Handlespace();
    registerAll(warm, policy.type, warmup);
    deregisterAll(warm, warmup);
  }
  const hs = new Handlespace();
  const used = () => {
    gc();
    gc();
    const m = Deno.memoryUsage();
    return m.heapUsed + m.external;
  };
  const m0 = used();
  const rss0 = procStatusKib("VmRSS:");
  registerAll(hs, policy.type, pes);
  checkCount(hs, n, "mem");
  const m1 = used();
  const rss1 = procStatusKib("VmRSS:");
  const peak = Math.max(procStatusKib("VmHWM:"), rss1);
  console.log(
    `{"impl":"poolgate","policy":"${policy.name}","pes":${n},"op":"mem","peak_rss_kib":${peak},` +
      `"rss_before_kib":${rss0},"rss_after_kib":${rss1},"heap_bytes_per_pe":${
        ((m1 - m0) / n).toFixed(1)
      },"rss_bytes_per_pe":${(((rss1 - rss0) * 1024) / n).toFixed(1)}}`,
  );
  deregisterAll(hs, pes);
}

async function runMem(policy: { name: string }, n: number): Promise<void> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-all",
      new URL(import.meta.url).pathname,
      "--mem-child",
      policy.name,
      String(n),
    ],
    stdout: "inherit",
    stderr: "inherit",
  });
  const { success } = await command.output();
  if (!success) throw new Error(`memory child for N=${n} failed`);
}

function cpusAllowed(): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n").find((l) =>
    l.startsWith("Cpus_allowed_list:")
  );
  if (line === undefined) return -1;
  let count = 0;
  for (const part of line.slice(18).trim().split(",")) {
    const [a, b] = part.split("-").map(Number);
    count += b === undefined ? 1 : b - a! + 1;
  }
  return count;
}

function pickPolicy(name: string) {
  const policy = POLICIES.find((p) => p.name.toLowerCase() === name.toLowerCase());
  if (policy === undefined) throw new Error(`unknown policy '${name}'`);
  return policy;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      policy: { type: "string" },
      pes: { type: "string" },
      ops: { type: "string" },
      "min-time": { type: "string" },
      "no-mem": { type: "boolean" },
      "mem-only": { type: "boolean" },
      list: { type: "boolean" },
      params: { type: "string" },
      "mem-child": { type: "string", multiple: true },
    },
    allowPositionals: true,
    strict: false,
  });
  if (typeof values.params === "string") {
    console.log(workloadLines(Number(values.params)).join("\n"));
    return;
  }
  if (values.list) {
    for (const p of POLICIES) console.log(p.name);
    return;
  }
  if (Array.isArray(values["mem-child"])) {
    const [name] = values["mem-child"];
    const n = Number(Deno.args[Deno.args.length - 1]);
    memChild(pickPolicy(String(name)), n);
    return;
  }
  const policies = typeof values.policy === "string"
    ? values.policy.split(",").map(pickPolicy)
    : POLICIES;
  const sizes = typeof values.pes === "string"
    ? values.pes.split(",").map(Number)
    : [100, 1000, 10000, 100000];
  const want = new Set<Op>(OPS);
  if (typeof values.ops === "string") {
    want.clear();
    for (const name of values.ops.split(",")) {
      const op = OPS.find((o) => o === name);
      if (op === undefined) throw new Error(`unknown op '${name}'`);
      want.add(op);
    }
  }
  const minTime = typeof values["min-time"] === "string" ? Number(values["min-time"]) : 0.5;
  const minMs = (minTime > 0 ? minTime : 0.5) * 1000;
  console.log(
    `{"impl":"poolgate","op":"meta","runtime":"deno ${Deno.version.deno}","v8":"${Deno.version.v8}",` +
      `"storage":"struct-of-arrays","seed_pes":${SEED_PES},"seed_rereg":${SEED_REREG},` +
      `"min_time_s":${(minMs / 1000).toFixed(3)},"timers":false,"cpus_allowed":${cpusAllowed()}}`,
  );
  for (const n of sizes) {
    if (!values["no-mem"]) await runMem(policies[0]!, n);
    if (values["mem-only"]) continue;
    const pes = workloadElements(n);
    for (const policy of policies) benchOne(policy, pes, want, minMs);
  }
}

if (import.meta.main) await main();
