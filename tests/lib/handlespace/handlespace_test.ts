import assert from "node:assert/strict";
import {
  ErrorCauseCode,
  ParameterType,
  PolicyType,
  TransportUse,
} from "../../../lib/wire/codes.ts";
import type { SelectionPolicy } from "../../../lib/wire/selection_policy.ts";
import {
  Handlespace,
  type HandlespaceChange,
  POLICY_TABLE,
  type PoolElementView,
} from "../../../lib/handlespace/mod.ts";
import {
  ECHO_POOL,
  element,
  handleOf,
  HOME,
  ids,
  registerAll,
  seededRandom,
  tcpTransport,
} from "./_helpers.ts";

const LU = (load: number): SelectionPolicy => ({ type: PolicyType.leastUsed, load });

Deno.test("register() creates the pool with its first PE, which fixes policy and transport", () => {
  const hs = new Handlespace();
  assert.deepEqual(hs.register(ECHO_POOL, element(1, LU(5)), HOME, 0), {
    ok: true,
    created: true,
  });
  const pool = hs.pool(ECHO_POOL)!;
  assert.equal(pool.policyType, PolicyType.leastUsed);
  assert.equal(pool.policyName, "LeastUsed");
  assert.equal(pool.transportType, ParameterType.tcpTransport);
  assert.equal(pool.transportUse, TransportUse.dataOnly);
  assert.equal(pool.size, 1);
  assert.equal(hs.poolCount, 1);
  assert.equal(hs.elementCount, 1);
});

Deno.test("register() copies the pool handle it keeps", () => {
  const hs = new Handlespace();
  const handle = handleOf("Pool");
  registerAll(hs, [element(1)], handle);
  handle[0] = 0x58;
  assert.equal(hs.find(handleOf("Pool"), 1)?.identifier, 1);
  assert.equal(hs.find(handle, 1), undefined);
});

Deno.test("register() updates a known PE in place and a new load takes effect at once", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, LU(10)), element(2, LU(20)), element(3, LU(30))]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [1, 2, 3]);
  const result = hs.register(ECHO_POOL, element(3, LU(5)), HOME, 1000);
  assert.deepEqual(result, { ok: true, created: false });
  assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [3, 1, 2]);
  assert.equal(hs.elementCount, 3);
  assert.equal(hs.find(ECHO_POOL, 3)!.lastUpdate, 1000);
});

Deno.test("register() refuses another policy type than the pool's with 0x5", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, LU(1))]);
  const refused = hs.register(ECHO_POOL, element(2), HOME, 0);
  assert.deepEqual(refused, { ok: false, cause: ErrorCauseCode.inconsistentPoolingPolicy });
  // a re-registration is tested the same way (RFC 5352 §3.1 rule 3)
  const again = hs.register(
    ECHO_POOL,
    element(1, { type: PolicyType.priority, priority: 1 }),
    1,
    0,
  );
  assert.deepEqual(again, { ok: false, cause: ErrorCauseCode.inconsistentPoolingPolicy });
  assert.equal(hs.elementCount, 1);
});

Deno.test("register() refuses another transport type with 0x7 and transport-use with 0x8", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1)]);
  const sctp = element(2, undefined, {
    userTransport: {
      type: ParameterType.sctpTransport,
      port: 1,
      transportUse: TransportUse.dataOnly,
      addresses: ["10.0.0.2"],
    },
  });
  assert.deepEqual(hs.register(ECHO_POOL, sctp, HOME, 0), {
    ok: false,
    cause: ErrorCauseCode.inconsistentTransportType,
  });
  const control = element(3, undefined, {
    userTransport: tcpTransport(3, TransportUse.dataPlusControl),
  });
  assert.deepEqual(hs.register(ECHO_POOL, control, HOME, 0), {
    ok: false,
    cause: ErrorCauseCode.inconsistentDataControlConfiguration,
  });
  assert.equal(hs.elementCount, 1);
});

Deno.test("register() refuses opaque and unknown policies with 0x3, known unsupported ones with 0x5", () => {
  const hs = new Handlespace();
  const cases: [SelectionPolicy, ErrorCauseCode][] = [
    [{ type: 0x12345678, opaque: new Uint8Array(4) }, ErrorCauseCode.invalidValues],
    [{ type: 0x40000000, opaque: new Uint8Array(0) }, ErrorCauseCode.invalidValues],
    [
      { type: PolicyType.leastUsedDpf, load: 1, loadDpf: 1, distance: 1 },
      ErrorCauseCode.inconsistentPoolingPolicy,
    ],
    [
      { type: PolicyType.weightedRandomDpf, weight: 1, weightDpf: 1, distance: 1 },
      ErrorCauseCode.inconsistentPoolingPolicy,
    ],
    [
      { type: PolicyType.randomizedLeastUsedDegradation, load: 1, loadDegradation: 1 },
      ErrorCauseCode.inconsistentPoolingPolicy,
    ],
  ];
  for (const [policy, cause] of cases) {
    assert.deepEqual(hs.register(ECHO_POOL, element(1, policy), HOME, 0), { ok: false, cause });
  }
  assert.equal(hs.poolCount, 0);
});

Deno.test("register() refuses invalid values with 0x3", () => {
  const hs = new Handlespace();
  const invalid = { ok: false, cause: ErrorCauseCode.invalidValues };
  assert.deepEqual(hs.register(ECHO_POOL, element(0), HOME, 0), invalid);
  assert.deepEqual(
    hs.register(ECHO_POOL, element(1, undefined, { registrationLife: -2 }), HOME, 0),
    invalid,
  );
  assert.deepEqual(hs.register(new Uint8Array(0), element(1), HOME, 0), invalid);
  const twoAddresses = element(1, undefined, {
    userTransport: tcpTransport(1, 0, ["10.0.0.1", "10.0.0.2"]),
  });
  assert.deepEqual(hs.register(ECHO_POOL, twoAddresses, HOME, 0), invalid);
  assert.deepEqual(
    hs.register(ECHO_POOL, element(1, { type: PolicyType.weightedRandom, weight: -1 }), HOME, 0),
    invalid,
  );
  assert.throws(() => hs.register(ECHO_POOL, element(1), -1, 0), RangeError);
  assert.throws(() => hs.register(ECHO_POOL, element(1), HOME, NaN), RangeError);
  assert.equal(hs.elementCount, 0);
});

Deno.test("register() refuses past each bound with 0x6 but still accepts re-registrations", () => {
  const lack = { ok: false, cause: ErrorCauseCode.lackOfResources };
  const pools = new Handlespace({ maxPools: 2 });
  registerAll(pools, [element(1)], handleOf("A"));
  registerAll(pools, [element(1)], handleOf("B"));
  assert.deepEqual(pools.register(handleOf("C"), element(1), HOME, 0), lack);
  registerAll(pools, [element(2)], handleOf("B"));

  const perPool = new Handlespace({ maxPoolElementsPerPool: 2 });
  registerAll(perPool, [element(1), element(2)]);
  assert.deepEqual(perPool.register(ECHO_POOL, element(3), HOME, 0), lack);
  assert.equal(perPool.register(ECHO_POOL, element(2), HOME, 1).ok, true);
  registerAll(perPool, [element(3)], handleOf("Other"));

  const all = new Handlespace({ maxPoolElements: 2 });
  registerAll(all, [element(1)], handleOf("A"));
  registerAll(all, [element(1)], handleOf("B"));
  assert.deepEqual(all.register(handleOf("C"), element(1), HOME, 0), lack);
  assert.deepEqual(all.register(handleOf("A"), element(2), HOME, 0), lack);

  const handles = new Handlespace({ maxPoolHandleLength: 4 });
  registerAll(handles, [element(1)], handleOf("Four"));
  assert.deepEqual(handles.register(handleOf("Five!"), element(1), HOME, 0), lack);

  const registrars = new Handlespace({ maxHomeRegistrars: 1 });
  registerAll(registrars, [element(1)], ECHO_POOL, 7);
  assert.deepEqual(registrars.register(ECHO_POOL, element(2), 8, 0), lack);
  registrars.deregister(ECHO_POOL, 1); // 7 owns nothing now: its table entry is free
  registerAll(registrars, [element(2)], ECHO_POOL, 8);
});

Deno.test("new Handlespace() rejects bounds that are not positive integers in range", () => {
  assert.throws(() => new Handlespace({ maxPools: 0 }), RangeError);
  assert.throws(() => new Handlespace({ maxPoolElements: 1.5 }), RangeError);
  assert.throws(() => new Handlespace({ maxPoolElementsPerPool: 2 ** 22 }), RangeError);
  assert.throws(() => new Handlespace({ maxHomeRegistrars: 0x10000 }), /'maxHomeRegistrars'/);
});

Deno.test("deregister() removes the PE, and the pool with its last PE", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1), element(2)]);
  assert.equal(hs.deregister(ECHO_POOL, 1), true);
  assert.equal(hs.deregister(ECHO_POOL, 1), false);
  assert.equal(hs.deregister(handleOf("nope"), 2), false);
  assert.equal(hs.poolCount, 1);
  assert.equal(hs.deregister(ECHO_POOL, 2), true);
  assert.equal(hs.poolCount, 0);
  assert.equal(hs.pool(ECHO_POOL), undefined);
  assert.deepEqual(hs.select(ECHO_POOL, 3, 0), []);
});

Deno.test("find() gives a live view that stops working when its PE is removed", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1, LU(1))]);
  const view = hs.find(ECHO_POOL, 1)!;
  assert.equal(view.alive, true);
  assert.equal(view.address, "10.0.0.1");
  assert.equal(view.port, 1025);
  assert.equal(view.homeRegistrarId, HOME);
  assert.equal(hs.find(ECHO_POOL, 1), view);
  hs.register(ECHO_POOL, element(1, LU(9)), HOME, 5);
  assert.deepEqual(view.policy, LU(9));
  hs.deregister(ECHO_POOL, 1);
  assert.equal(view.alive, false);
  assert.equal(view.identifier, 1);
  assert.throws(() => view.policy, ReferenceError);
  registerAll(hs, [element(2, LU(1))]); // reuses the slot
  assert.equal(view.alive, false);
});

Deno.test("toParameter() gives back what was registered, compact or kept whole", () => {
  const hs = new Handlespace();
  const asapTransport = {
    type: ParameterType.sctpTransport,
    port: 3863,
    transportUse: TransportUse.dataOnly,
    addresses: ["192.0.2.1"],
  } as const;
  const elements = [
    element(1, { type: PolicyType.leastUsedDegradation, load: 7, loadDegradation: 9 }),
    element(2, { type: PolicyType.leastUsedDegradation, load: 7, loadDegradation: 9 }, {
      userTransport: tcpTransport(2, 0, ["2001:db8::1"]),
      registrationLife: -1,
      asapTransport,
    }),
    element(3, { type: PolicyType.leastUsedDegradation, load: 0xffffffff, loadDegradation: 0 }, {
      userTransport: tcpTransport(3, 0, ["010.0.0.1"]),
    }),
  ];
  registerAll(hs, elements);
  for (const e of elements) {
    assert.deepEqual(hs.find(ECHO_POOL, e.identifier)!.toParameter(), {
      ...e,
      homeRegistrarId: HOME,
    });
  }
  const udp = new Handlespace();
  const udpElement = element(4, undefined, {
    userTransport: { type: ParameterType.udpTransport, port: 53, addresses: ["10.1.2.3"] },
  });
  registerAll(udp, [udpElement]);
  assert.deepEqual(udp.find(ECHO_POOL, 4)!.userTransport, udpElement.userTransport);
  const sctp = element(5, undefined, {
    userTransport: { ...asapTransport, addresses: ["10.0.0.5", "10.0.1.5"] },
  });
  registerAll(udp, [sctp], handleOf("Sctp"));
  assert.deepEqual(udp.find(handleOf("Sctp"), 5)!.toParameter().userTransport, sctp.userTransport);
});

Deno.test("reportUnreachable() counts reports and a re-registration resets the count", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1)]);
  assert.equal(hs.reportUnreachable(ECHO_POOL, 1), 1);
  assert.equal(hs.reportUnreachable(ECHO_POOL, 1), 2);
  assert.equal(hs.find(ECHO_POOL, 1)!.unreachableReports, 2);
  assert.equal(hs.reportUnreachable(ECHO_POOL, 99), 0);
  registerAll(hs, [element(1)]);
  assert.equal(hs.reportUnreachable(ECHO_POOL, 1), 1);
});

Deno.test("nextExpiry() and expire() remove PEs as their registration lives run out", () => {
  const hs = new Handlespace();
  assert.equal(hs.nextExpiry(), undefined);
  hs.register(ECHO_POOL, element(1, undefined, { registrationLife: 5000 }), HOME, 1000);
  hs.register(ECHO_POOL, element(2, undefined, { registrationLife: 1000 }), HOME, 1000);
  hs.register(ECHO_POOL, element(3, undefined, { registrationLife: -1 }), HOME, 1000);
  hs.register(handleOf("B"), element(4, undefined, { registrationLife: 3000 }), HOME, 1000);
  assert.equal(hs.nextExpiry(), 2000);
  assert.deepEqual(hs.expire(1999), []);
  // a re-registration restarts the life
  hs.register(ECHO_POOL, element(2, undefined, { registrationLife: 1000 }), HOME, 1500);
  assert.equal(hs.nextExpiry(), 2500);
  const expired = hs.expire(4000);
  assert.deepEqual(expired.map((e) => e.element.identifier), [2, 4]);
  assert.deepEqual(expired[1]!.handle, handleOf("B"));
  assert.equal(hs.poolCount, 1);
  assert.equal(hs.nextExpiry(), 6000);
  assert.deepEqual(ids(hs.expire(6000).map((e) => e.element)), [1]);
  assert.equal(hs.nextExpiry(), undefined);
  assert.deepEqual(hs.expire(Number.MAX_VALUE), []);
  assert.equal(hs.elementCount, 1);
});

Deno.test("select() skips PEs whose registration life has run out but are not swept yet", () => {
  const hs = new Handlespace();
  hs.register(ECHO_POOL, element(1, undefined, { registrationLife: 100 }), HOME, 0);
  hs.register(ECHO_POOL, element(2, undefined, { registrationLife: 1000 }), HOME, 0);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 2, 50)).sort(), [1, 2]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 2, 100)), [2]);
  assert.deepEqual(ids(hs.select(ECHO_POOL, 2, 1000)), []);
});

Deno.test("removeByHome() removes one registrar's PEs and rehome() moves them to another", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1), element(2)], ECHO_POOL, 7);
  registerAll(hs, [element(3)], ECHO_POOL, 8);
  registerAll(hs, [element(4)], handleOf("B"), 7);
  assert.deepEqual([...hs.ownedBy(7)].map((v) => v.identifier).sort(), [1, 2, 4]);
  assert.equal(hs.countOwnedBy(7), 3);
  const sevenChecksum = hs.checksum(7);
  assert.equal(hs.rehome(7, 9), 3);
  assert.equal(hs.countOwnedBy(7), 0);
  assert.equal(hs.checksum(7), 0xffff);
  assert.equal(hs.checksum(9), sevenChecksum);
  assert.equal(hs.find(ECHO_POOL, 1)!.homeRegistrarId, 9);
  assert.equal(hs.rehome(9, 8), 3);
  assert.equal(hs.countOwnedBy(8), 4);
  assert.equal(hs.rehome(1234, 8), 0);
  registerAll(hs, [element(5)], ECHO_POOL, 10);
  assert.equal(hs.removeByHome(8), 4);
  assert.equal(hs.elementCount, 1);
  assert.equal(hs.poolCount, 1);
  assert.deepEqual([...hs.ownedBy(10)].map((v) => v.identifier), [5]);
  assert.equal(hs.removeByHome(8), 0);
});

Deno.test("register() at another registrar takes ownership (RFC 5352 §3.1 rule 4)", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1)], ECHO_POOL, 7);
  registerAll(hs, [element(1)], ECHO_POOL, 8);
  assert.equal(hs.countOwnedBy(7), 0);
  assert.equal(hs.countOwnedBy(8), 1);
  assert.equal(hs.find(ECHO_POOL, 1)!.homeRegistrarId, 8);
});

Deno.test("onChange reports every addition, update and removal after it happened", () => {
  const changes: HandlespaceChange[] = [];
  const hs = new Handlespace({ onChange: (change) => changes.push(change) });
  hs.register(ECHO_POOL, element(1, undefined, { registrationLife: 10 }), 7, 0);
  hs.register(ECHO_POOL, element(2), 7, 0);
  hs.register(ECHO_POOL, element(1, undefined, { registrationLife: 10 }), 7, 5);
  hs.rehome(7, 8);
  hs.expire(15);
  hs.deregister(ECHO_POOL, 2);
  hs.register(ECHO_POOL, element(3), 9, 0);
  hs.removeByHome(9);
  assert.deepEqual(
    changes.map((c) => [c.kind, c.identifier, c.reason, c.element.homeRegistrarId]),
    [
      ["added", 1, "registration", 7],
      ["added", 2, "registration", 7],
      ["updated", 1, "registration", 7],
      ["updated", 1, "takeover", 8],
      ["updated", 2, "takeover", 8],
      ["removed", 1, "expiry", 8],
      ["removed", 2, "deregistration", 8],
      ["added", 3, "registration", 9],
      ["removed", 3, "home-removed", 9],
    ],
  );
  assert.deepEqual(changes[0]!.handle, ECHO_POOL);
});

Deno.test("select() returns up to n distinct PEs for every policy, also for 0, 1 and excluded PEs", () => {
  for (const definition of POLICY_TABLE) {
    const policy = definition.toPolicy(5, 1);
    const hs = new Handlespace({ random: seededRandom(definition.type) });
    const name = definition.name;
    assert.deepEqual(hs.select(ECHO_POOL, 3, 0), [], name);
    registerAll(hs, [element(1, policy)]);
    assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0)), [1], name);
    assert.deepEqual(ids(hs.select(ECHO_POOL, 3, 0, { exclude: [1] })), [], name);
    assert.deepEqual(hs.select(ECHO_POOL, 0, 0), [], name);
    registerAll(
      hs,
      Array.from({ length: 9 }, (_, i) => element(i + 2, definition.toPolicy(i + 1, i))),
    );
    const out: PoolElementView[] = [];
    for (let round = 0; round < 200; round++) {
      const n = 1 + (round % 12);
      const got = hs.selectInto(ECHO_POOL, n, 0, out);
      assert.equal(got, Math.min(n, 10), name);
      assert.equal(new Set(ids(out)).size, got, name);
      const exclude = new Set([1 + (round % 10), 1 + ((round * 7) % 10)]);
      const picked = ids(hs.select(ECHO_POOL, n, 0, { exclude }));
      assert.equal(picked.length, Math.min(n, 10 - exclude.size), name);
      assert.equal(new Set(picked).size, picked.length, name);
      for (const id of picked) assert.ok(!exclude.has(id), name);
    }
  }
});

Deno.test("pools() and elements() list every pool and PE", () => {
  const hs = new Handlespace();
  registerAll(hs, [element(1), element(2)], handleOf("A"));
  registerAll(hs, [element(3)], handleOf("B"));
  const listed = [...hs.pools()].map((p) => [
    new TextDecoder().decode(p.handle),
    [...p.elements()].map((e) => e.identifier).sort(),
  ]);
  assert.deepEqual(listed, [["A", [1, 2]], ["B", [3]]]);
});
