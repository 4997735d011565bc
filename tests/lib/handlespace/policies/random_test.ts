import assert from "node:assert/strict";
import { PolicyType } from "../../../../lib/wire/codes.ts";
import { Handlespace } from "../../../../lib/handlespace/mod.ts";
import {
  chiSquare,
  drawCounts,
  ECHO_POOL,
  element,
  ids,
  registerAll,
  seededRandom,
} from "../_helpers.ts";

/** χ² at p = 0.001 for 9 degrees of freedom (10 PEs). */
export const CHI_SQUARE_9_P001 = 27.877;

Deno.test("select() with Random draws uniformly (chi-square over 100 000 draws)", () => {
  const hs = new Handlespace({ random: seededRandom(42) });
  registerAll(
    hs,
    Array.from({ length: 10 }, (_, i) => element(i + 1, { type: PolicyType.random })),
  );
  const counts = drawCounts(hs, 100_000);
  const expected = new Map(Array.from({ length: 10 }, (_, i) => [i + 1, 0.1]));
  assert.ok(chiSquare(counts, expected, 100_000) < CHI_SQUARE_9_P001);
});

Deno.test("select() with Random returns distinct PEs and each at every position", () => {
  const hs = new Handlespace({ random: seededRandom(7) });
  registerAll(hs, Array.from({ length: 4 }, (_, i) => element(i + 1, { type: PolicyType.random })));
  const firsts = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const got = ids(hs.select(ECHO_POOL, 4, 0));
    assert.deepEqual([...got].sort(), [1, 2, 3, 4]);
    firsts.add(got[0]!);
  }
  assert.equal(firsts.size, 4);
});
