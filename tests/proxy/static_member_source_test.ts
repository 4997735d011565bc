/** StaticMemberSource: round robin, exclusion, quarantine on a fake clock, removal events. */
import assert from "node:assert/strict";
import type { PoolMemberAddress } from "../../proxy/member_source.ts";
import { StaticMemberSource } from "../../proxy/static_member_source.ts";

function member(peId: number): PoolMemberAddress {
  return { peId, hostname: "127.0.0.1", port: 10_000 + peId, transportUse: 0 };
}

function picks(source: StaticMemberSource, count: number, exclude = new Set<number>()): number[] {
  return Array.from({ length: count }, () => source.select("p", exclude)?.peId ?? -1);
}

Deno.test("StaticMemberSource.select() goes round robin and skips excluded members", () => {
  const source = new StaticMemberSource({ p: [member(1), member(2), member(3)] });
  assert.deepEqual(picks(source, 4), [1, 2, 3, 1]);
  assert.deepEqual(picks(source, 3, new Set([3])), [2, 1, 2]);
  assert.equal(source.select("p", new Set([1, 2, 3])), undefined);
  assert.equal(source.select("unknown", new Set()), undefined);
});

Deno.test("StaticMemberSource.reportUnreachable() passes a member over for quarantineMs while others are left", () => {
  let now = 1_000;
  const source = new StaticMemberSource({ p: [member(1), member(2)] }, {
    quarantineMs: 500,
    now: () => now,
  });
  source.reportUnreachable("p", 1);
  assert.deepEqual(picks(source, 3), [2, 2, 2]);
  assert.equal(source.select("p", new Set([2]))?.peId, 1, "the last one left is still chosen");
  now += 500;
  assert.deepEqual(picks(source, 2).sort(), [1, 2]);
});

Deno.test("StaticMemberSource.remove() tells onRemoved listeners until they unsubscribe", () => {
  const source = new StaticMemberSource({ p: [member(1), member(2)] });
  const seen: string[] = [];
  const unsubscribe = source.onRemoved((pool, peId, reason) =>
    seen.push(`${pool}/${peId}/${reason}`)
  );
  assert.ok(source.remove("p", 1, "deregistered"));
  assert.equal(source.remove("p", 1), false);
  unsubscribe();
  assert.ok(source.remove("p", 2));
  assert.deepEqual(seen, ["p/1/deregistered"]);
  assert.deepEqual(source.members("p"), []);
});

Deno.test("StaticMemberSource.add() replaces a member with the same PE id", () => {
  const source = new StaticMemberSource();
  source.add("p", member(1));
  source.add("p", { ...member(1), port: 9 });
  assert.deepEqual(source.members("p"), [{ ...member(1), port: 9 }]);
});

Deno.test("new StaticMemberSource() rejects a negative quarantine", () => {
  assert.throws(
    () => new StaticMemberSource({}, { quarantineMs: -1 }),
    new RangeError(
      "Cannot configure member source as 'quarantineMs' must be a non-negative integer: current value is -1",
    ),
  );
});
