/**
 * ENRP peering between registrars in one process over real TCP on 127.0.0.1: joining through a
 * mentor, Handle Updates, paged handle tables, the checksum audit, Endpoint Unreachable for
 * peer-owned PEs, and the readiness flag.
 */
import assert from "node:assert/strict";
import { fetchHandleTable, type Registrar } from "../../../lib/registrar/mod.ts";
import { EnrpMessageType, type PoolElementParameter } from "../../../lib/wire/mod.ts";
import { handle, poolElement } from "./_asap_client.ts";
import {
  CHANGES,
  enrpAddress,
  nextEnrpEvent,
  pastFirstHeartbeat,
  QUIET_ENRP,
  QUIET_WAIT_MS,
  startPeer,
  synchronized,
  until,
} from "./_enrp_helpers.ts";
import { ScriptedPeer } from "./_enrp_peer.ts";

/** True when every registrar has the same PEs with the same homes. */
function converged(registrars: readonly Registrar[]): boolean {
  const first = registrars[0]!.handlespace;
  return registrars.every((r) =>
    r.handlespace.elementCount === first.elementCount &&
    r.handlespace.checksum() === first.checksum() &&
    registrars.every((owner) =>
      r.handlespace.checksum(owner.serverId) === first.checksum(owner.serverId)
    )
  );
}

function waitConverged(registrars: readonly Registrar[], what: string, ms = 3000) {
  return until(registrars, CHANGES, () => converged(registrars), ms, what);
}

Deno.test("startRegistrar() with enrp: a set joined through mentors replicates every registration and removal", async () => {
  await using a = startPeer(0x0a000001);
  await synchronized(a);
  assert.equal(a.enrp!.synchronized, true, "alone, it serves at once");
  await using b = startPeer(0x0a000002, { peers: [enrpAddress(a)] });
  await using c = startPeer(0x0a000003, { peers: [enrpAddress(b)] });
  await Promise.all([synchronized(b), synchronized(c)]);
  const all = [a, b, c];
  // C learned A from its mentor's peer list.
  await until(
    [a.enrp!, c.enrp!],
    ["peer-up"],
    () => c.enrp!.peers().some((p) => p.serverId === a.serverId && p.state === "up"),
    3000,
    "C to know A",
  );
  const elements: [Registrar, string, PoolElementParameter][] = [
    [a, "PoolA", poolElement(0x101)],
    [b, "PoolB", poolElement(0x201)],
    [c, "PoolC", poolElement(0x301)],
    [c, "PoolA", poolElement(0x302)],
  ];
  for (const [registrar, pool, element] of elements) {
    assert.equal(registrar.registerLocal(pool, element).ok, true);
    await waitConverged(all, `${pool}/${element.identifier} everywhere`);
  }
  for (const registrar of all) {
    for (const pool of ["PoolA", "PoolB", "PoolC"]) {
      assert.ok(registrar.select(pool, 1).length === 1, `${registrar.serverId} resolves ${pool}`);
    }
    assert.equal(registrar.handlespace.countOwnedBy(c.serverId), 2);
    assert.equal(registrar.handlespace.find(handle("PoolA"), 0x302)?.homeRegistrarId, c.serverId);
  }
  // A policy update travels as ADD_PE; a removal as DEL_PE.
  b.registerLocal("PoolB", { ...poolElement(0x201), registrationLife: 45_000 });
  await until(
    all,
    CHANGES,
    () => all.every((r) => r.handlespace.find(handle("PoolB"), 0x201)?.registrationLife === 45_000),
    3000,
    "the update everywhere",
  );
  assert.equal(c.deregisterLocal("PoolC", 0x301), true);
  await waitConverged(all, "the removal everywhere");
  assert.equal(a.select("PoolC", 1).length, 0);
  assert.equal(a.enrp!.peers().length, 2);
  for (const peer of a.enrp!.peers()) assert.equal(peer.state, "up");
  assert.ok((a.enrp!.messagesReceived()["ENRP_HANDLE_UPDATE"] ?? 0) >= 4);
});

Deno.test("EnrpPeering serves the handle table in pages of handleTablePageSize with the M bit, and W for own PEs", async () => {
  await using a = startPeer(0x0b000001, { handleTablePageSize: 3 });
  await using b = startPeer(0x0b000002, { peers: [enrpAddress(a)] });
  await synchronized(b);
  for (let id = 1; id <= 7; id++) a.registerLocal(id % 2 === 0 ? "Even" : "Odd", poolElement(id));
  b.registerLocal("Odd", poolElement(0x100));
  await waitConverged([a, b], "8 PEs on both");
  const whole = await fetchHandleTable(enrpAddress(a));
  assert.equal(whole.serverId, a.serverId);
  assert.equal(whole.pages, 3);
  const ids = whole.pools.flatMap((pool) => pool.poolElements.map((pe) => pe.identifier));
  assert.deepEqual(ids.toSorted((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 0x100]);
  const own = await fetchHandleTable(enrpAddress(a), { ownChildrenOnly: true });
  assert.equal(own.pools.flatMap((pool) => pool.poolElements).length, 7);
  assert.equal(own.pages, 3);
  // A mentor download of 8 PEs in pages of 3.
  await using c = startPeer(0x0b000003, { peers: [enrpAddress(a)] });
  await synchronized(c);
  assert.equal(c.handlespace.elementCount, 8);
});

Deno.test("EnrpPeering audits a peer whose Presence checksum differs: adds what is missing, removes what its list leaves out twice", async () => {
  await using a = startPeer(0x0c000001);
  await synchronized(a);
  await using x = new ScriptedPeer(0x0c0000ff);
  const connection = await x.connect(a.enrp!.addr.port);
  // Two PEs A never heard of: only the checksum in Presence tells.
  x.own(handle("Audit"), poolElement(1));
  x.own(handle("Audit"), poolElement(2));
  await x.send(connection, x.presence());
  const request = await x.next(EnrpMessageType.handleTableRequest);
  assert.equal(
    request.message.type === EnrpMessageType.handleTableRequest &&
      request.message.ownChildrenOnly,
    true,
  );
  await until([a], CHANGES, () => a.handlespace.countOwnedBy(x.serverId) === 2, 2000, "2 PEs");
  // X drops PE 2 without a DEL_PE: the first audit only marks it, the second removes it.
  x.handlespace.deregister(handle("Audit"), 2);
  await x.send(connection, x.presence());
  const second = await x.next(EnrpMessageType.handleTableRequest);
  // X answered there; A answers the List Request after that answer, which ends the audit.
  await x.flush(second.connection);
  assert.equal(a.handlespace.countOwnedBy(x.serverId), 2, "left out once: kept");
  await x.send(connection, x.presence());
  await until(
    [a],
    ["pe-removed"],
    () => a.handlespace.countOwnedBy(x.serverId) === 1,
    2000,
    "removal",
  );
  assert.equal(a.handlespace.find(handle("Audit"), 2), undefined);
  assert.equal(a.handlespace.checksum(x.serverId), x.handlespace.checksum(x.serverId));
});

Deno.test("EnrpPeering greets a server that introduces itself with Presence on a connection of its own at once, and audits it there", async () => {
  // Heartbeats and probes a minute apart: what X gets in time is no heartbeat.
  await using a = startPeer(0x0c000002, QUIET_ENRP);
  await synchronized(a);
  await pastFirstHeartbeat();
  await using x = new ScriptedPeer(0x0c0000fe);
  const connection = await x.connect(a.enrp!.addr.port);
  x.own(handle("Greeted"), poolElement(1));
  await x.send(connection, x.presence()); // R=0: nothing asks A to answer
  const greeting = await x.next(EnrpMessageType.presence, QUIET_WAIT_MS);
  assert.notEqual(greeting.connection, connection, "on A's own connection");
  assert.ok(greeting.message.type === EnrpMessageType.presence);
  assert.equal(greeting.message.serverInformation?.transport.port, a.enrp!.addr.port);
  // Its checksum differs from A's replica (empty): the audit goes out once that connection is open.
  const request = await x.next(EnrpMessageType.handleTableRequest, QUIET_WAIT_MS);
  assert.equal(request.connection, greeting.connection);
  await until([a], CHANGES, () => a.handlespace.countOwnedBy(x.serverId) === 1, 2000, "X's PE");
});

Deno.test("Registrar.reportUnreachable() counts reports on a peer's PE and stops selecting it; only its home removes it", async () => {
  await using a = startPeer(0x0d000001, {}, { maxBadPeReports: 2 });
  await using b = startPeer(0x0d000002, { peers: [enrpAddress(a)] }, { maxBadPeReports: 2 });
  await synchronized(b);
  b.registerLocal("Flaky", poolElement(7));
  await waitConverged([a, b], "the PE on A");
  a.reportUnreachable("Flaky", 7);
  assert.equal(a.select("Flaky", 1).length, 1);
  a.reportUnreachable("Flaky", 7);
  assert.equal(a.select("Flaky", 1).length, 0, "A stops selecting it at its threshold");
  assert.ok(a.handlespace.find(handle("Flaky"), 7) !== undefined, "but keeps it: B owns it");
  assert.equal(b.select("Flaky", 1).length, 1, "B was told nothing");
  b.reportUnreachable("Flaky", 7);
  b.reportUnreachable("Flaky", 7);
  await until([a], ["pe-removed"], () => a.handlespace.elementCount === 0, 2000, "DEL_PE at A");
});

Deno.test("EnrpPeering with unreachable configured peers serves alone once every mentor failed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = listener.addr.port;
  listener.close();
  await using a = startPeer(0x0e000001, {
    peers: [{ hostname: "127.0.0.1", port: closedPort }],
  });
  const detail = await nextEnrpEvent(a, "synchronized");
  assert.equal(detail.mentorServerId, undefined);
  assert.equal(a.enrp!.synchronized, true);
});

Deno.test("EnrpPeering on a wildcard address advertises the address each connection leaves from", async () => {
  await using a = startPeer(0x0f000001, { hostname: "0.0.0.0" });
  await synchronized(a);
  await using b = startPeer(0x0f000002, { peers: [enrpAddress(a)] });
  await synchronized(b);
  await until(
    [a.enrp!],
    ["peer-up"],
    () => a.enrp!.peers().length === 1,
    2000,
    "A to know B",
  );
  assert.equal(b.enrp!.peers()[0]?.address, `127.0.0.1:${a.enrp!.addr.port}`);
  a.registerLocal("Wild", poolElement(1));
  await waitConverged([a, b], "A's PE at B");
});
