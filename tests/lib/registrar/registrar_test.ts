/**
 * The registrar over real TCP on 127.0.0.1: each ASAP exchange of RFC 5352 §3 as a PE or PU
 * sees it, the refusals by cause, the supervision timers (100 ms scale), and the local API.
 */
import assert from "node:assert/strict";
import { Handlespace } from "../../../lib/handlespace/mod.ts";
import { startRegistrar } from "../../../lib/registrar/mod.ts";
import { ListenError } from "../../../lib/transport/mod.ts";
import {
  AsapMessageType,
  decodeAsapMessage,
  encodeAsapMessage,
  ErrorCauseCode,
  ParameterType,
  PolicyType,
  TransportUse,
} from "../../../lib/wire/mod.ts";
import { withDeadline } from "../../_support/deadline.ts";
import {
  ANSWER_MS,
  connectAsap,
  expectType,
  handle,
  nextChange,
  poolElement,
  registration,
  resolution,
  tcpTransport,
} from "./_asap_client.ts";

const SERVER_ID = 0x5eed0001;
const FAST = { keepAliveIntervalMs: 100, keepAliveTimeoutMs: 150 };

function start(options: Parameters<typeof startRegistrar>[0] = {}) {
  let seed = 7;
  // A fixed seed: random policies give the same choices on every run.
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return startRegistrar({
    hostname: "127.0.0.1",
    port: 0,
    serverId: SERVER_ID,
    random,
    ...options,
  });
}

Deno.test("startRegistrar() binds at once, picks a non-zero server ID and shuts down idempotently", async () => {
  const registrar = startRegistrar({ hostname: "127.0.0.1", port: 0 });
  assert.ok(registrar.addr.port > 0);
  assert.ok(registrar.serverId >= 1 && registrar.serverId <= 0xffffffff);
  await Promise.all([registrar.shutdown(), registrar.shutdown()]);
  await registrar.finished;
  assert.throws(
    () => startRegistrar({ port: 0, keepAliveIntervalMs: 50 }),
    /'keepAliveIntervalMs' must be an integer from 100/,
  );
  assert.throws(
    () => startRegistrar({ port: 0, handlespace: new Handlespace(), maxPools: 3 }),
    TypeError,
  );
});

Deno.test("startRegistrar() stops when its signal aborts", async () => {
  const controller = new AbortController();
  const registrar = start({ signal: controller.signal });
  controller.abort();
  await withDeadline(registrar.finished, ANSWER_MS, "the registrar to stop");
});

Deno.test("Registration is accepted, stores this registrar as home and the TCP peer as ASAP transport", async () => {
  await using registrar = start();
  await using pe = await connectAsap(registrar.addr.port);
  const added = nextChange(registrar, "pe-added");
  // What the PE claims as its ASAP transport is not what the registrar records.
  const claimed = {
    ...poolElement(0x1001),
    asapTransport: {
      type: ParameterType.tcpTransport,
      port: 1,
      transportUse: TransportUse.dataOnly,
      addresses: ["10.0.0.1"],
    },
  } as const;
  const answer = expectType(
    await pe.request(registration("EchoPool", claimed)),
    AsapMessageType.registrationResponse,
  );
  assert.equal(answer.reject, false);
  assert.equal(answer.poolElementId, 0x1001);
  assert.deepEqual(answer.poolHandle, handle("EchoPool"));
  assert.equal(answer.errorCauses, undefined);
  const change = await added;
  assert.equal(change.reason, "registration");
  assert.equal(change.own, true);
  assert.equal(change.element.homeRegistrarId, SERVER_ID);
  const local = pe.connection.localAddr as Deno.NetAddr;
  assert.deepEqual(change.element.asapTransport, {
    type: ParameterType.tcpTransport,
    port: local.port,
    transportUse: TransportUse.dataOnly,
    addresses: ["127.0.0.1"],
  });
  assert.equal(registrar.handlespace.find(handle("EchoPool"), 0x1001)?.homeRegistrarId, SERVER_ID);
});

Deno.test("Re-registration updates the PE at once: the new load decides the next selection", async () => {
  await using registrar = start();
  await using pe = await connectAsap(registrar.addr.port);
  const lu = (load: number) => ({ type: PolicyType.leastUsed, load }) as const;
  for (const [id, load] of [[1, 100], [2, 200]] as const) {
    await pe.request(registration("LuPool", poolElement(id, { policy: lu(load) })));
  }
  assert.equal(registrar.select("LuPool", 1)[0]?.identifier, 1);
  const updated = nextChange(registrar, "pe-updated");
  const answer = expectType(
    await pe.request(registration("LuPool", poolElement(1, { policy: lu(900) }))),
    AsapMessageType.registrationResponse,
  );
  assert.equal(answer.reject, false);
  assert.deepEqual((await updated).element.policy, lu(900));
  assert.equal(registrar.select("LuPool", 1)[0]?.identifier, 2);
  const resolved = expectType(
    await pe.request(resolution("LuPool", 1)),
    AsapMessageType.handleResolutionResponse,
  );
  assert.deepEqual(resolved.poolElements.map((e) => e.identifier), [2]);
});

Deno.test("Registration is refused with 0x5, 0x7 and 0x8 carrying the pool's policy and transport", async () => {
  await using registrar = start();
  await using pe = await connectAsap(registrar.addr.port);
  await pe.request(registration("Fixed", poolElement(1)));
  const refused = async (element: ReturnType<typeof poolElement>) =>
    expectType(
      await pe.request(registration("Fixed", element)),
      AsapMessageType.registrationResponse,
    );

  const policy = await refused(poolElement(2, { policy: { type: PolicyType.leastUsed, load: 1 } }));
  assert.equal(policy.reject, true);
  assert.equal(policy.errorCauses?.[0]?.code, ErrorCauseCode.inconsistentPoolingPolicy);
  // Pool Member Selection Policy TLV, Length 8, Round Robin.
  assert.deepEqual([...policy.errorCauses![0]!.info], [0, 8, 0, 8, 0, 0, 0, 1]);

  const udp = await refused(poolElement(3, {
    userTransport: {
      type: ParameterType.udpTransport,
      port: 7,
      addresses: ["127.0.0.1"],
    },
  }));
  assert.equal(udp.errorCauses?.[0]?.code, ErrorCauseCode.inconsistentTransportType);
  // The pool's TCP transport TLV: port 10001, data only, IPv4 127.0.0.1.
  assert.deepEqual(
    [...udp.errorCauses![0]!.info],
    [0, 5, 0, 16, 0x27, 0x11, 0, 0, 0, 1, 0, 8, 127, 0, 0, 1],
  );

  const use = await refused(
    poolElement(4, { userTransport: tcpTransport(7, TransportUse.dataPlusControl) }),
  );
  assert.equal(use.errorCauses?.[0]?.code, ErrorCauseCode.inconsistentDataControlConfiguration);
  assert.equal(use.errorCauses?.[0]?.info.length, 0);
  assert.equal(registrar.handlespace.pool(handle("Fixed"))?.size, 1);
});

Deno.test("Registration is refused with 0x3 (with the Pool Element TLV) and 0x6 at a bound", async () => {
  await using registrar = start({ maxPoolElements: 2 });
  await using pe = await connectAsap(registrar.addr.port);
  for (const element of [poolElement(0), poolElement(5, { registrationLife: -2 })]) {
    const bytes = encodeAsapMessage(registration("Bad", element));
    await pe.sendBytes(bytes);
    const answer = expectType(await pe.receive(), AsapMessageType.registrationResponse);
    assert.equal(answer.reject, true);
    assert.equal(answer.errorCauses?.[0]?.code, ErrorCauseCode.invalidValues);
    // The offending TLV is the Pool Element parameter as sent, after the 12-byte handle TLV.
    const info = answer.errorCauses![0]!.info;
    assert.deepEqual([...info.subarray(0, 2)], [0, ParameterType.poolElement]);
    assert.deepEqual(info, bytes.subarray(4 + 8, 4 + 8 + info.length));
  }
  for (const id of [1, 2]) await pe.request(registration("Full", poolElement(id)));
  const full = expectType(
    await pe.request(registration("Full", poolElement(3))),
    AsapMessageType.registrationResponse,
  );
  assert.equal(full.reject, true);
  assert.equal(full.errorCauses?.[0]?.code, ErrorCauseCode.lackOfResources);
});

Deno.test("A known PE ID from another connection moves with the same transport, else gets 0x4", async () => {
  await using registrar = start();
  await using first = await connectAsap(registrar.addr.port);
  await using second = await connectAsap(registrar.addr.port);
  await first.request(registration("Owned", poolElement(9)));

  const hijack = expectType(
    await second.request(registration("Owned", poolElement(9, { userTransport: tcpTransport(1) }))),
    AsapMessageType.registrationResponse,
  );
  assert.equal(hijack.reject, true);
  assert.equal(hijack.errorCauses?.[0]?.code, ErrorCauseCode.nonUniquePoolElementIdentifier);

  const moved = expectType(
    await second.request(registration("Owned", poolElement(9))),
    AsapMessageType.registrationResponse,
  );
  assert.equal(moved.reject, false);
  // The first connection no longer owns it: its deregistration is refused, and when it closes
  // only its other PE leaves.
  const refused = expectType(
    await first.request({
      type: AsapMessageType.deregistration,
      poolHandle: handle("Owned"),
      poolElementId: 9,
    }),
    AsapMessageType.deregistrationResponse,
  );
  assert.equal(
    refused.errorCauses?.[0]?.code,
    ErrorCauseCode.rejectionDueToSecurityConsiderations,
  );
  await first.request(registration("Owned", poolElement(10)));
  const removed = nextChange(registrar, "pe-removed");
  first.connection.close();
  assert.equal((await removed).peId, 10);
  assert.ok(registrar.handlespace.find(handle("Owned"), 9) !== undefined);
});

Deno.test("A PE owned by another registrar moves only when isRegistrarGone() says so", async () => {
  const handlespace = new Handlespace();
  const other = 0x0ddba11;
  handlespace.register(
    handle("Peer"),
    poolElement(7),
    other,
    performance.timeOrigin + performance.now(),
  );
  let gone = false;
  await using registrar = start({ handlespace, isRegistrarGone: (id) => id === other && gone });
  await using pe = await connectAsap(registrar.addr.port);
  const elsewhere = poolElement(7, { userTransport: tcpTransport(2) });
  const refused = expectType(
    await pe.request(registration("Peer", elsewhere)),
    AsapMessageType.registrationResponse,
  );
  assert.equal(refused.errorCauses?.[0]?.code, ErrorCauseCode.nonUniquePoolElementIdentifier);
  gone = true;
  const taken = expectType(
    await pe.request(registration("Peer", elsewhere)),
    AsapMessageType.registrationResponse,
  );
  assert.equal(taken.reject, false);
  assert.equal(handlespace.find(handle("Peer"), 7)?.homeRegistrarId, SERVER_ID);
});

Deno.test("Deregistration removes the owner's PE, grants an unknown one and refuses others with 0xa", async () => {
  await using registrar = start();
  await using pe = await connectAsap(registrar.addr.port);
  await using stranger = await connectAsap(registrar.addr.port);
  await pe.request(registration("Leave", poolElement(1)));
  const deregistration = (id: number) =>
    ({
      type: AsapMessageType.deregistration,
      poolHandle: handle("Leave"),
      poolElementId: id,
    }) as const;

  const refused = expectType(
    await stranger.request(deregistration(1)),
    AsapMessageType.deregistrationResponse,
  );
  assert.equal(
    refused.errorCauses?.[0]?.code,
    ErrorCauseCode.rejectionDueToSecurityConsiderations,
  );

  const removed = nextChange(registrar, "pe-removed");
  const granted = expectType(
    await pe.request(deregistration(1)),
    AsapMessageType.deregistrationResponse,
  );
  assert.equal(granted.errorCauses, undefined);
  assert.equal(granted.poolElementId, 1);
  assert.equal((await removed).reason, "deregistration");
  assert.equal(registrar.handlespace.pool(handle("Leave")), undefined);

  const unknown = expectType(
    await stranger.request(deregistration(42)),
    AsapMessageType.deregistrationResponse,
  );
  assert.equal(unknown.errorCauses, undefined);
});

Deno.test("Handle Resolution answers 3 PEs by default, 1, 3 or all on request, or 0x9", async () => {
  await using registrar = start();
  await using pe = await connectAsap(registrar.addr.port);
  for (let id = 1; id <= 10; id++) await pe.request(registration("Ten", poolElement(id)));
  await using pu = await connectAsap(registrar.addr.port);
  const resolve = async (items?: number) =>
    expectType(
      await pu.request(resolution("Ten", items)),
      AsapMessageType.handleResolutionResponse,
    );

  const cases: [number | undefined, number][] = [[undefined, 3], [0, 3], [1, 1], [3, 3], [
    0xffffffff,
    10,
  ]];
  for (const [items, count] of cases) {
    const answer = await resolve(items);
    assert.equal(answer.poolElements.length, count, `items ${items}`);
    assert.equal(new Set(answer.poolElements.map((e) => e.identifier)).size, count);
    assert.deepEqual(answer.policy, { type: PolicyType.roundRobin });
    assert.equal(answer.errorCauses, undefined);
    for (const element of answer.poolElements) {
      assert.equal(element.homeRegistrarId, SERVER_ID);
      assert.equal(element.asapTransport, undefined);
    }
  }
  // Round robin goes on where the last answer stopped.
  const one = await resolve(1);
  const next = await resolve(1);
  assert.notEqual(one.poolElements[0]?.identifier, next.poolElements[0]?.identifier);

  const unknown = expectType(
    await pu.request(resolution("Nobody")),
    AsapMessageType.handleResolutionResponse,
  );
  assert.deepEqual(unknown.errorCauses?.map((c) => c.code), [ErrorCauseCode.unknownPoolHandle]);
  assert.equal(unknown.poolElements.length, 0);
  assert.equal(unknown.policy, undefined);
});

Deno.test("Handle Resolution with 0xffffffff items fills one message and no more", async () => {
  await using registrar = start();
  const pool = "Big";
  for (let id = 1; id <= 2000; id++) {
    const address = id % 2 === 0 ? "127.0.0.1" : "::1";
    const result = registrar.registerLocal(
      pool,
      poolElement(id, { userTransport: tcpTransport(9000, TransportUse.dataOnly, address) }),
    );
    assert.ok(result.ok);
  }
  await using pu = await connectAsap(registrar.addr.port);
  await pu.send(resolution(pool, 0xffffffff));
  const bytes = await withDeadline(pu.connection.readMessage(), ANSWER_MS, "the response");
  assert.ok(bytes !== null);
  const answer = expectType(decodeAsapMessage(bytes), AsapMessageType.handleResolutionResponse);
  const count = answer.poolElements.length;
  assert.equal(new Set(answer.poolElements.map((e) => e.identifier)).size, count);
  // A TCP/RR PE takes 40 bytes with IPv4 and 52 with IPv6: less than that is left.
  assert.ok(bytes.length <= 65535, `${bytes.length}`);
  assert.ok(bytes.length + 52 > 65532, `room for one more after ${bytes.length} bytes`);
  assert.ok(count > 1000 && count < 2000, `${count}`);
});

Deno.test("A PE that stops answering Endpoint Keep-Alives is removed within interval + timeout", async () => {
  await using registrar = start(FAST);
  await using pe = await connectAsap(registrar.addr.port);
  await pe.request(registration("Alive", poolElement(0x77)));

  // Answered twice: the PE stays.
  let lastSent = performance.now();
  for (let round = 0; round < 2; round++) {
    const keepAlive = expectType(await pe.receive(), AsapMessageType.endpointKeepAlive);
    assert.equal(keepAlive.serverId, SERVER_ID);
    assert.equal(keepAlive.home, false);
    assert.equal(keepAlive.poolElementId, 0x77);
    assert.deepEqual(keepAlive.poolHandle, handle("Alive"));
    await pe.send({
      type: AsapMessageType.endpointKeepAliveAck,
      poolHandle: handle("Alive"),
      poolElementId: 0x77,
    });
    lastSent = performance.now();
  }
  assert.ok(registrar.handlespace.find(handle("Alive"), 0x77) !== undefined);

  // Silent now: a Keep-Alive after the interval, then removal after the timeout.
  const removed = nextChange(registrar, "pe-removed", 2000);
  expectType(await pe.receive(), AsapMessageType.endpointKeepAlive);
  const change = await removed;
  const silence = performance.now() - lastSent;
  assert.equal(change.reason, "keep-alive-timeout");
  const bound = FAST.keepAliveIntervalMs + FAST.keepAliveTimeoutMs;
  assert.ok(silence < bound + 250, `removed ${silence} ms after the last message (${bound} ms)`);
  await pe.closedByPeer();
});

Deno.test("A PE whose connection closes is removed at once", async () => {
  await using registrar = start();
  const pe = await connectAsap(registrar.addr.port);
  await pe.request(registration("Gone", poolElement(5)));
  const removed = nextChange(registrar, "pe-removed", 500);
  await pe[Symbol.asyncDispose]();
  const change = await removed;
  assert.equal(change.reason, "connection-closed");
  assert.equal(change.peId, 5);
  assert.equal(registrar.handlespace.pool(handle("Gone")), undefined);
});

Deno.test("Endpoint Unreachable probes the PE and removes it at maxBadPeReports", async () => {
  await using registrar = start({ maxBadPeReports: 3 });
  await using pe = await connectAsap(registrar.addr.port);
  await using pu = await connectAsap(registrar.addr.port);
  await pe.request(registration("Flaky", poolElement(3)));
  const unreachable = {
    type: AsapMessageType.endpointUnreachable,
    poolHandle: handle("Flaky"),
    poolElementId: 3,
  } as const;
  for (let report = 1; report <= 2; report++) {
    await pu.send(unreachable);
    // RFC 5352 §3.5: the registrar checks the PE with a Keep-Alive; the PE answers.
    const probe = expectType(await pe.receive(), AsapMessageType.endpointKeepAlive);
    assert.equal(probe.poolElementId, 3);
    await pe.send({
      type: AsapMessageType.endpointKeepAliveAck,
      poolHandle: handle("Flaky"),
      poolElementId: 3,
    });
    assert.equal(registrar.handlespace.find(handle("Flaky"), 3)?.unreachableReports, report);
  }
  const removed = nextChange(registrar, "pe-removed");
  await pu.send(unreachable);
  const change = await removed;
  assert.equal(change.reason, "unreachable");
  assert.equal(registrar.handlespace.pool(handle("Flaky")), undefined);
});

Deno.test("A registration life that runs out removes the PE and sends it a Deregistration Response", async () => {
  await using registrar = start();
  await using pe = await connectAsap(registrar.addr.port);
  await pe.request(registration("Brief", poolElement(8, { registrationLife: 150 })));
  await pe.request(registration("Brief", poolElement(9, { registrationLife: -1 })));
  const removed = nextChange(registrar, "pe-removed", 1000);
  const notice = expectType(await pe.receive(1000), AsapMessageType.deregistrationResponse);
  assert.equal(notice.poolElementId, 8);
  assert.equal(notice.errorCauses, undefined);
  const change = await removed;
  assert.equal(change.reason, "expiry");
  assert.equal(change.peId, 8);
  assert.ok(registrar.handlespace.find(handle("Brief"), 9) !== undefined);
});

Deno.test("Registrar local API: registerLocal, select, reportUnreachable, deregisterLocal", async () => {
  const own: string[] = [];
  await using registrar = start({
    ...FAST,
    maxBadPeReports: 2,
    onOwnPoolElementChange: (change) => own.push(`${change.peId}:${change.reason}`),
  });
  const added = nextChange(registrar, "pe-added");
  for (const id of [1, 2, 3]) assert.ok(registrar.registerLocal("Static", poolElement(id)).ok);
  assert.equal((await added).reason, "local");
  assert.deepEqual(registrar.select("Static", 2, new Set([1])).map((v) => v.identifier), [2, 3]);
  assert.equal(registrar.select("Nothing", 1).length, 0);

  // Local members have no connection to probe: two reports remove one.
  registrar.reportUnreachable("Static", 2);
  assert.equal(registrar.handlespace.find(handle("Static"), 2)?.unreachableReports, 1);
  const removed = nextChange(registrar, "pe-removed");
  registrar.reportUnreachable(handle("Static"), 2);
  assert.equal((await removed).reason, "unreachable");

  // An ASAP PE cannot take a local member's ID with another transport.
  await using pe = await connectAsap(registrar.addr.port);
  const clash = expectType(
    await pe.request(registration("Static", poolElement(3, { userTransport: tcpTransport(4) }))),
    AsapMessageType.registrationResponse,
  );
  assert.equal(clash.errorCauses?.[0]?.code, ErrorCauseCode.nonUniquePoolElementIdentifier);

  assert.equal(registrar.deregisterLocal("Static", 1), true);
  assert.equal(registrar.deregisterLocal("Static", 1), false);
  assert.deepEqual(own, ["1:local", "2:local", "3:local", "2:unreachable", "1:local"]);
  assert.equal(registrar.handlespace.pool(handle("Static"))?.size, 1);
});

Deno.test("Unknown and unexpected messages get an ASAP Error and the connection stays open", async () => {
  await using registrar = start();
  await using peer = await connectAsap(registrar.addr.port);
  const errorFor = async (bytes: Uint8Array) => {
    await peer.sendBytes(bytes);
    return expectType(await peer.receive(), AsapMessageType.error).errorCauses;
  };

  // Type 0x41: top bits 01 say "report" (RFC 5354 §4); the cause carries the message.
  const reported = Uint8Array.of(0x41, 0, 0, 8, 1, 2, 3, 4);
  assert.deepEqual(await errorFor(reported), [{
    code: ErrorCauseCode.unrecognizedMessage,
    info: reported,
  }]);

  // A Cookie is for PUs and PEs, not for a registrar.
  const cookie = encodeAsapMessage({ type: AsapMessageType.cookie, cookie: Uint8Array.of(1, 2) });
  assert.deepEqual((await errorFor(cookie)).map((c) => c.code), [
    ErrorCauseCode.unrecognizedMessage,
  ]);

  // A Pool Handle TLV claiming more bytes than the message holds: Invalid Values.
  const broken = Uint8Array.of(0x05, 0, 0, 12, 0, 9, 0, 40, 0x41, 0x42, 0x43, 0x44);
  assert.deepEqual((await errorFor(broken)).map((c) => c.code), [ErrorCauseCode.invalidValues]);

  // Type 0x3f: top bits 00, discarded silently; the next request's answer comes first.
  await peer.sendBytes(Uint8Array.of(0x3f, 0, 0, 4));
  const answer = await peer.request(resolution("Nobody"));
  assert.equal(answer.type, AsapMessageType.handleResolutionResponse);

  // An unrecognized parameter with action bits 11 is skipped, answered, and reported.
  const withExtra = Uint8Array.of(
    0x05,
    0,
    0,
    20, // Handle Resolution, Length 20
    0,
    9,
    0,
    8,
    0x4e,
    0x6f,
    0x6e,
    0x65, // Pool Handle "None"
    0xc1,
    0x23,
    0,
    8,
    0,
    0,
    0,
    0, // unknown parameter 0xc123, "skip and report"
  );
  await peer.sendBytes(withExtra);
  const first = await peer.receive();
  const second = await peer.receive();
  const error = expectType(
    [first, second].find((m) => m.type === AsapMessageType.error)!,
    AsapMessageType.error,
  );
  assert.deepEqual(error.errorCauses, [{
    code: ErrorCauseCode.unrecognizedParameter,
    info: withExtra.subarray(12),
  }]);
  assert.ok([first, second].some((m) => m.type === AsapMessageType.handleResolutionResponse));
});

Deno.test("Registrar.shutdown() removes the PEs of its connections with reason shutdown", async () => {
  const registrar = start();
  await using pe = await connectAsap(registrar.addr.port);
  await pe.request(registration("Bye", poolElement(1)));
  assert.ok(registrar.registerLocal("Bye", poolElement(2)).ok);
  const removed = nextChange(registrar, "pe-removed");
  await registrar.shutdown();
  assert.equal((await removed).reason, "shutdown");
  assert.deepEqual(
    [...registrar.handlespace.pool(handle("Bye"))!.elements()].map((v) => v.identifier),
    [2],
  );
  await pe.closedByPeer();
});

Deno.test("Registrar answers pipelined requests in order, each once", async () => {
  await using registrar = start();
  await using peer = await connectAsap(registrar.addr.port);
  const count = 300;
  const sends: Promise<void>[] = [];
  for (let id = 1; id <= count; id++) {
    sends.push(peer.send(registration("Pipe", poolElement(id))));
    sends.push(peer.send(resolution(id % 2 === 0 ? "Pipe" : "Nobody", 1)));
  }
  await Promise.all(sends);
  for (let id = 1; id <= count; id++) {
    const registered = expectType(await peer.receive(), AsapMessageType.registrationResponse);
    assert.equal(registered.poolElementId, id);
    const resolved = expectType(await peer.receive(), AsapMessageType.handleResolutionResponse);
    assert.equal(resolved.errorCauses === undefined, id % 2 === 0, `resolution after PE ${id}`);
  }
  assert.equal(registrar.handlespace.pool(handle("Pipe"))?.size, count);
});

Deno.test("A failure while handling one message is answered with 0x0 and the connection stays", async () => {
  let fail = true;
  const handlespace = new Handlespace({
    onChange: () => {
      if (fail) throw new Error("injected failure");
    },
  });
  await using registrar = start({ handlespace });
  await using pe = await connectAsap(registrar.addr.port);
  const error = expectType(
    await pe.request(registration("Fragile", poolElement(1))),
    AsapMessageType.error,
  );
  assert.deepEqual(error.errorCauses.map((c) => c.code), [ErrorCauseCode.unspecifiedError]);
  fail = false;
  const answer = expectType(
    await pe.request(registration("Fragile", poolElement(2))),
    AsapMessageType.registrationResponse,
  );
  assert.equal(answer.reject, false);
});

Deno.test("startRegistrar() names the taken ASAP or ENRP address in its ListenError", () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = { hostname: "127.0.0.1", port: taken.addr.port };
  const cases: [Parameters<typeof startRegistrar>[0], string][] = [
    [address, "ASAP"],
    [{ hostname: "127.0.0.1", port: 0, enrp: address }, "ENRP"],
  ];
  for (const [options, role] of cases) {
    assert.throws(() => start(options), (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.equal(error.role, role);
      assert.deepEqual(error.address, address);
      assert.ok(error.cause instanceof Deno.errors.AddrInUse);
      return true;
    });
  }
});
