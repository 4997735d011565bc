import assert from "node:assert/strict";
import { PolicyType } from "../../../../lib/wire/codes.ts";
import { Handlespace } from "../../../../lib/handlespace/mod.ts";
import { ECHO_POOL, element, HOME, ids, registerAll } from "../_helpers.ts";

const LU = (load: number) => ({ type: PolicyType.leastUsed, load } as const);
const PLU = (load: number, loadDegradation: number) =>
  ({ type: PolicyType.priorityLeastUsed, load, loadDegradation }) as const;
const LUD = (load: number, loadDegradation: number) =>
  ({ type: PolicyType.leastUsedDegradation, load, loadDegradation }) as const;

Deno.test("select() with Least Used lists the lowest loads in ascending order", () => {
  const hs = new Handlespace();
  registerAll(hs, [
    element(1, LU(50)),
    element(2, LU(10)),
    element(3, LU(0xffffffff)),
    element(4, LU(30)),
  ]);
  for (let i = 0; i < 5; i++) assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [2, 4, 1]);
});

Deno.test("select() with Least Used always picks the lowest load and rotates among equals", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, LU(20)), element(2, LU(5)), element(3, LU(5)), element(4, LU(5))]);
  const firsts = Array.from({ length: 6 }, () => hs.select(ECHO_POOL, 1, 0)[0]!.identifier);
  assert.deepEqual(firsts, [2, 3, 4, 2, 3, 4]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 4, 0)), [2, 3, 4, 1]);
});

Deno.test("select() with Priority Least Used orders by load plus load degradation", () => {
  const hs = new Handlespace();
  // RFC 5356 §5.3.1: A (50 + 10 = 60) is selected instead of B (50 + 50 = 100)
  registerAll(hs, [element(1, PLU(50, 50)), element(2, PLU(50, 10)), element(3, PLU(70, 0))]);
  for (let i = 0; i < 3; i++) assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [2, 3, 1]);
});

Deno.test("select() with LUD accumulates degradation per selection and resets it on update", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, LUD(100, 30)), element(2, LUD(150, 10))]);
  // keys: PE1 100, 130, 160, 190 …; PE2 150, 160, 170 …
  const order = Array.from({ length: 6 }, () => hs.select(ECHO_POOL, 1, 0)[0]!.identifier);
  assert.deepEqual(order, [1, 1, 2, 1, 2, 2]);
  assert.equal(hs.find(ECHO_POOL, 1)!.degradationCounter, 3);
  assert.equal(hs.find(ECHO_POOL, 2)!.degradationCounter, 3);
  // every PE returned counts as selected (RFC 5356 §5.2.2), not only the first
  hs.select(ECHO_POOL, 2, 0);
  assert.equal(hs.find(ECHO_POOL, 1)!.degradationCounter, 4);
  assert.equal(hs.find(ECHO_POOL, 2)!.degradationCounter, 4);
  // a re-registration, even with the same values, resets the counter
  hs.register(ECHO_POOL, element(1, LUD(100, 30)), HOME, 1);
  assert.equal(hs.find(ECHO_POOL, 1)!.degradationCounter, 0);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 2, 0)), [1, 2]);
});

Deno.test("select() with LUD keeps exact keys past 2^32", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, LUD(0, 0xffffffff)), element(2, LUD(0xfffffff0, 0))]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 1, 0)), [1]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 1, 0)), [2]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 2, 0)), [2, 1]);
});

Deno.test("select() with Least Used skips many excluded PEs and keeps the order", () => {
  const hs = new Handlespace();
  registerAll(hs, Array.from({ length: 100 }, (_, i) => element(i + 1, LU((i * 37) % 100))));
  // loads 0 … 99, each once; exclude the 60 least loaded
  const byLoad = Array.from({ length: 100 }, (_, i) => i + 1).sort((a, b) =>
    ((a - 1) * 37) % 100 - ((b - 1) * 37) % 100
  );
  const exclude = new Set(byLoad.slice(0, 60));
  for (const n of [1, 3, 4, 5, 20]) {
    assert.deepEqual(ids(hs.select(ECHO_POOL, n, 0, { exclude })), byLoad.slice(60, 60 + n));
  }
});
