import assert from "node:assert/strict";
import { AsapRequestError } from "../../../lib/asap/asap_request_error.ts";
import {
  type PoolElementOptions,
  registerPoolElement,
  reregistrationInterval,
} from "../../../lib/asap/pool_element.ts";
import { createPoolUser } from "../../../lib/asap/pool_user.ts";
import type { RegistrarAddress } from "../../../lib/asap/server_hunt.ts";
import { startMessageServer } from "../../../lib/transport/message_server.ts";
import {
  AsapMessageType,
  ErrorCauseCode,
  PolicyType,
  TransportUse,
} from "../../../lib/wire/codes.ts";
import type { SctpOrTcpTransport } from "../../../lib/wire/parameters.ts";
import { nextEvent, withDeadline } from "../../_support/deadline.ts";
import { startTestRegistrar } from "./_registrar_fixture.ts";
import { startScriptedRegistrar } from "./_scripted_registrar.ts";

/** A port nothing listens on: bound once, then closed. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

const EVENT_MS = 5000;
/** Short timers, so that a lost home is found again well within a test's deadline. */
const QUICK: Partial<PoolElementOptions> = {
  serverHuntMs: 100,
  retranMaxMs: 400,
  connectTimeoutMs: 500,
  registrationTimeoutMs: 1000,
  deregistrationTimeoutMs: 1000,
};

function peOptions(
  registrars: readonly RegistrarAddress[],
  extra: Partial<PoolElementOptions> = {},
): PoolElementOptions {
  return {
    ...QUICK,
    registrars,
    poolHandle: "EchoPool",
    transport: { port: 7000, address: "127.0.0.1", transportUse: TransportUse.dataOnly },
    policy: { type: PolicyType.leastUsed, load: 0x10000000 },
    random: () => 0.25,
    ...extra,
  };
}

/** The PE identifiers a fresh resolution of EchoPool lists, or the rejection's cause codes. */
async function listed(registrar: RegistrarAddress): Promise<number[] | readonly number[]> {
  await using user = createPoolUser({ registrars: [registrar], requestTimeoutMs: 2000 });
  try {
    const resolution = await user.resolve("EchoPool", { items: 0xffffffff });
    return resolution.poolElements.map((pe) => pe.identifier);
  } catch (error) {
    if (error instanceof AsapRequestError && error.code === "rejected") return error.causeCodes;
    throw error;
  }
}

Deno.test("registerPoolElement() registration is visible to a resolution until close() deregisters it", async () => {
  await using registrar = await startTestRegistrar();
  const pe = registerPoolElement(peOptions([registrar.address]));
  const registered = await nextEvent(pe, "registered", EVENT_MS) as CustomEvent<
    { registrar: string; poolElementId: number }
  >;
  // random() = 0.25 draws 1 + floor(0.25 * 0xffffffff).
  assert.equal(pe.poolElementId, 0x40000000);
  assert.equal(registered.detail.poolElementId, 0x40000000);
  assert.equal(registered.detail.registrar, `127.0.0.1:${registrar.address.port}`);
  assert.equal(pe.registered, true);

  await using user = createPoolUser({ registrars: [registrar.address] });
  const resolution = await user.resolve("EchoPool");
  assert.deepEqual(resolution.policy.type, PolicyType.leastUsed);
  assert.equal(resolution.poolElements.length, 1);
  const [element] = resolution.poolElements;
  assert.equal(element!.identifier, 0x40000000);
  assert.deepEqual(element!.policy, { type: PolicyType.leastUsed, load: 0x10000000 });
  const transport = element!.userTransport as SctpOrTcpTransport;
  assert.deepEqual(
    { port: transport.port, addresses: transport.addresses, use: transport.transportUse },
    { port: 7000, addresses: ["127.0.0.1"], use: TransportUse.dataOnly },
  );

  await pe.close();
  assert.equal(pe.registered, false);
  assert.deepEqual(await listed(registrar.address), [ErrorCauseCode.unknownPoolHandle]);
});

Deno.test("update() publishes a new load that the next resolution shows", async () => {
  await using registrar = await startTestRegistrar();
  await using pe = registerPoolElement(peOptions([registrar.address]));
  await nextEvent(pe, "registered", EVENT_MS);
  await using user = createPoolUser({ registrars: [registrar.address], staleCacheMs: 0 });
  assert.equal((await user.resolve("EchoPool")).poolElements[0]!.policy.type, PolicyType.leastUsed);

  await withDeadline(
    pe.update({ policy: { type: PolicyType.leastUsed, load: 0xc0000000 } }),
    EVENT_MS,
    "the update to be accepted",
  );
  const [element] = (await user.resolve("EchoPool")).poolElements;
  assert.deepEqual(element!.policy, { type: PolicyType.leastUsed, load: 0xc0000000 });
  assert.equal(element!.identifier, pe.poolElementId);
});

Deno.test("registerPoolElement() answers keep-alives so a 100 ms keep-alive timeout keeps it registered", async () => {
  await using registrar = await startTestRegistrar({
    keepAliveIntervalMs: 100,
    keepAliveTimeoutMs: 100,
  });
  await using pe = registerPoolElement(peOptions([registrar.address]));
  let lost = 0;
  pe.addEventListener("home-lost", () => lost++);
  await nextEvent(pe, "registered", EVENT_MS);
  // Twenty exchanges: the registrar probes only after 100 ms of silence, so this spans 2 s.
  let serverId = 0;
  for (let exchange = 0; exchange < 20; exchange++) {
    const event = await nextEvent(pe, "keep-alive", EVENT_MS) as CustomEvent<{ serverId: number }>;
    serverId = event.detail.serverId;
  }
  assert.equal(lost, 0);
  assert.equal(pe.registered, true);
  assert.notEqual(serverId, 0);
  assert.equal(pe.homeRegistrarId, serverId);
  assert.deepEqual(await listed(registrar.address), [pe.poolElementId]);
});

Deno.test("registerPoolElement() re-registers with the same PE id when its registrar restarts on the same port", async () => {
  const first = await startTestRegistrar();
  const { port } = first.address;
  await using pe = registerPoolElement(peOptions([first.address]));
  await nextEvent(pe, "registered", EVENT_MS);
  const rehomed = nextEvent(pe, "rehomed", 10_000);
  const homeLost = nextEvent(pe, "home-lost", EVENT_MS);
  await first.kill();
  await homeLost;
  assert.equal(pe.registered, false);

  await using second = await startTestRegistrar({ port });
  const event = await rehomed as CustomEvent<{ registrar: string; cause: string }>;
  assert.equal(event.detail.cause, "re-registration");
  assert.equal(event.detail.registrar, `127.0.0.1:${port}`);
  assert.deepEqual(await listed(second.address), [pe.poolElementId]);
});

Deno.test("registerPoolElement() moves to the second registrar of its list when the first is killed", async () => {
  await using first = await startTestRegistrar();
  await using second = await startTestRegistrar();
  await using pe = registerPoolElement(peOptions([first.address, second.address]));
  const registered = await nextEvent(pe, "registered", EVENT_MS) as CustomEvent<
    { registrar: string }
  >;
  assert.equal(registered.detail.registrar, `127.0.0.1:${first.address.port}`);

  const rehomed = nextEvent(pe, "rehomed", EVENT_MS);
  await first.kill();
  const event = await rehomed as CustomEvent<{ registrar: string; previousRegistrar: string }>;
  assert.equal(event.detail.registrar, `127.0.0.1:${second.address.port}`);
  assert.equal(event.detail.previousRegistrar, `127.0.0.1:${first.address.port}`);
  assert.equal(pe.homeRegistrar, `127.0.0.1:${second.address.port}`);
  assert.deepEqual(await listed(second.address), [pe.poolElementId]);
});

Deno.test("registerPoolElement() reports a refusal and registers once update() corrects the policy", async () => {
  await using registrar = await startTestRegistrar();
  await using leastUsed = registerPoolElement(peOptions([registrar.address]));
  await nextEvent(leastUsed, "registered", EVENT_MS);

  await using roundRobin = registerPoolElement(
    peOptions([registrar.address], {
      policy: { type: PolicyType.roundRobin },
      transport: { port: 7001, address: "127.0.0.1" },
      random: () => 0.5,
    }),
  );
  const refused = await nextEvent(roundRobin, "refused", EVENT_MS) as CustomEvent<
    { causeCodes: readonly number[] }
  >;
  assert.deepEqual(refused.detail.causeCodes, [ErrorCauseCode.inconsistentPoolingPolicy]);
  assert.equal(roundRobin.registered, false);

  const registered = nextEvent(roundRobin, "registered", EVENT_MS);
  await withDeadline(
    roundRobin.update({ policy: { type: PolicyType.leastUsed, load: 0 } }),
    EVENT_MS,
    "the corrected registration",
  );
  await registered;
  const ids = await listed(registrar.address);
  assert.deepEqual([...ids].sort(), [leastUsed.poolElementId, roundRobin.poolElementId].sort());
});

Deno.test("registerPoolElement() acks a Keep-Alive with the H bit and adopts its sender as home", async () => {
  // RFC 5352 §3.4 KA2.4: only a takeover makes a real registrar send the H bit.
  const acks: number[] = [];
  const ackSeen = Promise.withResolvers<void>();
  await using registrar = startScriptedRegistrar(async (message, send) => {
    if (message.type === AsapMessageType.registration) {
      const { poolHandle } = message;
      const poolElementId = message.poolElement.identifier;
      for (const [home, serverId] of [[false, 0x111], [true, 0x222]] as const) {
        await send({
          type: AsapMessageType.endpointKeepAlive,
          home,
          serverId,
          poolHandle,
          poolElementId,
        });
      }
      // KA1: a Keep-Alive for another pool handle is dropped without an answer.
      await send({
        type: AsapMessageType.endpointKeepAlive,
        home: true,
        serverId: 0x333,
        poolHandle: new TextEncoder().encode("OtherPool"),
      });
    } else if (message.type === AsapMessageType.endpointKeepAliveAck) {
      acks.push(message.poolElementId);
      if (acks.length === 2) ackSeen.resolve();
    }
  });
  await using pe = registerPoolElement(peOptions([registrar.address]));
  const event = await nextEvent(pe, "rehomed", EVENT_MS) as CustomEvent<
    { homeRegistrarId: number; cause: string }
  >;
  assert.equal(event.detail.cause, "keep-alive");
  assert.equal(event.detail.homeRegistrarId, 0x222);
  assert.equal(pe.homeRegistrarId, 0x222);
  await withDeadline(ackSeen.promise, EVENT_MS, "two Keep-Alive Acks");
  assert.deepEqual(acks, [pe.poolElementId, pe.poolElementId]);
});

Deno.test("registerPoolElement() registers again at once when the registrar ends the registration", async () => {
  // RFC 5352 §3.2: an unasked Deregistration Response says the registration life ran out.
  const registrations: number[] = [];
  const second = Promise.withResolvers<void>();
  await using registrar = startScriptedRegistrar(async (message, send) => {
    if (message.type !== AsapMessageType.registration) return;
    registrations.push(message.poolElement.identifier);
    if (registrations.length === 1) {
      await send({
        type: AsapMessageType.deregistrationResponse,
        poolHandle: message.poolHandle,
        poolElementId: message.poolElement.identifier,
      });
    } else {
      second.resolve();
    }
  });
  await using pe = registerPoolElement(peOptions([registrar.address]));
  await withDeadline(second.promise, EVENT_MS, "the second registration");
  assert.deepEqual(registrations, [pe.poolElementId, pe.poolElementId]);
});

Deno.test("close() ends a registration that is still hunting, and so does its signal", async () => {
  const unreachable = [{ hostname: "127.0.0.1", port: closedPort() }];
  const pe = registerPoolElement(
    peOptions(unreachable, { serverHuntMs: 60_000, retranMaxMs: 60_000 }),
  );
  await withDeadline(pe.close(), 1000, "close()");
  await pe.finished;
  await assert.rejects(pe.update({}), { name: "AsapRequestError", code: "closed" });

  const controller = new AbortController();
  const aborted = registerPoolElement(
    peOptions(unreachable, {
      serverHuntMs: 60_000,
      retranMaxMs: 60_000,
      signal: controller.signal,
    }),
  );
  const update = aborted.update({ policy: { type: PolicyType.leastUsed, load: 1 } });
  controller.abort();
  await withDeadline(aborted.finished, 1000, "the registration to finish");
  await assert.rejects(update, { name: "AsapRequestError", code: "closed" });
});

Deno.test("reregistrationInterval() is min(10 min, life - 20 s), half the life below 40 s", () => {
  assert.equal(reregistrationInterval(300_000), 280_000);
  assert.equal(reregistrationInterval(3_600_000), 600_000);
  assert.equal(reregistrationInterval(40_000), 20_000);
  assert.equal(reregistrationInterval(30_000), 15_000);
  assert.equal(reregistrationInterval(1_000), 500);
  assert.equal(reregistrationInterval(-1), 600_000);
});

Deno.test("registerPoolElement() checks its options before connecting", () => {
  const registrars = [{ hostname: "127.0.0.1", port: 3863 }];
  assert.throws(() => registerPoolElement(peOptions(registrars, { transport: { port: 0 } })), {
    name: "RangeError",
    message:
      "Cannot register pool element as 'transport.port' must be an integer from 1 to 65535: current value is 0",
  });
  assert.throws(
    () =>
      registerPoolElement(
        peOptions(registrars, { registrationLifeMs: 1000, reregistrationIntervalMs: 1000 }),
      ),
    /'reregistrationIntervalMs' must be below 'registrationLifeMs': 1000 >= 1000/,
  );
  assert.throws(
    () => registerPoolElement(peOptions(registrars, { transport: { port: 1, address: "host" } })),
    { name: "TypeError" },
  );
  assert.throws(() => registerPoolElement(peOptions(registrars, { poolHandle: "" })), {
    name: "RangeError",
  });
  assert.throws(
    () =>
      registerPoolElement(
        peOptions(registrars, { policy: { type: PolicyType.weightedRandom, weight: -1 } }),
      ),
    { name: "RangeError" },
  );
});

Deno.test("registerPoolElement() backs off from a registrar that closes connections unanswered", async () => {
  // A registrar that is full accepts each connection and closes it at once.
  const accepted: number[] = [];
  const fifth = Promise.withResolvers<void>();
  await using server = startMessageServer({
    hostname: "127.0.0.1",
    port: 0,
    onConnection: () => {
      accepted.push(performance.now());
      if (accepted.length === 5) fifth.resolve();
      return Promise.resolve();
    },
  });
  await using _pe = registerPoolElement(
    peOptions([{ hostname: "127.0.0.1", port: server.addr.port }], {
      serverHuntMs: 50,
      retranMaxMs: 200,
    }),
  );
  await withDeadline(fifth.promise, EVENT_MS, "five connection attempts");
  // The pauses double from T5 up to RETRAN-MAX: 50 + 100 + 200 + 200 ms at the least.
  const elapsed = accepted[4]! - accepted[0]!;
  assert.ok(elapsed >= 549, `five connections came within ${elapsed} ms`);
});
