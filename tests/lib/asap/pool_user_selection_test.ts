import assert from "node:assert/strict";
import {
  poolUserRule,
  type SelectionCursor,
  selectPoolElement,
} from "../../../lib/asap/pool_user_selection.ts";
import { PolicyType } from "../../../lib/wire/codes.ts";
import type { PoolElementParameter } from "../../../lib/wire/parameters.ts";
import type { SelectionPolicy } from "../../../lib/wire/selection_policy.ts";
import { chiSquare, element, seededRandom } from "../handlespace/_helpers.ts";

const RR: SelectionPolicy = { type: PolicyType.roundRobin };
/** Chi-square bound for 1 degree of freedom at p = 0.001 (fixed seeds make it deterministic). */
const CHI_SQUARE_1DF = 10.83;

function drawIds(
  policy: SelectionPolicy,
  pool: readonly PoolElementParameter[],
  draws: number,
  seed: number,
): Map<number, number> {
  const random = seededRandom(seed);
  const cursor: SelectionCursor = { next: 0 };
  const counts = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const pe = selectPoolElement(policy, pool, { random, cursor });
    assert.ok(pe !== undefined);
    counts.set(pe.identifier, (counts.get(pe.identifier) ?? 0) + 1);
  }
  return counts;
}

Deno.test("selectPoolElement() walks round robin from the first entry, skips excluded ones and wraps", () => {
  const pool = [element(1), element(2), element(3)];
  const cursor = { next: 0 };
  const exclude = (id: number) => id === 2;
  const picks = Array.from(
    { length: 5 },
    () => selectPoolElement(RR, pool, { random: Math.random, cursor, exclude })?.identifier,
  );
  assert.deepEqual(picks, [1, 3, 1, 3, 1]);
});

Deno.test("selectPoolElement() treats WRR as round robin without the weight-0 entries", () => {
  const weighted = (id: number, weight: number) =>
    element(id, { type: PolicyType.weightedRoundRobin, weight });
  const pool = [weighted(1, 5), weighted(2, 0), weighted(3, 1)];
  const cursor = { next: 0 };
  const policy: SelectionPolicy = { type: PolicyType.weightedRoundRobin, weight: 0 };
  const picks = Array.from(
    { length: 4 },
    () => selectPoolElement(policy, pool, { random: Math.random, cursor })?.identifier,
  );
  assert.deepEqual(picks, [1, 3, 1, 3]);
});

Deno.test("selectPoolElement() picks uniformly at random under RAND", () => {
  const pool = [element(1), element(2)];
  const counts = drawIds({ type: PolicyType.random }, pool, 4000, 7);
  const expected = new Map([[1, 0.5], [2, 0.5]]);
  assert.ok(chiSquare(counts, expected, 4000) < CHI_SQUARE_1DF);
});

Deno.test("selectPoolElement() weighs WRAND by weight and never picks weight 0", () => {
  const weighted = (id: number, weight: number) =>
    element(id, { type: PolicyType.weightedRandom, weight });
  const pool = [weighted(1, 1), weighted(2, 3), weighted(3, 0)];
  const counts = drawIds({ type: PolicyType.weightedRandom, weight: 0 }, pool, 4000, 11);
  assert.equal(counts.get(3), undefined);
  assert.ok(chiSquare(counts, new Map([[1, 0.25], [2, 0.75]]), 4000) < CHI_SQUARE_1DF);
});

Deno.test("selectPoolElement() weighs RLU by 0xffffffff - load", () => {
  const loaded = (id: number, load: number) =>
    element(id, { type: PolicyType.randomizedLeastUsed, load });
  const quarter = 0x40000000;
  // Weights 0xffffffff - 0x40000000 and 0xffffffff - 0xc0000000: three to one.
  const pool = [loaded(1, quarter), loaded(2, 3 * quarter)];
  const counts = drawIds({ type: PolicyType.randomizedLeastUsed, load: 0 }, pool, 4000, 13);
  assert.ok(chiSquare(counts, new Map([[1, 0.75], [2, 0.25]]), 4000) < CHI_SQUARE_1DF);
});

Deno.test("selectPoolElement() picks the highest priority under PRIO, the first among equals", () => {
  const prio = (id: number, priority: number) =>
    element(id, { type: PolicyType.priority, priority });
  const pool = [prio(1, 1), prio(2, 7), prio(3, 7), prio(4, 2)];
  const policy: SelectionPolicy = { type: PolicyType.priority, priority: 0 };
  const options = { random: Math.random, cursor: { next: 0 } };
  assert.equal(selectPoolElement(policy, pool, options)?.identifier, 2);
  assert.equal(
    selectPoolElement(policy, pool, { ...options, exclude: (id) => id === 2 })?.identifier,
    3,
  );
});

Deno.test("selectPoolElement() keeps the registrar's order under LU, LUD and PLU", () => {
  for (
    const policy of [
      { type: PolicyType.leastUsed, load: 0 },
      { type: PolicyType.leastUsedDegradation, load: 0, loadDegradation: 0 },
      { type: PolicyType.priorityLeastUsed, load: 0, loadDegradation: 0 },
    ] satisfies SelectionPolicy[]
  ) {
    const pool = [element(9, policy), element(4, policy), element(6, policy)];
    const options = { random: Math.random, cursor: { next: 0 } };
    assert.equal(selectPoolElement(policy, pool, options)?.identifier, 9);
    assert.equal(selectPoolElement(policy, pool, options)?.identifier, 9);
    assert.equal(
      selectPoolElement(policy, pool, { ...options, exclude: (id) => id === 9 })?.identifier,
      4,
    );
  }
});

Deno.test("selectPoolElement() returns undefined when every entry is excluded", () => {
  const pool = [element(1), element(2)];
  const options = { random: Math.random, cursor: { next: 0 }, exclude: () => true };
  assert.equal(selectPoolElement(RR, pool, options), undefined);
  assert.equal(selectPoolElement(RR, [], { random: Math.random, cursor: { next: 0 } }), undefined);
});

Deno.test("poolUserRule() falls back to round robin for a policy it does not know", () => {
  assert.equal(poolUserRule({ type: 0xb0009999, opaque: new Uint8Array(4) }), "round-robin");
  assert.equal(
    poolUserRule({ type: PolicyType.weightedRandomDpf, weight: 1, weightDpf: 0, distance: 0 }),
    "weighted",
  );
});
