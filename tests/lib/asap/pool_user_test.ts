import assert from "node:assert/strict";
import { AsapRequestError } from "../../../lib/asap/asap_request_error.ts";
import { registerPoolElement } from "../../../lib/asap/pool_element.ts";
import { createPoolUser, type PoolUserOptions } from "../../../lib/asap/pool_user.ts";
import type { RegistrarAddress } from "../../../lib/asap/server_hunt.ts";
import { AsapMessageType, ErrorCauseCode, PolicyType } from "../../../lib/wire/codes.ts";
import type { SelectionPolicy } from "../../../lib/wire/selection_policy.ts";
import { nextEvent, withDeadline } from "../../_support/deadline.ts";
import { startTestRegistrar } from "./_registrar_fixture.ts";
import { startWireTap } from "./_wire_tap.ts";

const EVENT_MS = 5000;
const RESOLUTION = AsapMessageType.handleResolution;

/** Registers a pool element of EchoPool on `port` and waits until it is registered. */
async function registeredElement(
  registrar: RegistrarAddress,
  port: number,
  policy: SelectionPolicy = { type: PolicyType.roundRobin },
) {
  const pe = registerPoolElement({
    registrars: [registrar],
    poolHandle: "EchoPool",
    transport: { port, address: "127.0.0.1" },
    policy,
    deregistrationTimeoutMs: 1000,
  });
  await nextEvent(pe, "registered", EVENT_MS);
  return pe;
}

/** A clock the test moves by hand, so cache ageing needs no sleeping. */
function manualClock() {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

function userOptions(
  registrars: readonly RegistrarAddress[],
  extra: Partial<PoolUserOptions> = {},
): PoolUserOptions {
  return { registrars, serverHuntMs: 100, retranMaxMs: 400, connectTimeoutMs: 500, ...extra };
}

Deno.test("resolve() asks the registrar nothing while the cache is fresh and asks again once it is stale", async () => {
  await using registrar = await startTestRegistrar();
  await using pe = await registeredElement(registrar.address, 7000);
  await using tap = startWireTap(registrar.address);
  const clock = manualClock();
  await using user = createPoolUser(
    userOptions([tap.address], { staleCacheMs: 30_000, now: clock.now }),
  );

  const first = await user.resolve("EchoPool");
  assert.deepEqual(first.poolElements.map((element) => element.identifier), [pe.poolElementId]);
  clock.advance(29_999);
  assert.equal(await user.resolve("EchoPool"), first);
  assert.equal(
    await user.select("EchoPool").then((element) => element?.identifier),
    pe.poolElementId,
  );
  assert.equal(tap.count(RESOLUTION), 1);

  clock.advance(1);
  const second = await user.resolve("EchoPool");
  assert.notEqual(second, first);
  assert.equal(second.resolvedAt, 31_000);
  assert.equal(tap.count(RESOLUTION), 2);
});

Deno.test("resolve() sends one request for concurrent calls on one handle", async () => {
  await using registrar = await startTestRegistrar();
  await using _pe = await registeredElement(registrar.address, 7000);
  await using tap = startWireTap(registrar.address);
  await using user = createPoolUser(userOptions([tap.address]));
  const resolutions = await Promise.all(
    Array.from({ length: 5 }, () => user.resolve("EchoPool")),
  );
  assert.equal(new Set(resolutions).size, 1);
  assert.equal(tap.count(RESOLUTION), 1);
});

Deno.test("resolve() rejects an unknown pool handle with cause 0x9 and caches nothing", async () => {
  await using registrar = await startTestRegistrar();
  await using tap = startWireTap(registrar.address);
  await using user = createPoolUser(userOptions([tap.address]));
  for (let attempt = 1; attempt <= 2; attempt++) {
    const error = await user.resolve("NoSuchPool").catch((e) => e);
    assert.ok(error instanceof AsapRequestError);
    assert.equal(error.code, "rejected");
    assert.deepEqual(error.causeCodes, [ErrorCauseCode.unknownPoolHandle]);
    assert.equal(tap.count(RESOLUTION), attempt);
  }
});

Deno.test("select() rotates round robin over the cached list, skips a reported PE and refreshes when none is left", async () => {
  await using registrar = await startTestRegistrar();
  await using a = await registeredElement(registrar.address, 7001);
  await using b = await registeredElement(registrar.address, 7002);
  await using tap = startWireTap(registrar.address);
  await using user = createPoolUser(userOptions([tap.address]));
  const picks = [];
  for (let i = 0; i < 4; i++) picks.push((await user.select("EchoPool"))?.identifier);
  assert.equal(new Set(picks).size, 2);
  assert.equal(picks[0], picks[2]);
  assert.equal(picks[1], picks[3]);

  assert.equal(await user.reportUnreachable("EchoPool", a.poolElementId), true);
  for (let i = 0; i < 3; i++) {
    assert.equal((await user.select("EchoPool"))?.identifier, b.poolElementId);
  }
  assert.equal(tap.count(RESOLUTION), 1);
  // With B excluded only the reported A is left: the cache is known to be wrong, so select()
  // resolves once more, and A, listed again, may be picked (and reported) again.
  const retried = await user.select("EchoPool", { exclude: new Set([b.poolElementId]) });
  assert.equal(retried?.identifier, a.poolElementId);
  assert.equal(tap.count(RESOLUTION), 2);
});

Deno.test("reportUnreachable() reports once per failure, and at MAX-BAD-PE-REPORT the registrar drops the PE", async () => {
  await using registrar = await startTestRegistrar({ maxBadPeReports: 3 });
  await using pe = await registeredElement(registrar.address, 7000);
  await using tap = startWireTap(registrar.address);
  await using user = createPoolUser(userOptions([tap.address]));
  const id = pe.poolElementId;
  for (let failure = 1; failure <= 3; failure++) {
    // Each fresh resolution that lists the PE again makes a new report possible.
    const listed = await user.resolve("EchoPool", { refresh: true });
    assert.deepEqual(listed.poolElements.map((element) => element.identifier), [id]);
    assert.equal(await user.reportUnreachable("EchoPool", id), true);
    assert.equal(await user.reportUnreachable("EchoPool", id), false);
    await withDeadline(
      tap.waitForCount(AsapMessageType.endpointUnreachable, failure),
      EVENT_MS,
      `report ${failure} to reach the registrar`,
    );
  }
  assert.equal(tap.count(AsapMessageType.endpointUnreachable), 3);
  const error = await user.resolve("EchoPool", { refresh: true }).catch((e) => e);
  assert.ok(error instanceof AsapRequestError);
  assert.deepEqual(error.causeCodes, [ErrorCauseCode.unknownPoolHandle]);
});

Deno.test("resolve() gives up on a registrar that does not answer within T1 and asks the next one", async () => {
  await using registrar = await startTestRegistrar();
  await using pe = await registeredElement(registrar.address, 7000);
  await using silent = startWireTap(registrar.address);
  silent.silent = true;
  await using user = createPoolUser(
    userOptions([silent.address, registrar.address], { requestTimeoutMs: 200 }),
  );
  const homeLost = nextEvent(user, "home-lost", EVENT_MS);
  const resolution = await withDeadline(user.resolve("EchoPool"), EVENT_MS, "the resolution");
  assert.deepEqual(resolution.poolElements.map((element) => element.identifier), [
    pe.poolElementId,
  ]);
  const lost = await homeLost as CustomEvent<{ registrar: string }>;
  assert.equal(lost.detail.registrar, `127.0.0.1:${silent.address.port}`);
  assert.equal(user.homeRegistrar, `127.0.0.1:${registrar.address.port}`);
  assert.equal(silent.count(RESOLUTION), 1);
});

Deno.test("resolve() fails with timeout after 1 + MAX-REQUEST-RETRANSMIT unanswered attempts", async () => {
  await using registrar = await startTestRegistrar();
  await using silent = startWireTap(registrar.address);
  silent.silent = true;
  await using user = createPoolUser(
    userOptions([silent.address], { requestTimeoutMs: 100, maxRequestRetransmit: 2 }),
  );
  const error = await withDeadline(user.resolve("EchoPool").catch((e) => e), EVENT_MS, "timeout");
  assert.ok(error instanceof AsapRequestError);
  assert.equal(error.code, "timeout");
  assert.equal(silent.count(RESOLUTION), 3);
});

Deno.test("resolve() rejects with the caller's abort reason while the shared request goes on", async () => {
  await using registrar = await startTestRegistrar();
  await using pe = await registeredElement(registrar.address, 7000);
  await using tap = startWireTap(registrar.address);
  tap.silent = true;
  await using user = createPoolUser(userOptions([tap.address], { requestTimeoutMs: 300 }));
  const controller = new AbortController();
  const patient = user.resolve("EchoPool");
  const impatient = user.resolve("EchoPool", { signal: controller.signal });
  await withDeadline(tap.waitForCount(RESOLUTION, 1), EVENT_MS, "the first request");
  controller.abort(new Error("user gave up"));
  await assert.rejects(impatient, /user gave up/);
  // The first request was swallowed; after T1 the retransmission goes through.
  tap.silent = false;
  const resolution = await withDeadline(patient, EVENT_MS, "the shared resolution");
  assert.deepEqual(resolution.poolElements.map((element) => element.identifier), [
    pe.poolElementId,
  ]);
  assert.equal(tap.count(RESOLUTION), 2);
});

Deno.test("createPoolUser() checks its options and close() fails later calls", async () => {
  const registrars = [{ hostname: "127.0.0.1", port: 3863 }];
  assert.throws(() => createPoolUser({ registrars, staleCacheMs: -1 }), {
    name: "RangeError",
    message:
      "Cannot create pool user as 'staleCacheMs' must be a non-negative integer: current value is -1",
  });
  assert.throws(() => createPoolUser({ registrars: [] }), { name: "RangeError" });
  const user = createPoolUser({ registrars });
  await user.close();
  await user.finished;
  await assert.rejects(user.resolve("EchoPool"), { name: "AsapRequestError", code: "closed" });
});
