import assert from "node:assert/strict";
import { PolicyType } from "../../../../lib/wire/codes.ts";
import { Handlespace } from "../../../../lib/handlespace/mod.ts";
import { ECHO_POOL, element, ids, registerAll } from "../_helpers.ts";

const PRIO = (priority: number) => ({ type: PolicyType.priority, priority } as const);

Deno.test("select() with Priority lists the highest priorities in decreasing order", () => {
  const hs = new Handlespace();
  registerAll(hs, [
    element(1, PRIO(5)),
    element(2, PRIO(9)),
    element(3, PRIO(1)),
    element(4, PRIO(7)),
  ]);
  for (let i = 0; i < 5; i++) assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [2, 4, 1]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0, { exclude: [2] })), [4, 1, 3]);
});

Deno.test("select() with Priority always picks the highest and rotates among equals", () => {
  const hs = new Handlespace();
  registerAll(hs, [
    element(1, PRIO(9)),
    element(2, PRIO(9)),
    element(3, PRIO(9)),
    element(4, PRIO(8)),
  ]);
  const firsts = Array.from({ length: 6 }, () => hs.select(ECHO_POOL, 1, 0)[0]!.identifier);
  assert.deepEqual(firsts, [1, 2, 3, 1, 2, 3]);
});
