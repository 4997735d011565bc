import assert from "node:assert/strict";
import { PolicyType } from "../../../../lib/wire/codes.ts";
import { Handlespace } from "../../../../lib/handlespace/mod.ts";
import {
  chiSquare,
  drawCounts,
  ECHO_POOL,
  element,
  registerAll,
  seededRandom,
} from "../_helpers.ts";
import { CHI_SQUARE_9_P001 } from "./random_test.ts";

Deno.test("select() with Weighted Random draws in proportion to weight (chi-square, 100 000)", () => {
  const hs = new Handlespace({ random: seededRandom(4242) });
  const weights = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  registerAll(
    hs,
    weights.map((weight, i) => element(i + 1, { type: PolicyType.weightedRandom, weight })),
  );
  const total = weights.reduce((a, b) => a + b);
  const expected = new Map(weights.map((w, i) => [i + 1, w / total]));
  assert.ok(chiSquare(drawCounts(hs, 100_000), expected, 100_000) < CHI_SQUARE_9_P001);
});

Deno.test("select() with Randomized Least Used draws in proportion to 0xffffffff - load", () => {
  const hs = new Handlespace({ random: seededRandom(99) });
  const loads = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((f) =>
    Math.round(f * 0xffffffff)
  );
  registerAll(
    hs,
    loads.map((load, i) => element(i + 1, { type: PolicyType.randomizedLeastUsed, load })),
  );
  const weights = loads.map((l) => 0xffffffff - l);
  const total = weights.reduce((a, b) => a + b);
  const expected = new Map(weights.map((w, i) => [i + 1, w / total]));
  assert.ok(chiSquare(drawCounts(hs, 100_000), expected, 100_000) < CHI_SQUARE_9_P001);
});

Deno.test("select() with Weighted Random never draws weight 0 and keeps weights after a removal", () => {
  const hs = new Handlespace({ random: seededRandom(5) });
  registerAll(hs, [
    element(1, { type: PolicyType.weightedRandom, weight: 0 }),
    element(2, { type: PolicyType.weightedRandom, weight: 1 }),
    element(3, { type: PolicyType.weightedRandom, weight: 3 }),
    element(4, { type: PolicyType.weightedRandom, weight: 5 }),
  ]);
  for (let i = 0; i < 100; i++) {
    const got = hs.select(ECHO_POOL, 4, 0).map((v) => v.identifier);
    assert.deepEqual([...got].sort(), [2, 3, 4]);
  }
  hs.deregister(ECHO_POOL, 2);
  const counts = drawCounts(hs, 8000);
  assert.equal(counts.get(1), undefined);
  assert.ok(Math.abs(counts.get(3)! - 3000) < 200, `${counts.get(3)}`);
});

Deno.test("select() with Weighted Random grows past its first capacity", () => {
  const hs = new Handlespace({ random: seededRandom(11) });
  registerAll(
    hs,
    Array.from(
      { length: 100 },
      (_, i) => element(i + 1, { type: PolicyType.weightedRandom, weight: i < 50 ? 0 : 1 }),
    ),
  );
  const counts = drawCounts(hs, 5000);
  assert.equal(counts.size, 50);
  for (const id of counts.keys()) assert.ok(id > 50);
});
