/**
 * The hsbench workload of shared/bench/rsplib-hs/WORKLOAD.md §2, bit for bit: PE parameters from
 * mulberry32 seeded "RSP1", re-registration values from "RSP2". Check against the C side with
 * `diff <(deno run bench/handlespace_bench.ts --params 1000) <(build/hsbench --params 1000)`.
 */
import { mulberry32 } from "../../lib/handlespace/random_source.ts";

export { mulberry32 };

/** The one pool every PE joins. */
export const POOL_HANDLE = "EchoPool";
/** Home registrar of every PE (the handlespace owner in RSPLIB's run). */
export const HOME_REGISTRAR_ID = 0x10000001;
/** Registration life of every PE, milliseconds. */
export const REGISTRATION_LIFE_MS = 30000;
/** Seed of the PE parameter stream ("RSP1"). */
export const SEED_PES = 0x52535031;
/** Seed of the re-registration stream ("RSP2"). */
export const SEED_REREG = 0x52535032;
/** Load degradations are drawn modulo this (0 … 1 %). */
export const LOAD_DEGRADATION_MOD = 42949673;

/** One PE of the workload. */
export interface WorkloadElement {
  readonly id: number;
  readonly weight: number;
  readonly load: number;
  readonly loadDegradation: number;
  readonly address: string;
  readonly port: number;
}

/** The N PE parameters (WORKLOAD.md §2). */
export function workloadElements(n: number): WorkloadElement[] {
  const next = mulberry32(SEED_PES);
  const used = new Set<number>();
  const elements: WorkloadElement[] = [];
  for (let i = 0; i < n; i++) {
    let id: number;
    do id = next(); while (id === 0 || used.has(id));
    used.add(id);
    const load = next();
    const loadDegradation = next() % LOAD_DEGRADATION_MOD;
    const h = Math.floor(i / 250);
    const address = `10.${(h >> 8) & 0xff}.${h & 0xff}.${1 + (i % 250)}`;
    elements.push({ id, weight: i + 1, load, loadDegradation, address, port: 1024 + (i % 60000) });
  }
  return elements;
}

/** The same lines as `hsbench --params N`: the PEs, then the first 8 re-registrations. */
export function workloadLines(n: number): string[] {
  const lines = workloadElements(n).map((p, i) =>
    `{"i":${i},"id":${p.id},"weight":${p.weight},"load":${p.load},"load_deg":${p.loadDegradation},` +
    `"addr":"${p.address}","port":${p.port},"assoc":${i + 1}}`
  );
  const next = mulberry32(SEED_REREG);
  for (let k = 0; k < 8; k++) {
    const load = next();
    const weight = 1 + (next() % n);
    lines.push(`{"rereg":${k},"i":${k % n},"load":${load},"weight":${weight}}`);
  }
  return lines;
}
