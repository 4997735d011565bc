import assert from "node:assert/strict";
import { ErrorCauseCode, PolicyType } from "../../../../lib/wire/codes.ts";
import { findPolicy, POLICY_TABLE, refusalFor } from "../../../../lib/handlespace/mod.ts";

Deno.test("findPolicy() finds the nine RFC 5356 policies and nothing else", () => {
  const supported = [
    PolicyType.roundRobin,
    PolicyType.weightedRoundRobin,
    PolicyType.random,
    PolicyType.weightedRandom,
    PolicyType.priority,
    PolicyType.leastUsed,
    PolicyType.leastUsedDegradation,
    PolicyType.priorityLeastUsed,
    PolicyType.randomizedLeastUsed,
  ];
  assert.deepEqual(POLICY_TABLE.map((d) => d.type), supported);
  for (const type of supported) assert.equal(findPolicy(type)?.type, type);
  assert.equal(findPolicy(PolicyType.leastUsedDpf), undefined);
  assert.equal(findPolicy(0x00000000), undefined);
});

Deno.test("refusalFor() answers 0x5 for known unsupported types and 0x3 for unknown ones", () => {
  assert.equal(refusalFor(PolicyType.weightedRandomDpf), ErrorCauseCode.inconsistentPoolingPolicy);
  assert.equal(
    refusalFor(PolicyType.randomizedPriorityLeastUsedDegradation),
    ErrorCauseCode.inconsistentPoolingPolicy,
  );
  assert.equal(refusalFor(0x80000001), ErrorCauseCode.invalidValues);
  assert.equal(refusalFor(0x40000000), ErrorCauseCode.invalidValues);
});

Deno.test("toPolicy() and value1()/value2() round-trip every supported policy", () => {
  for (const definition of POLICY_TABLE) {
    const policy = definition.toPolicy(7, 9);
    assert.equal(policy.type, definition.type);
    const value1 = definition.value1(policy);
    assert.deepEqual(definition.toPolicy(value1, definition.value2(policy)), policy);
  }
});
