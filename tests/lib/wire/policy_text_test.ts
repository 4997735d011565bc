import assert from "node:assert/strict";
import { PolicyType } from "../../../lib/wire/codes.ts";
import {
  parsePolicyText,
  policyFromSettings,
  policyShortName,
  settingsFromPolicy,
} from "../../../lib/wire/policy_text.ts";

Deno.test("parsePolicyText() reads short and RSPLIB names with their values", () => {
  assert.deepEqual(parsePolicyText("rr"), { name: "rr" });
  assert.deepEqual(parsePolicyText("LeastUsed:load=25"), { name: "lu", load: 25 });
  assert.deepEqual(parsePolicyText("lud:load=10,degradation=2.5"), {
    name: "lud",
    load: 10,
    loadDegradation: 2.5,
  });
  assert.deepEqual(parsePolicyText("WRR:weight=3"), { name: "wrr", weight: 3 });
  assert.deepEqual(parsePolicyText("prio:priority=7"), { name: "prio", priority: 7 });
  assert.equal(policyShortName("RandomizedLeastUsed"), "rlu");
});

Deno.test("parsePolicyText() names the unknown policy, key or bad value", () => {
  assert.throws(() => parsePolicyText("fastest"), /unknown policy "fastest"/);
  assert.throws(() => parsePolicyText("rr:weight=1"), /policy rr takes no values, not "weight"/);
  assert.throws(() => parsePolicyText("lu:load=101"), /load must be a percentage/);
  assert.throws(() => parsePolicyText("wrr:weight=-1"), /weight must be a whole number/);
  assert.throws(() => parsePolicyText("wrr:weight"), /expected key=value/);
});

Deno.test("policyFromSettings() scales percent to u32 and settingsFromPolicy() inverts it", () => {
  assert.deepEqual(policyFromSettings({ name: "lu", load: 100 }), {
    type: PolicyType.leastUsed,
    load: 0xffffffff,
  });
  assert.deepEqual(policyFromSettings({ name: "wrand" }), {
    type: PolicyType.weightedRandom,
    weight: 1,
  });
  const lud = policyFromSettings({ name: "lud", load: 12.5, loadDegradation: 1 });
  assert.deepEqual(settingsFromPolicy(lud), { name: "lud", load: 12.5, loadDegradation: 1 });
  assert.equal(
    settingsFromPolicy({ type: PolicyType.leastUsedDpf, load: 0, loadDpf: 0, distance: 0 }),
    undefined,
  );
});
