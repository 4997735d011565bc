import assert from "node:assert/strict";
import { startRegistrar } from "../../lib/registrar/mod.ts";
import {
  ParameterType,
  PolicyType,
  REGISTRATION_LIFE_INFINITE,
  TransportUse,
} from "../../lib/wire/mod.ts";
import { RegistrarMemberSource } from "../../proxy/registrar_member_source.ts";

function localMember(peId: number) {
  return {
    identifier: peId,
    homeRegistrarId: 0,
    registrationLife: REGISTRATION_LIFE_INFINITE,
    userTransport: {
      type: ParameterType.tcpTransport,
      port: 7000 + peId,
      transportUse: TransportUse.dataOnly,
      addresses: ["127.0.0.1"],
    },
    policy: { type: PolicyType.roundRobin },
  } as const;
}

Deno.test("RegistrarMemberSource.reportUnreachable() reports a PE once per hold, however many sessions saw it", async () => {
  await using registrar = startRegistrar({ hostname: "127.0.0.1", port: 0, maxBadPeReports: 3 });
  let now = 0;
  const source = new RegistrarMemberSource(registrar, { reportHoldMs: 1_000, now: () => now });
  assert.ok(registrar.registerLocal("echo", localMember(1)).ok);
  assert.ok(registrar.registerLocal("echo", localMember(2)).ok);

  // A mass failover: a thousand sessions report PE 1 within the same instant.
  for (let i = 0; i < 1_000; i++) source.reportUnreachable("echo", 1);
  assert.ok(registrar.handlespace.find(new TextEncoder().encode("echo"), 1), "one report, PE kept");

  // The same failure seen again later counts again: at the third report the PE goes.
  now = 1_000;
  source.reportUnreachable("echo", 1);
  assert.ok(registrar.handlespace.find(new TextEncoder().encode("echo"), 1));
  now = 2_000;
  source.reportUnreachable("echo", 1);
  assert.equal(registrar.handlespace.find(new TextEncoder().encode("echo"), 1), undefined);
  assert.ok(registrar.handlespace.find(new TextEncoder().encode("echo"), 2), "PE 2 untouched");
});

Deno.test("RegistrarMemberSource() refuses a negative report hold", async () => {
  await using registrar = startRegistrar({ hostname: "127.0.0.1", port: 0 });
  assert.throws(() => new RegistrarMemberSource(registrar, { reportHoldMs: -1 }), RangeError);
});
