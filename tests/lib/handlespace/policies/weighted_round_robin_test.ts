import assert from "node:assert/strict";
import { PolicyType } from "../../../../lib/wire/codes.ts";
import { Handlespace } from "../../../../lib/handlespace/mod.ts";
import { ECHO_POOL, element, registerAll } from "../_helpers.ts";

const WRR = (weight: number) => ({ type: PolicyType.weightedRoundRobin, weight } as const);

Deno.test("select() with Weighted Round Robin gives exact proportions over whole rounds", () => {
  const weights = [1, 2, 3, 5, 8, 13, 100];
  const hs = new Handlespace();
  registerAll(hs, weights.map((w, i) => element(i + 1, WRR(w))));
  const round = weights.reduce((a, b) => a + b);
  for (let r = 0; r < 4; r++) {
    const counts = new Map<number, number>();
    for (let i = 0; i < round; i++) {
      const id = hs.select(ECHO_POOL, 1, 0)[0]!.identifier;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual(weights.map((_, i) => counts.get(i + 1)), weights, `round ${r}`);
  }
});

Deno.test("select() with Weighted Round Robin spreads a PE's turns evenly over the round", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, WRR(1)), element(2, WRR(1)), element(3, WRR(4))]);
  for (let round = 0; round < 3; round++) {
    const order = Array.from({ length: 6 }, () => hs.select(ECHO_POOL, 1, 0)[0]!.identifier);
    // two of PE 3's four turns in each half of the round, not 3,3,3,…
    assert.equal(order.slice(0, 3).filter((id) => id === 3).length, 2, order.join());
    assert.equal(order.slice(3).filter((id) => id === 3).length, 2, order.join());
  }
});

Deno.test("select() with Weighted Round Robin never selects a PE of weight 0", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, WRR(0)), element(2, WRR(3))]);
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(hs.select(ECHO_POOL, 2, 0).map((v) => v.identifier), [2]);
  }
});

Deno.test("select() with Weighted Round Robin follows a new weight from the next selection", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, WRR(1)), element(2, WRR(1))]);
  for (let i = 0; i < 10; i++) hs.select(ECHO_POOL, 1, 0);
  registerAll(hs, [element(2, WRR(3))]);
  const counts = [0, 0, 0];
  for (let i = 0; i < 400; i++) counts[hs.select(ECHO_POOL, 1, 0)[0]!.identifier]!++;
  assert.deepEqual(counts, [0, 100, 300]);
});
