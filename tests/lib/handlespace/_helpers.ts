/** Builders shared by the handlespace tests: pool elements, handles and a seeded random source. */
import { ParameterType, PolicyType, TransportUse } from "../../../lib/wire/codes.ts";
import type { PoolElementParameter, SctpOrTcpTransport } from "../../../lib/wire/parameters.ts";
import type { SelectionPolicy } from "../../../lib/wire/selection_policy.ts";
import type { Handlespace } from "../../../lib/handlespace/mod.ts";
export { seededRandom } from "../../../lib/handlespace/mod.ts";

/** The bytes of a pool handle. */
export function handleOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** "EchoPool". */
export const ECHO_POOL: Uint8Array = handleOf("EchoPool");
/** A registrar ID used as home. */
export const HOME = 0x10000001;

/** A TCP user transport on 10.0.x.y. */
export function tcpTransport(
  id: number,
  transportUse: TransportUse = TransportUse.dataOnly,
  addresses: readonly string[] = [`10.0.${(id >>> 8) & 0xff}.${id & 0xff}`],
): SctpOrTcpTransport {
  return { type: ParameterType.tcpTransport, port: 1024 + (id % 60000), transportUse, addresses };
}

/** A pool element with a TCP transport and `policy`. */
export function element(
  id: number,
  policy: SelectionPolicy = { type: PolicyType.roundRobin },
  extra: Partial<PoolElementParameter> = {},
): PoolElementParameter {
  return {
    identifier: id,
    homeRegistrarId: 0,
    registrationLife: 30000,
    userTransport: tcpTransport(id),
    policy,
    ...extra,
  };
}

/** Registers `elements` at time 0 (asserting each is accepted). */
export function registerAll(
  hs: Handlespace,
  elements: readonly PoolElementParameter[],
  handle: Uint8Array = ECHO_POOL,
  home: number = HOME,
): void {
  for (const e of elements) {
    const result = hs.register(handle, e, home, 0);
    if (!result.ok) throw new Error(`PE ${e.identifier} refused with cause ${result.cause}`);
  }
}

/** Counts how often each PE identifier is returned by `draws` selections of one PE. */
export function drawCounts(
  hs: Handlespace,
  draws: number,
  handle: Uint8Array = ECHO_POOL,
): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const [pe] = hs.select(handle, 1, 0);
    if (pe === undefined) throw new Error("selection returned nothing");
    counts.set(pe.identifier, (counts.get(pe.identifier) ?? 0) + 1);
  }
  return counts;
}

/** Pearson's chi-square statistic of `counts` against `expected` probabilities by PE. */
export function chiSquare(
  counts: ReadonlyMap<number, number>,
  expected: ReadonlyMap<number, number>,
  draws: number,
): number {
  let sum = 0;
  for (const [id, p] of expected) {
    const e = p * draws;
    const o = counts.get(id) ?? 0;
    sum += ((o - e) * (o - e)) / e;
  }
  return sum;
}

/** The identifiers of a selection. */
export function ids(views: readonly { identifier: number }[]): number[] {
  return views.map((v) => v.identifier);
}
