import assert from "node:assert/strict";
import { Handlespace } from "../../../../lib/handlespace/mod.ts";
import { ECHO_POOL, element, ids, registerAll } from "../_helpers.ts";

Deno.test("select() with Round Robin visits every PE once per round", () => {
  const hs = new Handlespace();
  registerAll(hs, Array.from({ length: 7 }, (_, i) => element(i + 1)));
  for (let round = 0; round < 5; round++) {
    const seen = new Set<number>();
    for (let i = 0; i < 7; i++) seen.add(hs.select(ECHO_POOL, 1, 0)[0]!.identifier);
    assert.equal(seen.size, 7);
  }
});

Deno.test("select() with Round Robin lists from the head, which advances by one", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1), element(2), element(3), element(4)]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [1, 2, 3]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [2, 3, 4]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [3, 4, 1]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0, { exclude: [1] })), [4, 2, 3]);
});

Deno.test("select() with Round Robin keeps visiting every PE after removals", () => {
  const hs = new Handlespace();
  registerAll(hs, Array.from({ length: 6 }, (_, i) => element(i + 1)));
  hs.select(ECHO_POOL, 1, 0);
  hs.select(ECHO_POOL, 1, 0);
  hs.deregister(ECHO_POOL, 6);
  hs.deregister(ECHO_POOL, 2);
  const seen = new Set<number>();
  for (let i = 0; i < 4; i++) seen.add(hs.select(ECHO_POOL, 1, 0)[0]!.identifier);
  assert.deepEqual([...seen].sort(), [1, 3, 4, 5]);
});
